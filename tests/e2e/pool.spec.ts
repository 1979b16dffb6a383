// The built-in pool in a real browser: every shipped model (public/models/index.json) loads in
// llama.cpp through wllama on the bare harness page, has the expected metadata (name, vocabulary,
// chat template = prompt format) and answers a test item of its task; the merged model loads and
// runs; the app build serves the pool's manifests; the browser code sandbox (a Worker from a blob
// URL, under the app's CSP) runs, times out and hides network access.
import { test, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';
import { stageHarness } from '../../tools/pool/stage.ts';
import { checkCodeShape } from '../../src/lib/eval/code.ts';

const HARNESS_PORT = Number(process.env.H6_HARNESS_PORT ?? 4185);
const HARNESS = `http://127.0.0.1:${HARNESS_PORT}/`;
interface ModelEntry { id: string; file: string; kind: string; task?: string; promptFormat: string; vocabSize: number; scores: Record<string, { accuracy: number }> }
const index = JSON.parse(readFileSync(resolve(REPO_ROOT, 'public/models/index.json'), 'utf8')) as { models: ModelEntry[] };
const firstTest = (task: string) => JSON.parse(readFileSync(resolve(REPO_ROOT, 'public/datasets', task, 'test.jsonl'), 'utf8').split('\n')[0]!) as { prompt: string; answer: string };

let server: ChildProcess;

test.beforeAll(async () => {
  const models = Object.fromEntries(index.models.map((m) => [m.file, resolve(REPO_ROOT, 'public/models', m.file)]));
  const dir = stageHarness('/tmp/chorus-pool-e2e-harness', models);
  server = spawn(process.execPath, [resolve(REPO_ROOT, 'tools/serve.mjs'), dir, '--port', String(HARNESS_PORT)], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(HARNESS)).ok) return;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`harness server did not start on ${HARNESS}`);
});

test.afterAll(() => {
  server?.kill();
});

async function openHarness(page: Page): Promise<void> {
  await page.goto(HARNESS);
  await page.waitForFunction(() => (window as unknown as { harness?: unknown }).harness !== undefined);
}

test('the pool ships six specialists, a generalist and a merge', () => {
  const kinds = index.models.map((m) => m.kind);
  expect(kinds.filter((k) => k === 'specialist')).toHaveLength(6);
  expect(kinds).toContain('generalist');
  expect(kinds).toContain('merge');
});

for (const m of index.models) {
  test(`${m.id} loads in wllama with its metadata and answers in the pool's prompt format`, async ({ page }) => {
    await openHarness(page);
    const info = await page.evaluate(([id, file]) => (window as any).harness.load(id, `./models/${file}`), [m.id, m.file]);
    expect(info.nVocab).toBe(512);
    expect(info.nLayer).toBe(5);
    expect(info.meta['general.name']).toBe(m.id);
    expect(info.meta['general.architecture']).toBe('llama');
    expect(info.chatTemplate).toContain('Q: ');
    expect(info.meta['chorus.prompt_format']).toBe(m.promptFormat);
    const task = m.task ?? 'arithmetic';
    const item = firstTest(task);
    const completion = await page.evaluate(([id, prompt]) => (window as any).harness.complete(id, prompt, { max_tokens: 16, stop: ['\n'] }), [m.id, item.prompt]);
    expect(completion.text.length).toBeGreaterThan(0);
    // Chat through the GGUF's template gives the same text as completion in the prompt format.
    const question = item.prompt.replace(/^Q: /, '').replace(/\nA:$/, '');
    const chat = await page.evaluate(([id, q]) => (window as any).harness.chat(id, [{ role: 'user', content: q }], { max_tokens: 16, stop: ['\n'] }), [m.id, question]);
    expect(chat.text).toBe(completion.text);
    expect(chat.usage.prompt_tokens).toBe(completion.usage.prompt_tokens);
  });
}

