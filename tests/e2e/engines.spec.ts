/**
 * The engine layer end to end, in real headless Chromium with the real stories260K model:
 * real engine workers running real wllama (llama.cpp wasm), the real registry on real OPFS and
 * IndexedDB. The page is the engine harness (tools/bench/page/), built here and served by the
 * project's own static server with the app's COOP/COEP/CSP headers, so CSP and worker rules are
 * exactly the app's.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

declare global {
  interface Window {
    /** tools/bench/page/main.ts; untyped here because results are checked by value below. */
    chorus: any;
  }
}

const PORT = Number(process.env.E2E_PORT ?? 4179) + 1000;
const BASE = `http://127.0.0.1:${PORT}/`;
let server: ChildProcess | null = null;
let model: Buffer;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  model = readFileSync(storiesModel());
  const out = process.env.H3_HARNESS_DIST ?? mkdtempSync(join(tmpdir(), 'chorus-harness-'));
  if (!process.env.H3_HARNESS_DIST) {
    execFileSync('npx', ['vite', 'build', '--config', 'tools/bench/vite.config.ts', '--outDir', out, '--emptyOutDir'], { cwd: REPO_ROOT, stdio: 'pipe' });
  }
  server = spawn('node', ['tools/serve.mjs', out, '--port', String(PORT)], { cwd: REPO_ROOT, stdio: 'pipe' });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.on('data', (d: Buffer) => d.toString().includes('running at') && resolve());
    server!.on('exit', (code) => reject(new Error(`harness server exited with ${code}`)));
  });
});

test.afterAll(() => {
  server?.kill();
});

/** Opens the harness with the model served at /m/stories260K.gguf (and a built-in manifest at /bi/). */
async function open(page: Page): Promise<void> {
  const headers = { 'content-type': 'application/octet-stream', 'cross-origin-resource-policy': 'same-origin' };
  await page.route('**/m/stories260K.gguf', (r) => r.fulfill({ body: model, headers }));
  await page.route('**/bi/stories.gguf', (r) => r.fulfill({ body: model, headers }));
  await page.route('**/bi/index.json', (r) =>
    r.fulfill({
      json: { models: [{ id: 'stories', file: 'stories.gguf', name: 'Stories 260K', description: 'TinyStories base', size: model.length }] },
      headers: { 'cross-origin-resource-policy': 'same-origin' },
    }),
  );
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(BASE);
  await expect(page.locator('#status')).toHaveText('ready');
  expect(errors).toEqual([]);
}

const GREEDY = { prompt: 'Once upon a time', max_tokens: 48, temperature: 0 };

test('wllama in an engine worker: load from a picked File, greedy output exact and repeatable, logprobs, seeds', async ({ page }) => {
  await open(page);
  await page.locator('#file').setInputFiles(storiesModel());
  const r = await page.evaluate(async (greedy) => {
    const c = window.chorus;
    const { handle, info } = await c.spawn({ kind: 'picked' });
    const a = await c.run(handle, 'complete', greedy);
    const b = await c.run(handle, 'complete', greedy);
    const lp = await c.run(handle, 'complete', { ...greedy, max_tokens: 12, top_logprobs: 3 });
    const s1 = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 40, temperature: 0.9, seed: 42 });
    const s2 = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 40, temperature: 0.9, seed: 42 });
    const s3 = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 40, temperature: 0.9, seed: 43 });
    const chat = await c.run(handle, 'chat', { messages: [{ role: 'user', content: 'Tell me about a cat.' }], max_tokens: 24, temperature: 0 });
    await c.unload(handle);
    return { info, a, b, lp, s1: s1.text, s2: s2.text, s3: s3.text, chat };
  }, GREEDY);
  expect(r.info).toMatchObject({ kind: 'wllama', model: 'stories260K.gguf', backend: 'cpu', supportsLogprobs: true });
  expect(r.info.detail).toMatch(/^CPU · wasm · \d+ threads?\b.* · wllama default build$/);
  expect(r.a.text.length).toBeGreaterThan(20);
  expect(r.a.text).toBe(r.b.text);
  expect(r.a.finish_reason).toBe('length');
  expect(r.a.usage.completion_tokens).toBe(48);
  expect(r.a.usage.prompt_tokens).toBeGreaterThan(0);
  expect(r.a.usage.tokens_per_second).toBeGreaterThan(0);
  expect(r.a.usage.time_to_first_token_ms).toBeGreaterThan(0);
  // Logprobs: one per token, each with 3 pre-sampling alternatives, the greedy choice the top one.
  expect(r.lp.logprobs).toHaveLength(12);
  for (const t of r.lp.logprobs) {
    expect(t.logprob).toBeLessThanOrEqual(0);
    expect(t.top_logprobs).toHaveLength(3);
    expect(t.top_logprobs[0].token).toBe(t.token);
    expect(t.top_logprobs.reduce((s: number, x: { logprob: number }) => s + Math.exp(x.logprob), 0)).toBeLessThanOrEqual(1.0001);
  }
  expect(r.lp.text).toBe(r.lp.logprobs.map((t: { token: string }) => t.token).join(''));
  expect(r.a.text.startsWith(r.lp.text)).toBe(true);
  // Same seed → same sample; another seed → another sample.
  expect(r.s1).toBe(r.s2);
  expect(r.s1).not.toBe(r.s3);
  // Template-less model: the documented fallback transcript, stopped before a new "User:" turn.
  expect(r.chat.text.length).toBeGreaterThan(0);
  expect(r.chat.text).not.toContain('\nUser:');
});

