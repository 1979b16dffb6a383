/**
 * The ONNX engine on the harness page, as `window.chorusOnnx` (tests/e2e/onnx-engine.spec.ts and
 * the bench): spawn a pool model on a chosen onnxruntime-web provider, generate, step, and read the
 * engine's record of forward passes and of WebGPU dispatches per pass.
 */
import { collect, type CompletionRequest, type ChatRequest } from '../../../src/lib/engines/engine.ts';
import type { Stepper } from '../../../src/lib/engines/stepper.ts';
import { spawnOnnxWorker, type OnnxWorkerEngine } from '../../../src/app/onnx-engine.ts';
import type { OnnxProviderChoice } from '../../../workers/onnx.api.ts';

const engines = new Map<number, OnnxWorkerEngine>();
const steppers = new Map<number, Stepper>();
let next = 1;

function get(handle: number): OnnxWorkerEngine {
  const e = engines.get(handle);
  if (!e) throw new Error(`harness: no ONNX engine ${handle}`);
  return e;
}

export const chorusOnnx = {
  /** Loads `<base>.gguf` (header) and `<base>.onnx` from the page's origin on `provider`. */
  async spawn(base: string, provider: OnnxProviderChoice) {
    const name = base.split('/').pop()!;
    const engine = await spawnOnnxWorker({ kind: 'url', url: `${base}.gguf`, name: `${name}.gguf` }, { provider, onnxUrl: `${base}.onnx` });
    const handle = next++;
    engines.set(handle, engine);
    return { handle, info: engine.info };
  },
  async run(handle: number, mode: 'chat' | 'complete', request: ChatRequest | CompletionRequest) {
    const e = get(handle);
    const t0 = performance.now();
    const out = await collect(mode === 'chat' ? e.chat(request as ChatRequest) : e.complete(request as CompletionRequest));
    return { ...out, wallMs: performance.now() - t0 };
  },
  /** Opens a stepper; returns its vocabulary. */
  async stepper(handle: number) {
    const s = await get(handle).stepper();
    steppers.set(handle, s);
    return s.vocabulary;
  },
  tokenize(handle: number, text: string) {
    return steppers.get(handle)!.tokenize(text, { addBos: true });
  },
  /** One step; the full log-probabilities come back as a plain array. */
  async next(handle: number, prefix: number[]) {
    const r = await steppers.get(handle)!.next(prefix, { topK: 5 });
    return { top: r.top, exactness: r.exactness, full: Array.from(r.full ?? []) };
  },
  forwards(handle: number) {
    return get(handle).forwards();
  },
  dispatches(handle: number) {
    return get(handle).dispatches();
  },
  async unload(handle: number) {
    await engines.get(handle)?.unload();
    engines.delete(handle);
  },
};

(window as unknown as { chorusOnnx: typeof chorusOnnx }).chorusOnnx = chorusOnnx;