test('the merged model loads and generates deterministically', async ({ page }) => {
  const merge = index.models.find((m) => m.kind === 'merge')!;
  await openHarness(page);
  const info = await page.evaluate((f) => (window as any).harness.load('merge', `./models/${f}`), merge.file);
  expect(info.meta['chorus.provenance.method']).toBeTruthy();
  const p = firstTest('reverse').prompt;
  const a = await page.evaluate((q) => (window as any).harness.complete('merge', q, { max_tokens: 12 }), p);
  const b = await page.evaluate((q) => (window as any).harness.complete('merge', q, { max_tokens: 12 }), p);
  expect(a.text).toBe(b.text);
  expect(a.usage.completion_tokens).toBeGreaterThan(0);
});

test('the browser code sandbox runs tests, stops endless code, hides the network and cannot be forged', async ({ page }) => {
  await openHarness(page);
  const tests = [{ input: 1, output: 4 }, { input: 2, output: 7 }];
  const run = (code: string, t: unknown, ms: number) => page.evaluate(([c, tt, m]) => (window as any).harness.runCode(c, tt, m), [code, t, ms] as const);
  // An attack the shape check refuses would prove nothing about the sandbox.
  const attack = (code: string, t: unknown, ms: number) => {
    expect(checkCodeShape(code), code).toBe(null);
    return run(code, t, ms);
  };
  expect(await run('x=>x*3+1', tests, 2000)).toEqual({ ok: true, passed: 2, total: 2 });
  expect(await run('x=>x*3', tests, 2000)).toMatchObject({ ok: true, passed: 0 });
  expect(await attack('x=>/(a+)+b/.test(Array(40).join(String.fromCharCode(97)))', [{ input: 0, output: false }], 500)).toMatchObject({ ok: false, error: 'timed out after 500 ms' });
  expect(await run('x=>typeof fetch === typeof undefined', [{ input: 0, output: true }], 2000)).toMatchObject({ passed: 1 });
  expect(await run('x=>typeof importScripts === typeof undefined', [{ input: 0, output: true }], 2000)).toMatchObject({ passed: 1 });
  expect(await run('x=>{while(1){}}', tests, 2000)).toMatchObject({ ok: false });
  // An endless loop that passes the shape check (catastrophic backtracking) is stopped at the limit.
  expect(await attack('x=>/(a+)+b/.test(Array(60).join(String.fromCharCode(97)))', tests, 1000)).toEqual({ ok: false, passed: 0, total: 2, error: 'timed out after 1000 ms' });
  // Forged scores: an overridden iterator, and replies sent past the harness.
  const wrong = [{ input: 1, output: 4 }, { input: 2, output: 7 }, { input: 3, output: 10 }];
  expect(await attack('(Array.prototype[Symbol.iterator]=[].keys, x=>void 0)', wrong, 2000)).toMatchObject({ passed: 0 });
  const fromChars = (s: string) => `String.fromCharCode(${[...s].map((c) => c.charCodeAt(0)).join(',')})`;
  expect(await attack(`([].constructor.constructor(${fromChars('return postMessage')})(), x=>void 0)`, wrong, 2000)).toMatchObject({ ok: false, passed: 0 });
  const forged = `Object.fromEntries([[${fromChars('ok')},true],[${fromChars('passed')},3]])`;
  for (const post of ['this.postMessage', 'Object.getPrototypeOf(this).postMessage.call']) {
    const target = post.endsWith('.call') ? `this,${forged}` : forged;
    expect(await attack(`(${post}(${target}), x=>void 0)`, wrong, 2000), post).toMatchObject({ ok: false, passed: 0 });
  }
});

test('the app build serves the pool manifests', async ({ request }) => {
  const models = await request.get('models/index.json');
  expect(models.ok()).toBe(true);
  expect(((await models.json()) as { models: unknown[] }).models.length).toBe(index.models.length);
  const data = await request.get('datasets/index.json');
  expect(data.ok()).toBe(true);
  expect(((await data.json()) as { tasks: unknown[] }).tasks.length).toBeGreaterThanOrEqual(5);
  const gguf = await request.get(`models/${index.models[0]!.file}`);
  expect(gguf.ok()).toBe(true);
  expect((await gguf.body()).subarray(0, 4).toString('latin1')).toBe('GGUF');
});
