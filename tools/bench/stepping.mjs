#!/usr/bin/env node
// Stepping bench (`npm run bench` calls it; `node tools/bench/stepping.mjs` alone works too).
// In one headless Chromium run, through Chorus's engine workers (tools/bench/page/main.ts):
//  1. per-token time of stepping (src/lib/engines/wllama-stepper.ts: one max_tokens-1 call per
//     token, the KV cache kept with cache_prompt) ÷ per-token time of free generation (one
//     streamed completion) on the same model, prompt and token count, greedy. Target ≤ 1.5.
//     Sides alternate each round; the ratio is the median over rounds. Per-token times exclude the
//     first token (it pays for the prompt) on both sides.
//  2. speculative decoding (src/lib/strategies/speculative.ts) with the pool's generalist as the
//     draft and its arithmetic specialist as the target: wall time against the target stepping
//     alone and generating freely (speed-up = their time ÷ speculative's), and the acceptance rate.
// Prints a table and, as the LAST stdout line, one JSON object.
// Options: --runs N (default 5), --tokens N (default 64), --port N (default 4291), --harness DIR.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STORIES = resolve(ROOT, '../shared/models/stories260K.gguf');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(arg('runs', 5));
const TOKENS = Number(arg('tokens', 64));
const PORT = Number(arg('port', 4291));
const STORY_PROMPT = 'Once upon a time';
const SPEC_PROMPT = 'Q: 69 + 46 = ?\nA:';

if (!existsSync(STORIES)) {
  console.error(`stepping bench: ${STORIES} not found — place stories260K.gguf in ../shared/models (see its README).`);
  process.exit(1);
}
const log = (...a) => console.log(...a);
let harness = arg('harness', '');
if (!harness) {
  harness = mkdtempSync(join(tmpdir(), 'chorus-bench-'));
  log(`building the engine harness into ${harness} …`);
  execFileSync('npx', ['vite', 'build', '--config', 'tools/bench/vite.config.ts', '--outDir', harness, '--emptyOutDir'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}
const server = spawn('node', ['tools/serve.mjs', harness, '--port', String(PORT)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((res, rej) => {
  server.stdout.on('data', (d) => String(d).includes('running at') && res());
  server.on('exit', (c) => rej(new Error(`static server exited with ${c} (is port ${PORT} free? use --port)`)));
});
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  const files = { stories260K: STORIES, generalist: join(ROOT, 'public/models/generalist.gguf'), 'arithmetic-specialist': join(ROOT, 'public/models/arithmetic-specialist.gguf') };
  for (const [name, path] of Object.entries(files)) {
    const body = readFileSync(path);
    await page.route(`**/m/${name}.gguf`, (r) => r.fulfill({ body, headers: { 'content-type': 'application/octet-stream', 'cross-origin-resource-policy': 'same-origin' } }));
  }
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  const h = await page.evaluate(async (names) => {
    const out = {};
    for (const n of names) out[n] = (await window.chorus.spawn({ kind: 'fetch', url: `/m/${n}.gguf`, name: `${n}.gguf` })).handle;
    return out;
  }, Object.keys(files));

  // 1. Stepping ÷ free generation, per token, same model and prompt.
  const ratios = [];
  const perToken = { step: [], free: [] };
  let sameText = true;
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 ? ['step', 'free'] : ['free', 'step'];
    const got = {};
    for (const side of order) {
      got[side] = await page.evaluate(
        ({ side, h, p, n }) => (side === 'step' ? window.chorus.stepGreedy(h, p, n) : window.chorus.timedRun(h, p, n)),
        { side, h: h.stories260K, p: STORY_PROMPT, n: TOKENS },
      );
    }
    if (got.step.text !== got.free.text) sameText = false;
    perToken.step.push(1000 / got.step.tokensPerSecond);
    perToken.free.push(1000 / got.free.tokensPerSecond);
    ratios.push(got.free.tokensPerSecond / got.step.tokensPerSecond);
  }
  const ratio = median(ratios);
  log(`stepping vs free generation (stories260K, ${TOKENS} tokens, ${RUNS} rounds): ${round(median(perToken.step), 2)} ms vs ${round(median(perToken.free), 2)} ms per token → ratio ${round(ratio)} (target ≤ 1.5)${sameText ? '' : ' — texts differ!'}`);

  // 2. Speculative decoding: generalist drafts, arithmetic specialist verifies.
  const spec = { speculative: [], targetStepping: [], targetFree: [], acceptance: [] };
  for (let r = 0; r < RUNS; r++) {
    const s = await page.evaluate(({ d, t, p, n }) => window.chorus.runMethod('speculative', [d, t], p, { draft: 4 }, n), { d: h.generalist, t: h['arithmetic-specialist'], p: SPEC_PROMPT, n: TOKENS });
    const score = s.events.find((e) => e.type === 'score');
    spec.speculative.push(s.wallMs);
    spec.acceptance.push(score?.value ?? 0);
    spec.targetStepping.push((await page.evaluate(({ t, p, n }) => window.chorus.stepGreedy(t, p, n), { t: h['arithmetic-specialist'], p: SPEC_PROMPT, n: TOKENS })).wallMs);
    spec.targetFree.push((await page.evaluate(({ t, p, n }) => window.chorus.timedRun(t, p, n), { t: h['arithmetic-specialist'], p: SPEC_PROMPT, n: TOKENS })).wallMs);
  }
  const ms = (k) => median(spec[k]);
  log(`speculative decoding (draft generalist, target arithmetic-specialist, k = 4): ${round(ms('speculative'), 1)} ms; target stepping alone ${round(ms('targetStepping'), 1)} ms, target free ${round(ms('targetFree'), 1)} ms; acceptance ${round(median(spec.acceptance))}`);
  const result = {
    runs: RUNS,
    tokens: TOKENS,
    step_ms_per_token: round(median(perToken.step), 3),
    free_ms_per_token: round(median(perToken.free), 3),
    step_over_free_ratio: round(ratio),
    ratio_target: 1.5,
    ratio_met: ratio <= 1.5,
    greedy_text_identical: sameText,
    speculative: {
      draft: 'generalist',
      target: 'arithmetic-specialist',
      k: 4,
      prompt: SPEC_PROMPT,
      wall_ms: round(ms('speculative'), 1),
      target_stepping_ms: round(ms('targetStepping'), 1),
      target_free_ms: round(ms('targetFree'), 1),
      speedup_vs_target_stepping: round(ms('targetStepping') / ms('speculative')),
      speedup_vs_target_free: round(ms('targetFree') / ms('speculative')),
      acceptance_rate: round(median(spec.acceptance)),
    },
  };
  log(JSON.stringify(result));
} finally {
  await browser.close();
  server.kill();
}
