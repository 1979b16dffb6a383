/**
 * Page side of web-llm: starts web-llm's own worker (workers/webllm.worker.ts) for one MLC model
 * and wraps web-llm's WebWorkerMLCEngine as a Chorus Engine. Imported dynamically by the registry,
 * so web-llm's code is only fetched when someone uses an MLC model.
 *
 * The engine is created with an AppConfig (prebuilt list + the registry's own records, e.g. merged
 * models that reuse a parent's model_lib), so web-llm finds a merged model's record, and its files
 * in its cache under the record's URL.
 */
import { CreateWebWorkerMLCEngine, hasModelInCache, type AppConfig, type MLCEngineInterface, type MLCEngineConfig } from '@mlc-ai/web-llm';
import { EngineError } from '../lib/engines/engine.ts';
import { appConfigWith, checkCompatible, describeModels, detectWebGpuSupport, webllmError, WebLLMEngine } from '../lib/engines/webllm.ts';

export { listPrebuiltModels, listCachedModels, deleteCachedModel, modelRecordOf, detectWebGpuSupport, checkCompatible, appConfigWith, describeModels } from '../lib/engines/webllm.ts';

export interface WebLLMSpawnOptions {
  signal?: AbortSignal;
  /** Download/compile progress; bytes estimated from the model id (web-llm reports a fraction). */
  onProgress?: (loaded: number, total: number) => void;
  /** The GPU device was lost while generating: the model is gone, offer a reload. */
  onDeviceLost?: (err: EngineError) => void;
  /** web-llm's AppConfig; default: its prebuilt list. */
  appConfig?: AppConfig;
  /** Models that must already be in web-llm's cache (merged here: there is nowhere to download them from). */
  cacheOnly?: boolean;
}

/** What spawnWebLLM needs from the outside world; tests replace it (no weights, no GPU here). */
export interface WebLLMDeps {
  detect: typeof detectWebGpuSupport;
  inCache: (modelId: string, appConfig: AppConfig) => Promise<boolean>;
  startWorker: () => Worker;
  create: (worker: Worker, modelId: string, config: MLCEngineConfig) => Promise<MLCEngineInterface>;
}

const realDeps: WebLLMDeps = {
  detect: detectWebGpuSupport,
  inCache: hasModelInCache,
  startWorker: () => new Worker(new URL('../../workers/webllm.worker.ts', import.meta.url), { type: 'module', name: 'chorus-webllm' }),
  create: (worker, modelId, config) => CreateWebWorkerMLCEngine(worker, modelId, config),
};

export async function spawnWebLLM(modelId: string, opts: WebLLMSpawnOptions = {}, deps: WebLLMDeps = realDeps): Promise<WebLLMEngine> {
  const appConfig = opts.appConfig ?? appConfigWith();
  const bad = checkCompatible(modelId, await deps.detect(), appConfig);
  if (bad) throw bad;
  if (opts.cacheOnly && !(await deps.inCache(modelId, appConfig).catch(() => false))) {
    throw new EngineError('load-failed', `${modelId}: its weights are no longer in web-llm's cache (site data cleared?) and there is nowhere to download them from — merge it again, or remove it.`);
  }
  const total = describeModels(appConfig.model_list).find((m) => m.id === modelId)?.approxBytes ?? 1;
  const worker = deps.startWorker();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new EngineError('aborted', `download of ${modelId} was cancelled; what was already fetched stays in web-llm's cache.`));
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const mlc = await Promise.race([
      deps.create(worker, modelId, { appConfig, initProgressCallback: (r) => opts.onProgress?.(Math.round(r.progress * total), total) }),
      aborted,
    ]);
    const engine = new WebLLMEngine(mlc, modelId, { ...(opts.onDeviceLost && { onDeviceLost: opts.onDeviceLost }) });
    const unload = engine.unload.bind(engine);
    // Unloading also ends web-llm's worker (and frees its GPU device).
    engine.unload = async () => {
      await unload().catch(() => undefined);
      worker.terminate();
    };
    return engine;
  } catch (err) {
    worker.terminate();
    const e = webllmError(modelId, err);
    if (opts.cacheOnly && e.code === 'network') {
      // Its weights are cached (checked above); what web-llm fetched is the parent's model library.
      const lib = appConfig.model_list.find((r) => r.model_id === modelId)?.model_lib ?? 'its model library';
      throw new EngineError('network', `${modelId}: web-llm could not download the model library it shares with its parent (${lib}): ${err instanceof Error ? err.message : String(err)}. The merged weights are in this browser; the library is fetched once — check your connection and load it again.`);
    }
    throw e;
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
  }
}
