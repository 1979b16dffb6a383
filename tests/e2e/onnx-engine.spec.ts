/**
 * The ONNX engine end to end in headless Chromium: real ONNX worker, real onnxruntime-web (its
 * JSEP build served from our origin under the app's COOP/COEP/CSP headers), the pool's real
 * exported models (public/models/*.onnx) on the WebGPU execution provider (SwiftShader here) and
 * on the wasm one, against real wllama (llama.cpp wasm) on the same GGUF files. The page is the
 * engine harness (tools/bench/page/: `window.chorusOnnx`, `window.chorus`).
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';

declare global {
  interface Window {
    /** tools/bench/page/onnx.ts; untyped here because results are checked by value below. */
    chorusOnnx: any;
  }
}

const PORT = Number(process.env.E2E_PORT ?? 4179) + 1001;
const BASE = `http://127.0.0.1:${PORT}/`;
let server: ChildProcess | null = null;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const out = process.env.H3_HARNESS_DIST ?? mkdtempSync(join(tmpdir(), 'chorus-harness-'));
  if (!process.env.H3_HARNESS_DIST) {
    execFileSync('npx', ['vite', 'build', '--config', 'tools/bench/vite.config.ts', '--outDir', out, '--emptyOutDir'], { cwd: REPO_ROOT, stdio: 'pipe' });
  }
  server = spawn('node', ['tools/serve.mjs', out, '--port', String(PORT)], { cwd: REPO_ROOT, stdio: 'pipe' });
  await new Promise<void>((res, rej) => {
    server!.stdout!.on('data', (d: Buffer) => d.toString().includes('running at') && res());
    server!.on('exit', (code) => rej(new Error(`harness server exited with ${code}`)));
  });
});

test.afterAll(() => {
  server?.kill();
});

/** Opens the harness with the pool's GGUF and ONNX files served at /pool/. */
async function open(page: Page): Promise<void> {
  const headers = { 'content-type': 'application/octet-stream', 'cross-origin-resource-policy': 'same-origin' };
  await page.route(/\/pool\/[\w-]+\.(gguf|onnx)$/, (r) => {
    const file = new URL(r.request().url()).pathname.split('/').pop()!;
    return r.fulfill({ body: readFileSync(resolve(REPO_ROOT, 'public/models', file)), headers });
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(BASE);
  await expect(page.locator('#status')).toHaveText('ready');
  expect(errors).toEqual([]);
}

const PROMPTS = ['Q: 69 + 46 = ?\nA:', 'Q: Reverse the word: table\nA:', 'Q: Max has a book. Lily has a cup. Jack has a kite. Who has the book? A) Max B) Jack C) Lily\nA:'];

for (const id of ['generalist', 'arithmetic-specialist']) {
  test(`${id}: WebGPU and wasm providers generate wllama's greedy text (completions and chat), WebGPU really used`, async ({ page }) => {
    test.setTimeout(300_000);
    await open(page);
    const r = await page.evaluate(
      async ({ id, prompts }) => {
        const o = window.chorusOnnx;
        const c = (window as any).chorus;
        const gpu = await o.spawn(`pool/${id}`, 'webgpu');
        const cpu = await o.spawn(`pool/${id}`, 'wasm');
        const ll = await c.spawn({ kind: 'fetch', url: `pool/${id}.gguf`, name: `${id}.gguf` }, { gpu: 'off' });
        const requests = [
          ...prompts.map((prompt: string) => ({ mode: 'complete', request: { prompt, temperature: 0, max_tokens: 24, stop: ['\n'] } })),
          { mode: 'complete', request: { prompt: 'Once upon a time', temperature: 0, max_tokens: 32 } },
          { mode: 'chat', request: { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'What is 12 + 7?' }], temperature: 0, max_tokens: 16 } },
        ];
        const rows = [];
        for (const q of requests) {
          const [g, w, l] = [await o.run(gpu.handle, q.mode, q.request), await o.run(cpu.handle, q.mode, q.request), await c.run(ll.handle, q.mode, q.request)];
          rows.push({ webgpu: g.text, wasm: w.text, wllama: l.text, tokens: g.usage.completion_tokens, ms: [g.wallMs, w.wallMs, l.wallMs] });
        }
        const out = {
          gpu: { info: gpu.info, forwards: await o.forwards(gpu.handle), dispatches: await o.dispatches(gpu.handle) },
          cpu: { info: cpu.info, forwards: await o.forwards(cpu.handle), dispatches: await o.dispatches(cpu.handle) },
          rows,
        };
        await o.unload(gpu.handle);
        await o.unload(cpu.handle);
        await c.unload(ll.handle);
        return out;
      },
      { id, prompts: PROMPTS },
    );
    const tokens = r.rows.reduce((a: number, row: { tokens: number }) => a + row.tokens, 0);
    const perToken = [0, 1, 2].map((i) => (r.rows.reduce((a: number, row: { ms: number[] }) => a + row.ms[i]!, 0) / tokens).toFixed(1));
    console.log(`${id}: ${tokens} tokens; ms per token (prompt included): WebGPU ${perToken[0]}, wasm ${perToken[1]}, wllama ${perToken[2]}`);
    console.log(JSON.stringify({ id, gpu: r.gpu.info, cpu: r.cpu.info, gpuDispatchesPerPass: [...new Set(r.gpu.dispatches)] }));
    // A specialist may answer a task not its own with an empty line; most answers have text.
    expect(r.rows.filter((row: { wllama: string }) => row.wllama.length > 0).length).toBeGreaterThanOrEqual(3);
    for (const row of r.rows) {
      expect(row.webgpu).toBe(row.wllama);
      expect(row.wasm).toBe(row.wllama);
    }
    expect(r.gpu.info.kind).toBe('onnx');
    expect(r.gpu.info.backend).toBe('webgpu');
    expect(r.cpu.info.backend).toBe('cpu');
    // Every forward pass on the WebGPU engine ran compute kernels on the GPU (counted at the
    // WebGPU API, GPUComputePassEncoder.dispatchWorkgroups): at least one per matrix product of the
    // 5 layers (q, k, v, output, gate, up, down, 2 attention products) and the output projection.
    expect(r.gpu.dispatches).toHaveLength(r.gpu.forwards.length);
    expect(r.gpu.forwards.length).toBeGreaterThanOrEqual(r.rows.length);
    expect(Math.min(...r.gpu.dispatches)).toBeGreaterThanOrEqual(5 * 9 + 1);
    // The wasm engine ran the same passes without touching the GPU.
    expect(r.cpu.forwards).toEqual(r.gpu.forwards);
    expect(r.cpu.dispatches.every((n: number) => n === 0)).toBe(true);
  });
}