test('load from a URL in the worker (progress, cancel); abort mid-generation ends the stream promptly and leaves the worker idle and usable; queued callers share it fairly', async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async (greedy) => {
    const c = window.chorus;
    // Load from a URL inside the worker: byte progress up to the full size; cancel leaves no engine.
    const url = new URL('/m/stories260K.gguf', location.href).href;
    const cancelled = await c.spawn({ kind: 'url', url, name: 'stories260K.gguf' }, { cancelAtFirstProgress: true }).then(
      () => 'loaded!',
      (e: Error & { code?: string }) => e.code,
    );
    // An error thrown in the worker crosses comlink as the same class, code and message.
    const missing = await c.spawn({ kind: 'opfs', path: 'models/absent.gguf', name: 'absent.gguf' }).then(
      () => null,
      (e: Error & { code?: string }) => ({ name: e.name, code: e.code, message: e.message }),
    );
    const { handle, progress } = await c.spawn({ kind: 'url', url, name: 'stories260K.gguf' });
    const ref = await c.run(handle, 'complete', greedy);
    const aborted = await c.run(handle, 'complete', { ...greedy, max_tokens: 400 }, { abortAfter: 3 });
    const after = c.state(handle);
    const again = await c.run(handle, 'complete', greedy);
    // Three agents on one engine at once: each gets the same greedy answer as alone.
    const three = await Promise.all(['a1', 'a2', 'a3'].map((caller) => c.run(handle, 'complete', greedy, { caller })));
    const idle = c.state(handle);
    await c.unload(handle);
    return { cancelled, missing, progress, ref: ref.text, aborted, after, again: again.text, three: three.map((x: { text: string }) => x.text), idle };
  }, GREEDY);
  expect(r.cancelled).toBe('aborted');
  expect(r.missing).toEqual({ name: 'EngineError', code: 'load-failed', message: "absent.gguf: not found in the browser's model cache (OPFS models/absent.gguf) — import it again." });
  expect(r.progress.length).toBeGreaterThan(0);
  expect(r.progress.at(-1)).toEqual([model.length, model.length]);
  expect(r.aborted.finish_reason).toBe('abort');
  expect(r.aborted.deltas).toBeLessThan(20);
  expect(r.after).toEqual({ active: 0, queued: 0, crashed: null });
  expect(r.again).toBe(r.ref);
  expect(r.three).toEqual([r.ref, r.ref, r.ref]);
  expect(r.idle).toEqual({ active: 0, queued: 0, crashed: null });
});

