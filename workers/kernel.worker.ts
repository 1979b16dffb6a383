/**
 * A kernel thread of the merge (src/lib/merge/wasm/thread.ts): runs the SIMD kernels on the merge
 * worker's shared WebAssembly memory, on the ranges it is sent. Started by workers/merge.worker.ts,
 * one per spare core.
 */
import { kernelThreadMain } from '../src/lib/merge/wasm/thread.ts';

kernelThreadMain({
  post: (m) => self.postMessage(m),
  onMessage: (h) => self.addEventListener('message', (e: MessageEvent) => h(e.data)),
});
