/**
 * ONNX engine worker: hosts ONE model on onnxruntime-web (src/lib/engines/onnx.ts), one worker per
 * loaded model, serving OnnxWorkerApi (./onnx.api.ts) over comlink. Separate from the wllama
 * worker so neither bundle carries the other's runtime.
 *
 * onnxruntime-web's wasm (the JSEP build: WebGPU and CPU kernels in one file, 29 MB) is served from
 * our origin (`?url`: Vite copies it into the build); nothing comes from a CDN, and the app's CSP
 * already allows WebAssembly compilation ('wasm-unsafe-eval'). One wasm thread: the models are tiny,
 * and ORT would otherwise start a pthread pool per worker.
 */
import * as ort from 'onnxruntime-web';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import { EngineError, type ChatChunk } from '../src/lib/engines/engine.ts';
import { softwareAdapterName } from '../src/lib/engines/adapter.ts';
import { OnnxEngine, type OnnxProvider } from '../src/lib/engines/onnx.ts';
import type { Stepper } from '../src/lib/engines/stepper.ts';
import { blobSource, readGGUF } from '../src/lib/merge/gguf/index.ts';
import { fetchWithProgress } from '../src/lib/store/download.ts';
import { CallbackSink, StreamSink, exposeApi } from '../src/lib/rpc.ts';
import { openSource } from './model-source.ts';
import type { OnnxProviderChoice, OnnxWorkerApi } from './onnx.api.ts';

ort.env.wasm.wasmPaths = { wasm: ortWasmUrl };
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

let engine: OnnxEngine | null = null;
let stepper: Stepper | null = null;
const running = new Map<number, AbortController>();

function engineError(err: unknown): EngineError {
  return err instanceof EngineError ? err : new EngineError('internal', `ONNX engine worker: ${err instanceof Error ? err.message : String(err)}`);
}

function loaded(): OnnxEngine {
  if (!engine) throw new EngineError('unloaded', 'no model is loaded in this worker — load it again.');
  return engine;
}

async function openStepper(): Promise<Stepper> {
  stepper ??= await loaded().stepper();
  return stepper;
}

/** The provider for a choice, and why (the card shows it). */
async function chooseProvider(choice: OnnxProviderChoice): Promise<{ provider: OnnxProvider; note: string }> {
  if (choice === 'wasm') return { provider: 'wasm', note: 'CPU chosen' };
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info: { vendor: string; architecture: string; description: string } } | null> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (!adapter) {
    if (choice === 'webgpu') throw new EngineError('no-webgpu', 'this browser offers no WebGPU adapter — load the model on the CPU (wasm) instead.');
    return { provider: 'wasm', note: gpu ? 'no WebGPU adapter' : 'no WebGPU in this browser' };
  }
  // A software adapter (SwiftShader) still runs the model on WebGPU when asked: the card says so.
  const soft = softwareAdapterName(adapter.info);
  return { provider: 'webgpu', note: soft ?? (`${adapter.info.vendor} ${adapter.info.architecture}`.trim() || 'GPU') };
}

const api: OnnxWorkerApi = {
  async load(id, source, params, onProgress) {
    const ac = new AbortController();
    running.set(id, ac);
    const progress = onProgress ? new CallbackSink(onProgress) : null;
    try {
      if (engine) throw new EngineError('bad-request', 'this engine worker already hosts a model; start one worker per model.');
      const blob = await openSource(source, ac.signal, null);
      const header = await readGGUF(blobSource(blob, source.name));
      const onnx = await fetchWithProgress(params.onnxUrl, { signal: ac.signal, onProgress: (l, t) => progress?.send(l, t) }).catch((err: unknown) => {
        if (ac.signal.aborted) throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
        throw new EngineError('load-failed', `${source.name}: its ONNX file ${params.onnxUrl} could not be fetched (${err instanceof Error ? err.message : String(err)}) — check the connection, or load the model on the wllama engine.`);
      });
      if (ac.signal.aborted) throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
      const { provider, note } = await chooseProvider(params.provider);
      const loadedEngine = await OnnxEngine.load(ort, header, new Uint8Array(await onnx.arrayBuffer()), { modelName: source.name, provider, providerNote: note });
      if (ac.signal.aborted) {
        await loadedEngine.unload();
        throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
      }
      engine = loadedEngine;
      return engine.info;
    } catch (err) {
      throw engineError(err);
    } finally {
      running.delete(id);
      await progress?.end();
    }
  },

  async generate(id, generation, port) {
    const ac = new AbortController();
    running.set(id, ac);
    const chunks = new StreamSink<ChatChunk>(port);
    try {
      const e = loaded();
      const stream = generation.mode === 'chat' ? e.chat(generation.request, { signal: ac.signal }) : e.complete(generation.request, { signal: ac.signal });
      for await (const chunk of stream) chunks.send(chunk);
    } catch (err) {
      throw engineError(err);
    } finally {
      running.delete(id);
      chunks.end();
    }
  },

  cancel(id) {
    running.get(id)?.abort();
  },

  async stepperOpen() {
    await stepper?.close();
    stepper = null;
    return (await openStepper()).vocabulary;
  },

  async step(prefix, topK) {
    try {
      return await (await openStepper()).next(prefix, { topK });
    } catch (err) {
      throw engineError(err);
    }
  },

  async tokenize(text, addBos) {
    return (await openStepper()).tokenize(text, { addBos });
  },

  async detokenize(ids) {
    return (await openStepper()).detokenize(ids);
  },

  async stepperClose() {
    await stepper?.close();
    stepper = null;
  },

  async forwards() {
    return [...loaded().forwards];
  },

  async dispatches() {
    return [...loaded().dispatches];
  },

  async unload() {
    for (const ac of running.values()) ac.abort();
    stepper = null;
    try {
      await engine?.unload();
    } finally {
      engine = null;
    }
  },
};

exposeApi(api);
