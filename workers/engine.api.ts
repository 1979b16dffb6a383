/**
 * The engine worker's API, declared once for both sides: workers/engine.worker.ts serves it
 * (`exposeApi`), src/app/engines.ts calls it (`Connection<EngineWorkerApi>`, src/lib/rpc.ts).
 * One worker hosts one loaded model.
 *
 * `load` and `generate` take a page-chosen `id` that `cancel(id)` names: a cancelled load rejects
 * with EngineError('aborted'), a cancelled generate ends its stream with finish reason 'abort'.
 * Byte progress comes back through a callback the page passes with comlink's `proxy()`; the token
 * stream through a MessagePort the page transfers with `generate` (src/lib/rpc.ts `openStream`):
 * one message per chunk and no reply, which a proxied callback (a request and a reply per token)
 * cannot match — see README, Benchmarks. Failures cross as EngineError (code and message kept, src/lib/rpc.ts), whose message
 * says what to do.
 */
import type { Ahead } from '../src/lib/engines/lookahead.ts';
import type { ChatRequest, CompletionRequest, EngineInfo } from '../src/lib/engines/engine.ts';
import type { NextToken, VocabularyInfo } from '../src/lib/engines/stepper.ts';
import type { GpuPreference } from '../src/lib/engines/wllama.ts';
import type { ProxyMarked } from '../src/lib/rpc.ts';

export type ModelSource =
  /** A File or Blob (file picker, drag and drop); structured-cloned, not copied. */
  | { kind: 'blob'; blob: Blob; name: string }
  /** Fetched by the worker with byte progress; cancel with `cancel(id)` of the load's id. */
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

export type Generation = { mode: 'chat'; request: ChatRequest } | { mode: 'complete'; request: CompletionRequest };

/** Page callbacks, passed through comlink's `proxy()`. */
export type ProgressCallback = ((loaded: number, total: number) => void) & ProxyMarked;
/**
 * Where a load is: 'starting' just before llama.cpp's own worker is started, 'started' when that
 * worker has sent its first message (workers/engine.worker.ts; the page restarts a load stuck between the two).
 */
export type LoadStage = 'starting' | 'started';
export type StageCallback = ((stage: LoadStage) => void) & ProxyMarked;

export interface EngineWorkerApi {
  /** Opens the source and loads the model (once per worker); resolves with what was loaded. */
  load(id: number, source: ModelSource, params: LoadParams, onProgress: ProgressCallback | null, onStage?: StageCallback | null): Promise<EngineInfo>;
  /** Posts one generation's ChatChunks (deltas, then exactly one `done`) on `chunks`, then ends it. */
  generate(id: number, generation: Generation, chunks: MessagePort): Promise<void>;
  /** Cancels the load or generate `id` if it is running; otherwise nothing. */
  cancel(id: number): void;
  /** Opens the model's stepper (src/lib/engines/wllama-stepper.ts); resolves with its vocabulary. */
  stepperOpen(): Promise<VocabularyInfo>;
  /** One step: the distribution of the token after `prefix` (token IDs). */
  step(prefix: number[], topK: number): Promise<NextToken>;
  /** Up to `count` positions of the greedy continuation of `prefix` in one call (src/lib/engines/lookahead.ts). */
  stepAhead(prefix: number[], topK: number, count: number): Promise<Ahead>;
  tokenize(text: string, addBos: boolean): Promise<number[]>;
  detokenize(ids: number[]): Promise<string>;
  /** Stops every running call and frees the model. */
  unload(): Promise<void>;
}
