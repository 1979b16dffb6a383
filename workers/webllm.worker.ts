/**
 * web-llm's own worker: hosts one MLC model through web-llm's WebWorkerMLCEngineHandler
 * (its protocol, its progress reports). The page side is web-llm's WebWorkerMLCEngine, wrapped
 * as a Chorus Engine by src/lib/engines/webllm.ts (spawned in src/app/engines.ts).
 */
import { WebWorkerMLCEngineHandler } from '@mlc-ai/web-llm';

const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (msg: MessageEvent) => {
  handler.onmessage(msg);
};
