#!/usr/bin/env node
// Stepping bench (`npm run bench` calls it; `node tools/bench/stepping.mjs` alone works too).
// In one headless Chromium run, through Chorus's engine workers (tools/bench/page/main.ts):
//  1. per-token time of stepping ÷ per-token time of free generation (one streamed completion) on
//     the same model, prompt and token count, greedy. Target ≤ 1.5. Stepping as the app does it
//     (src/app/engines.ts: lookahead, src/lib/engines/lookahead.ts — a step on the model's greedy
//     path is answered from the previous call's distributions) and with lookahead off (one
//     `max_tokens: 1` call per token, wllama-stepper.ts), the KV cache kept with cache_prompt.
//     Sides rotate each round; ratios are medians over rounds. Per-token times exclude the first
//     token (it pays for the prompt) on every side.
//  1b. logit fusion of two different models (generalist + arithmetic specialist), whose fused
//     choice leaves each model's greedy path now and then: wall time with lookahead on vs off, so a
//     method that does not follow one model is seen not to pay for it.
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
  const singleRatios = [];
  const perToken = { step: [], single: [], free: [] };
  const calls = { step: [], single: [] };
  let sameText = true;
  const sides = ['free', 'step', 'single'];
  for (let r = 0; r < RUNS; r++) {
    const got = {};
    for (const side of [...sides.slice(r % 3), ...sides.slice(0, r % 3)]) {
      if (side !== 'free') await page.evaluate(({ h, n }) => window.chorus.setLookahead([h], n), { h: h.stories260K, n: side === 'step' ? 16 : 1 });
      got[side] = await page.evaluate(
        ({ side, h, p, n }) => (side === 'free' ? window.chorus.timedRun(h, p, n) : window.chorus.stepGreedy(h, p, n)),
        { side, h: h.stories260K, p: STORY_PROMPT, n: TOKENS },
      );
    }
    if (got.step.text !== got.free.text || got.single.text !== got.free.text) sameText = false;
    for (const side of sides) perToken[side].push(1000 / got[side].tokensPerSecond);
    calls.step.push(got.step.calls);
    calls.single.push(got.single.calls);
    ratios.push(got.free.tokensPerSecond / got.step.tokensPerSecond);
    singleRatios.push(got.free.tokensPerSecond / got.single.tokensPerSecond);
  }
  await page.evaluate(({ h }) => window.chorus.setLookahead([h], 16), { h: h.stories260K });
  const ratio = median(ratios);
  log(`stepping vs free generation (stories260K, ${TOKENS} tokens, ${RUNS} rounds): ${round(median(perToken.step), 2)} ms (lookahead, ${median(calls.step)} calls) and ${round(median(perToken.single), 2)} ms (one call per step) vs ${round(median(perToken.free), 2)} ms per token → ratio ${round(ratio)} (target ≤ 1.5); one call per step ${round(median(singleRatios))}${sameText ? '' : ' — texts differ!'}`);

  // 1b. Logit fusion of two different models, lookahead on vs off (alternating).
  const fusion = { on: [], off: [], text: new Set() };
  const pair = [h.generalist, h['arithmetic-specialist']];
  for (let r = 0; r < RUNS; r++) {
    for (const side of r % 2 ? ['off', 'on'] : ['on', 'off']) {
      await page.evaluate(({ hs, n }) => window.chorus.setLookahead(hs, n), { hs: pair, n: side === 'on' ? 16 : 1 });
      const f = await page.evaluate(({ hs, p, n }) => window.chorus.runMethod('fusion', hs, p, {}, n), { hs: pair, p: SPEC_PROMPT, n: TOKENS });
      fusion[side].push(f.wallMs);
      fusion.text.add(f.events.find((e) => e.type === 'final')?.text);
    }
  }
  await page.evaluate(({ hs }) => window.chorus.setLookahead(hs, 16), { hs: pair });
  log(`logit fusion (generalist + arithmetic-specialist): ${round(median(fusion.on), 1)} ms with lookahead vs ${round(median(fusion.off), 1)} ms without${fusion.text.size === 1 ? '' : ' — texts differ!'}`);

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
    lookahead_max: 16,
    step_calls: median(calls.step),
    single_step_ms_per_token: round(median(perToken.single), 3),
    single_step_over_free_ratio: round(median(singleRatios)),
    fusion: { models: ['generalist', 'arithmetic-specialist'], lookahead_ms: round(median(fusion.on), 1), single_ms: round(median(fusion.off), 1), same_text: fusion.text.size === 1 },
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
