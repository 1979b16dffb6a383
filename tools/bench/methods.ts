/**
 * Bench: every method of experiments/methods.json (every level, on pool models)
 * per query — wall time, model calls and tokens — on the same items, one query at a time, in real
 * llama.cpp (wllama wasm, 1 thread) on the pool's harness page in headless Chromium, as
 * `npm run experiment` runs them (same stop strings, same per-item prompt format, no answer cache).
 *
 * Methods that learn on dev (hswarm's graph search, slm-mux's tie-break) run here without it: the
 * bench times a query, not the search (the experiment's fit note reports the search's calls).
 * Wall time is also given as a ratio to one call of the best single member (generalist) on the
 * same items, measured in the same run, because these machines are noisy.
 *
 * Items run one at a time, every method on an item before the next item (so noise falls on all
 * alike). METHODS_BENCH_LIMIT items per pool task (default 2, six tasks); prints readable lines, then one
 * JSON object as the last line (tools/bench/run.mjs).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { loadPoolDataset } from '../../src/lib/eval/pool-dataset.ts';
import { itemEngine } from '../../src/lib/eval/runner.ts';
import { agentsFromSetup, runStrategy } from '../../src/lib/run.ts';
import { stageHarness } from '../pool/stage.ts';
import { openHarness } from '../pool/browser.ts';
import { HarnessEngine } from '../pool/harness-engine.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIMIT = Number(process.env.METHODS_BENCH_LIMIT ?? 2);
const CONTEXT = 1024;

interface MethodEntry {
  method: string;
  agents: string[];
  knobs?: Record<string, unknown>;
  label?: string;
}

async function main(): Promise<void> {
  const file = JSON.parse(readFileSync(resolve(ROOT, 'experiments/methods.json'), 'utf8')) as { models: Record<string, string>; methods: MethodEntry[] };
  const models = Object.keys(file.models);
  const entries: MethodEntry[] = [{ method: 'single', agents: ['generalist'], label: 'single (generalist)' }, ...file.methods];
  const dataset = await loadPoolDataset((p) => readFile(resolve(ROOT, 'public/datasets', p), 'utf8'), { limit: LIMIT, splits: ['test'] });
  const items = dataset.splits.test ?? [];
  const work = mkdtempSync(join(tmpdir(), 'chorus-methods-bench-'));
  let skippedOut: Record<string, string> = {};
  // A model is a built-in id (public/models/<id>.gguf) or a GGUF path relative to experiments/.
  const pathOf = (m: string) => (file.models[m]!.endsWith('.gguf') ? resolve(ROOT, 'experiments', file.models[m]!) : resolve(ROOT, 'public/models', `${file.models[m]}.gguf`));
  const h = await openHarness(stageHarness(join(work, 'harness'), Object.fromEntries(models.map((m) => [`${m}.gguf`, pathOf(m)]))), 4209);
  const results: Record<string, { queries: number; msPerQuery: number; callsPerQuery: number; tokensPerQuery: number; promptTokensPerQuery: number; ratioToSingle?: number; errors: number }> = {};
  try {
    const engines = new Map(models.map((m) => [m, new HarnessEngine(h.page, m, `./models/${m}.gguf`, CONTEXT, pathOf(m))]));
    // Load every model before timing anything.
    for (const e of engines.values()) for await (const _ of e.complete({ prompt: 'Q: 1 + 1\nA:', max_tokens: 1, temperature: 0 }));
    console.log(`${items.length} test items (${LIMIT} per pool task), one query at a time, ${CONTEXT}-token context`);
    // Items outer, methods inner, so that a burst of load elsewhere on the machine falls on every
    // method alike; one untimed pass over the first item warms every code path first.
    const acc = new Map(entries.map((e) => [e.label ?? e.method, { ms: 0, calls: 0, tokens: 0, prompt: 0, errors: 0 }]));
    const runOne = async (entry: MethodEntry, item: (typeof items)[number]) => {
      const agents = agentsFromSetup(entry.agents.map((model) => ({ model, temperature: 0 })), (model) => itemEngine(engines.get(model)!, item, dataset.stop ?? []));
      const trace: TraceEvent[] = [];
      const t = performance.now();
      for await (const e of runStrategy({ strategy: entry.method, prompt: item.prompt, agents, knobs: entry.knobs ?? {}, seed: 1, maxTokens: dataset.maxTokens })) trace.push(e);
      return { ms: performance.now() - t, trace };
    };
    // A method that cannot run a query without its dev fit (the trained and graph routers) fails
    // the warm-up pass and is listed as skipped, with the reason.
    const skipped: Record<string, string> = {};
    for (const entry of entries) {
      const end = (await runOne(entry, items[0]!)).trace.at(-1);
      if (end?.type === 'run-end' && end.status === 'error') skipped[entry.label ?? entry.method] = end.message ?? 'failed';
    }
    const timedEntries = entries.filter((e) => !((e.label ?? e.method) in skipped));
    for (const item of items) {
      for (const entry of timedEntries) {
        const a = acc.get(entry.label ?? entry.method)!;
        const { ms, trace } = await runOne(entry, item);
        const usage = trace.find((e): e is Extract<TraceEvent, { type: 'usage' }> => e.type === 'usage');
        const end = trace.at(-1);
        if (end?.type === 'run-end' && end.status !== 'done') a.errors += 1;
        a.ms += ms;
        a.calls += usage?.calls ?? 0;
        a.tokens += (usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0);
        a.prompt += usage?.prompt_tokens ?? 0;
      }
    }
    const n = items.length;
    for (const [label, a] of acc) {
      if (label in skipped) continue;
      results[label] = { queries: n, msPerQuery: Math.round(a.ms / n), callsPerQuery: a.calls / n, tokensPerQuery: Math.round(a.tokens / n), promptTokensPerQuery: Math.round(a.prompt / n), errors: a.errors };
    }
    const base = results['single (generalist)']!.msPerQuery;
    for (const r of Object.values(results)) r.ratioToSingle = Math.round((r.msPerQuery / base) * 10) / 10;
    for (const [label, r] of Object.entries(results)) {
      console.log(`${label.padEnd(20)} ${String(r.msPerQuery).padStart(6)} ms/query (${r.ratioToSingle}× single) · ${r.callsPerQuery.toFixed(1)} calls · ${r.tokensPerQuery} tokens/query (${r.promptTokensPerQuery} prompt)${r.errors ? ` · ${r.errors} failed` : ''}`);
    }
    for (const [label, why] of Object.entries(skipped)) console.log(`${label.padEnd(20)} not timed: ${why.split('\n')[0]}`);
    skippedOut = skipped;
  } finally {
    await h.close();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ items: items.length, perTask: LIMIT, context: CONTEXT, methods: results, skipped: skippedOut }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
