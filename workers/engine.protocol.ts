/**
 * The engine worker's protocol, shared by both sides (workers/engine.worker.ts and
 * src/app/engines.ts). One worker hosts one loaded model.
 *
 * Requests carry an `id`; every reply names the request it answers:
 * - `result`   the request finished (load → EngineInfo, unload → null, generate → null after its
 *              last chunk);
 * - `error`    it failed; the error crosses as data {code, message} and the page rebuilds an
 *              EngineError whose message says what to do;
 * - `progress` bytes loaded so far while a model is fetched/read;
 * - `chunk`    one streamed ChatChunk of a generate request (deltas, then exactly one `done`).
 *
 * Plain postMessage rather than comlink for the token stream: one message per token, no proxy
 * round trips, which is what keeps the worker's throughput at bare wllama's (see the bench).
 */
import type { ChatChunk, ChatRequest, CompletionRequest, EngineErrorCode, EngineInfo } from '../src/lib/engines/engine.ts';
import type { GpuPreference } from '../src/lib/engines/wllama.ts';

export type ModelSource =
  /** A File or Blob (file picker, drag and drop); structured-cloned, not copied. */
  | { kind: 'blob'; blob: Blob; name: string }
  /** Fetched by the worker with byte progress; cancel with a `cancel` request of the load's id. */
  | { kind: 'url'; url: string; name: string }
  /** A file in the origin-private file system, path relative to its root, e.g. "models/x.gguf". */
  | { kind: 'opfs'; path: string; name: string };

export interface LoadParams {
  nThreads: number;
  gpu: GpuPreference;
  nCtx?: number;
  nParallel?: number;
  expectedVocab?: number;
  contextLength?: number;
}

export type EngineRequest =
  | { type: 'load'; id: number; source: ModelSource; params: LoadParams }
  | { type: 'generate'; id: number; mode: 'chat'; request: ChatRequest }
  | { type: 'generate'; id: number; mode: 'complete'; request: CompletionRequest }
  /** Cancels the load or generate request `target` (a generate then ends with finish 'abort'). */
  | { type: 'cancel'; id: number; target: number }
  | { type: 'unload'; id: number };

export type EngineReply =
  | { type: 'result'; id: number; value: EngineInfo | null }
  | { type: 'error'; id: number; code: EngineErrorCode; message: string }
  | { type: 'progress'; id: number; loaded: number; total: number }
  | { type: 'chunk'; id: number; chunk: ChatChunk };
