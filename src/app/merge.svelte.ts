/**
 * The merge view's state: inputs (GGUF models from the registry or files, or MLC models in
 * web-llm's cache — one format per merge), method, parameters, the plan,
 * a run with live progress and per-tensor statistics, the registered result, and a side-by-side
 * check (same prompt, greedy) of the merged model against an input. Talks to the merge worker
 * (workers/merge.worker.ts) through its comlink API (workers/merge.api.ts); the config it sends is parsed from the same
 * mergekit YAML the CLI takes (shown in the view), so the browser and `npm run merge` agree.
 */
import { stringify } from 'yaml';
import { MAX_MODELS, parseMergeConfig, type MergeConfig, type OutDtype } from '../lib/merge/config.ts';
import { METHODS, getMethod, type MethodDescriptor, type ParamValue, type ParameterDef, type TensorStats } from '../lib/merge/methods/index.ts';
import type { MergeProgress } from '../lib/merge/stream.ts';
import { cachedModelBases, deleteCachedPrefix, mergedModelBaseUrl, mergedModelId, modelBaseUrl, whileMerging } from '../lib/merge/mlc/cache.ts';
import type { WebLLMModelRecordLike } from '../lib/merge/mlc/merge.ts';
import { oneFormat } from '../lib/merge/mlc/plan.ts';
import { Connection, proxy, transfer, type Remote } from '../lib/rpc.ts';
import { MAX_THREADS } from '../lib/merge/wasm/thread.ts';
import { MergeError, type MergeInputRef, type MergeWorkerApi, type MlcRunResult, type PlanSummary, type ProgressCallback, type RunResult, type StatsCallback } from '../../workers/merge.api.ts';
import { safeFileName, type ModelEntry, type ModelRegistry } from './models.svelte.ts';

/** An MLC model whose weights are in web-llm's cache: a possible merge input. */
export interface MlcCandidate {
  /** The registry's id form, `webllm:<model_id>` (whether or not the registry lists it). */
  id: string;
  name: string;
  record: WebLLMModelRecordLike;
}

export type MergeResult = { format: 'gguf'; run: RunResult; entry: ModelEntry } | { format: 'mlc'; run: MlcRunResult; entry: ModelEntry };

/** An input slot holding an MLC (web-llm) model: the registry's id form `webllm:<model_id>`. */
const isMlc = (s: InputSlot): boolean => s.modelId?.startsWith('webllm:') === true;

export interface InputSlot {
  key: number;
  /** A registry model id, or a picked file. */
  modelId: string | null;
  file: File | null;
  params: Record<string, ParamValue>;
}

export type MergePhase = 'idle' | 'planning' | 'planned' | 'running' | 'done' | 'error' | 'cancelled';

export interface CompareResult {
  prompt: string;
  reference: { name: string; text: string };
  merged: { name: string; text: string };
  identical: boolean;
}

/**
 * The merge's SIMD kernel workers, one per core up to MAX_THREADS (none on one core): started here on
 * the page and connected to the merge worker by MessagePorts, not started by the merge worker itself,
 * because Firefox under load has hung for good in `new Worker` called inside a worker.
 */
function startKernelWorkers(): { workers: Worker[]; ports: MessagePort[] } {
  const total = Math.min(navigator.hardwareConcurrency || 1, MAX_THREADS);
  const workers: Worker[] = [];
  const ports: MessagePort[] = [];
  for (let i = 0; i < (total > 1 ? total : 0); i++) {
    const w = new Worker(new URL('../../workers/kernel.worker.ts', import.meta.url), { type: 'module', name: `chorus-merge-kernels-${i + 1}` });
    const { port1, port2 } = new MessageChannel();
    w.postMessage(port1, [port1]);
    workers.push(w);
    ports.push(port2);
  }
  return { workers, ports };
}

/** Page side of the merge worker: one worker per page, started on first use, restarted after a crash. */
export class MergeWorkerClient {
  #worker: { worker: Worker; conn: Connection<MergeWorkerApi> } | null = null;
  #next = 1;

