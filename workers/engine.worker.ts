/**
 * Engine worker: hosts ONE loaded wllama model (one worker per loaded model). Thin: it serves
 * EngineWorkerApi (./engine.api.ts) over comlink by calling WllamaEngine
 * (src/lib/engines/wllama.ts). Errors that are not EngineErrors already become
 * EngineError('internal'), so the page always gets a code and a message that says what to do.
 */
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { EngineError, type ChatChunk } from '../src/lib/engines/engine.ts';
import { WllamaEngine, errorText } from '../src/lib/engines/wllama.ts';
import { CallbackSink, StreamSink, exposeApi } from '../src/lib/rpc.ts';
import { openSource } from './model-source.ts';
import type { EngineWorkerApi } from './engine.api.ts';
import type { WllamaStepper } from '../src/lib/engines/wllama-stepper.ts';

let engine: WllamaEngine | null = null;

/**
 * The start of llama.cpp's own worker, watched. wllama runs llama.cpp in a worker it creates inside
 * this one. In Firefox under load that start has hung now and then (about one load in ten at a load
 * average of 10 on two cores): the load stopped inside wllama's `new Worker(…)` and never went on
 * or failed (tests/firefox/run.ts's scenarios timed out in "loading"). So the load tells the page 'starting' before wllama starts it and 'started' when
 * the first worker created here sends its first message (wllama's worker does as soon as it runs),
 * and the page restarts a load that does not get there in time (src/app/engines.ts,
 * ENGINE_START_TIMEOUT_MS). Worker is wrapped for that first message only; nothing else changes.
 */
let onNestedStart: (() => void) | null = null;
{
  const NativeWorker = globalThis.Worker;
  globalThis.Worker = class extends NativeWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      this.addEventListener('message', () => {
        const started = onNestedStart;
        onNestedStart = null;
        started?.();
      }, { once: true });
    }
  };
}
const running = new Map<number, AbortController>();

function engineError(err: unknown): EngineError {
  return err instanceof EngineError ? err : new EngineError('internal', `engine worker: ${errorText(err)}`);
}

async function stepper(): Promise<WllamaStepper> {
  if (!engine) throw new EngineError('unloaded', 'no model is loaded in this worker — load it again.');
  try {
    return await engine.stepper();
  } catch (err) {
    throw engineError(err);
  }
}

const api: EngineWorkerApi = {
  async load(id, source, params, onProgress, onStage) {
    const ac = new AbortController();
    running.set(id, ac);
    const progress = onProgress ? new CallbackSink(onProgress) : null;
    const stage = onStage ? new CallbackSink(onStage) : null;
    try {
      if (engine) throw new EngineError('bad-request', 'this engine worker already hosts a model; start one worker per model.');
      const blob = await openSource(source, ac.signal, progress);
      if (ac.signal.aborted) throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
      stage?.send('starting');
      onNestedStart = () => stage?.send('started');
      engine = await WllamaEngine.load(blob, { wasmUrl, modelName: source.name, ...params });
      if (ac.signal.aborted) {
        await engine.unload();
        engine = null;
        throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
      }
      return engine.info;
    } catch (err) {
      throw engineError(err);
    } finally {
      running.delete(id);
      onNestedStart = null;
      await progress?.end();
      await stage?.end();
    }
  },

  async generate(id, generation, port) {
    const ac = new AbortController();
    running.set(id, ac);
    const chunks = new StreamSink<ChatChunk>(port);
    try {
      if (!engine) throw new EngineError('unloaded', 'no model is loaded in this worker — load it again.');
      const stream = generation.mode === 'chat' ? engine.chat(generation.request, { signal: ac.signal }) : engine.complete(generation.request, { signal: ac.signal });
      for await (const chunk of stream) chunks.send(chunk);
    } catch (err) {
      throw engineError(err);
    } finally {
      running.delete(id);
      chunks.end();
    }
  },

  async stepperOpen() {
    return (await stepper()).vocabulary;
  },

  async step(prefix, topK) {
    const s = await stepper();
    return s.next(prefix, { topK }).catch((err: unknown) => Promise.reject(engineError(err)));
  },

  async stepAhead(prefix, topK, count) {
    const s = await stepper();
    return s.ahead(prefix, topK, count).catch((err: unknown) => Promise.reject(engineError(err)));
  },

  async tokenize(text, addBos) {
    return (await stepper()).tokenize(text, { addBos });
  },

  async detokenize(ids) {
    return (await stepper()).detokenize(ids);
  },

  cancel(id) {
    running.get(id)?.abort();
  },

  async unload() {
    for (const ac of running.values()) ac.abort();
    try {
      await engine?.unload();
    } finally {
      engine = null;
    }
  },
};

exposeApi(api);
