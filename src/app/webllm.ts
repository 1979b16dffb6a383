/**
 * Page side of web-llm: starts web-llm's own worker (workers/webllm.worker.ts) for one MLC model
 * and wraps web-llm's WebWorkerMLCEngine as a Chorus Engine. Imported dynamically by the registry,
 * so web-llm's code is only fetched when someone uses an MLC model.
 */
import { CreateWebWorkerMLCEngine } from '@mlc-ai/web-llm';
import { EngineError } from '../lib/engines/engine.ts';
import { checkCompatible, detectWebGpuSupport, listPrebuiltModels, webllmError, WebLLMEngine } from '../lib/engines/webllm.ts';

export { listPrebuiltModels, listCachedModels, deleteCachedModel, detectWebGpuSupport, checkCompatible } from '../lib/engines/webllm.ts';

export interface WebLLMSpawnOptions {
  signal?: AbortSignal;
  /** Download/compile progress; bytes estimated from the model id (web-llm reports a fraction). */
  onProgress?: (loaded: number, total: number) => void;
  /** The GPU device was lost while generating: the model is gone, offer a reload. */
  onDeviceLost?: (err: EngineError) => void;
}

export async function spawnWebLLM(modelId: string, opts: WebLLMSpawnOptions = {}): Promise<WebLLMEngine> {
  const bad = checkCompatible(modelId, await detectWebGpuSupport());
  if (bad) throw bad;
  const total = listPrebuiltModels().find((m) => m.id === modelId)?.approxBytes ?? 1;
  const worker = new Worker(new URL('../../workers/webllm.worker.ts', import.meta.url), { type: 'module', name: 'chorus-webllm' });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new EngineError('aborted', `download of ${modelId} was cancelled; what was already fetched stays in web-llm's cache.`));
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const mlc = await Promise.race([
      CreateWebWorkerMLCEngine(worker, modelId, { initProgressCallback: (r) => opts.onProgress?.(Math.round(r.progress * total), total) }),
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
    throw webllmError(modelId, err);
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
  }
}
