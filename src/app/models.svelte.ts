/**
 * The model registry: every model the app knows (built-in, imported, downloaded, merged, web-llm,
 * OpenAI-compatible endpoints), where its bytes are, and which are loaded.
 *
 * API (stable; other views build on it):
 *
 *   const registry = getRegistry();              // one per page; or `new ModelRegistry()` + setContext
 *   await registry.init();                       // reads IndexedDB, OPFS, public/models/index.json
 *   registry.models: ModelEntry[]                // reactive ($state.raw), replaced on every change
 *   registry.get(id): ModelEntry | undefined
 *   registry.storage: { usage, quota, persisted } | null   // navigator.storage.estimate()/persisted()
 *   await registry.refreshStorage(); await registry.persist(): boolean   // "keep my models"
 *
 *   await registry.importFile(file, { signal, onProgress })  → ModelEntry  (source 'imported')
 *   await registry.importUrl(url, { signal, onProgress, name }) → ModelEntry (source 'url')
 *     Both read the GGUF header with the project's own reader FIRST; a file that is not GGUF or is
 *     truncated throws EngineError('invalid-model', <the reader's message>) and nothing is stored.
 *     Bytes go to OPFS under a temporary name and are renamed only after validation.
 *   await registry.addOpfsModel(fileName, { name, source: 'merged', provenance }) → ModelEntry
 *     Registers a GGUF that someone (the merge worker) already wrote to OPFS at
 *     `${registry.modelsDir}/${fileName}` (i.e. navigator.storage.getDirectory() → "models" → file).
 *   await registry.addOpenAI({ baseUrl, model, apiKey?, saveKey? }) → ModelEntry (source 'openai')
 *   await registry.addWebLLM(mlcModelId) → ModelEntry (source 'webllm')
 *   await registry.addMergedMlc({ modelId, name, record, size, provenance }) → ModelEntry (source 'webllm')
 *     Registers an MLC model the merge worker already wrote into web-llm's caches under
 *     record.model; its record (the parent's model_lib) joins `registry.webllmRecords`, which
 *     the web-llm engine's AppConfig includes. remove(id) deletes every cache key under its URL.
 *
 *   await registry.load(id, { signal, onProgress, gpu }) → Engine   // starts one worker per model
 *   registry.engineFor(id): Engine | undefined   // the shared, loaded engine (agents share it)
 *   await registry.unload(id)                    // ends the worker, status back to 'stored'
 *   await registry.remove(id)                    // unloads, deletes the cached bytes and the record
 *   await registry.file(id): File                // the GGUF bytes (for merging, export)
 *
 * ModelEntry.activity: {active, queued} requests on a loaded wllama engine (a run is idle when every
 * loaded model shows 0/0), and its {instances, loading}.
 *
 * Parallel agents: a wllama model loads as a ReplicaSet (src/lib/engines/replicas.ts): agents that
 * call it at once get more instances of the same file, up to replicaLimit (cores, memory; 1 on
 * WebGPU), each running one request at a time so the same seed gives the same text.
 * `registry.parallelInstances = false` keeps one instance per model (agents then take turns).
 * ModelEntry.status: 'available' (known but not on this device: a built-in not yet cached, a
 * web-llm model not yet downloaded) → 'stored' → 'loading' → 'loaded'; 'error' with `error` set
 * (load failure or a crashed worker: call load(id) again to reload).
 *
 * Threads: each wllama model gets threadsForNextModel(hardwareConcurrency, loadedCount)
 * (src/lib/engines/threads.ts): half the logical cores, divided among loaded models.
 */
import { EngineError, type Engine, type EngineInfo } from '../lib/engines/engine.ts';
import { normaliseBaseUrl, OpenAIEngine } from '../lib/engines/openai.ts';
import { threadsForNextModel } from '../lib/engines/threads.ts';
import type { GpuPreference } from '../lib/engines/wllama.ts';
import { blobSource, readGGUF, summarize, type ModelSummary } from '../lib/merge/gguf/index.ts';
import { deleteCachedPrefix, deleteCachedWhere, mergedModelsPrefix, modelBaseUrl, unlessMerging } from '../lib/merge/mlc/cache.ts';
import type { WebLLMModelRecordLike } from '../lib/merge/mlc/merge.ts';
import { openChorusDb, type ModelRecord, type ModelSourceKind } from '../lib/store/db.ts';
import { openUrl } from '../lib/store/download.ts';
import { OpfsStore } from '../lib/store/opfs.ts';
import { spawnWllamaSet } from './engines.ts';
import { spawnOnnxWorker } from './onnx-engine.ts';
import type { OnnxProviderChoice } from '../../workers/onnx.api.ts';
import { replicaLimit } from '../lib/engines/replicas.ts';

