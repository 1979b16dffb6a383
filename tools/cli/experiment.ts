/**
 * `npm run experiment -- FILE.json [--out results.json] [--limit N] [--cache DIR | --no-cache] [--no-traces] [--concurrency N] [--context N]`
 * `npm run experiment -- --list`
 *
 * Runs an experiment file (src/lib/eval/experiment.ts) with the same runner as the tab
 * (src/lib/eval/runner.ts). GGUF models (paths, or built-in ids from public/models) run in real
 * llama.cpp (wllama wasm) in headless Chromium through the pool's harness page; OpenAI-compatible
 * endpoints through src/lib/engines/openai.ts, and a model with several endpoints through the fleet
 * (src/lib/engines/fleet.ts; its per-endpoint counts are printed at the end). Progress goes to stderr; the results file is written
 * to `<out>.part` and renamed at the end. Finished items are appended to `<out>.state.jsonl` as they
 * come, so a killed run resumes where it stopped when the same command is run again (the state file
 * is removed once the results are written). Answers are cached in --cache (default
 * ~/.cache/chorus/answers; $CHORUS_CACHE overrides), so a repeated call costs nothing.
 *
 * Data sets are read by loadDataset (src/lib/eval/load.ts): the pool's folder, a pool task folder or
 * JSONL, MoCo's .json files, a person's JSONL/CSV/TSV/Parquet with a column mapping. Code items run
 * in sandboxes: JavaScript (the pool's) in a worker thread, Python (MoCo's coding) in Pyodide in a
 * child process, started at the first such item.
 *
 * Exit 0 on success. On any bad input (unreadable or invalid file, unknown method or model, missing
 * GGUF, a data set it cannot read or with malformed items) it exits 1 with one line on stderr (for a
 * malformed data file, the first problem and how many more) and writes nothing.
 * `--list` prints every method's metadata (id, name, level, description, paper, knobs, needs, and
 * whether it fits on dev) as JSON.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExperiment, ExperimentError, type DatasetSpec, type Experiment, type ModelSpec } from '../../src/lib/eval/experiment.ts';
import { createRunner, type Merger, type ModelBinding, type Progress } from '../../src/lib/eval/runner.ts';
import { canonicalJson, sha256Hex } from '../../src/lib/eval/cache.ts';
import { loadDataset } from '../../src/lib/eval/load.ts';
import { DatasetError } from '../../src/lib/eval/datasets.ts';
import { DatasetProblems } from '../../src/lib/eval/problems.ts';
import type { EvalDataset, PythonSandbox } from '../../src/lib/eval/task.ts';
import { strategies } from '../../src/lib/strategies/registry.ts';
import { OpenAIEngine } from '../../src/lib/engines/openai.ts';
import { FleetEngine } from '../../src/lib/engines/fleet.ts';
import { readGGUF } from '../../src/lib/merge/gguf/index.ts';
import { fileSource } from '../lib/node-source.ts';
import { FileAnswerStore, FileRunState } from '../lib/experiment-files.ts';
import { nodeSandbox } from '../lib/node-sandbox.ts';
import { nodePythonSandbox } from '../lib/node-python.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const USAGE = 'usage: npm run experiment -- FILE.json [--out results.json] [--limit N] [--cache DIR | --no-cache] [--no-traces] [--concurrency N] [--context N] | --list';

class CliError extends Error {}

/**
 * GGUF models load with a 256-token context unless --context says otherwise: the pool's prompts and
 * answers fit it and it keeps the pool table's runs light. Methods that show models each other's
 * answers need more (their prompts are bounded by bytes: see src/lib/strategies/budget.ts); the
 * pool models descend from stories260K, trained on 512-token sequences.
 */
const DEFAULT_CONTEXT = 256;