test('registry: import a File into OPFS, load it from OPFS, same greedy output; built-in from the manifest; crash → error → reload', async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async (greedy) => {
    const c = window.chorus;
    const reg = c.newRegistry({ dbName: `reg-${Date.now()}`, manifestUrl: new URL('/bi/index.json', location.href).href, modelsDir: `t-${Date.now()}` });
    await reg.init();
    const builtinBefore = reg.get('builtin:stories');
    const file = new File([await c.fetchBlob('/m/stories260K.gguf')], 'stories260K.gguf');
    const progress: number[] = [];
    const entry = await reg.importFile(file, { onProgress: (l: number) => progress.push(l) });
    const stored = await c.opfsListAll(reg.modelsDir);
    const engine = await reg.load(entry.id);
    const loaded = reg.get(entry.id);
    const { collect } = { collect: async (s: AsyncIterable<{ type: string; text?: string }>) => { let t = ''; for await (const x of s) if (x.type === 'delta') t += x.text; return t; } };
    const busy: string[] = [];
    const watch = setInterval(() => {
      const a = reg.get(entry.id).activity;
      if (a) busy.push(`${a.active}/${a.queued}`);
    }, 1);
    const [text] = await Promise.all([collect(engine.complete(greedy, { caller: 'a1' })), collect(engine.complete(greedy, { caller: 'a2' }))]);
    clearInterval(watch);
    const activityAfter = reg.get(entry.id).activity;
    const shared = reg.engineFor(entry.id) === engine && (await reg.load(entry.id)) === engine;
    // A crash (the worker is killed as a real crash would) fails pending calls and marks the entry.
    const pending = collect(engine.complete({ ...greedy, max_tokens: 400 })).then(() => 'finished', (e: Error & { code?: string }) => `${e.code}: ${e.message}`);
    await new Promise((res) => setTimeout(res, 50));
    engine.simulateCrash();
    const pendingResult = await pending;
    const crashed = reg.get(entry.id);
    const reloaded = await reg.load(entry.id);
    const text2 = await collect(reloaded.complete(greedy));
    // Unloading a model while it loads cancels the load; a built-in not yet cached stays 'available'.
    const racing = reg.load('builtin:stories').then(() => 'loaded', (e: Error & { code?: string }) => e.code);
    await reg.unload('builtin:stories');
    const raced = { result: await racing, status: reg.get('builtin:stories').status, files: await c.opfsListAll(reg.modelsDir) };
    // Built-in: fetched from the app's origin, validated, cached in OPFS, then loaded from there.
    const bi = await reg.load('builtin:stories');
    const biText = await collect(bi.complete(greedy));
    const biEntry = reg.get('builtin:stories');
    const storedAfter = await c.opfsListAll(reg.modelsDir);
    await reg.dispose();
    const afterUnload = reg.get(entry.id).status;
    await reg.remove(entry.id);
    const removed = { entry: reg.get(entry.id) ?? null, files: await c.opfsListAll(reg.modelsDir) };
    return { raced, builtinBefore, entry, progress, stored, loaded, text, busy, activityAfter, shared, pendingResult, crashed, text2, biText, biEntry, storedAfter, afterUnload, removed };
  }, GREEDY);
  expect(r.builtinBefore).toMatchObject({ source: 'built-in', status: 'available', name: 'Stories 260K' });
  expect(r.entry).toMatchObject({ id: 'file:stories260K.gguf', source: 'imported', status: 'stored', size: model.length });
  expect(r.entry.summary).toMatchObject({ architecture: 'llama', vocabSize: 512, hasChatTemplate: false });
  expect(r.progress.at(-1)).toBe(model.length);
  expect(r.stored).toEqual(['stories260K.gguf']);
  expect(r.loaded.status).toBe('loaded');
  expect(r.loaded.backend.detail).toMatch(/CPU/);
  expect(r.text.length).toBeGreaterThan(20);
  expect(r.shared).toBe(true);
  // Two agents on one engine: one runs, one waits, then both finish and the model shows idle.
  expect(r.busy).toContain('1/1');
  // …on one or two instances of the model (a second one loads for the waiting agent: parallel agents).
  expect(r.activityAfter).toMatchObject({ active: 0, queued: 0 });
  expect(r.activityAfter.instances + r.activityAfter.loading).toBe(2);
  expect(r.pendingResult).toMatch(/^crashed: .*reload the model/);
  expect(r.crashed.status).toBe('error');
  expect(r.crashed.error).toMatch(/crashed/);
  expect(r.text2).toBe(r.text);
  expect(r.raced).toEqual({ result: 'aborted', status: 'available', files: ['stories260K.gguf'] });
  expect(r.biText).toBe(r.text);
  expect(r.biEntry).toMatchObject({ status: 'loaded', source: 'built-in' });
  expect(r.biEntry.summary.vocabSize).toBe(512);
  expect(r.storedAfter).toEqual(['builtin-stories.gguf', 'stories260K.gguf']);
  expect(r.afterUnload).toBe('stored');
  expect(r.removed).toEqual({ entry: null, files: ['builtin-stories.gguf'] });
});

