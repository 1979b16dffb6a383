/**
 * Bench: the experiment runner (src/lib/eval/runner.ts) on the real engine — stories260K in llama.cpp
 * (wllama wasm) on the pool's harness page in headless Chromium, as `npm run experiment` runs it.
 *
 * - cache cold vs warm: the same small experiment twice over one answer-cache directory (the CLI's
 *   FileAnswerStore); warm ÷ cold wall time (target ≤ 0.05).
 * - orchestration share: in the cold run (one item at a time, so calls do not overlap), the wall time
 *   spent outside model calls (runner, method, trace, scoring, state file) ÷ the whole (target < 5%).
 *   A model call is timed from the method's request to the engine's last chunk, page round trip
 *   included: that is the model's cost as the runner sees it.
 *
 * Prints readable lines, then one JSON object as the last line (tools/bench/run.mjs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatChunk, Engine } from '../../src/lib/engines/engine.ts';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { loadPoolDataset } from '../../src/lib/eval/pool-dataset.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import { FileAnswerStore, FileRunState } from '../lib/experiment-files.ts';
import { nodeSandbox } from '../lib/node-sandbox.ts';
import { stageHarness } from '../pool/stage.ts';
import { openHarness } from '../pool/browser.ts';
import { HarnessEngine } from '../pool/harness-engine.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STORIES = resolve(ROOT, '../shared/models/stories260K.gguf');
const LIMIT = Number(process.env.RUNNER_BENCH_LIMIT ?? 10);

/** `engine` with the wall time spent inside its calls added to `acc.ms`. */
function timed(engine: Engine, acc: { ms: number; calls: number }): Engine {
  async function* wrap(open: () => AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
    const t = performance.now();
    try {
      yield* open();
    } finally {
      acc.ms += performance.now() - t;
      acc.calls += 1;
    }
  }
  return { info: engine.info, chat: (r, o) => wrap(() => engine.chat(r, o)), complete: (r, o) => wrap(() => engine.complete(r, o)), unload: () => engine.unload() };
}

async function main(): Promise<void> {
  const experiment = parseExperiment(JSON.stringify({
    models: { base: STORIES },
    datasets: [{ path: 'public/datasets', split: 'test', tasks: ['arithmetic', 'reverse'], limit: LIMIT }],
    methods: [
      { method: 'single', agents: ['base'] },
      { method: 'vote', agents: [{ model: 'base', temperature: 0.8 }], knobs: { samples: 3 } },
    ],
    seeds: [1],
  }), 'bench');
  const dataset = await loadPoolDataset((p) => readFile(resolve(ROOT, 'public/datasets', p), 'utf8'), { tasks: ['arithmetic', 'reverse'], limit: LIMIT, splits: ['dev', 'test'] });
  const work = mkdtempSync(join(tmpdir(), 'chorus-runner-bench-'));
  const h = await openHarness(stageHarness(join(work, 'harness'), { 'base.gguf': STORIES }), 4208);
  try {
    const engine = new HarnessEngine(h.page, 'base', './models/base.gguf');
    // Load the model first, so neither run pays for it.
    for await (const _ of engine.complete({ prompt: 'Q: 1 + 1 = ?\nA:', max_tokens: 1 })) void _;
    const answers = new FileAnswerStore(join(work, 'cache'));
    const run = async (label: string) => {
      const acc = { ms: 0, calls: 0 };
      const bound = timed(engine, acc);
      const runner = createRunner({ experiment, datasets: [dataset], models: () => ({ engine: bound, cacheKey: 'bench:stories260K' }), answers,
        state: new FileRunState(join(work, `${label}.state.jsonl`), label), scoring: { js: nodeSandbox() }, concurrency: 1 });
      const t = performance.now();
      const out = await runner.run();
      const wall = performance.now() - t;
      if (out.status !== 'done') throw new Error('bench run did not finish');
      const items = out.results.items.length;
      console.log(`${label}: ${items} items in ${(wall / 1000).toFixed(2)} s (${((items * 1000) / wall).toFixed(1)} items/s); ${acc.calls} engine calls taking ${(acc.ms / 1000).toFixed(2)} s; cache ${runner.progress.cacheHits} hits / ${runner.progress.cacheMisses} misses`);
      return { wall, engineMs: acc.ms, items, calls: acc.calls, hits: runner.progress.cacheHits, misses: runner.progress.cacheMisses };
    };
    const cold = await run('cold');
    const warm = await run('warm');
    const ratio = warm.wall / cold.wall;
    const share = (cold.wall - cold.engineMs) / cold.wall;
    console.log(`warm ÷ cold wall time: ${ratio.toFixed(3)} (target ≤ 0.05)`);
    console.log(`orchestration outside model calls (cold run): ${(share * 100).toFixed(1)}% of ${(cold.wall / 1000).toFixed(2)} s (target < 5%)`);
    console.log(JSON.stringify({
      items: cold.items,
      cold: { seconds: cold.wall / 1000, itemsPerSecond: (cold.items * 1000) / cold.wall, engineSeconds: cold.engineMs / 1000, misses: cold.misses, hits: cold.hits },
      warm: { seconds: warm.wall / 1000, itemsPerSecond: (warm.items * 1000) / warm.wall, engineCalls: warm.calls, hits: warm.hits },
      warmOverCold: ratio,
      orchestrationShare: share,
    }));
  } finally {
    await h.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench runner: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