export type ModelStatus = 'available' | 'stored' | 'loading' | 'loaded' | 'error';

export interface ModelEntry {
  id: string;
  name: string;
  source: ModelSourceKind;
  /** Bytes on disk (or to download, for 'available' entries); 0 when unknown. */
  size: number;
  status: ModelStatus;
  /** What the project's GGUF header reader says (GGUF models only). */
  summary?: ModelSummary;
  /** Built-ins: the description (the model card's first paragraph) and model card path. */
  description?: string;
  card?: string;
  /** SHA-256 of the file (hex): built-ins from the manifest, imports computed on import. Links resolve models by it. */
  sha256?: string;
  /** Built-ins: test accuracy per task and on the mixed test set, with 95% CIs (from the manifest). */
  scores?: ModelScore[];
  /** URL it was downloaded from, OpenAI base URL, or MLC model id. */
  origin?: string;
  provenance?: unknown;
  /** OPFS file name, for GGUF models stored on this device. */
  file?: string;
  /** Built-ins: false when no ONNX export ships beside the GGUF (the second pool's models). */
  onnx?: boolean;
  /** web-llm models merged here: their web-llm ModelRecord (our URL, the parent's model_lib). */
  mlc?: WebLLMModelRecordLike;
  /** Where it runs once loaded ("CPU · wasm · 1 thread", "WebGPU · 5/5 layers", "HTTP"). */
  backend?: EngineInfo;
  /** Requests running / waiting on the loaded engine (wllama workers); 0/0 when idle. */
  activity?: { active: number; queued: number; instances?: number; loading?: number };
  /** Bytes loaded so far while status is 'loading'. */
  progress?: { loaded: number; total: number };
  error?: string;
}

export interface StorageState {
  usage: number;
  quota: number;
  persisted: boolean;
}

