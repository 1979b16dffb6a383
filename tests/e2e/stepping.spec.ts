/**
 * The stepping seam on wllama and the token- and logit-level methods, in headless Chromium on the
 * built-in pool's real GGUFs (they share stories260K's vocabulary), through the real engine
 * workers (tools/bench/page/main.ts exposes them): what a step returns, and exactness —
 * logit fusion of a model with itself = the model alone, greedy speculative decoding = the
 * target's greedy output with accepted + rejected = proposed, nudging with γ = 0 = the base and
 * with γ = 1 = the nudging model — then every method once with its trace checked.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';
import { COMPLETION_STOP } from '../../src/lib/engines/prompt.ts';
import type { StepEvent, TraceEvent } from '../../src/lib/trace.ts';

declare global {
  interface Window {
    /** tools/bench/page/main.ts; untyped here because results are checked by value below. */
    chorus: any;
  }
}

let server: ChildProcess | null = null;
let base = '';
const MODELS = ['generalist', 'arithmetic-specialist', 'reading-specialist'] as const;
const bytes = Object.fromEntries(MODELS.map((m) => [m, readFileSync(join(REPO_ROOT, `public/models/${m}.gguf`))]));
function items(task: string, n: number): string[] {
  return readFileSync(join(REPO_ROOT, `public/datasets/${task}/dev.jsonl`), 'utf8').split('\n').filter(Boolean).slice(0, n).map((l) => (JSON.parse(l) as { prompt: string }).prompt);
}
const PROMPTS = [...items('arithmetic', 3), ...items('world', 2), ...items('reading', 1)];
const MAX = 12;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const out = process.env.H3_HARNESS_DIST ?? mkdtempSync(join(tmpdir(), 'chorus-harness-'));
  if (!process.env.H3_HARNESS_DIST) {
    execFileSync('npx', ['vite', 'build', '--config', 'tools/bench/vite.config.ts', '--outDir', out, '--emptyOutDir'], { cwd: REPO_ROOT, stdio: 'pipe' });
  }
  server = spawn('node', ['tools/serve.mjs', out, '--port', '0'], { cwd: REPO_ROOT, stdio: 'pipe' });
  base = await new Promise<string>((resolve, reject) => {
    server!.stdout!.on('data', (d: Buffer) => {
      const m = /running at (http:\/\/\S+\/)/.exec(d.toString());
      if (m) resolve(m[1]!);
    });
    server!.on('exit', (code) => reject(new Error(`harness server exited with ${code}`)));
  });
});

test.afterAll(() => {
  server?.kill();
});

/** Opens the harness with the pool's models served under /m/, and loads each in its own worker. */
async function open(page: Page): Promise<Record<string, number>> {
  const headers = { 'content-type': 'application/octet-stream', 'cross-origin-resource-policy': 'same-origin' };
  for (const m of MODELS) await page.route(`**/m/${m}.gguf`, (r) => r.fulfill({ body: bytes[m], headers }));
  await page.goto(base);
  await expect(page.locator('#status')).toHaveText('ready');
  const handles: Record<string, number> = {};
  for (const m of MODELS) {
    handles[m] = await page.evaluate(async (m) => (await window.chorus.spawn({ kind: 'fetch', url: `/m/${m}.gguf`, name: `${m}.gguf` })).handle, m);
  }
  return handles;
}

async function alone(page: Page, handle: number, prompt: string): Promise<string> {
  return page.evaluate(async ({ handle, prompt, max, stop }) => (await window.chorus.run(handle, 'complete', { prompt, max_tokens: max, temperature: 0, stop })).text, { handle, prompt, max: MAX, stop: COMPLETION_STOP });
}

async function method(page: Page, strategy: string, handles: number[], prompt: string, knobs: Record<string, unknown> = {}): Promise<{ text: string; events: TraceEvent[]; steps: StepEvent[] }> {
  const { events } = (await page.evaluate(({ strategy, handles, prompt, knobs, max }) => window.chorus.runMethod(strategy, handles, prompt, knobs, max), { strategy, handles, prompt, knobs, max: MAX })) as { events: TraceEvent[] };
  const end = events.at(-1);
  expect(end?.type === 'run-end' && end.status, JSON.stringify(events.filter((e) => e.type === 'error'))).toBe('done');
  const final = events.find((e) => e.type === 'final');
  return { text: final?.type === 'final' ? final.text : '', events, steps: events.filter((e): e is StepEvent => e.type === 'step') };
}

