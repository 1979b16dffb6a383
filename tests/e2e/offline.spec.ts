import { test, expect, type Page } from '@playwright/test';
import { cpSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDir } from '../lib/serve.ts';
// @ts-expect-error plain ES module (the build's Node side)
import { writeServiceWorker } from '../../tools/pwa/sw-plugin.mjs';
import { importStories, loadModel, modelCard, openApp, playground, runAndWait, setupPlayground, showTab, watchErrors } from './helpers.ts';

test('after one visit the app loads with the network off, and a model from OPFS loads and generates', async ({ page, context }) => {
  const errors = watchErrors(page);
  await openApp(page);
  // The service worker has precached the build (shell, bundles, wllama's wasm, the worker chunk).
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((r) => navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true }));
    }
  });
  const cached = await page.evaluate(async () => {
    const keys = await caches.keys();
    const cache = await caches.open(keys.find((k) => k.startsWith('chorus-'))!);
    return (await cache.keys()).map((r) => new URL(r.url).pathname);
  });
  expect(cached.some((p) => p.endsWith('.wasm'))).toBe(true);
  expect(cached.some((p) => /engine\.worker.*\.js$/.test(p))).toBe(true);
  expect(cached).toContain('/');

  await importStories(page);

  await context.setOffline(true);
  // Prove the network really is off for this page: a fresh request for an uncached path fails.
  expect(await page.evaluate(() => fetch('/not-cached-' + Date.now() + '.txt').then(() => 'online', () => 'offline'))).toBe('offline');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

  await showTab(page, 'Models');
  await expect(modelCard(page, 'stories260K.gguf').getByRole('status')).toHaveText('stored');
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'single', agents: 1, prompt: 'Once upon a time', maxTokens: 16, temperature: 0 });
  await runAndWait(page);
  await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
  const text = await playground(page).getByRole('region', { name: 'Trace' }).getByRole('article').first().locator('pre').innerText();
  expect(text.trim().length).toBeGreaterThan(5);
  await context.setOffline(false);
  expect(errors).toEqual([]);
});

const DIST = process.env.E2E_DIST ?? 'dist';

async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((r) => navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true }));
    }
  });
}

async function cachedPaths(page: Page): Promise<{ cache: string; paths: string[] }[]> {
  return page.evaluate(async () => {
    const out: { cache: string; paths: string[] }[] = [];
    for (const key of await caches.keys()) {
      if (!key.startsWith('chorus-')) continue;
      out.push({ cache: key, paths: (await (await caches.open(key)).keys()).map((r) => new URL(r.url).pathname) });
    }
    return out;
  });
}

