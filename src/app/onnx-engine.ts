/**
 * Page side of the ONNX engine (src/lib/engines/onnx.ts in workers/onnx.worker.ts): one worker per
 * loaded model, behind the Engine interface with a stepper. Generation goes through WorkerEngine
 * (engines.ts: fair queue, streaming on a MessagePort, crash handling), exactly as for wllama;
 * steps go straight to the worker (each is one short call, and the worker runs forward passes one
 * at a time).
 *
 *   const engine = await spawnOnnxWorker({ kind: 'url', url: 'models/generalist.gguf', name: 'generalist.gguf' },
 *     { provider: 'webgpu', onnxUrl: 'models/generalist.onnx' });
 *   const stepper = await engine.stepper();  // exact full log-probabilities per step
 */
import { EngineError, type EngineInfo } from '../lib/engines/engine.ts';
import type { NextToken, StepOptions, Stepper } from '../lib/engines/stepper.ts';
import { proxy } from '../lib/rpc.ts';
import type { ModelSource } from '../../workers/engine.api.ts';
import type { OnnxLoadParams, OnnxWorkerApi } from '../../workers/onnx.api.ts';
import { WorkerEngine, WorkerLink, type SpawnOptions } from './engines.ts';

export class OnnxWorkerEngine extends WorkerEngine {
  readonly #link: WorkerLink<OnnxWorkerApi>;

  constructor(link: WorkerLink<OnnxWorkerApi>, info: EngineInfo) {
    super(link, info, 1);
    this.#link = link;
  }

  /** The worker's stepper: a fresh sequence whose KV cache is kept between steps (closing it frees the sequence). */
  override async stepper(): Promise<Stepper> {
    const link = this.#link;
    const vocabulary = await link.call((api) => api.stepperOpen());
    return {
      vocabulary,
      tokenize: (text, options = {}) => link.call((api) => api.tokenize(text, options.addBos ?? false)),
      detokenize: (ids) => link.call((api) => api.detokenize([...ids])),
      next: (prefix: readonly number[], options: StepOptions = {}): Promise<NextToken> => {
        if (options.signal?.aborted) return Promise.reject(new EngineError('aborted', 'the step was cancelled.'));
        return link.call((api) => api.step([...prefix], options.topK ?? 10));
      },
      close: () => link.call((api) => api.stepperClose()),
    };
  }

  /** Every forward pass's number of new tokens since load (tests and the bench). */
  forwards(): Promise<number[]> {
    return this.#link.call((api) => api.forwards());
  }

  /** Every forward pass's WebGPU compute dispatches since load (0 per pass on wasm). */
  dispatches(): Promise<number[]> {
    return this.#link.call((api) => api.dispatches());
  }
}

/** Starts an ONNX worker and loads a model in it. Rejects (and ends the worker) if loading fails. */
export async function spawnOnnxWorker(source: ModelSource, params: OnnxLoadParams, opts: SpawnOptions = {}): Promise<OnnxWorkerEngine> {
  const link = new WorkerLink<OnnxWorkerApi>(opts.onCrash, () => new Worker(new URL('../../workers/onnx.worker.ts', import.meta.url), { type: 'module', name: 'chorus-onnx' }));
  const id = link.nextId();
  const onProgress = opts.onProgress;
  const onAbort = (): void => link.cancel(id);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await link.call((api) => api.load(id, source, params, onProgress ? proxy((loaded: number, total: number) => onProgress(loaded, total)) : null));
    return new OnnxWorkerEngine(link, info);
  } catch (err) {
    link.terminate();
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