interface Args {
  file?: string;
  out?: string;
  limit?: number;
  cache?: string | false;
  traces: boolean;
  concurrency?: number;
  /** Context size GGUF models are loaded with (tokens). */
  context: number;
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { traces: true, list: false, context: DEFAULT_CONTEXT };
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new CliError(`${name} needs a value; ${USAGE}`);
    return v;
  };
  const count = (v: string, name: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a whole number ≥ 1 (got "${v}")`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--list') a.list = true;
    else if (x === '--out' || x === '-o') a.out = value(i++, x);
    else if (x === '--limit') a.limit = count(value(i++, x), x);
    else if (x === '--concurrency') a.concurrency = count(value(i++, x), x);
    else if (x === '--context') {
      a.context = count(value(i++, x), x);
      if (a.context < 64 || a.context > 4096) throw new CliError(`--context must be between 64 and 4096 tokens (got ${a.context})`);
    }
    else if (x === '--cache') a.cache = value(i++, x);
    else if (x === '--no-cache') a.cache = false;
    else if (x === '--no-traces') a.traces = false;
    else if (x === '--help' || x === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (x.startsWith('-')) throw new CliError(`unknown option ${x}; ${USAGE}`);
    else if (a.file === undefined) a.file = x;
    else throw new CliError(`one experiment file at a time (got "${a.file}" and "${x}"); ${USAGE}`);
  }
  return a;
}

/**
 * Loads one data set entry through loadDataset (src/lib/eval/load.ts: the pool's folder or a task of
 * it, a pool JSONL, a MoCo .json, a person's JSONL/CSV/TSV/Parquet with its mapping), paths relative
 * to the experiment file. `--limit` caps the entry's own limits. A malformed file is one line: the
 * entry, the first problem, and how many more there are.
 */
async function loadEntry(spec: DatasetSpec, index: number, baseDir: string, limit: number | undefined): Promise<EvalDataset> {
  const cap = (n: number | undefined) => (limit === undefined ? n : Math.min(limit, n ?? Infinity));
  const lim = cap(spec.limit);
  const devLim = cap(spec.devLimit ?? spec.limit);
  const { name, ...load } = spec;
  try {
    const ds = await loadDataset({ ...load, ...(lim !== undefined ? { limit: lim } : {}), ...(devLim !== undefined ? { devLimit: devLim } : {}) }, async (p) => new Uint8Array(await readFile(resolve(baseDir, p))));
    for (const w of ds.warnings ?? []) process.stderr.write(`experiment: datasets[${index}]: warning: ${w}\n`);
    return name ? { ...ds, id: name } : ds;
  } catch (e) {
    if (e instanceof DatasetProblems) {
      const more = e.problems.length > 1 ? ` — and ${e.problems.length - 1} more` : '';
      throw new CliError(`datasets[${index}]: ${e.problems[0]}${more}`);
    }
    if (e instanceof DatasetError) throw new CliError(`datasets[${index}]: ${e.message.split('\n')[0]}`);
    throw e;
  }
}

/**
 * The CLI's Python sandbox for MoCo's coding items: Pyodide in a child process (tools/lib/node-python.ts),
 * started at the first coding item only, so a run without one never boots Python.
 */
function lazyPython(): PythonSandbox & { close(): void } {
  let sandbox: ReturnType<typeof nodePythonSandbox> | undefined;
  return {
    run: (program, timeoutMs) => (sandbox ??= nodePythonSandbox()).run(program, timeoutMs),
    close: () => sandbox?.close(),
  };
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A GGUF model's file, checked (exists, is a GGUF) before anything runs. */
async function ggufPath(id: string, spec: ModelSpec, baseDir: string): Promise<string> {
  const path = spec.kind === 'gguf' ? resolve(baseDir, spec.path) : resolve(ROOT, 'public/models', `${(spec as { id: string }).id}.gguf`);
  if (!existsSync(path)) {
    throw new CliError(spec.kind === 'gguf' ? `models.${id}: ${spec.path} not found (looked for ${path}); paths are relative to the experiment file` : `models.${id}: "${(spec as { id: string }).id}" is not a built-in model (no public/models/${(spec as { id: string }).id}.gguf); give a .gguf path`);
  }
  const src = await fileSource(path);
  try {
    await readGGUF(src);
  } catch (e) {
    throw new CliError(`models.${id}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await src.close();
  }
  return path;
}