test('a wllama step: top-K candidates with token IDs and probabilities (top-k exactness), the pool shares one vocabulary, the prompt round-trips', async ({ page }) => {
  const h = await open(page);
  const r = await page.evaluate(async ({ h, prompt }) => {
    const c = window.chorus;
    return Promise.all([c.stepOnce(h.generalist, prompt, 5), c.stepOnce(h['arithmetic-specialist'], prompt, 5)]);
  }, { h, prompt: PROMPTS[1]! });
  const [g, a] = r as { ids: number[]; vocabulary: { size: number; fingerprint: string; bos: number; eos: number[] }; next: { top: { id: number; text: string; logprob: number }[]; exactness: string; note?: string }; text: string }[];
  expect(g!.vocabulary.size).toBe(512);
  expect(g!.vocabulary.fingerprint).toBe(a!.vocabulary.fingerprint);
  expect(g!.ids[0]).toBe(g!.vocabulary.bos);
  expect(g!.text).toBe(PROMPTS[1]);
  expect(g!.next.exactness).toBe('top-k');
  expect(g!.next.note).toBeUndefined();
  expect(g!.next.top).toHaveLength(5);
  for (const c of g!.next.top) expect(Number.isInteger(c.id) && c.id >= 0 && c.id < 512).toBe(true);
  const ps = g!.next.top.map((c) => Math.exp(c.logprob));
  expect([...ps].sort((x, y) => y - x)).toEqual(ps);
  expect(ps.reduce((s, p) => s + p, 0)).toBeLessThanOrEqual(1 + 1e-6);
  // The step's first candidate is the model's greedy first token.
  const first = await alone(page, h.generalist!, PROMPTS[1]!);
  expect(first.startsWith(g!.next.top[0]!.text) || g!.next.top[0]!.text.trim() === '').toBe(true);
});

test('lookahead: greedy stepping answered from one call per run of tokens gives the same candidates as one call per step, in far fewer calls', async ({ page }) => {
  const h = await open(page);
  for (const prompt of [PROMPTS[0]!, PROMPTS[3]!, 'Once upon a time']) {
    const [ahead, single] = await page.evaluate(
      ({ h, p }) => Promise.all([window.chorus.stepTrace(h, p, 40, 16), window.chorus.stepTrace(h, p, 40, 1)]),
      { h: h.generalist!, p: prompt },
    ) as { steps: { id: number; logprob: number }[][]; tokens: number[]; calls: number }[];
    expect(ahead!.tokens, prompt).toEqual(single!.tokens);
    expect(ahead!.steps.length).toBe(single!.steps.length);
    ahead!.steps.forEach((step, i) => {
      expect(step.map((c) => c.id), `${prompt} step ${i}`).toEqual(single!.steps[i]!.map((c) => c.id));
      step.forEach((c, j) => expect(Math.abs(c.logprob - single!.steps[i]![j]!.logprob), `${prompt} step ${i}`).toBeLessThan(1e-3));
    });
    expect(single!.calls).toBe(single!.steps.length);
    if (ahead!.steps.length >= 8) expect(ahead!.calls).toBeLessThanOrEqual(Math.ceil(Math.log2(ahead!.steps.length + 1)) + 1);
  }
});

test('exactness: logit fusion of a model with itself generates exactly what the model generates alone (greedy)', async ({ page }) => {
  const h = await open(page);
  for (const m of ['generalist', 'arithmetic-specialist'] as const) {
    for (const prompt of PROMPTS) {
      const ref = await alone(page, h[m]!, prompt);
      expect(ref.trim().length, `${m} answers ${JSON.stringify(prompt)}`).toBeGreaterThan(0);
      const fused = await method(page, 'fusion', [h[m]!, h[m]!], prompt);
      expect(fused.text, `${m} on ${JSON.stringify(prompt)}`).toBe(ref);
    }
  }
});