test('truncated and random-bytes files are rejected with the reader\'s message and nothing is stored', async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async () => {
    const c = window.chorus;
    const dbName = `bad-${Date.now()}`;
    const reg = c.newRegistry({ dbName, manifestUrl: null, modelsDir: `bad-${Date.now()}` });
    await reg.init();
    const bytes = new Uint8Array(await (await c.fetchBlob('/m/stories260K.gguf')).arrayBuffer());
    const truncated = new File([bytes.slice(0, 600_000)], 'truncated.gguf');
    const random = new File([crypto.getRandomValues(new Uint8Array(65536))], 'random.gguf');
    const attempt = (f: File) => reg.importFile(f).then(() => 'stored!', (e: Error & { code?: string }) => ({ code: e.code, message: e.message }));
    const t = await attempt(truncated);
    const x = await attempt(random);
    // A URL import whose bytes turn out not to be GGUF is written to a temporary file, rejected, removed.
    const u = await reg.importUrl(URL.createObjectURL(random)).then(() => 'stored!', (e: Error & { code?: string }) => ({ code: e.code, message: e.message }));
    const files = await c.opfsListAll(reg.modelsDir);
    const db = await c.openChorusDb(dbName);
    const records = await db.getAll('models');
    db.close();
    const models = reg.models.map((m: { id: string }) => m.id);
    // The registry still works after the failures.
    const ok = await reg.importFile(new File([bytes], 'good.gguf'));
    return { t, x, u, files, records, models, ok: ok.id };
  });
  expect(r.t).toMatchObject({ code: 'invalid-model' });
  expect(r.t.message).toMatch(/truncated\.gguf/);
  expect(r.t.message).toMatch(/truncat/i);
  expect(r.x).toMatchObject({ code: 'invalid-model' });
  expect(r.x.message).toMatch(/random\.gguf/);
  expect(r.x.message).toMatch(/GGUF/);
  expect(r.u).toMatchObject({ code: 'invalid-model' });
  expect(r.files).toEqual([]);
  expect(r.records).toEqual([]);
  expect(r.models).toEqual([]);
  expect(r.ok).toBe('file:good.gguf');
});