export interface ProgressOptions {
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

export interface ModelScore {
  task: string;
  accuracy: number;
  lo: number;
  hi: number;
  n: number;
}

type ManifestScore = Omit<ModelScore, 'task'>;

export interface BuiltinManifest {
  models: {
    id: string; file: string; name: string; description?: string; size?: number; sizeBytes?: number; sha256?: string; card?: string;
    scores?: Record<string, ManifestScore>; mixed?: ManifestScore;
    /** Whether an ONNX export (<file>.onnx) ships beside it: the first pool's do (tools/onnx/export.py); a further pool's do only when it says so. */
    onnx?: boolean;
  }[];
  /** Further manifests (URLs relative to this one) whose models are listed too. */
  pools?: string[];
}

/** Files hashed on import (crypto.subtle digests a whole buffer): larger ones are resolved by name only. */
export const HASH_LIMIT_BYTES = 64 * 1024 * 1024;

async function sha256Hex(blob: Blob): Promise<string | undefined> {
  if (blob.size > HASH_LIMIT_BYTES || typeof crypto === 'undefined' || !crypto.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function scoresOf(m: BuiltinManifest['models'][number]): ModelScore[] | undefined {
  const ok = (x: ManifestScore | undefined): x is ManifestScore => !!x && typeof x.accuracy === 'number';
  const rows: ModelScore[] = Object.entries(m.scores ?? {}).filter(([, v]) => ok(v)).map(([task, v]) => ({ task, ...v }));
  if (ok(m.mixed)) rows.push({ task: 'mixed', ...m.mixed });
  return rows.length ? rows : undefined;
}

/** The model card's first paragraph as plain text (it is drawn as text, never as HTML). */
function cardSummary(markdown: string): string | undefined {
  const para = markdown.split(/\n\s*\n/).map((p) => p.trim()).find((p) => p !== '' && !p.startsWith('#'));
  return para?.replace(/\*\*|`/g, '').replace(/\s+/g, ' ');
}

export interface OpenAIConfig {
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Save the key in IndexedDB (otherwise it lives in this page's memory only). */
  saveKey?: boolean;
}

/** Engines other than wllama plug in here (OpenAI HTTP, web-llm), keyed by entry source. */
export interface ExternalLoader {
  load(entry: ModelEntry, opts: ProgressOptions & { apiKey?: string }): Promise<Engine>;
}

const GGUF_SOURCES: ModelSourceKind[] = ['built-in', 'imported', 'url', 'merged'];

/** How to load a model: wllama (default; GPU choice, parallel slots) or the ONNX engine (built-in models; provider choice). */
export type LoadOptions = ProgressOptions & { gpu?: GpuPreference; nParallel?: number; engine?: 'wllama' | 'onnx'; onnxProvider?: OnnxProviderChoice };

export class ModelRegistry {
  readonly modelsDir: string;
  readonly #store: OpfsStore;
  readonly #dbName: string;
  readonly #manifestUrl: string | null;
  #entries = $state.raw<ModelEntry[]>([]);
  #storage = $state.raw<StorageState | null>(null);
  #ready = $state(false);
  readonly #engines = new Map<string, Engine>();
  readonly #loading = new Map<string, Promise<Engine>>();
  /** Cancels an in-flight load when unload/remove is called meanwhile. */
  readonly #loadAborts = new Map<string, AbortController>();
  /** OpenAI keys kept in memory only (unless saved). */
  readonly #keys = new Map<string, string>();
  readonly #loaders = new Map<ModelSourceKind, ExternalLoader>();
  #initOnce: Promise<void> | null = null;

  /**
   * @param opts.manifestUrl where the built-in manifest lives (default `models/index.json` next to
   *   the app); null for no built-ins. @param opts.dbName IndexedDB name (tests use their own).
   */
  constructor(opts: { manifestUrl?: string | null; dbName?: string; modelsDir?: string } = {}) {
    this.#store = new OpfsStore(opts.modelsDir ?? 'models');
    this.modelsDir = this.#store.dirName;
    this.#dbName = opts.dbName ?? 'chorus';
    this.#manifestUrl = opts.manifestUrl === undefined ? defaultManifestUrl() : opts.manifestUrl;
    this.registerLoader('openai', {
      load: async (entry, o) =>
        new OpenAIEngine({ baseUrl: entry.origin ?? '', model: (entry.provenance as { model?: string } | undefined)?.model ?? entry.name, ...(o.apiKey && { apiKey: o.apiKey }) }),
    });
    this.registerLoader('webllm', {
      load: async (entry, o) => {
        const { spawnWebLLM, appConfigWith } = await import('./webllm.ts');
        return spawnWebLLM(entry.origin ?? entry.name, {
          appConfig: appConfigWith(this.webllmRecords),
          cacheOnly: entry.mlc !== undefined,
          ...(o.signal && { signal: o.signal }),
          ...(o.onProgress && { onProgress: o.onProgress }),
          onDeviceLost: (err) => this.#crashed(entry.id, err),
        });
      },
    });
  }

  get models(): ModelEntry[] {
    return this.#entries;
  }

  get storage(): StorageState | null {
    return this.#storage;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** web-llm records of our own (merged models), for the AppConfig web-llm is created with. */
  get webllmRecords(): WebLLMModelRecordLike[] {
    return this.#entries.flatMap((e) => (e.mlc ? [e.mlc] : []));
  }

  get(id: string): ModelEntry | undefined {
    return this.#entries.find((e) => e.id === id);
  }

  /** Whether a model may load more instances for agents that call it at once (see above). */
  parallelInstances = $state(true);

  engineFor(id: string): Engine | undefined {
    return this.#engines.get(id);
  }

  /** Lets the web-llm and OpenAI engine modules plug their loaders in without a hard import. */
  registerLoader(source: ModelSourceKind, loader: ExternalLoader): void {
    this.#loaders.set(source, loader);
  }

  init(): Promise<void> {
    this.#initOnce ??= this.#init();
    return this.#initOnce;
  }

  async #init(): Promise<void> {
    await this.#store.sweepPartials().catch(() => 0);
    const stored = new Map((await this.#store.list().catch(() => [])).map((f) => [f.name, f]));
    const db = await this.#db();
    const records = await db.getAll('models');
    const secrets = await db.getAll('secrets');
    db.close();
    for (const s of secrets) this.#keys.set(s.key, s.value);
    const entries: ModelEntry[] = [];
    const manifests = (await this.#fetchManifest()).models;
    for (const manifest of manifests) {
      const file = builtinFileName(manifest.file);
      const onDisk = stored.get(file);
      // A description from the card (a fetch each) is filled in after the list shows (below).
      const description = manifest.description;
      const scores = scoresOf(manifest);
      entries.push({
        id: `builtin:${manifest.id}`,
        name: manifest.name,
        source: 'built-in',
        size: onDisk?.size ?? manifest.sizeBytes ?? manifest.size ?? 0,
        status: onDisk ? 'stored' : 'available',
        ...(description !== undefined && { description }),
        ...(manifest.card !== undefined && { card: manifest.card }),
        ...(manifest.sha256 !== undefined && { sha256: manifest.sha256 }),
        ...(scores !== undefined && { scores }),
        origin: manifest.file,
        file,
        ...(manifest.onnx === false && { onnx: false }),
      });
    }
    for (const rec of records) {
      const missing = rec.file !== undefined && !stored.has(rec.file);
      entries.push({
        id: rec.id,
        name: rec.name,
        source: rec.source,
        size: rec.size,
        status: rec.source === 'webllm' ? 'available' : missing ? 'error' : 'stored',
        ...(rec.summary !== undefined && { summary: rec.summary as ModelSummary }),
        ...(rec.origin !== undefined && { origin: rec.origin }),
        ...(rec.provenance !== undefined && { provenance: rec.provenance }),
        ...(rec.file !== undefined && { file: rec.file }),
        ...(rec.mlc !== undefined && { mlc: rec.mlc }),
        ...(rec.sha256 !== undefined && { sha256: rec.sha256 }),
        ...(missing && { error: `${rec.file} is no longer in the browser's storage (it may have been cleared) — import it again or remove this entry.` }),
      });
    }
    // web-llm models keep their weights in web-llm's own cache: 'stored' when it has them.
    const mlc = entries.filter((e) => e.source === 'webllm');
    if (mlc.length) {
      const { listCachedModels, appConfigWith } = await import('./webllm.ts');
      const own = mlc.flatMap((e) => (e.mlc ? [e.mlc] : []));
      const cached = new Set(await listCachedModels(mlc.map((e) => e.origin ?? e.name), appConfigWith(own)).catch(() => []));
      for (const e of mlc) {
        if (cached.has(e.origin ?? e.name)) e.status = 'stored';
        else if (e.mlc) {
          e.status = 'error';
          e.error = `${e.name}'s merged weights are no longer in web-llm's cache (site data cleared?) — merge it again, or remove this entry.`;
        }
      }
    }
    await this.#sweepMergedMlc(mlc.flatMap((e) => (e.mlc ? [modelBaseUrl(e.mlc.model)] : []))).catch(() => 0);
    // Built-in summaries come from the cached copy's header when there is one.
    for (const e of entries) {
      if (e.source === 'built-in' && e.status === 'stored' && e.file) {
        e.summary = await this.#summaryOf(await this.#store.file(e.file)).catch(() => undefined);
      }
    }
    this.#entries = entries;
    this.#ready = true;
    // The built-in models' cards, fetched together once the list is on screen (they do not delay it).
    void Promise.all(
      manifests.map(async (m) => {
        if (m.description !== undefined || m.card === undefined) return;
        const description = await this.#fetchCardSummary(m.card);
        if (description !== undefined && this.get(`builtin:${m.id}`)) this.#patch(`builtin:${m.id}`, { description });
      }),
    ).catch(() => undefined);
    await this.refreshStorage();
  }

