/**
 * A kernel thread of the merge (src/lib/merge/wasm/thread.ts): runs the SIMD kernels on the merge
 * worker's shared WebAssembly memory, on the ranges it is sent. Started by the page
 * (src/app/merge.svelte.ts), one per core, and connected to the merge worker by a MessagePort,
 * the first and only message the page sends it; everything after goes over that port.
 */
import { kernelThreadMain } from '../src/lib/merge/wasm/thread.ts';

self.onmessage = (first: MessageEvent) => {
  self.onmessage = null;
  const port = first.data as MessagePort;
  kernelThreadMain({
    post: (m) => port.postMessage(m),
    onMessage: (h) => {
      port.onmessage = (e: MessageEvent) => h(e.data);
    },
  });
};