test('store: IndexedDB migrations carry v1 data forward; URL download reports progress and cancel keeps nothing', async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async () => {
    const c = window.chorus;
    const name = `mig-${Date.now()}`;
    const v1 = await c.openChorusDb(name, 1);
    const v1Stores = [...v1.objectStoreNames];
    await v1.put('models', { id: 'file:old.gguf', name: 'old', source: 'imported', size: 3, file: 'old.gguf' });
    v1.close();
    const db = await c.openChorusDb(name);
    const version = db.version;
    const stores = [...db.objectStoreNames];
    const old = await db.get('models', 'file:old.gguf');
    const bySource = await db.getAllFromIndex('models', 'bySource', 'imported');
    db.close();

    const reg = c.newRegistry({ dbName: `dl-${Date.now()}`, manifestUrl: null, modelsDir: `dl-${Date.now()}` });
    await reg.init();
    const progress: [number, number][] = [];
    const e = await reg.importUrl(new URL('/m/stories260K.gguf', location.href).href, { onProgress: (l: number, t: number) => progress.push([l, t]) });
    const ac = new AbortController();
    const p = reg.importUrl(new URL('/m/stories260K.gguf?again', location.href).href, { signal: ac.signal, name: 'cancelled.gguf' });
    ac.abort();
    const cancelled = await p.then(() => 'stored!', (err: Error & { code?: string }) => err.code);
    const files = await c.opfsListAll(reg.modelsDir);
    const badUrl = await reg.importUrl('http://127.0.0.1:9/nothing.gguf').then(() => 'stored!', (err: Error & { code?: string }) => `${err.code}: ${err.message}`);
    // OpenAI-compatible endpoints: the key stays in memory unless the user chooses to save it.
    const oaDb = `oa-${Date.now()}`;
    const r1 = c.newRegistry({ dbName: oaDb, manifestUrl: null });
    const memOnly = await r1.addOpenAI({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'qwen', apiKey: 'sk-memory' });
    const saved = await r1.addOpenAI({ baseUrl: 'http://127.0.0.1:8081', model: 'llama', apiKey: 'sk-saved', saveKey: true });
    const keys = { memOnly: await r1.isKeySaved(memOnly.id), saved: await r1.isKeySaved(saved.id) };
    const oaEngine = await r1.load(saved.id);
    const db2 = await c.openChorusDb(oaDb);
    const secrets = await db2.getAll('secrets');
    db2.close();
    const r2 = c.newRegistry({ dbName: oaDb, manifestUrl: null });
    await r2.init();
    const reopened = r2.models.map((m: { id: string; source: string; status: string }) => `${m.source}:${m.id}:${m.status}`);
    return { keys, oaInfo: oaEngine.info, secrets, reopened, v1Stores, version, stores, old, bySource: bySource.length, e, progress, cancelled, files, badUrl, dbv: c.DB_VERSION };
  });
  expect(r.v1Stores.sort()).toEqual(['models', 'settings']);
  expect(r.version).toBe(r.dbv);
  expect(r.stores.sort()).toEqual(['models', 'secrets', 'settings']);
  expect(r.old).toMatchObject({ id: 'file:old.gguf', addedAt: 0 });
  expect(r.bySource).toBe(1);
  expect(r.e).toMatchObject({ source: 'url', status: 'stored', size: model.length });
  expect(r.progress.at(-1)).toEqual([model.length, model.length]);
  expect(r.cancelled).toBe('aborted');
  expect(r.files).toEqual(['stories260K.gguf']);
  expect(r.keys).toEqual({ memOnly: false, saved: true });
  expect(r.secrets).toEqual([{ key: 'openai:http://127.0.0.1:8081#llama', value: 'sk-saved' }]);
  expect(r.oaInfo).toMatchObject({ kind: 'openai', backend: 'http', model: 'llama', detail: 'HTTP · 127.0.0.1:8081' });
  expect(r.reopened.sort()).toEqual(['openai:openai:http://127.0.0.1:8080#qwen:stored', 'openai:openai:http://127.0.0.1:8081#llama:stored']);
  expect(r.badUrl).toMatch(/^network: could not download http:\/\/127\.0\.0\.1:9\/nothing\.gguf/);
});

test('web-llm without weights: WebGPU/shader-f16 detection, prebuilt list, empty cache, f16 model refused with the q4f32 offer, load fails with a clear network error', async ({ page }) => {
  // Nothing outside 127.0.0.1 is reachable here; make that explicit and fast.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort('internetdisconnected'));
  await open(page);
  const r = await page.evaluate(() => window.chorus.webllm());
  expect(r.count).toBeGreaterThan(50);
  expect(r.cached).toEqual([]);
  if (!r.support.webgpu) {
    expect(r.f32.code).toBe('no-webgpu');
    expect(r.f32.message).toMatch(/needs WebGPU/);
    return;
  }
  // Headless Chromium's SwiftShader adapter has no shader-f16.
  expect(r.support.shaderF16).toBe(false);
  expect(r.f16.code).toBe('unsupported');
  expect(r.f16.message).toMatch(/shader-f16.*Choose Llama-3\.2-1B-Instruct-q4f32_1-MLC instead/);
  expect(r.f32.code).toBe('network');
  expect(r.f32.message).toMatch(/SmolLM2-135M-Instruct-q0f32-MLC: downloading the model failed .*Check your connection/);
});

