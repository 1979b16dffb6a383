/**
 * MLC (web-llm) merges through the merge view, in real Chromium with real Cache Storage. web-llm's
 * weights and model libraries cannot be downloaded here, so tiny synthetic checkpoints (encoded by
 * Chorus's own MLC encoder, tests/support/mlc-synthetic.ts) are put exactly where web-llm caches a
 * downloaded model — Cache "webllm/model" / "webllm/config", keyed by
 * <ModelRecord.model>/resolve/main/<file> — under two real prebuilt records that share one model
 * library (Llama 3.2 3B and its Hermes 3 fine-tune, q4f32_1). Then: pick, plan, merge, see the
 * result in the model manager; decode the merged shards from the cache and compare with the
 * average computed here from the parents; ask web-llm's OWN hasModelInCache (its real module,
 * served to the page) whether the merged model is there; cancel; an incompatible pair and a
 * GGUF+MLC mix are refused with nothing written; deleting the model deletes its cache entries.
 * Generation with web-llm cannot run here (no weights, no model library, SwiftShader WebGPU).
 */
import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { decodeParam, listParams, type TensorCache } from '../../src/lib/merge/mlc/format.ts';
import { MLC_MERGE_LOCK, modelBaseUrl } from '../../src/lib/merge/mlc/cache.ts';
import { Q4F32_LAYOUT, synthetic, webllmEntries, type CacheEntry, type LayoutEntry, type Synthetic } from '../support/mlc-synthetic.ts';
import { listedModels, modelCard, showTab, watchErrors } from './helpers.ts';

const record = (id: string) => prebuiltAppConfig.model_list.find((r) => r.model_id === id)!;
const LLAMA = record('Llama-3.2-3B-Instruct-q4f32_1-MLC');
const HERMES = record('Hermes-3-Llama-3.2-3B-q4f32_1-MLC');
const SMALL = record('Llama-3.2-1B-Instruct-q4f32_1-MLC');
const WEBLLM_JS = readFileSync(createRequire(import.meta.url).resolve('@mlc-ai/web-llm'));

// Cache Storage is the thing under test; the service worker would only sit in front of the
// route that serves web-llm's module to the page.
test.use({ serviceWorkers: 'block' });

/** Puts entries into the page's Cache Storage, as web-llm's ArtifactCache would have. */
async function putEntries(page: Page, entries: CacheEntry[]): Promise<void> {
  const plain = entries.map((e) => ({ scope: e.scope, url: e.url, type: e.contentType, b64: Buffer.from(e.bytes).toString('base64') }));
  await page.evaluate(async (list) => {
    for (const e of list) {
      const bytes = Uint8Array.from(atob(e.b64), (c) => c.charCodeAt(0));
      await (await caches.open(e.scope)).put(e.url, new Response(bytes, { headers: { 'content-type': e.type } }));
    }
  }, plain);
}

/** Every key under chorus-merged/ in web-llm's caches. */
async function mergedKeys(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const out: string[] = [];
    for (const name of ['webllm/model', 'webllm/config', 'webllm/wasm']) {
      for (const r of await (await caches.open(name)).keys()) if (r.url.includes('/chorus-merged/')) out.push(r.url);
    }
    return out.sort();
  });
}

/** Files in OPFS's models directory (GGUF models the registry stored). */
async function opfsFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('models', { create: true });
    const names: string[] = [];
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names.sort();
  });
}

async function allKeys(page: Page, scope: string): Promise<string[]> {
  return page.evaluate(async (s) => (await (await caches.open(s)).keys()).map((r) => r.url).sort(), scope);
}

/** The registry's IndexedDB record of a model. */
async function dbRecord(page: Page, id: string): Promise<{ id: string; source: string; mlc?: { model: string; model_id: string; model_lib: string; overrides?: unknown } } | undefined> {
  return page.evaluate(
    (key) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('chorus');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('models').objectStore('models').get(key);
          get.onsuccess = () => {
            resolve(get.result);
            open.result.close();
          };
          get.onerror = () => reject(get.error);
        };
      }),
    id,
  );
}

