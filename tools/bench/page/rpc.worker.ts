/**
 * The token path alone, for the engine bench: sends `n` ChatChunks to the page the two ways
 * src/lib/rpc.ts offers — on a transferred MessagePort (`StreamSink`, what the engine worker
 * uses) and through a comlink-proxied callback (`CallbackSink`, what progress uses) — with no
 * model in the way, so the per-chunk cost of each is measured on its own.
 */
import type { ChatChunk } from '../../../src/lib/engines/engine.ts';
import { CallbackSink, StreamSink, exposeApi, type ProxyMarked } from '../../../src/lib/rpc.ts';

export interface TokenPathApi {
  viaPort(n: number, port: MessagePort): Promise<void>;
  viaCallback(n: number, onChunk: ((c: ChatChunk) => void) & ProxyMarked): Promise<void>;
}

const chunk = (i: number): ChatChunk => ({ type: 'delta', text: ` tok${i}` });

const api: TokenPathApi = {
  async viaPort(n, port) {
    const sink = new StreamSink<ChatChunk>(port);
    for (let i = 0; i < n; i++) sink.send(chunk(i));
    sink.end();
  },
  async viaCallback(n, onChunk) {
    const sink = new CallbackSink(onChunk);
    for (let i = 0; i < n; i++) sink.send(chunk(i));
    await sink.end();
  },
};

exposeApi(api);