  async refreshStorage(): Promise<void> {
    if (typeof navigator === 'undefined' || !navigator.storage?.estimate) return;
    const [est, persisted] = await Promise.all([navigator.storage.estimate(), navigator.storage.persisted?.() ?? Promise.resolve(false)]);
    this.#storage = { usage: est.usage ?? 0, quota: est.quota ?? 0, persisted };
  }

  /** Asks the browser not to evict our storage ("keep my models"). Resolves with the outcome. */
  async persist(): Promise<boolean> {
    const ok = (await navigator.storage?.persist?.()) ?? false;
    await this.refreshStorage();
    return ok;
  }

  async importFile(file: File, opts: ProgressOptions = {}): Promise<ModelEntry> {
    await this.init();
    const fileName = safeFileName(file.name);
    // Validate before a single byte is stored: not GGUF / truncated → the reader's own message.
    const summary = await this.#summaryOf(file);
    await this.#store.write(fileName, file, { ...opts, validate: (tmp) => this.#summaryOf(tmp, file.name).then(() => undefined) });
    const sha256 = await sha256Hex(file).catch(() => undefined);
    return this.#addRecord({ id: `file:${fileName}`, name: file.name, source: 'imported', file: fileName, size: file.size, summary, addedAt: Date.now(), ...(sha256 && { sha256 }) });
  }

