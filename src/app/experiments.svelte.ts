/**
 * Experiments tab state: the experiment being edited (an experiment file, src/lib/eval/experiment.ts,
 * built from the choices or opened from a file or a link), its run through the runner
 * (src/lib/eval/runner.ts) with the answer cache and resumable state in IndexedDB
 * (src/lib/store/experiments-db.ts), and the results shown, exported and imported.
 *
 *   const ex = new Experiments(registry);   // reads location.hash (#experiment=…) or the last one
 *   ex.toggleDataset('pool/arithmetic'); ex.toggleMethod('vote'); ex.toggleModel('arithmetic-specialist');
 *   await ex.run(); ex.pause(); ex.resume(); ex.cancel();
 *   ex.results → ResultsFile; ex.openCell(i); ex.openItem(j); ex.itemTrace → TraceView
 *
 * Resume: a run is named by the SHA-256 of the experiment and its data set files, so reopening the
 * same experiment (the tab keeps the last one in localStorage; a link carries it) finds its finished
 * items in IndexedDB and runs only the rest. Seeded calls and the answer cache make the results equal
 * to an uninterrupted run's.
 */
import type { Engine } from '../lib/engines/engine.ts';
import { OpenAIEngine } from '../lib/engines/openai.ts';
import { canonicalJson, sha256Hex } from '../lib/eval/cache.ts';
import { workerSandbox } from '../lib/eval/code.ts';
import { parseExperiment, type Experiment } from '../lib/eval/experiment.ts';
import { loadDataset } from '../lib/eval/load.ts';
import { DatasetProblems } from '../lib/eval/problems.ts';
import type { ResultsFile } from '../lib/eval/results.ts';
import { cellsCsv, itemsCsv, parseResultsFile, ResultsFileError } from '../lib/eval/results-io.ts';
import { createRunner, type Merger, type ModelBinding, type Progress, type Runner } from '../lib/eval/runner.ts';
import type { SearchInput } from './search-merger.ts';
import type { EvalDataset } from '../lib/eval/task.ts';
import { applyEvent, emptyTraceView, type TraceView } from '../lib/render/trace-view.ts';
import { openExperimentsDb, IdbAnswerStore, IdbRunState } from '../lib/store/experiments-db.ts';
import { strategyMetas } from '../lib/strategies/registry.ts';
import type { StrategyMeta } from '../lib/strategies/types.ts';
import { browserPythonSandbox } from './python-sandbox.ts';
import { experimentFromChoices, experimentFromHash, HASH_KEY, toBase64Url, type Choices } from './experiment-choices.ts';

/** What the tab needs from the model registry (src/app/models.svelte.ts satisfies it). */
export interface ExperimentModels {
  readonly models: readonly { id: string; name: string; source: string; file?: string; summary?: { contextLength?: number; vocabSize?: number } }[];
  init(): Promise<void>;
  load(id: string): Promise<Engine>;
  file(id: string): Promise<File>;
}

export interface PoolInfo {
  tasks: { id: string; name: string }[];
  /** Built-in models (public/models/index.json and the further pools it names) with the SHA-256 of their weights. */
  models: { id: string; name: string; sha256?: string }[];
}

/** A data set file someone added, kept in memory for this page (its bytes are not stored). */
interface AddedFile {
  name: string;
  bytes: Uint8Array;
}

export interface Problems {
  /** What was being read (a file name, "experiment", "results"). */
  source: string;
  /** One line per problem, with its place (line, row, item, field). */
  problems: string[];
}


const LAST_KEY = 'chorus.experiments.last';