test('a model WITH a chat template is chatted through llama.cpp\'s template (ChatML copy made with the project\'s GGUF writer)', async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async () => {
    const c = window.chorus;
    const chatml =
      "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const file = await c.withChatTemplate(await c.fetchBlob('/m/stories260K.gguf'), 'stories-chatml.gguf', chatml);
    const { handle } = await c.spawn({ kind: 'blob', blob: file, name: file.name });
    const messages = [
      { role: 'system', content: 'You tell stories.' },
      { role: 'user', content: 'Once upon a time' },
    ];
    const chat = await c.run(handle, 'chat', { messages, max_tokens: 24, temperature: 0 });
    const manual = await c.run(handle, 'complete', {
      prompt: '<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n',
      max_tokens: 24,
      temperature: 0,
    });
    const fallback = await c.spawn({ kind: 'fetch', url: '/m/stories260K.gguf', name: 'stories260K.gguf' });
    const plain = await c.run(fallback.handle, 'chat', { messages, max_tokens: 24, temperature: 0 });
    await c.unload(handle);
    await c.unload(fallback.handle);
    return { chat, manual, plain };
  });
  // The template path renders exactly the ChatML prompt (same greedy tokens, same prompt length) …
  expect(r.chat.text).toBe(r.manual.text);
  expect(r.chat.usage.prompt_tokens).toBe(r.manual.usage.prompt_tokens);
  // … which is not what the template-less fallback sends.
  expect(r.plain.usage.prompt_tokens).not.toBe(r.chat.usage.prompt_tokens);
});

test('parallel agents: a model loaded as the app loads it grows to one instance per overlapping agent, and seeded sampled text is what one instance gives one call at a time (and what 2 threads give)', async ({ page }) => {
  test.setTimeout(180_000);
  await open(page);
  const r = await page.evaluate(async () => {
    const c = window.chorus;
    const url = '/m/stories260K.gguf';
    const one = await c.spawnSet(url, 'stories260K.gguf', { maxInstances: 1 });
    const set = await c.spawnSet(url, 'stories260K.gguf', { maxInstances: 3 });
    const two = await c.spawn({ kind: 'fetch', url, name: 'stories260K.gguf' }, { nThreads: 2 });
    const req = (seed: number) => ({ prompt: 'Once upon a time', max_tokens: 40, temperature: 0.8, seed });
    const seeds = [11, 12, 13];
    const seq: string[] = [];
    for (const [i, seed] of seeds.entries()) seq.push((await c.run(one.handle, 'complete', req(seed), { caller: `a${i + 1}` })).text);
    const before = c.setActivity(set.handle);
    const together = (await Promise.all(seeds.map((seed, i) => c.run(set.handle, 'complete', req(seed), { caller: `a${i + 1}` })))).map((x: { text: string }) => x.text);
    const during = c.setActivity(set.handle);
    // The instances that overlapping calls started loading (the first calls may have ended first).
    await c.reserve(set.handle, 3);
    const after = c.setActivity(set.handle);
    // Again, now that all three instances are loaded, with the callers in the other order.
    const again = (await Promise.all([...seeds].reverse().map((seed, i) => c.run(set.handle, 'complete', req(seed), { caller: `a${3 - i}` })))).map((x: { text: string }) => x.text).reverse();
    const twoThreads: string[] = [];
    for (const seed of seeds) twoThreads.push((await c.run(two.handle, 'complete', req(seed))).text);
    const oneAfter = c.setActivity(one.handle);
    const final = c.setActivity(set.handle);
    for (const h of [one.handle, set.handle, two.handle]) await c.unload(h);
    return { seq, together, again, twoThreads, before, during, after, final, oneAfter, twoDetail: two.info.detail };
  });
  // Three different seeds give three different texts (so the equalities below say something).
  expect(new Set(r.seq).size).toBe(3);
  expect(r.before).toMatchObject({ instances: 1, loading: 0 });
  // Overlapping calls made the set grow: two more instances loaded or loading.
  expect(r.during.instances + r.during.loading).toBe(3);
  expect(r.after).toMatchObject({ instances: 3, active: 0, queued: 0, growthError: null });
  expect(r.final.peakActive).toBe(3);
  // The extra instances run one thread each.
  expect(r.after.details.slice(1).every((d: string) => /1 thread\b/.test(d))).toBe(true);
  expect(r.twoDetail).toMatch(/2 threads/);
  expect(r.oneAfter).toMatchObject({ instances: 1, max: 1 });
  // The same-seed guarantee: whichever instance served a call, and however many ran at once.
  expect(r.together).toEqual(r.seq);
  expect(r.again).toEqual(r.seq);
  expect(r.twoThreads).toEqual(r.seq);
});

