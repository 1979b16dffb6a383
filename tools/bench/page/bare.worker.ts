/**
 * "Bare wllama in a worker": the least code that runs wllama off the page — load, one greedy
 * completion, post each token's text. No Chorus layer (no engine class, protocol, queue or
 * channel). The bench compares Chorus's engine worker with this to isolate Chorus's overhead
 * from the benefit of leaving the page's main thread.
 */
import { Wllama } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';

let w: Wllama | null = null;
self.onmessage = async (e: MessageEvent<{ type: 'load'; blob: Blob; nThreads: number } | { type: 'run'; prompt: string; maxTokens: number }>) => {
  const m = e.data;
  if (m.type === 'load') {
    w = new Wllama({ default: wasmUrl }, { suppressNativeLog: true });
    await w.loadModel([m.blob], { n_ctx: 2048, n_threads: m.nThreads, n_gpu_layers: 0, n_parallel: 1 });
    self.postMessage({ type: 'loaded' });
    return;
  }
  const stream = await w!.createCompletion({ prompt: m.prompt, max_tokens: m.maxTokens, temperature: 0, stream: true });
  for await (const c of stream) {
    const t = c.choices[0]?.text ?? '';
    if (t) self.postMessage({ type: 'token', text: t });
  }
  self.postMessage({ type: 'end' });
};