  #ensure(): Connection<MergeWorkerApi> {
    if (this.#worker) return this.#worker.conn;
    const worker = new Worker(new URL('../../workers/merge.worker.ts', import.meta.url), { type: 'module', name: 'chorus-merge' });
    const conn = new Connection<MergeWorkerApi>(worker, { MergeError });
    const kernels = startKernelWorkers();
    // Sent before any other call, so the first run finds its kernel threads.
    void conn.guard(() => conn.api.kernelPorts(transfer(kernels.ports, kernels.ports))).catch(() => undefined);
    worker.onerror = (e) => {
      e.preventDefault();
      conn.fail(new MergeError('internal', `the merge worker crashed: ${e.message || 'unknown error'}; try again`));
      worker.terminate();
      for (const k of kernels.workers) k.terminate();
      if (this.#worker?.conn === conn) this.#worker = null;
    };
    this.#worker = { worker, conn };
    return conn;
  }

  plan(config: MergeConfig, inputs: MergeInputRef[]): Promise<PlanSummary> {
    const conn = this.#ensure();
    return conn.guard(() => conn.api.plan(config, inputs));
  }

  /** Starts a run (`start` gets the worker's API, an id for cancel and the proxied reports); `signal` cancels it. */
  run<T>(
    start: (api: Remote<MergeWorkerApi>, id: number, onProgress: ProgressCallback, onStats: StatsCallback) => Promise<T>,
    hooks: { onProgress(p: MergeProgress): void; onStats(s: TensorStats): void; signal: AbortSignal },
  ): Promise<T> {
    const conn = this.#ensure();
    const id = this.#next++;
    const cancel = (): void => void conn.guard(() => conn.api.cancel(id)).catch(() => undefined);
    hooks.signal.addEventListener('abort', cancel, { once: true });
    return conn
      .guard(() => start(conn.api, id, proxy((p: MergeProgress) => hooks.onProgress(p)), proxy((s: TensorStats) => hooks.onStats(s))))
      .finally(() => hooks.signal.removeEventListener('abort', cancel));
  }
}

let slotKey = 1;

export class MergeState {
  readonly registry: ModelRegistry;
  readonly methods: MethodDescriptor[] = [...METHODS.values()];
  #client = new MergeWorkerClient();

  #inputs = $state<InputSlot[]>([]);
  #baseKey = $state<number | null>(null);
  #methodId = $state('linear');
  #params = $state<Record<string, ParamValue>>({});
  #dtype = $state<OutDtype>('keep');
  #seed = $state(0);
  #outputName = $state('');
  #phase = $state<MergePhase>('idle');
  #error = $state<string | null>(null);
  #errorCode = $state<string | null>(null);
  #plan = $state.raw<PlanSummary | null>(null);
  #progress = $state.raw<MergeProgress | null>(null);
  #stats = $state.raw<TensorStats[]>([]);
  #result = $state.raw<MergeResult | null>(null);
  #mlc = $state.raw<MlcCandidate[]>([]);
  #mlcError = $state<string | null>(null);
  #mlcSeq = 0;
  #compare = $state.raw<CompareResult | null>(null);
  #comparing = $state(false);
  #abort: AbortController | null = null;

  constructor(registry: ModelRegistry) {
    this.registry = registry;
    this.setMethod('linear');
    this.addInput();
    this.addInput();
  }