/** Reads a model's tensor cache and shards from Cache Storage and decodes every parameter. */
async function decodeCached(page: Page, baseUrl: string): Promise<Map<string, Float32Array>> {
  const files = await page.evaluate(async (base) => {
    const c = await caches.open('webllm/model');
    const json = await (await c.match(`${base}tensor-cache.json`))!.text();
    const shards: Record<string, string> = {};
    for (const s of (JSON.parse(json) as { records: { dataPath: string }[] }).records) {
      const b = new Uint8Array(await (await c.match(`${base}${s.dataPath}`))!.arrayBuffer());
      let bin = '';
      for (let i = 0; i < b.length; i += 8192) bin += String.fromCharCode(...b.subarray(i, i + 8192));
      shards[s.dataPath] = btoa(bin);
    }
    return { json, shards };
  }, baseUrl);
  const cache = JSON.parse(files.json) as TensorCache;
  const out = new Map<string, Float32Array>();
  for (const p of listParams(cache)) {
    const parts = p.parts.map((part) => new Uint8Array(Buffer.from(files.shards[part.dataPath]!, 'base64')).slice(part.record.byteOffset, part.record.byteOffset + part.record.nbytes));
    out.set(p.name, decodeParam(p, parts));
  }
  return out;
}

/** Parents' decoded values, straight from the bytes we cached (independent of the app). */
function decodeSynthetic(s: Synthetic): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of listParams(s.cache)) out.set(p.name, decodeParam(p, p.parts.map((part) => s.files.get(part.dataPath)!.slice(part.record.byteOffset, part.record.byteOffset + part.record.nbytes))));
  return out;
}

async function openWithParents(page: Page, parents: [typeof LLAMA, Synthetic][]): Promise<void> {
  // Nothing outside 127.0.0.1 is reachable here; make that explicit and fast.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort('internetdisconnected'));
  await page.goto('./');
  for (const [r, s] of parents) await putEntries(page, webllmEntries(r.model, s));
  // The merge view lists web-llm's cache when it opens: reload so it sees these.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
}

async function pick(page: Page, input: number, id: string) {
  await page.getByLabel(`Input ${input} model`).selectOption(`webllm:${id}`);
}