function download(name: string, type: string, body: string): void {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class Experiments {
  readonly #models: ExperimentModels;
  readonly metas: readonly StrategyMeta[] = strategyMetas();
  #pool = $state.raw<PoolInfo | null>(null);
  #choices = $state<Choices>({ datasets: [], methods: [], models: [], split: 'test', limit: 5, seed: 1 });
  #text = $state('');
  #notes = $state<string[]>([]);
  #files = $state.raw<AddedFile[]>([]);
  #problems = $state.raw<Problems | null>(null);
  #error = $state<string | null>(null);
  #preparing = $state<string | null>(null);
  #progress = $state.raw<Progress | null>(null);
  #running = $state(false);
  #saved = $state(0);
  #results = $state.raw<ResultsFile | null>(null);
  #cell = $state<number | null>(null);
  #item = $state<number | null>(null);
  #runner: Runner | null = null;
  /** Merges weight-level methods' candidates (src/app/search-merger.ts), given each experiment model's file. */
  readonly #merger: ((input: (model: string) => Promise<SearchInput>) => Merger) | undefined;
  /** Experiment model id → registry id, from the last #bindings. */
  #registryIds = new Map<string, string>();
  /** True when the page was opened with an experiment in its URL (the app then opens this tab). */
  readonly hasLinkedExperiment: boolean;

  constructor(models: ExperimentModels, hash: string = typeof location === 'undefined' ? '' : location.hash, merger?: (input: (model: string) => Promise<SearchInput>) => Merger) {
    this.#models = models;
    this.#merger = merger;
    const linked = experimentFromHash(hash);
    this.hasLinkedExperiment = linked !== null;
    const last = typeof localStorage === 'undefined' ? null : localStorage.getItem(LAST_KEY);
    this.#text = linked ?? last ?? '';
    if (typeof fetch !== 'undefined') void this.#loadPool();
    void this.refreshSaved();
  }

  async #loadPool(): Promise<void> {
    type ModelList = { models: { id: string; name: string; sha256?: string }[]; pools?: unknown; datasets?: unknown };
    type TaskList = { tasks: { id: string; name: string }[] };
    const json = async <T>(url: URL): Promise<T> => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status} for ${url.pathname}`);
      return (await res.json()) as T;
    };
    const modelsOf = (list: ModelList) => list.models.map((m) => ({ id: m.id, name: m.name, ...(m.sha256 ? { sha256: m.sha256 } : {}) }));
    try {
      const modelsUrl = new URL('models/index.json', document.baseURI);
      const [ds, ms] = await Promise.all([json<TaskList>(new URL('datasets/index.json', document.baseURI)), json<ModelList>(modelsUrl)]);
      const tasks = ds.tasks.map((t) => ({ id: `pool/${t.id}`, name: t.name }));
      const models = modelsOf(ms);
      // Further pools (models/index.json's `pools`, e.g. the second pool): their models, and their data
      // sets by folder path from the page (pool2/datasets/<task>), which the runner reads as pool task folders.
      // A further pool that cannot be read (offline before it was cached) is left out with a note; the
      // first pool's lists stay.
      const skipped: string[] = [];
      for (const rel of Array.isArray(ms.pools) ? ms.pools.filter((u): u is string => typeof u === 'string') : []) {
        const url = new URL(rel, modelsUrl);
        try {
          const extra = await json<ModelList>(url);
          const more = modelsOf(extra).filter((m) => !models.some((x) => x.id === m.id));
          const moreTasks: { id: string; name: string }[] = [];
          if (typeof extra.datasets === 'string') {
            const dsUrl = new URL(extra.datasets, url);
            const folder = decodeURIComponent(dsUrl.pathname.slice(new URL('.', document.baseURI).pathname.length)).replace(/index\.json$/, '');
            for (const t of (await json<TaskList>(dsUrl)).tasks) moreTasks.push({ id: `${folder}${t.id}`, name: t.name });
          }
          models.push(...more);
          tasks.push(...moreTasks);
        } catch (e) {
          skipped.push(`${rel} (${message(e)})`);
        }
      }
      this.#pool = { tasks, models };
      if (skipped.length > 0) this.#error = `Not listed: the pool${skipped.length > 1 ? 's' : ''} at ${skipped.join(', ')} — reload when online to list ${skipped.length > 1 ? 'them' : 'it'}.`;
    } catch (e) {
      this.#error = `The built-in pools' lists (datasets/index.json, models/index.json and the pools they name) could not be read: ${message(e)}`;
    }
  }

  get pool(): PoolInfo | null {
    return this.#pool;
  }
  get choices(): Choices {
    return this.#choices;
  }
  get text(): string {
    return this.#text;
  }
  /** Why a chosen method was left out of the experiment built from the choices. */
  get notes(): string[] {
    return this.#notes;
  }
  get files(): string[] {
    return this.#files.map((f) => f.name);
  }
  /** Line-, row- or item-level problems of the last file read (data set, experiment, results). */
  get problems(): Problems | null {
    return this.#problems;
  }
  get error(): string | null {
    return this.#error;
  }
  get preparing(): string | null {
    return this.#preparing;
  }
  get progress(): Progress | null {
    return this.#progress;
  }
  get running(): boolean {
    return this.#running;
  }
  /** Finished items of this experiment saved in IndexedDB (a run to resume when > 0 and no results). */
  get saved(): number {
    return this.#saved;
  }
  get results(): ResultsFile | null {
    return this.#results;
  }
  get cell(): number | null {
    return this.#cell;
  }
  get item(): number | null {
    return this.#item;
  }
  /** Global indices (into results.items) of the open cell's items. */
  get cellItems(): number[] {
    const r = this.#results;
    const c = this.#cell;
    if (!r || c === null) return [];
    return r.items.flatMap((it, i) => (it.cell === c ? [i] : []));
  }
  /** The open item's trace, folded for the playground's trace view. */
  get itemTrace(): TraceView | null {
    const it = this.#item === null ? undefined : this.#results?.items[this.#item];
    if (!it?.trace) return null;
    return it.trace.reduce(applyEvent, emptyTraceView());
  }
  get link(): string {
    return `#${HASH_KEY}=${toBase64Url(this.#text)}`;
  }

  // ---- the experiment ------------------------------------------------------------------------

  #toggle(list: 'datasets' | 'methods' | 'models', id: string): void {
    const cur = this.#choices[list];
    this.#choices[list] = cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id];
    this.#rebuild();
  }
  toggleDataset(id: string): void {
    this.#toggle('datasets', id);
  }
  toggleMethod(id: string): void {
    this.#toggle('methods', id);
  }
  toggleModel(id: string): void {
    this.#toggle('models', id);
  }
  setSplit(split: 'dev' | 'test'): void {
    this.#choices.split = split;
    this.#rebuild();
  }
  setLimit(limit: number): void {
    if (Number.isInteger(limit) && limit >= 1) this.#choices.limit = limit;
    this.#rebuild();
  }
  setSeed(seed: number): void {
    if (Number.isInteger(seed) && seed >= 0) this.#choices.seed = seed;
    this.#rebuild();
  }

  #rebuild(): void {
    const { text, notes } = experimentFromChoices(this.#choices, this.metas, this.files);
    this.#notes = notes;
    this.setText(text);
  }

  /** Replaces the experiment text (typed, built, or opened); remembered for the next visit. */
  setText(text: string): void {
    this.#text = text;
    this.#error = null;
    try {
      localStorage.setItem(LAST_KEY, text);
    } catch {
      // storage full or disabled: the experiment still runs, it is only not remembered
    }
    void this.refreshSaved();
  }

  /** Opens an experiment file (checked now, so its errors show before any run). */
  async openExperimentFile(file: File): Promise<void> {
    const text = await file.text();
    try {
      parseExperiment(text, file.name);
      this.#problems = null;
      this.setText(text);
    } catch (e) {
      this.#problems = { source: file.name, problems: [message(e)] };
    }
  }

  /** Opens the experiment a link's hash carries; false when it holds none. */
  openLink(hash: string): boolean {
    const text = experimentFromHash(hash);
    if (text === null) return false;
    this.setText(text);
    return true;
  }

  /**
   * Adds a data set file (MoCo JSON, JSONL, CSV/TSV, Parquet), read now with loadDataset so every
   * bad line, row or item is listed at once; a file with problems is not added.
   */
  async addDataFile(file: File): Promise<void> {
    const bytes = new Uint8Array(await file.arrayBuffer());
    this.#problems = null;
    try {
      await loadDataset({ path: file.name, split: 'test' }, (p) => (p === file.name ? Promise.resolve(bytes) : Promise.reject(new Error('not found'))));
    } catch (e) {
      this.#problems = { source: file.name, problems: e instanceof DatasetProblems ? [...e.problems] : [message(e)] };
      return;
    }
    this.#files = [...this.#files.filter((f) => f.name !== file.name), { name: file.name, bytes }];
    if (!this.#choices.datasets.includes(file.name)) this.#choices.datasets = [...this.#choices.datasets, file.name];
    this.#rebuild();
  }

  dismissProblems(): void {
    this.#problems = null;
  }

  // ---- running -------------------------------------------------------------------------------

  #parse(): Experiment {
    return parseExperiment(this.#text, 'experiment');
  }

  async #runId(exp: Experiment): Promise<string> {
    const files: Record<string, string> = {};
    for (const d of exp.datasets) {
      const f = this.#files.find((x) => x.name === d.path);
      if (f) files[f.name] = await bytesSha256(f.bytes);
    }
    return sha256Hex(canonicalJson({ experiment: exp, files }));
  }

  /** Counts the finished items IndexedDB holds for the current experiment. */
  async refreshSaved(): Promise<void> {
    if (typeof indexedDB === 'undefined') return;
    let exp: Experiment;
    try {
      exp = this.#parse();
    } catch {
      this.#saved = 0;
      return;
    }
    const db = await openExperimentsDb();
    try {
      this.#saved = (await new IdbRunState(db, await this.#runId(exp)).load()).length;
    } finally {
      db.close();
    }
  }

  async #read(path: string): Promise<Uint8Array> {
    const added = this.#files.find((f) => f.name === path);
    if (added) return added.bytes;
    // Built-in pool paths (pool/<task>/…) are served from the app's datasets/ folder.
    const url = new URL(path.replace(/^(?:pool|public\/datasets)\//, 'datasets/'), document.baseURI);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${url.pathname}${/^pool2?\//.test(path) ? '' : ' — add the file with "Add data set file"'}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  async #datasets(exp: Experiment): Promise<EvalDataset[]> {
    const out: EvalDataset[] = [];
    for (const spec of exp.datasets) {
      this.#preparing = `Reading ${spec.path}…`;
      let ds: EvalDataset;
      try {
        ds = await loadDataset({ path: spec.path, split: spec.split, ...(spec.limit !== undefined ? { limit: spec.limit } : {}) }, (p) => this.#read(p));
      } catch (e) {
        this.#problems = { source: spec.path, problems: e instanceof DatasetProblems ? [...e.problems] : [message(e)] };
        throw new Error(`${spec.path} could not be read (problems listed below)`);
      }
      if (spec.devLimit !== undefined && ds.splits.dev) ds.splits.dev = ds.splits.dev.slice(0, spec.devLimit);
      out.push(spec.name ? { ...ds, id: spec.name } : ds);
    }
    return out;
  }

  /** The registry id a model spec names, or an error that says how to make it known. */
  #registryId(id: string, spec: Experiment['models'][string]): string {
    const known = this.#models.models;
    const want = spec.kind === 'builtin' ? spec.id : spec.kind === 'gguf' ? spec.path.split('/').pop()! : '';
    const hit = known.find((m) => m.id === want || m.id === `builtin:${want}` || (spec.kind === 'gguf' && (m.file === want || m.name === want)));
    if (hit) return hit.id;
    const builtins = known.filter((m) => m.source === 'built-in').map((m) => m.id.replace(/^builtin:/, ''));
    throw new Error(
      `models.${id}: "${want}" is neither a built-in model (${builtins.join(', ')}) nor a model in this browser — import ${spec.kind === 'gguf' ? 'the .gguf file' : 'it'} in the Models tab, then run again`,
    );
  }

  async #bindings(exp: Experiment): Promise<Map<string, ModelBinding>> {
    await this.#models.init();
    const out = new Map<string, ModelBinding>();
    for (const [id, spec] of Object.entries(exp.models)) {
      if (spec.kind === 'openai') {
        out.set(id, { engine: new OpenAIEngine({ baseUrl: spec.baseUrl, model: spec.model, ...(spec.apiKey ? { apiKey: spec.apiKey } : {}) }), cacheKey: `openai:${spec.baseUrl}|${spec.model}` });
        continue;
      }
      if (spec.kind === 'fleet') throw new Error(`models.${id}: a fleet of endpoints runs from the command line (npm run experiment -- FILE.json); in the tab, name one endpoint {"baseUrl", "model"}`);
      const regId = this.#registryId(id, spec);
      this.#registryIds.set(id, regId);
      this.#preparing = `Loading ${regId}…`;
      const engine = await this.#models.load(regId);
      const builtin = this.#pool?.models.find((m) => `builtin:${m.id}` === regId);
      // The cache is keyed by the weights' content: the manifest's SHA-256 for built-ins, else the file's.
      const cacheKey = builtin?.sha256 ? `sha256:${builtin.sha256}` : `sha256:${await bytesSha256(new Uint8Array(await (await this.#models.file(regId)).arrayBuffer()))}`;
      out.set(id, { engine, cacheKey });
    }
    return out;
  }

  /** Runs (or resumes) the experiment; results appear when every item is done. */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#error = null;
    this.#problems = null;
    this.#results = null;
    this.#cell = null;
    this.#item = null;
    this.#progress = null;
    this.#running = true;
    const js = workerSandbox();
    const python = browserPythonSandbox();
    let db: Awaited<ReturnType<typeof openExperimentsDb>> | undefined;
    try {
      let exp: Experiment;
      try {
        exp = this.#parse();
      } catch (e) {
        this.#problems = { source: 'experiment', problems: [message(e)] };
        throw new Error('The experiment file has a problem (listed below)');
      }
      const datasets = await this.#datasets(exp);
      const bindings = await this.#bindings(exp);
      db = await openExperimentsDb();
      this.#preparing = null;
      const merger = this.#merger?.(async (model) => {
        const regId = this.#registryIds.get(model);
        if (regId === undefined) throw new Error(`models.${model}: a weight-level method merges GGUF models, and ${model} is not one — choose GGUF or built-in models`);
        const entry = this.#models.models.find((m) => m.id === regId);
        return { blob: await this.#models.file(regId), name: entry?.name ?? model, ...entry?.summary };
      });
      const runner = createRunner({
        ...(merger ? { merger } : {}),
        experiment: exp,
        datasets,
        models: (id) => bindings.get(id)!,
        answers: new IdbAnswerStore(db),
        state: new IdbRunState(db, await this.#runId(exp)),
        scoring: { js, python },
        onProgress: (p) => {
          this.#progress = p;
        },
      });
      this.#runner = runner;
      const out = await runner.run();
      if (out.status === 'done') this.#results = out.results;
    } catch (e) {
      this.#error = message(e);
    } finally {
      this.#runner = null;
      this.#preparing = null;
      this.#running = false;
      python.close();
      db?.close();
      await this.refreshSaved();
    }
  }

  pause(): void {
    this.#runner?.pause();
  }
  resume(): void {
    this.#runner?.resume();
  }
  cancel(): void {
    this.#runner?.cancel();
  }

  /** Forgets the saved items of the current experiment (the answer cache stays). */
  async discardSaved(): Promise<void> {
    const exp = this.#parse();
    const db = await openExperimentsDb();
    try {
      await new IdbRunState(db, await this.#runId(exp)).clear();
    } finally {
      db.close();
    }
    await this.refreshSaved();
  }

  // ---- results -------------------------------------------------------------------------------

  openCell(index: number | null): void {
    this.#cell = index;
    this.#item = null;
  }
  openItem(index: number | null): void {
    this.#item = index;
  }

  exportJson(): void {
    if (this.#results) download('results.json', 'application/json', JSON.stringify(this.#results, null, 1));
  }
  exportCellsCsv(): void {
    if (this.#results) download('cells.csv', 'text/csv', cellsCsv(this.#results));
  }
  exportItemsCsv(): void {
    if (this.#results) download('items.csv', 'text/csv', itemsCsv(this.#results));
  }

  /** Shows a results file (JSON, as exported here or by the CLI); its problems are listed when it is not one. */
  async importResults(file: File): Promise<void> {
    try {
      this.#results = parseResultsFile(await file.text(), file.name);
      this.#problems = null;
      this.#cell = null;
      this.#item = null;
    } catch (e) {
      this.#problems = { source: file.name, problems: e instanceof ResultsFileError ? [...e.problems] : [message(e)] };
    }
  }
}

async function bytesSha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(bytes));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