test('exactness: greedy speculative decoding generates exactly the target\u2019s greedy output; accepted + rejected = proposed', async ({ page }) => {
  const h = await open(page);
  let rejected = 0;
  for (const prompt of PROMPTS) {
    const ref = await alone(page, h['arithmetic-specialist']!, prompt);
    expect(ref.trim().length).toBeGreaterThan(0);
    const r = await method(page, 'speculative', [h.generalist!, h['arithmetic-specialist']!], prompt, { draft: 3 });
    expect(r.text, JSON.stringify(prompt)).toBe(ref);
    const score = r.events.find((e) => e.type === 'score');
    const m = /(\d+) accepted \+ (\d+) rejected = (\d+) proposed/.exec(score?.type === 'score' ? (score.detail ?? '') : '');
    expect(m, JSON.stringify(score)).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(Number(m![3]));
    expect(score?.type === 'score' && score.value).toBeCloseTo(Number(m![1]) / Math.max(1, Number(m![3])), 12);
    rejected += Number(m![2]);
  }
  // The draft (generalist) and the target (arithmetic specialist) disagree somewhere: the check is not vacuous.
  expect(rejected).toBeGreaterThan(0);
});

test('exactness: nudging with γ = 0 is the base alone, with γ = 1 the nudging model\u2019s words', async ({ page }) => {
  const h = await open(page);
  let differ = 0;
  for (const prompt of PROMPTS) {
    const baseRef = await alone(page, h.generalist!, prompt);
    const nudgeRef = await alone(page, h['arithmetic-specialist']!, prompt);
    const zero = await method(page, 'nudging', [h.generalist!, h['arithmetic-specialist']!], prompt, { gamma: 0 });
    const one = await method(page, 'nudging', [h.generalist!, h['arithmetic-specialist']!], prompt, { gamma: 1 });
    if (baseRef !== nudgeRef) differ++;
    expect(zero.text, JSON.stringify(prompt)).toBe(baseRef);
    expect(zero.steps.every((s) => s.by === 'a1')).toBe(true);
    expect(one.text, JSON.stringify(prompt)).toBe(nudgeRef);
    expect(one.steps.every((s) => s.by === 'a2')).toBe(true);
  }
  // The two models answer differently on some prompts, so γ = 0 and γ = 1 are told apart.
  expect(differ).toBeGreaterThan(0);
});

test('every token and logit method runs on the pool with its trace: one step event per written token, models and reasons shown, the answer is the steps\u2019 tokens', async ({ page }) => {
  const h = await open(page);
  const g = h.generalist!;
  const a = h['arithmetic-specialist']!;
  const r = h['reading-specialist']!;
  const runs: [string, number[], Record<string, unknown>][] = [
    ['nudging', [g, a], {}],
    ['co-llm', [g, a], {}],
    ['switch', [g, a, r], { patch: 2 }],
    ['speculative', [g, a], {}],
    ['fusion', [g, a], { mode: 'prob', weights: '2, 1' }],
    ['contrastive', [a, g], {}],
    ['proxy-tuning', [g, a, r], {}],
  ];
  const prompt = PROMPTS[0]!;
  for (const [strategy, handles, knobs] of runs) {
    const out = await method(page, strategy, handles, prompt, knobs);
    expect(out.steps.length, strategy).toBeGreaterThan(0);
    expect(out.steps.map((s) => s.index), strategy).toEqual(out.steps.map((_, i) => i));
    expect(out.steps.map((s) => s.token.text).join(''), strategy).toBe(out.text);
    for (const s of out.steps) {
      expect(s.reason.length).toBeGreaterThan(0);
      expect(s.models.length).toBeGreaterThan(0);
      for (const m of s.models) expect(m.top[0]!.p).toBeGreaterThan(0);
      if (strategy === 'fusion' || strategy === 'contrastive' || strategy === 'proxy-tuning') expect(s.combined?.top[0]?.id).toBe(s.token.id);
    }
    const usage = out.events.find((e) => e.type === 'usage');
    expect(usage?.type === 'usage' && usage.calls, strategy).toBeGreaterThanOrEqual(out.steps.length);
  }
});

test('a wllama prefix whose text tokenizes otherwise is stepped on its text and says so in the note', async ({ page }) => {
  const h = await open(page);
  const r = await page.evaluate(async (h) => {
    const s = await window.chorus.engine(h).stepper();
    // 259 "▁t" + 260 "he" spell " the", which llama.cpp tokenizes as 265 "▁the".
    const split = await s.next([1, 259, 260], { topK: 3 });
    const canonical = await s.next([1, 265], { topK: 3 });
    return { split, canonical, text: await s.detokenize([1, 259, 260]) };
  }, h.generalist!);
  expect(r.text).toBe('the');
  expect(r.canonical.note).toBeUndefined();
  expect(r.split.note).toMatch(/tokenizes to 2 tokens, not the 3 given/);
  expect(r.split.top.map((c: { id: number }) => c.id)).toEqual(r.canonical.top.map((c: { id: number }) => c.id));
});