test.describe('MLC merges in the merge view', () => {
  test('two cached web-llm fine-tunes: plan, merge, the result is a web-llm model on the parent library that web-llm itself finds in its cache; deleting the parent keeps that library; deleting it empties its cache entries', async ({ page }) => {
    const errors = watchErrors(page);
    const sa = synthetic(1, Q4F32_LAYOUT), sb = synthetic(2, Q4F32_LAYOUT);
    await openWithParents(page, [[LLAMA, sa], [HERMES, sb]]);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await pick(page, 1, LLAMA.model_id);
    await pick(page, 2, HERMES.model_id);
    await expect(page.getByLabel('Output type')).toBeDisabled();
    await page.getByLabel('Output name').fill('llama-hermes');

    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const plan = page.getByRole('table', { name: 'Plan summary' });
    await expect(plan).toContainText('MLC (web-llm)');
    await expect(plan.getByRole('row').filter({ hasText: 'parameters' })).toContainText(String(Q4F32_LAYOUT.length));
    await expect(plan).toContainText(LLAMA.model_id);
    await expect(plan).toContainText(/output size.*of weight shards/);
    await page.getByRole('button', { name: 'Show parameters' }).click();
    await expect(page.getByRole('table', { name: 'Planned tensors' })).toContainText('model.layers.1.mlp.down_proj');
    await expect(page.getByRole('table', { name: 'Planned tensors' })).toContainText('q4f32_1');
    expect(await mergedKeys(page)).toEqual([]);

    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    const result = page.getByRole('region', { name: 'Merge result' });
    await expect(result.getByRole('status').first()).toContainText('Saved llama-hermes', { timeout: 60_000 });
    await expect(page.getByRole('progressbar', { name: 'Merge progress' })).toHaveAttribute('value', String(Q4F32_LAYOUT.length));
    await expect(page.getByRole('table', { name: 'Tensor statistics' })).toContainText('model.embed_tokens');
    await expect(result).toContainText('Llama-3.2-3B-Instruct-q4f32_1_cs1k-webgpu.wasm');
    const modelId = (await result.getByLabel('Merged model id').textContent())!.trim();
    expect(modelId).toMatch(/^llama-hermes-[a-z0-9]+$/);

    // The record: a web-llm model under our URL, on the parent's model library, with its overrides.
    const rec = await dbRecord(page, `webllm:${modelId}`);
    expect(rec?.source).toBe('webllm');
    expect(rec?.mlc?.model_lib).toBe(LLAMA.model_lib);
    expect(rec?.mlc?.overrides).toEqual(LLAMA.overrides);
    const base = new URL(`chorus-merged/${modelId}/resolve/main/`, page.url()).href;
    expect(rec?.mlc?.model).toBe(base);
    expect(modelBaseUrl(rec!.mlc!.model)).toBe(base);

    // Every file web-llm's loader reads for it is cached under that URL (so it never fetches).
    const keys = await mergedKeys(page);
    expect(keys).toEqual(expect.arrayContaining([`${base}mlc-chat-config.json`, `${base}tokenizer.json`, `${base}tensor-cache.json`, `${base}params_shard_0.bin`]));

    // The merged weights decode to the average of the parents, within the 4-bit step.
    const merged = await decodeCached(page, base);
    const da = decodeSynthetic(sa), db = decodeSynthetic(sb);
    for (const l of Q4F32_LAYOUT) {
      const got = merged.get(l.name)!, x = da.get(l.name)!, y = db.get(l.name)!;
      expect(got.length).toBe(x.length);
      let worst = 0;
      for (let g = 0; g < x.length / 32; g++) {
        let maxAbs = 0;
        for (let i = g * 32; i < g * 32 + 32; i++) maxAbs = Math.max(maxAbs, Math.abs((x[i]! + y[i]!) / 2));
        const step = l.kind === 'q4f32_1' ? maxAbs / 7 : 0;
        for (let i = g * 32; i < g * 32 + 32; i++) worst = Math.max(worst, Math.abs(got[i]! - (x[i]! + y[i]!) / 2) - step / 2);
      }
      expect(worst, l.name).toBeLessThanOrEqual(1e-6);
    }

    // web-llm's own check, with its real module and the AppConfig Chorus creates the engine with.
    await page.route('**/__test__/web-llm.js', (r) => r.fulfill({ body: WEBLLM_JS, headers: { 'content-type': 'text/javascript', 'cross-origin-resource-policy': 'same-origin' } }));
    // A string, so the test runner's transpiler leaves the page's dynamic import() alone.
    const seen = await page.evaluate(`(async () => {
      const w = await import(new URL('__test__/web-llm.js', document.baseURI).href);
      const appConfig = { ...w.prebuiltAppConfig, model_list: [...w.prebuiltAppConfig.model_list, ${JSON.stringify(rec!.mlc)}] };
      return {
        merged: await w.hasModelInCache(${JSON.stringify(modelId)}, appConfig),
        parent: await w.hasModelInCache('Llama-3.2-3B-Instruct-q4f32_1-MLC', appConfig),
        never: await w.hasModelInCache('Llama-3.2-1B-Instruct-q4f32_1-MLC', appConfig),
      };
    })()`);
    expect(seen).toEqual({ merged: true, parent: true, never: false });

    // The model manager lists it (after a reload too: status from web-llm's hasModelInCache).
    await page.reload();
    await showTab(page, 'Models');
    const card = modelCard(page, 'llama-hermes');
    await expect(card).toContainText('web-llm (MLC), merged here');
    await expect(card.getByLabel('llama-hermes model library')).toContainText('Llama-3.2-3B-Instruct-q4f32_1_cs1k-webgpu.wasm');
    await expect(card.getByRole('status', { name: 'llama-hermes status' })).toHaveText('stored');
    // … and the playground offers it to its agents (loading needs WebGPU and the model library).
    await showTab(page, 'Playground');
    await expect(page.getByRole('tabpanel', { name: 'Playground' }).getByLabel('Agent 1 model').locator(`option[value="webllm:${modelId}"]`)).toHaveCount(1);

    // Deleting its parent (added to the model manager from web-llm's list) removes the parent's
    // weights and config, but not the model library the merged model runs on.
    await page.evaluate(async (lib) => (await caches.open('webllm/wasm')).put(lib, new Response(new Uint8Array([0, 97, 115, 109]))), LLAMA.model_lib);
    await showTab(page, 'Models');
    await page.getByText('web-llm models (WebGPU)').click();
    await page.getByLabel('Filter web-llm models').fill(LLAMA.model_id);
    await page.getByRole('button', { name: `Add ${LLAMA.model_id}`, exact: true }).click();
    const parentCard = modelCard(page, LLAMA.model_id);
    await expect(parentCard).toContainText('web-llm (MLC)');
    page.once('dialog', (d) => void d.accept());
    await parentCard.getByRole('button', { name: 'Delete' }).click();
    await expect(parentCard).toHaveCount(0);
    expect((await allKeys(page, 'webllm/model')).filter((u) => u.startsWith(LLAMA.model))).toEqual([]);
    expect(await allKeys(page, 'webllm/wasm')).toEqual([LLAMA.model_lib]);
    await page.reload();
    await showTab(page, 'Models');
    await expect(card.getByRole('status', { name: 'llama-hermes status' })).toHaveText('stored');

    // Deleting it removes its cache entries; the other parent stays.
    const parentKeys = (await allKeys(page, 'webllm/model')).filter((u) => !u.includes('/chorus-merged/'));
    await showTab(page, 'Models');
    page.once('dialog', (d) => void d.accept());
    await card.getByRole('button', { name: 'Delete' }).click();
    await expect(card).toHaveCount(0);
    expect(await mergedKeys(page)).toEqual([]);
    expect(await allKeys(page, 'webllm/model')).toEqual(parentKeys);
    expect(await dbRecord(page, `webllm:${modelId}`)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  test('leftovers of an interrupted merge are swept; an incompatible pair and a GGUF+MLC mix are refused with precise messages; nothing is written or registered', async ({ page }) => {
    const smallLayout: LayoutEntry[] = Q4F32_LAYOUT.map((l) => (l.name === 'model.layers.1.mlp.down_proj' ? { ...l, shape: [64, 96] } : l));
    // What a tab closed in the middle of a merge leaves: keys under chorus-merged/ no model owns.
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort('internetdisconnected'));
    await page.goto('./');
    // The registry has started (and swept) once its list shows the built-in models.
    await showTab(page, 'Models');
    await expect(page.getByRole('list', { name: 'Model list' }).getByRole('listitem').first()).toBeVisible();
    await putEntries(page, webllmEntries(new URL('chorus-merged/orphan-1/', page.url()).href, synthetic(5, Q4F32_LAYOUT)));
    expect((await mergedKeys(page)).length).toBe(2 + 3);
    await openWithParents(page, [[LLAMA, synthetic(1, Q4F32_LAYOUT)], [SMALL, synthetic(3, smallLayout)]]);
    // The registry sweeps them when it starts.
    await expect.poll(() => mergedKeys(page)).toEqual([]);
    await showTab(page, 'Models');
    const listed = await listedModels(page);
    const stored = await opfsFiles(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await pick(page, 1, LLAMA.model_id);
    await pick(page, 2, SMALL.model_id);
    const alert = page.getByRole('alert', { name: 'Merge error' });
    for (const button of ['Plan', 'Merge']) {
      await page.getByRole('button', { name: button, exact: true }).click();
      await expect(alert).toContainText('These models cannot be merged');
      await expect(alert).toContainText(`${SMALL.model_id}: model.layers.1.mlp.down_proj is [64, 96] here and [64, 128] in ${LLAMA.model_id} — these checkpoints cannot be merged`);
      await expect(alert).toContainText('Nothing was written.');
      expect(await mergedKeys(page)).toEqual([]);
    }

    // A built-in GGUF model as input 2: the two formats cannot be mixed.
    const gguf = page.getByLabel('Input 2 model').locator('optgroup[label="GGUF (wllama)"] option').first();
    await page.getByLabel('Input 2 model').selectOption((await gguf.getAttribute('value'))!);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(alert).toContainText(/GGUF and MLC inputs cannot be mixed: .+ is a GGUF file \(llama\.cpp\) and Llama-3\.2-3B-Instruct-q4f32_1-MLC is an MLC model \(web-llm\)/);
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    await expect(alert).toContainText('GGUF and MLC inputs cannot be mixed');
    expect(await mergedKeys(page)).toEqual([]);
    // Refused before any input was read: the built-in GGUF was not even downloaded.
    expect(await opfsFiles(page)).toEqual(stored);
    await showTab(page, 'Models');
    await expect(page.getByRole('list', { name: 'Model list' }).getByRole('listitem')).toHaveCount(listed);
  });

  test('the start-up sweep spares the keys of an MLC merge running in another tab, and takes them once that tab is gone', async ({ page, context }) => {
    const offline = (p: Page) => p.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort('internetdisconnected'));
    const started = async (p: Page) => {
      await showTab(p, 'Models');
      await expect(p.getByRole('list', { name: 'Model list' }).getByRole('listitem').first()).toBeVisible();
    };
    await offline(page);
    await page.goto('./');
    await started(page);
    // Another tab of the app in the middle of an MLC merge: it holds the merges' lock (shared) and
    // has written some of its keys.
    const other = await context.newPage();
    await offline(other);
    await other.goto('./');
    await started(other);
    await other.evaluate((name) => new Promise<void>((granted) => {
      void navigator.locks.request(name, { mode: 'shared' }, () => {
        granted();
        return new Promise<void>(() => undefined);
      });
    }), MLC_MERGE_LOCK);
    await putEntries(page, webllmEntries(new URL('chorus-merged/running-1/', page.url()).href, synthetic(5, Q4F32_LAYOUT)));
    const running = await mergedKeys(page);
    expect(running.length).toBe(2 + 3);
    // This tab starts again (its registry sweeps at start): the running merge's keys stay.
    await page.reload();
    await started(page);
    expect(await mergedKeys(page)).toEqual(running);
    // The other tab is closed mid-merge (its lock goes with it): now they are leftovers, swept at the next start.
    await other.close();
    await page.reload();
    await started(page);
    await expect.poll(() => mergedKeys(page)).toEqual([]);
  });

  test('a cancelled MLC merge leaves no key in web-llm\'s caches and registers nothing', async ({ page }) => {
    // Large enough (48 × 1M 4-bit weights per parent) to be cancelled while it runs.
    const big: LayoutEntry[] = Array.from({ length: 48 }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj`, kind: 'q4f32_1' as const, shape: [1024, 1024] }));
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort('internetdisconnected'));
    await page.goto('./');
    for (const [r, seed] of [[LLAMA, 1], [HERMES, 2]] as const) {
      // Side files and the tensor cache from the helper; the 30 MB of shards are filled in the page.
      const s = synthetic(seed, big.slice(0, 2));
      const cache: TensorCache = { metadata: {}, records: [] };
      let shard = 0;
      for (const l of big) {
        const q = 1024 * 128 * 4, sc = 1024 * 32 * 4;
        cache.records.push({
          dataPath: `params_shard_${shard++}.bin`, format: 'raw-shard', nbytes: q + sc,
          records: [
            { name: `${l.name}.q_weight`, shape: [1024, 128], dtype: 'uint32', format: 'raw', byteOffset: 0, nbytes: q },
            { name: `${l.name}.q_scale`, shape: [1024, 32], dtype: 'float32', format: 'raw', byteOffset: q, nbytes: sc },
          ],
        });
      }
      const entries = webllmEntries(r.model, { ...s, cache, files: new Map() });
      await putEntries(page, entries);
      await page.evaluate(async ({ base, records, seed }) => {
        const c = await caches.open('webllm/model');
        let x = seed;
        for (const s of records) {
          const bytes = new Uint8Array(s.nbytes);
          const q = new Uint32Array(bytes.buffer, 0, 1024 * 128);
          for (let i = 0; i < q.length; i++) q[i] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
          new Float32Array(bytes.buffer, 1024 * 128 * 4).fill(0.01);
          await c.put(`${base}${s.dataPath}`, new Response(bytes));
        }
      }, { base: modelBaseUrl(r.model), records: cache.records, seed });
    }
    await page.reload();
    await showTab(page, 'Models');
    const listed = await listedModels(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await pick(page, 1, LLAMA.model_id);
    await pick(page, 2, HERMES.model_id);
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    // Cancel once it runs (the base's config and tokenizer are already under the new URL).
    await expect(page.getByRole('progressbar', { name: 'Merge progress' })).toBeVisible({ timeout: 30_000 });
    expect((await mergedKeys(page)).length).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const alert = page.getByRole('alert', { name: 'Merge error' });
    await expect(alert).toContainText('Cancelled');
    await expect(alert).toContainText('nothing was kept');
    expect(await mergedKeys(page)).toEqual([]);
    await showTab(page, 'Models');
    await expect(page.getByRole('list', { name: 'Model list' }).getByRole('listitem')).toHaveCount(listed);
  });
});