  get inputs(): InputSlot[] { return this.#inputs; }
  get baseKey(): number | null { return this.#baseKey; }
  get method(): MethodDescriptor { return getMethod(this.#methodId); }
  get params(): Record<string, ParamValue> { return this.#params; }
  get dtype(): OutDtype { return this.#dtype; }
  get seed(): number { return this.#seed; }
  get outputName(): string { return this.#outputName; }
  get phase(): MergePhase { return this.#phase; }
  get error(): string | null { return this.#error; }
  get errorCode(): string | null { return this.#errorCode; }
  get plan(): PlanSummary | null { return this.#plan; }
  get progress(): MergeProgress | null { return this.#progress; }
  get stats(): TensorStats[] { return this.#stats; }
  get result(): MergeResult | null { return this.#result; }
  /** MLC models in web-llm's cache (refreshMlc() fills it). */
  get mlcCandidates(): MlcCandidate[] { return this.#mlc; }
  /** Why web-llm's cache could not be listed, if it could not. */
  get mlcError(): string | null { return this.#mlcError; }
  /** The inputs' format: MLC when any input is an MLC model (the worker refuses a mix). */
  get format(): 'gguf' | 'mlc' {
    return this.#inputs.some(isMlc) ? 'mlc' : 'gguf';
  }
  get comparison(): CompareResult | null { return this.#compare; }
  get comparing(): boolean { return this.#comparing; }
  get busy(): boolean { return this.#phase === 'planning' || this.#phase === 'running'; }

  /** Registry models that have a GGUF file (merge inputs). */
  get candidates(): ModelEntry[] {
    return this.registry.models.filter((m) => m.file !== undefined || m.source === 'built-in');
  }

  /**
   * Lists the MLC models web-llm has cached: every record of its AppConfig (prebuilt list plus
   * our merged models) whose tensor-cache.json is in the "webllm/model" cache. web-llm's code is
   * only loaded when that cache exists.
   */
  async refreshMlc(): Promise<void> {
    // Overlapping refreshes: only the latest one's answer is kept.
    const seq = ++this.#mlcSeq;
    try {
      if (typeof caches === 'undefined' || !(await caches.has('webllm/model'))) {
        if (seq === this.#mlcSeq) this.#mlc = [];
        return;
      }
      const bases = await cachedModelBases(caches);
      const { appConfigWith } = await import('./webllm.ts');
      if (seq !== this.#mlcSeq) return;
      const records = appConfigWith(this.registry.webllmRecords).model_list as WebLLMModelRecordLike[];
      this.#mlc = records
        .filter((r) => bases.has(modelBaseUrl(r.model)))
        .map((r) => ({ id: `webllm:${r.model_id}`, name: this.registry.get(`webllm:${r.model_id}`)?.name ?? r.model_id, record: r }));
      this.#mlcError = null;
    } catch (err) {
      this.#mlcError = `web-llm's cache could not be listed (${err instanceof Error ? err.message : String(err)}); MLC models cannot be picked`;
    }
  }

  #touch(): void {
    if (this.busy) return;
    this.#plan = null;
    this.#error = null;
    this.#errorCode = null;
    if (this.#phase !== 'done') this.#phase = 'idle';
  }

  addInput(): void {
    const params: Record<string, ParamValue> = {};
    for (const p of this.method.perModelParameters) params[p.name] = p.default ?? (p.name === 'weight' ? 1 : 0);
    this.#inputs.push({ key: slotKey++, modelId: null, file: null, params });
    this.#touch();
  }
  removeInput(key: number): void {
    this.#inputs = this.#inputs.filter((i) => i.key !== key);
    if (this.#baseKey === key) this.#baseKey = null;
    this.#touch();
  }
  setInputModel(key: number, modelId: string): void {
    const s = this.#inputs.find((i) => i.key === key);
    if (!s) return;
    s.modelId = modelId || null;
    s.file = null;
    this.#touch();
  }
  setInputFile(key: number, file: File | null): void {
    const s = this.#inputs.find((i) => i.key === key);
    if (!s) return;
    s.file = file;
    s.modelId = null;
    this.#touch();
  }
  setBase(key: number | null): void {
    this.#baseKey = key;
    this.#touch();
  }
  setModelParam(key: number, name: string, value: ParamValue): void {
    const s = this.#inputs.find((i) => i.key === key);
    if (!s) return;
    s.params[name] = value;
    this.#touch();
  }
  setMethod(id: string): void {
    const m = getMethod(id);
    this.#methodId = m.id;
    const params: Record<string, ParamValue> = {};
    for (const p of m.parameters) params[p.name] = p.default ?? (p.name === 't' ? 0.5 : 0);
    this.#params = params;
    for (const s of this.#inputs) {
      for (const p of m.perModelParameters) if (!(p.name in s.params)) s.params[p.name] = p.default ?? (p.name === 'weight' ? 1 : 0);
    }
    // No base is picked for the user: mergekit requires base_model for these methods, and which
    // input the others were fine-tuned from is the user's knowledge, not the order of the rows.
    this.#touch();
  }
  setParam(name: string, value: ParamValue): void {
    this.#params[name] = value;
    this.#touch();
  }
  setDtype(d: OutDtype): void {
    this.#dtype = d;
    this.#touch();
  }
  setSeed(n: number): void {
    this.#seed = Number.isInteger(n) ? n : 0;
    this.#touch();
  }
  setOutputName(name: string): void {
    this.#outputName = name;
  }

  /** Display name of an input slot. */
  slotName(s: InputSlot): string {
    if (s.file) return s.file.name;
    if (s.modelId) return this.registry.get(s.modelId)?.name ?? this.#mlc.find((c) => c.id === s.modelId)?.name ?? s.modelId;
    return '';
  }

  /** Config refs: the input's name, made unique by position ("x.gguf", "x.gguf (2)"). */
  #refs(): Map<number, string> {
    const out = new Map<number, string>();
    const seen = new Map<string, number>();
    for (const s of this.#inputs) {
      const name = this.slotName(s);
      if (!name) continue;
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      out.set(s.key, n === 1 ? name : `${name} (${n})`);
    }
    return out;
  }

  /** The mergekit YAML equivalent of the current settings (also what `npm run merge` takes). */
  get yaml(): string {
    const refs = this.#refs();
    const m = this.method;
    const base = this.#baseKey !== null && m.base !== 'unused' ? refs.get(this.#baseKey) : undefined;
    const doc: Record<string, unknown> = { merge_method: m.id };
    if (base) doc.base_model = base;
    doc.models = this.#inputs
      .filter((s) => refs.has(s.key))
      .map((s) => {
        const isBase = s.key === this.#baseKey && !m.baseTakesModelParameters;
        const params = Object.fromEntries(m.perModelParameters.map((p) => [p.name, s.params[p.name]]).filter(([, v]) => v !== undefined));
        return isBase || Object.keys(params).length === 0 ? { model: refs.get(s.key) } : { model: refs.get(s.key), parameters: params };
      });
    if (m.parameters.length) doc.parameters = Object.fromEntries(m.parameters.filter((p) => p.name !== 'int8_mask').map((p) => [p.name, this.#params[p.name]]));
    if (this.#dtype !== 'keep') doc.dtype = this.#dtype;
    if (m.seeded) doc.seed = this.#seed;
    if (this.#outputName.trim()) doc.name = this.#outputName.trim();
    return stringify(doc);
  }

  async #inputRefs(): Promise<MergeInputRef[]> {
    const refs = this.#refs();
    const out: MergeInputRef[] = [];
    try {
      // Before any file is read (a built-in GGUF would be downloaded): one format per merge.
      oneFormat(this.#inputs.map((s) => ({ name: this.slotName(s), format: isMlc(s) ? 'mlc' : 'gguf' })));
    } catch (err) {
      throw new MergeError('incompatible', err instanceof Error ? err.message : String(err));
    }
    for (const s of this.#inputs) {
      const ref = refs.get(s.key);
      if (!ref) throw new MergeError('config', 'every input needs a model or a file — pick one or remove the empty row');
      const mlc = isMlc(s) ? this.#mlc.find((c) => c.id === s.modelId) : undefined;
      if (isMlc(s) && !mlc) {
        throw new MergeError('file', `${this.slotName(s)} is not in web-llm's cache — load it once in the model manager (web-llm downloads and caches it), then merge`);
      }
      if (mlc) out.push({ format: 'mlc', ref, name: this.slotName(s), record: JSON.parse(JSON.stringify(mlc.record)) as WebLLMModelRecordLike });
      else out.push({ format: 'gguf', ref, name: this.slotName(s), blob: s.file ?? (await this.registry.file(s.modelId!)) });
    }
    return out;
  }

  /** Why the method cannot run without a base the user has not chosen yet, or null. */
  get baseNeeded(): string | null {
    const m = this.method;
    if (m.base !== 'required' || (this.#baseKey !== null && this.#inputs.some((s) => s.key === this.#baseKey))) return null;
    return `${m.name} needs a base model: mark one input as the base (the model the others were fine-tuned from) — it is not chosen for you`;
  }

  /**
   * The settings checked in the view's own terms (the labels beside the fields: "Input 2 density",
   * "t (global)"), before any YAML is built: everything the config parser and the planner would
   * refuse in mergekit's terms (base_model, models[1].parameters.density) is said here first.
   */
  #check(): void {
    const fail = (msg: string): never => {
      throw new MergeError('config', msg);
    };
    const m = this.method;
    this.#inputs.forEach((s, i) => {
      if (!this.slotName(s)) fail(`Input ${i + 1} has no model: choose a model or a file for it, or remove the row`);
    });
    const needed = this.baseNeeded;
    if (needed) fail(needed);
    const n = this.#inputs.length;
    if (n < m.minInputs) fail(`${m.name} needs at least ${m.minInputs} inputs${m.base === 'unused' ? '' : ', the base included'}; add ${m.minInputs - n === 1 ? 'an input' : `${m.minInputs - n} inputs`}`);
    if (m.maxInputs !== undefined && n > m.maxInputs) fail(`${m.name} takes at most ${m.maxInputs} inputs${m.base === 'unused' ? '' : ', the base included'}; remove ${n - m.maxInputs === 1 ? 'one' : n - m.maxInputs}`);
    if (n > MAX_MODELS) fail(`at most ${MAX_MODELS} inputs can be merged at once; remove ${n - MAX_MODELS}`);
    const checkValue = (def: ParameterDef, v: ParamValue | undefined, label: string) => {
      if (v === undefined) {
        if (def.required) fail(`${label} is required: enter a number`);
        return;
      }
      if (def.type === 'boolean') return;
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${label} must be a number`);
      const x = v as number;
      if (def.strict && ((def.min !== undefined && x < def.min) || (def.max !== undefined && x > def.max))) {
        fail(`${label} must lie between ${def.min} and ${def.max} (it is ${x})`);
      }
    };
    for (const def of m.parameters) if (def.name !== 'int8_mask') checkValue(def, this.#params[def.name], `${def.name} (global)`);
    this.#inputs.forEach((s, i) => {
      if (s.key === this.#baseKey && !m.baseTakesModelParameters) return;
      for (const def of m.perModelParameters) checkValue(def, s.params[def.name], `Input ${i + 1} ${def.name}`);
    });
  }

  #config(): MergeConfig {
    this.#check();
    return parseMergeConfig(this.yaml, 'merge settings');
  }

  #fail(err: unknown): void {
    this.#error = err instanceof Error ? err.message : String(err);
    this.#errorCode = err instanceof MergeError ? err.code : 'config';
    this.#phase = err instanceof MergeError && err.code === 'cancelled' ? 'cancelled' : 'error';
  }

  async makePlan(): Promise<PlanSummary | null> {
    this.#phase = 'planning';
    this.#error = null;
    this.#plan = null;
    try {
      const config = this.#config();
      const inputs = await this.#inputRefs();
      this.#plan = await this.#client.plan(config, inputs);
      this.#phase = 'planned';
      return this.#plan;
    } catch (err) {
      this.#fail(err);
      return null;
    }
  }

  async run(): Promise<void> {
    this.#phase = 'running';
    this.#error = null;
    this.#progress = null;
    this.#stats = [];
    this.#result = null;
    this.#compare = null;
    const abort = new AbortController();
    this.#abort = abort;
    let pendingStats: TensorStats[] = [];
    let flush: ReturnType<typeof setTimeout> | null = null;
    try {
      const config = this.#config();
      const inputs = await this.#inputRefs();
      const name = this.#outputName.trim() || `${config.mergeMethod}-merge`;
      const hooks = {
        signal: abort.signal,
        onProgress: (p: MergeProgress) => (this.#progress = p),
        onStats: (st: TensorStats) => {
          // Batch statistics into one state change per frame-ish, not one per tensor.
          pendingStats.push(st);
          flush ??= setTimeout(() => {
            this.#stats = [...this.#stats, ...pendingStats];
            pendingStats = [];
            flush = null;
          }, 50);
        },
      };
      const settle = () => {
        if (flush) clearTimeout(flush);
        this.#stats = [...this.#stats, ...pendingStats];
      };
      if (inputs.some((i) => i.format === 'mlc')) {
        const modelId = mergedModelId(name);
        const baseUrl = mergedModelBaseUrl(document.baseURI, modelId);
        // Until it is registered, another tab's start-up sweep must not take its keys for leftovers.
        const { run, entry } = await whileMerging(async () => {
          const run: MlcRunResult = await this.#client.run((api, id, onProgress, onStats) => api.runMlc(id, config, inputs, modelId, baseUrl, onProgress, onStats), hooks);
          settle();
          try {
            return { run, entry: await this.registry.addMergedMlc({ modelId, name, record: run.record, size: run.size, provenance: run.provenance }) };
          } catch (err) {
            // Not registered: nothing may stay in web-llm's cache either.
            await deleteCachedPrefix(caches, baseUrl).catch(() => 0);
            throw err;
          }
        });
        this.#result = { format: 'mlc', run, entry };
        void this.refreshMlc();
      } else {
        const fileName = `${safeFileName(name).replace(/\.gguf$/i, '')}.gguf`;
        const dir = this.registry.modelsDir;
        const run: RunResult = await this.#client.run((api, id, onProgress, onStats) => api.run(id, config, inputs, dir, fileName, onProgress, onStats), hooks);
        settle();
        const entry = await this.registry.addOpfsModel(run.fileName, { name: this.#outputName.trim() || run.fileName, source: 'merged', provenance: run.provenance });
        this.#result = { format: 'gguf', run, entry };
      }
      this.#phase = 'done';
    } catch (err) {
      if (flush) clearTimeout(flush);
      this.#fail(err);
    } finally {
      this.#abort = null;
    }
  }

  cancel(): void {
    this.#abort?.abort();
  }

  /**
   * Generates greedily (temperature 0, fixed seed) from the same prompt with the merged model and
   * with one input, so a person sees at once whether (and how) the merge changed behaviour.
   */
  async compare(prompt: string, referenceId: string, maxTokens = 48): Promise<void> {
    const res = this.#result;
    if (!res) return;
    this.#comparing = true;
    this.#error = null;
    try {
      const gen = async (id: string): Promise<string> => {
        const engine = this.registry.engineFor(id) ?? (await this.registry.load(id));
        let text = '';
        for await (const c of engine.complete({ prompt, temperature: 0, seed: 42, max_tokens: maxTokens })) if (c.type === 'delta') text += c.text;
        return text;
      };
      const refText = await gen(referenceId);
      const mergedText = await gen(res.entry.id);
      this.#compare = {
        prompt,
        reference: { name: this.registry.get(referenceId)?.name ?? referenceId, text: refText },
        merged: { name: res.entry.name, text: mergedText },
        identical: refText === mergedText,
      };
    } catch (err) {
      this.#error = err instanceof Error ? err.message : String(err);
    } finally {
      this.#comparing = false;
    }
  }
}