test("wllama's worker, as Chorus builds it (tools/wllama/results-plugin.mjs): a whole answer comes back in a few messages instead of one per token, native log lines are not posted, the text is the streamed one, and a cancelled whole answer stops promptly", async ({ page }) => {
  await open(page);
  const r = await page.evaluate(async () => {
    const c = window.chorus;
    const h = await c.bareLoad('/m/stories260K.gguf', 1);
    const measure = async (whole: boolean) => {
      const actions = c.bareActions(h);
      const messages = c.bareMessages(h);
      const run = whole ? await c.bareRunWhole(h, 'Once upon a time', 200) : await c.bareRun(h, 'Once upon a time', 200);
      const after = c.bareMessages(h);
      return {
        text: run.text,
        tokens: run.tokens,
        actions: c.bareActions(h) - actions,
        replies: after.replies - messages.replies,
        logs: after.logs - messages.logs,
      };
    };
    const streamed = await measure(false);
    const whole = await measure(true);
    await c.bareUnload(h);
    // Through the engine worker: a long whole answer cancelled after 100 ms ends as an abort, soon.
    const { handle } = await c.spawn({ kind: 'fetch', url: '/m/stories260K.gguf', name: 'stories260K.gguf' }, { nThreads: 1, gpu: 'off' });
    const full = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 480, temperature: 0, stream: false });
    const cancelled = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 480, temperature: 0, stream: false }, { abortAfterMs: 100 });
    const after = await c.run(handle, 'complete', { prompt: 'Once upon a time', max_tokens: 480, temperature: 0, stream: false });
    const state = c.state(handle);
    await c.unload(handle);
    return {
      streamed, whole,
      full: { ms: full.wallMs, tokens: full.usage.completion_tokens, text: full.text },
      cancelled: { ms: cancelled.wallMs, finish: cancelled.finish_reason, tokens: cancelled.usage.completion_tokens },
      after: after.text, state,
    };
  });
  // The same text and length either way: the worker repeats llama.cpp's own steps, it changes no step.
  expect(r.whole.tokens).toBe(200);
  expect(r.whole.text).toBe(r.streamed.text);
  // A stream: one action and one reply per token (the counters count). A whole answer: wllama's
  // getResponse() now sees only the replies with data, or one every 50 ms (DRAIN_BUDGET_MS).
  expect(r.streamed.actions).toBeGreaterThanOrEqual(200);
  expect(r.streamed.replies).toBeGreaterThanOrEqual(200);
  expect(r.whole.actions).toBeLessThan(40);
  expect(r.whole.replies).toBe(r.whole.actions);
  // llama-server writes debug lines on every step; with suppressNativeLog none of them is posted.
  expect(r.streamed.logs).toBe(0);
  expect(r.whole.logs).toBe(0);
  // Cancel: the worker checks in at least every 50 ms, so the abort lands well before the answer ends.
  expect(r.full.tokens).toBeGreaterThan(300);
  expect(r.cancelled.finish).toBe('abort');
  expect(r.cancelled.tokens).toBeLessThan(r.full.tokens);
  expect(r.cancelled.ms).toBeLessThan(r.full.ms / 2);
  expect(r.after).toBe(r.full.text);
  expect(r.state).toEqual({ active: 0, queued: 0, crashed: null });
});