test("web-llm's bundles, wllama's compat build and Pyodide are not precached; web-llm's chunk is cached on first use", async ({ page }) => {
  const errors = watchErrors(page);
  const sw = readFileSync(join(DIST, 'sw.js'), 'utf8');
  const precache = JSON.parse(/const PRECACHE = (\[.*?\]);/.exec(sw)![1]!) as string[];
  const onDemand = JSON.parse(/const ON_DEMAND = (\[.*?\]);/.exec(sw)![1]!) as string[];
  expect(precache.filter((u) => /webllm|wllama-compat|pyodide\//.test(u))).toEqual([]);
  // Pyodide (the Python sandbox of MoCo's coding items) is cached on first use too, whole.
  expect(onDemand.filter((u) => u.startsWith('./pyodide/'))).toEqual(expect.arrayContaining(['./pyodide/pyodide.asm.wasm', './pyodide/python.worker.js']));
  // The ONNX engine's exports (one per built-in model) and onnxruntime's wasm are cached on first use too.
  const onnxModels = readdirSync('public/models').filter((f) => f.endsWith('.onnx')).map((f) => `./models/${f}`).sort();
  expect(onnxModels.length).toBeGreaterThan(0);
  expect(onDemand.filter((u) => u.startsWith('./models/')).sort()).toEqual(onnxModels);
  expect(precache.filter((u) => u.endsWith('.onnx') || /ort-wasm/.test(u))).toEqual([]);
  // The second pool's check-only item sets (fresh items, the sum training halves) are cached on first use; its data sets are precached.
  expect(onDemand.filter((u) => u.startsWith('./pool2/')).map((u) => u.split('/').slice(0, 3).join('/'))).toEqual(expect.arrayContaining(['./pool2/fresh-77', './pool2/halves']));
  expect(onDemand.filter((u) => u.startsWith('./pool2/') && !/^\.\/pool2\/(fresh-77|halves)\//.test(u))).toEqual([]);
  expect(precache.filter((u) => /^\.\/pool2\/(fresh-77|halves)\//.test(u))).toEqual([]);
  expect(precache).toContain('./pool2/datasets/index.json');
  expect(onDemand.filter((u) => !u.startsWith('./pyodide/') && !u.startsWith('./models/') && !u.startsWith('./pool2/')).map((u) => u.replace(/-[\w-]{8}(\.\w+)$/, '-*$1')).sort()).toEqual(
    ['./assets/ort-wasm-simd-threaded.jsep-*.wasm', './assets/webllm-*.js', './assets/webllm.worker-*.js', './assets/wllama-compat-*.js', './assets/wllama-compat-*.wasm'],
  );
  // The compat files are served from our origin, byte-identical copies of the npm package (no CDN).
  const compat = (ext: string) => readFileSync(join(DIST, onDemand.find((u) => u.includes('wllama-compat-') && u.endsWith(ext))!));
  expect(compat('.wasm').equals(readFileSync('node_modules/@wllama/wllama-compat/wasm/wllama.wasm'))).toBe(true);
  expect(compat('.js').equals(readFileSync('node_modules/@wllama/wllama-compat/wasm/wllama.js'))).toBe(true);

  await openApp(page);
  await controlled(page);
  const chunk = onDemand.find((u) => /^\.\/assets\/webllm-/.test(u))!.slice(1);
  const before = await cachedPaths(page);
  expect(before).toHaveLength(1);
  expect(before[0]!.paths).toContain('/assets/' + precache.find((u) => /engine\.worker/.test(u))!.split('/').pop());
  expect(before[0]!.paths).not.toContain(chunk);
  // First use: opening the web-llm panel imports web-llm's chunk through the service worker.
  await showTab(page, 'Models');
  await page.getByLabel('web-llm models').locator('summary').click();
  await expect.poll(async () => (await cachedPaths(page))[0]!.paths.includes(chunk), { timeout: 30_000 }).toBe(true);
  expect(errors).toEqual([]);
});

test('a new build shows an "update ready" notice; Reload switches to it, keeping engines cached on first use', async ({ page }) => {
  const errors = watchErrors(page);
  const dir = mkdtempSync(join(tmpdir(), 'chorus-update-'));
  cpSync(DIST, dir, { recursive: true });
  const served = await serveDir(dir);
  try {
    await page.goto(served.url);
    await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
    await controlled(page);
    const notice = page.getByRole('status', { name: 'Update' });
    await expect(notice).toBeHidden();
    // web-llm's chunk, cached on first use by this build.
    await showTab(page, 'Models');
    await page.getByLabel('web-llm models').locator('summary').click();
    const isWebllm = (p: string) => /^\/assets\/webllm-[\w-]{8}\.js$/.test(p);
    await expect.poll(async () => (await cachedPaths(page))[0]!.paths.some(isWebllm), { timeout: 30_000 }).toBe(true);
    const [first] = await cachedPaths(page);

    // A new build: one file of the shell changes, and the build step writes a new sw.js.
    writeFileSync(join(dir, 'manifest.webmanifest'), readFileSync(join(dir, 'manifest.webmanifest'), 'utf8') + '\n');
    const next = (await writeServiceWorker(dir)) as { version: string };
    expect(`chorus-${next.version}`).not.toBe(first!.cache);

    // The browser finds the new sw.js on the next navigation; it installs and waits for the page.
    await page.reload();
    await expect(notice).toBeVisible({ timeout: 60_000 });
    await expect(notice).toContainText('A new version of Chorus is ready');
    // Until the user reloads, the page keeps running the old build.
    expect((await cachedPaths(page)).map((c) => c.cache)).toContain(first!.cache);

    await Promise.all([page.waitForEvent('load'), notice.getByRole('button', { name: 'Reload' }).click()]);
    await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
    await expect.poll(async () => (await cachedPaths(page)).map((c) => c.cache)).toEqual([`chorus-${next.version}`]);
    await expect(notice).toBeHidden();
    // Its hashed name did not change, so the new build's cache took it over from the old one.
    expect((await cachedPaths(page))[0]!.paths.some(isWebllm)).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