  async importUrl(url: string, opts: ProgressOptions & { name?: string } = {}): Promise<ModelEntry> {
    await this.init();
    const parsed = parseUrl(url);
    const name = opts.name ?? decodeURIComponent(parsed.pathname.split('/').filter(Boolean).pop() ?? 'model.gguf');
    const fileName = safeFileName(name);
    const { body, total } = await openUrl(parsed.href, opts.signal);
    let summary: ModelSummary | undefined;
    const file = await this.#store.write(fileName, body, {
      ...opts,
      total,
      validate: async (tmp) => {
        summary = await this.#summaryOf(tmp, name);
      },
    });
    return this.#addRecord({ id: `file:${fileName}`, name, source: 'url', file: fileName, size: file.size, summary, origin: parsed.href, addedAt: Date.now() });
  }

  async addOpfsModel(fileName: string, opts: { name?: string; source?: 'merged' | 'imported'; provenance?: unknown } = {}): Promise<ModelEntry> {
    await this.init();
    const file = await this.#store.file(fileName);
    const summary = await this.#summaryOf(file, fileName);
    return this.#addRecord({
      id: `file:${fileName}`,
      name: opts.name ?? fileName,
      source: opts.source ?? 'merged',
      file: fileName,
      size: file.size,
      summary,
      ...(opts.provenance !== undefined && { provenance: opts.provenance }),
      addedAt: Date.now(),
    });
  }

  /** Registers a merged MLC model the merge worker wrote into web-llm's caches (see the API above). */
  async addMergedMlc(m: { modelId: string; name: string; record: WebLLMModelRecordLike; size: number; provenance?: unknown }): Promise<ModelEntry> {
    await this.init();
    const record = JSON.parse(JSON.stringify(m.record)) as WebLLMModelRecordLike;
    return this.#addRecord({
      id: `webllm:${m.modelId}`,
      name: m.name,
      source: 'webllm',
      size: m.size,
      origin: m.modelId,
      mlc: record,
      ...(m.provenance !== undefined && { provenance: m.provenance }),
      addedAt: Date.now(),
    });
  }

  /**
   * Deletes merged MLC files that no registry entry owns (a tab closed in the middle of a merge
   * leaves shards under chorus-merged/ that the worker could not clean up). Skipped while an MLC
   * merge runs in any tab (MLC_MERGE_LOCK): its keys are not leftovers yet.
   */
  async #sweepMergedMlc(keep: string[]): Promise<number> {
    if (typeof caches === 'undefined' || typeof document === 'undefined') return 0;
    const prefix = mergedModelsPrefix(document.baseURI);
    const swept = await unlessMerging(() => deleteCachedWhere(caches, (url) => url.startsWith(prefix) && !keep.some((k) => url.startsWith(k))));
    return swept ?? 0;
  }

  async addOpenAI(cfg: OpenAIConfig): Promise<ModelEntry> {
    await this.init();
    // Same server, same id, whether the user typed ".../v1" or not.
    const base = normaliseBaseUrl(cfg.baseUrl);
    if (!cfg.model.trim()) throw new EngineError('bad-request', 'give the model name the server knows (e.g. "llama3.2:1b" for Ollama).');
    const id = `openai:${base}#${cfg.model}`;
    if (cfg.apiKey) {
      this.#keys.set(id, cfg.apiKey);
      const db = await this.#db();
      if (cfg.saveKey) await db.put('secrets', { key: id, value: cfg.apiKey });
      else await db.delete('secrets', id);
      db.close();
    }
    return this.#addRecord({ id, name: `${cfg.model} @ ${new URL(base).host}`, source: 'openai', size: 0, origin: base, provenance: { model: cfg.model }, addedAt: Date.now() });
  }

  /** Adds an MLC model from web-llm's prebuilt list (listPrebuiltModels() in src/app/webllm.ts). */
  async addWebLLM(modelId: string, size = 0): Promise<ModelEntry> {
    await this.init();
    const { listCachedModels, listPrebuiltModels } = await import('./webllm.ts');
    const model = listPrebuiltModels().find((m) => m.id === modelId);
    if (!model) throw new EngineError('bad-request', `${modelId} is not in web-llm's prebuilt model list; pick one from the list.`);
    const entry = await this.#addRecord({ id: `webllm:${modelId}`, name: modelId, source: 'webllm', size: size || (model.approxBytes ?? 0), origin: modelId, provenance: { vramMB: model.vramMB }, addedAt: Date.now() });
    const cached = (await listCachedModels([modelId]).catch(() => [])).length > 0;
    if (!cached) this.#patch(entry.id, { status: 'available' });
    return this.get(entry.id)!;
  }

  /** Whether an OpenAI entry's key is saved in IndexedDB (vs memory only). */
  async isKeySaved(id: string): Promise<boolean> {
    const db = await this.#db();
    const rec = await db.get('secrets', id);
    db.close();
    return rec !== undefined;
  }

  async file(id: string): Promise<File> {
    const e = this.#require(id);
    if (!e.file) throw new EngineError('bad-request', `${e.name} has no GGUF file on this device (source ${e.source}).`);
    if (e.status === 'available') {
      await this.#cacheBuiltin(e, {});
      this.#patch(id, { status: 'stored' });
    }
    return this.#store.file(e.file);
  }

  load(id: string, opts: LoadOptions = {}): Promise<Engine> {
    const have = this.#engines.get(id);
    if (have) return Promise.resolve(have);
    const pending = this.#loading.get(id);
    if (pending) return pending;
    const ac = new AbortController();
    opts.signal?.addEventListener('abort', () => ac.abort(), { once: true });
    if (opts.signal?.aborted) ac.abort();
    this.#loadAborts.set(id, ac);
    const p = this.#load(id, { ...opts, signal: ac.signal }).finally(() => {
      this.#loading.delete(id);
      this.#loadAborts.delete(id);
    });
    this.#loading.set(id, p);
    return p;
  }

  async #load(id: string, opts: LoadOptions): Promise<Engine> {
    await this.init();
    const entry = this.#require(id);
    const before = entry.status;
    const progress = (loaded: number, total: number): void => {
      this.#patch(id, { progress: { loaded, total } });
      opts.onProgress?.(loaded, total);
    };
    this.#patch(id, { status: 'loading', error: undefined, progress: { loaded: 0, total: entry.size } });
    try {
      let engine: Engine;
      if (opts.engine === 'onnx') {
        // The pool ships its ONNX exports beside its GGUF files (public/models/<id>.onnx, tools/onnx/export.py).
        if (entry.source !== 'built-in' || !entry.origin || !this.#manifestUrl) {
          throw new EngineError('unsupported', `${entry.name}: ONNX exports ship for the built-in models only — load this model on the wllama engine.`);
        }
        if (entry.onnx === false) {
          throw new EngineError('unsupported', `${entry.name}: no ONNX export ships for this pool's models (only the first pool's) — load it on the wllama engine.`);
        }
        if (entry.status === 'available') await this.#cacheBuiltin(entry, { ...opts, onProgress: progress });
        const current = this.#require(id);
        engine = await spawnOnnxWorker(
          { kind: 'opfs', path: this.#store.path(current.file!), name: current.name },
          { provider: opts.onnxProvider ?? 'auto', onnxUrl: new URL(current.origin!.replace(/\.gguf$/, '.onnx'), this.#manifestUrl).href },
          { ...opts, onProgress: progress, onCrash: (err) => this.#crashed(id, err) },
        );
      } else if (GGUF_SOURCES.includes(entry.source)) {
        if (entry.status === 'available') await this.#cacheBuiltin(entry, { ...opts, onProgress: progress });
        const current = this.#require(id);
        const set = await spawnWllamaSet(
          { kind: 'opfs', path: this.#store.path(current.file!), name: current.name },
          {
            nThreads: threadsForNextModel(navigator.hardwareConcurrency, this.#engines.size),
            gpu: opts.gpu ?? 'auto',
            ...(opts.nParallel !== undefined && { nParallel: opts.nParallel }),
            ...(current.summary?.vocabSize !== undefined && { expectedVocab: current.summary.vocabSize }),
            ...(current.summary?.contextLength !== undefined && { contextLength: current.summary.contextLength }),
          },
          {
            ...opts,
            onProgress: progress,
            onCrash: (err) => this.#crashed(id, err),
            // Parallel agents: more instances of this model load when agents call it at once.
            maxInstances: (info) =>
              this.parallelInstances === false
                ? 1
                : replicaLimit({
                    hardwareConcurrency: navigator.hardwareConcurrency,
                    deviceMemoryGiB: (navigator as Navigator & { deviceMemory?: number }).deviceMemory,
                    modelBytes: current.size ?? 0,
                    backend: info.backend,
                  }),
          },
        );
        set.onActivity = ({ active, queued, instances, loading }) => this.#patch(id, { activity: { active, queued, instances, loading } });
        engine = set;
      } else {
        const loader = this.#loaders.get(entry.source);
        if (!loader) throw new EngineError('unsupported', `no engine for ${entry.source} models is available in this build.`);
        engine = await loader.load(entry, { ...opts, onProgress: progress, ...(this.#keys.has(id) && { apiKey: this.#keys.get(id)! }) });
      }
      this.#engines.set(id, engine);
      this.#patch(id, { status: 'loaded', backend: engine.info, progress: undefined });
      return engine;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const aborted = err instanceof EngineError && err.code === 'aborted';
      this.#patch(id, {
        status: aborted ? await this.#statusAfterCancel(id, before) : 'error',
        error: aborted ? undefined : message,
        progress: undefined,
      });
      throw err;
    } finally {
      void this.refreshStorage();
    }
  }

  async unload(id: string): Promise<void> {
    const loading = this.#loading.get(id);
    if (loading) {
      this.#loadAborts.get(id)?.abort();
      await loading.catch(() => undefined);
    }
    const engine = this.#engines.get(id);
    this.#engines.delete(id);
    await engine?.unload();
    if (this.get(id)) this.#patch(id, { status: this.#restingStatus(id), backend: undefined, progress: undefined, activity: undefined });
  }

  async remove(id: string): Promise<void> {
    const e = this.#require(id);
    await this.unload(id);
    if (e.file) await this.#store.remove(e.file);
    if (e.mlc) {
      // Only this model's own keys: its model library (webllm/wasm) is the parent's and stays.
      await deleteCachedPrefix(caches, modelBaseUrl(e.mlc.model));
    } else if (e.source === 'webllm') {
      const { deleteCachedModel, modelRecordOf, appConfigWith } = await import('./webllm.ts');
      const config = appConfigWith(this.webllmRecords);
      const record = modelRecordOf(e.origin ?? e.name, config);
      // Its model library stays while another kept model runs on it (a model merged from this one).
      const library = (x: ModelEntry) => modelRecordOf(x.origin ?? x.name, config)?.model_lib;
      const shared = record !== undefined && this.#entries.some((x) => x.id !== id && x.source === 'webllm' && library(x) === record.model_lib);
      await deleteCachedModel(e.origin ?? e.name, config, shared);
      if (record) await deleteCachedPrefix(caches, modelBaseUrl(record.model));
    }
    if (e.source === 'built-in') {
      this.#patch(id, { status: 'available', summary: undefined, error: undefined });
    } else {
      const db = await this.#db();
      await db.delete('models', id);
      await db.delete('secrets', id);
      db.close();
      this.#keys.delete(id);
      this.#entries = this.#entries.filter((x) => x.id !== id);
    }
    await this.refreshStorage();
  }

  /** Unloads everything (page teardown, tests). */
  async dispose(): Promise<void> {
    for (const id of [...this.#engines.keys()]) await this.unload(id);
  }

  #crashed(id: string, err: EngineError): void {
    this.#engines.delete(id);
    this.#patch(id, { status: 'error', error: err.message, backend: undefined, activity: undefined });
  }

  /** Where a cancelled load leaves an entry: on this device or not, as its bytes are. */
  async #statusAfterCancel(id: string, before: ModelStatus): Promise<ModelStatus> {
    const e = this.get(id);
    if (e?.source === 'built-in' && e.file) return (await this.#store.has(e.file)) ? 'stored' : 'available';
    if (e?.source === 'webllm') return before === 'available' ? 'available' : 'stored';
    return 'stored';
  }

  #restingStatus(id: string): ModelStatus {
    const e = this.get(id);
    if (!e) return 'stored';
    if (e.source === 'built-in') return e.status === 'available' ? 'available' : 'stored';
    return 'stored';
  }

  async #cacheBuiltin(entry: ModelEntry, opts: ProgressOptions): Promise<void> {
    if (!this.#manifestUrl || !entry.origin || !entry.file) throw new EngineError('bad-request', `${entry.name} has nowhere to be fetched from.`);
    const url = new URL(entry.origin, this.#manifestUrl).href;
    const { body, total } = await openUrl(url, opts.signal);
    let summary: ModelSummary | undefined;
    const file = await this.#store.write(entry.file, body, {
      ...opts,
      total,
      validate: async (tmp) => {
        summary = await this.#summaryOf(tmp, entry.name);
      },
    });
    // Status stays 'loading' (the caller is loading it); size and header are known now.
    this.#patch(entry.id, { size: file.size, summary });
  }

  async #summaryOf(blob: Blob, name?: string): Promise<ModelSummary> {
    const label = name ?? ('name' in blob ? (blob as File).name : 'model.gguf');
    try {
      return summarize(await readGGUF(blobSource(blob, label)));
    } catch (err) {
      throw new EngineError('invalid-model', err instanceof Error ? err.message : String(err));
    }
  }

  async #addRecord(rec: ModelRecord & { summary?: ModelSummary }): Promise<ModelEntry> {
    const db = await this.#db();
    await db.put('models', JSON.parse(JSON.stringify(rec)) as ModelRecord);
    db.close();
    const entry: ModelEntry = {
      id: rec.id,
      name: rec.name,
      source: rec.source,
      size: rec.size,
      status: 'stored',
      ...(rec.summary !== undefined && { summary: rec.summary }),
      ...(rec.origin !== undefined && { origin: rec.origin }),
      ...(rec.provenance !== undefined && { provenance: rec.provenance }),
      ...(rec.file !== undefined && { file: rec.file }),
      ...(rec.mlc !== undefined && { mlc: rec.mlc }),
      ...(rec.sha256 !== undefined && { sha256: rec.sha256 }),
    };
    // Re-importing a file of the same name replaces the entry (and its loaded engine).
    if (this.#engines.has(rec.id)) await this.unload(rec.id);
    this.#entries = [...this.#entries.filter((e) => e.id !== rec.id), entry];
    void this.refreshStorage();
    return entry;
  }

  #require(id: string): ModelEntry {
    const e = this.get(id);
    if (!e) throw new EngineError('bad-request', `no model with id "${id}" is known — import it first.`);
    return e;
  }

  #patch(id: string, patch: Partial<ModelEntry>): void {
    this.#entries = this.#entries.map((e) => {
      if (e.id !== id) return e;
      const next: ModelEntry = { ...e, ...patch };
      for (const k of Object.keys(patch) as (keyof ModelEntry)[]) if (patch[k] === undefined) delete next[k];
      return next;
    });
  }

  #db() {
    return openChorusDb(this.#dbName);
  }

  async #fetchCardSummary(card: string | undefined): Promise<string | undefined> {
    if (!this.#manifestUrl || !card) return undefined;
    try {
      const res = await fetch(new URL(card, this.#manifestUrl));
      return res.ok ? cardSummary(await res.text()) : undefined;
    } catch {
      return undefined;
    }
  }

  async #fetchManifest(): Promise<BuiltinManifest> {
    if (!this.#manifestUrl) return { models: [] };
    const read = async (url: string): Promise<Partial<BuiltinManifest> | null> => {
      try {
        const res = await fetch(url);
        return res.ok ? ((await res.json()) as Partial<BuiltinManifest>) : null;
      } catch {
        // No manifest (or offline without it cached): the app simply has no built-in models from it.
        return null;
      }
    };
    const valid = (json: Partial<BuiltinManifest> | null) =>
      json && Array.isArray(json.models) ? json.models.filter((m) => m && typeof m.id === 'string' && typeof m.file === 'string') : [];
    const main = await read(this.#manifestUrl);
    const models = valid(main);
    // Further pools (`pools`: manifests relative to this one, e.g. the second pool's): their files and cards
    // are made absolute so they resolve against their own manifest; an id already listed is skipped.
    const pools = Array.isArray(main?.pools) ? main.pools.filter((u): u is string => typeof u === 'string') : [];
    for (const rel of pools) {
      const url = new URL(rel, this.#manifestUrl).href;
      for (const m of valid(await read(url))) {
        if (models.some((x) => x.id === m.id)) continue;
        models.push({ ...m, file: new URL(m.file, url).href, ...(m.card !== undefined && { card: new URL(m.card, url).href }), onnx: m.onnx === true });
      }
    }
    return { models };
  }
}

let shared: ModelRegistry | null = null;

/** The page's registry (created on first use). */
export function getRegistry(): ModelRegistry {
  shared ??= new ModelRegistry();
  return shared;
}

function defaultManifestUrl(): string | null {
  if (typeof document === 'undefined') return null;
  return new URL('models/index.json', document.baseURI).href;
}

function builtinFileName(file: string): string {
  return `builtin-${safeFileName(file.split('/').pop() ?? file)}`;
}

/** A stored file name from a user-visible one: no path separators, no leading dots. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[^\w.+-]+/g, '_').replace(/^\.+/, '');
  if (!clean) throw new EngineError('bad-request', `"${name}" is not a usable file name; rename the file.`);
  return clean.slice(0, 200);
}

function parseUrl(url: string): URL {
  try {
    return new URL(url, typeof document === 'undefined' ? undefined : document.baseURI);
  } catch {
    throw new EngineError('bad-request', `"${url}" is not a valid URL; give a full address like https://host/path/model.gguf.`);
  }
}