test('stepper on WebGPU: next() after cached steps equals a fresh full forward, and steps reuse the KV cache', async ({ page }) => {
  test.setTimeout(180_000);
  await open(page);
  const r = await page.evaluate(async () => {
    const o = window.chorusOnnx;
    const { handle } = await o.spawn('pool/generalist', 'webgpu');
    const vocabulary = await o.stepper(handle);
    const prompt: number[] = await o.tokenize(handle, 'Q: 69 + 46 = ?\nA:');
    const before = (await o.forwards(handle)).length;
    let prefix = prompt.slice();
    let step = await o.next(handle, prefix);
    const timesMs: number[] = [];
    for (let i = 0; i < 8; i++) {
      prefix = [...prefix, step.top[0].id];
      const t0 = performance.now();
      step = await o.next(handle, prefix);
      timesMs.push(performance.now() - t0);
    }
    const passes = (await o.forwards(handle)).slice(before);
    await o.stepper(handle); // a fresh sequence: the whole prefix in one pass
    const fresh = await o.next(handle, prefix);
    const all = (await o.forwards(handle)).slice(before);
    await o.unload(handle);
    return { vocabulary, prompt, passes, last: all.at(-1), stepped: step, fresh, timesMs };
  });
  expect(r.vocabulary.size).toBe(512);
  expect(r.vocabulary.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(r.stepped.exactness).toBe('full');
  expect(r.stepped.full).toHaveLength(512);
  // One pass over the prompt, then one pass of one token per step.
  expect(r.passes).toEqual([r.prompt.length, 1, 1, 1, 1, 1, 1, 1, 1]);
  expect(r.last).toBe(r.prompt.length + 8);
  let worst = 0;
  for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(r.stepped.full[i] - r.fresh.full[i]));
  console.log(`WebGPU stepper: cached vs fresh max |Δlog p| ${worst}; per step ms ${r.timesMs.map((t: number) => t.toFixed(1)).join(' ')}`);
  expect(worst).toBeLessThan(1e-4);
  expect(r.stepped.top.map((c: { id: number }) => c.id)).toEqual(r.fresh.top.map((c: { id: number }) => c.id));
});