function progressLine(p: Progress): string {
  const pct = p.total ? ((p.done / p.total) * 100).toFixed(1) : '100';
  const eta = p.etaSeconds === null ? '' : ` · ETA ${p.etaSeconds >= 60 ? `${Math.floor(p.etaSeconds / 60)} min ${p.etaSeconds % 60} s` : `${p.etaSeconds} s`}`;
  return `[${p.done}/${p.total}] ${pct}% · ${p.phase} · cache ${p.cacheHits} hit(s), ${p.cacheMisses} call(s)${p.resumed ? ` · ${p.resumed} resumed` : ''}${eta}${p.cell ? ` · ${p.cell}` : ''}`;
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.list) {
    const list = strategies.map((s) => ({ ...s.meta, fitsOnDev: s.fit !== undefined || s.search !== undefined }));
    process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    return;
  }
  if (!args.file) throw new CliError(USAGE);
  const file = resolve(args.file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${args.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const experiment: Experiment = parseExperiment(text, basename(file));
  const baseDir = dirname(file);
  const out = resolve(args.out ?? join(baseDir, `${basename(file).replace(/\.json$/i, '')}.results.json`));
  if (!existsSync(dirname(out))) throw new CliError(`--out ${args.out}: the directory ${dirname(out)} does not exist`);

  // Everything is checked before anything is written or started.
  const datasets: EvalDataset[] = [];
  for (const [i, d] of experiment.datasets.entries()) datasets.push(await loadEntry(d, i, baseDir, args.limit));
  const ggufs = new Map<string, string>();
  const keys = new Map<string, string>();
  for (const [id, spec] of Object.entries(experiment.models)) {
    if (spec.kind === 'openai') keys.set(id, `openai:${spec.baseUrl}|${spec.model}`);
    // A fleet serves one model: its answers are cached under all its endpoints, in a fixed order.
    else if (spec.kind === 'fleet') keys.set(id, `fleet:${spec.endpoints.map((e) => `${e.baseUrl}|${e.model}`).sort().join(',')}`);
    else {
      const path = await ggufPath(id, spec, baseDir);
      ggufs.set(id, path);
      keys.set(id, `sha256:${await fileSha256(path)}`);
    }
  }
  const experimentHash = await sha256Hex(canonicalJson({ experiment, datasets: datasets.map((d) => [d.id, d.splits.dev?.map((i) => i.id), d.splits.test?.map((i) => i.id)]), models: [...keys] }));

  // The runner checks the grid against the data sets (a collaboration on a file without a dev
  // split is refused here), before Chromium starts or anything is staged.
  const engines = new Map<string, ModelBinding>();
  const state = new FileRunState(`${out}.state.jsonl`, experimentHash);
  const cacheDir = args.cache === false ? undefined : resolve(args.cache ?? process.env.CHORUS_CACHE ?? join(homedir(), '.cache/chorus/answers'));
  let last = 0;
  const python = lazyPython();
  // Enough items in flight to fill the largest fleet's slots (a fleet takes the sum of its endpoints' limits).
  const fleetSlots = Object.values(experiment.models).map((m) => (m.kind === 'fleet' ? m.endpoints.reduce((n, e) => n + (e.concurrency ?? 1), 0) : 0));
  const concurrency = args.concurrency ?? Math.max(4, ...fleetSlots);
  // Weight-level methods merge their candidates in Node and load them on the harness page, which
  // starts below (tools/lib/node-merger.ts); the runner is made first, to check the grid.
  let mergerImpl: Merger | undefined;
  const merger: Merger = {
    load: (r, key, signal) => (mergerImpl ? mergerImpl.load(r, key, signal) : Promise.reject(new CliError('weight-level methods merge GGUF models: give the experiment GGUF or built-in models'))),
    save: (r, key, name) => (mergerImpl ? mergerImpl.save(r, key, name) : Promise.reject(new CliError('weight-level methods merge GGUF models: give the experiment GGUF or built-in models'))),
  };
  const runner = createRunner({
    merger,
    experiment,
    datasets,
    models: (id) => engines.get(id)!,
    ...(cacheDir ? { answers: new FileAnswerStore(cacheDir) } : {}),
    state,
    scoring: { js: nodeSandbox(), python },
    traces: args.traces,
    concurrency,
    onProgress: (p) => {
      const now = Date.now();
      if (now - last > 2000 || p.done === p.total || p.phase === 'done') {
        last = now;
        process.stderr.write(`${progressLine(p)}\n`);
      }
    },
  });
  let harness: { page: import('playwright-core').Page; close(): Promise<void> } | undefined;
  const harnessDir = join(tmpdir(), `chorus-experiment-harness-${process.pid}`);
  if (ggufs.size > 0) {
    const { stageHarness } = await import('../pool/stage.ts');
    const { openHarness } = await import('../pool/browser.ts');
    const dir = stageHarness(harnessDir, Object.fromEntries([...ggufs].map(([id, p]) => [`${id}.gguf`, p])));
    harness = await openHarness(dir, Number(process.env.EXPERIMENT_PORT ?? 0) || (await freePort()));
  }
  const { HarnessEngine } = await import('../pool/harness-engine.ts');
  if (harness) {
    const { nodeMerger } = await import('../lib/node-merger.ts');
    const page = harness.page;
    mergerImpl = nodeMerger({ paths: ggufs, modelsDir: join(harnessDir, 'models'), saveDir: dirname(out), open: (id, file, path) => new HarnessEngine(page, id, `./models/${file}`, args.context, path) });
  }
  const fleets = new Map<string, FleetEngine>();
  for (const [id, spec] of Object.entries(experiment.models)) {
    if (spec.kind === 'fleet') {
      const fleet = new FleetEngine(spec.endpoints);
      fleets.set(id, fleet);
      engines.set(id, { engine: fleet, cacheKey: keys.get(id)!, concurrency: fleet.concurrency });
      continue;
    }
    const engine = spec.kind === 'openai' ? new OpenAIEngine({ baseUrl: spec.baseUrl, model: spec.model, ...(spec.apiKey ? { apiKey: spec.apiKey } : {}) }) : new HarnessEngine(harness!.page, id, `./models/${id}.gguf`, args.context, ggufs.get(id));
    engines.set(id, { engine, cacheKey: keys.get(id)! });
  }

  const stop = () => runner.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const t0 = performance.now();
  try {
    const outcome = await runner.run();
    if (outcome.status === 'cancelled') throw new CliError(`cancelled; ${runner.progress.done} finished item(s) are kept in ${state.path}: run the same command again to resume`);
    const results = { ...outcome.results, generated: { seconds: Math.round((performance.now() - t0) / 100) / 10, engine: 'wllama 3.13 (llama.cpp wasm, CPU, 1 thread) in headless Chromium; OpenAI-compatible HTTP' } };
    await writeFile(`${out}.part`, JSON.stringify(results, null, 1) + '\n');
    await rename(`${out}.part`, out);
    await state.remove();
    for (const [id, fleet] of fleets) {
      for (const e of fleet.stats()) process.stderr.write(`fleet ${id}: ${e.url} served ${e.served}, failed ${e.failed}${e.down ? ' (down)' : ''}\n`);
    }
    const s = results.summary;
    process.stdout.write(`wrote ${out}: ${results.cells.length} cells, ${results.items.length} items, ${s.cost.calls} calls (${s.cost.cachedCalls} from the cache), ${results.generated.seconds} s\n`);
  } finally {
    await rm(`${out}.part`, { force: true });
    python.close();
    await harness?.close();
    await rm(harnessDir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const msg = e instanceof CliError || e instanceof ExperimentError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`experiment: ${msg.split('\n')[0]}\n`);
  process.exit(1);
});
