/**
 * The merge worker's API, declared once for both sides: workers/merge.worker.ts serves it
 * (`exposeApi`), src/app/merge.svelte.ts calls it (`Connection<MergeWorkerApi>`, src/lib/rpc.ts).
 * - `plan` → PlanSummary, `run` → RunResult (GGUF into OPFS), `runMlc` → MlcRunResult (into
 *   web-llm's caches);
 * - progress (tensors/bytes done, rate, ETA) and per-tensor statistics come back through two
 *   callbacks the page passes with comlink's `proxy()` (top-level arguments: comlink proxies
 *   only those);
 * - `cancel(id)` stops the run started with that page-chosen id (it rejects with code 'cancelled');
 * - every failure crosses as a MergeError (code and message kept, src/lib/rpc.ts) whose message
 *   says what was wrong and what to do.
 */
import type { MergeConfig } from '../src/lib/merge/config.ts';
import type { TensorStats } from '../src/lib/merge/methods/index.ts';
import type { MergeProgress } from '../src/lib/merge/stream.ts';
import type { WebLLMModelRecordLike } from '../src/lib/merge/mlc/merge.ts';
import type { ProxyMarked } from '../src/lib/rpc.ts';

/**
 * An input under its config ref: a GGUF File/Blob (file picker, or a registry model's OPFS file),
 * or an MLC (web-llm) model, read by the worker from web-llm's Cache Storage through its record.
 */
export type MergeInputRef =
  | { format: 'gguf'; ref: string; name: string; blob: Blob }
  | { format: 'mlc'; ref: string; name: string; record: WebLLMModelRecordLike };

export interface PlanSummary {
  format: 'gguf' | 'mlc';
  method: string;
  inputs: { ref: string; name: string; size: number }[];
  baseIndex: number | null;
  tensors: { name: string; shape: number[]; inTypes: string[]; outType: string; inBytes: number; outBytes: number }[];
  inputBytes: number;
  outputSize: number;
  estimatedSeconds: number;
  notes: string[];
}

export interface RunResult {
  /** Final OPFS file name inside `dir`. */
  fileName: string;
  dir: string;
  size: number;
  seconds: number;
  rateMBps: number;
  /**
   * Tensors computed by the SIMD kernels, quantised tensors coded by the SIMD codecs, and the threads
   * they ran on (stream.ts MergeResult).
   */
  kernels: { simdTensors: number; quantTensors: number; threads: number };
  /** `chatTemplateFrom`: the input whose chat template the output carries (null: none had one). */
  provenance: { method: string; inputs: string[]; config: MergeConfig; chatTemplateFrom: string | null };
}

/** A merged MLC model, written into web-llm's caches under `baseUrl` (nothing registered yet). */
export interface MlcRunResult {
  modelId: string;
  baseUrl: string;
  /** The web-llm ModelRecord for it: the base parent's, with our URL and id (same model_lib). */
  record: WebLLMModelRecordLike;
  /** Bytes of the merged weight shards. */
  size: number;
  seconds: number;
  rateMBps: number;
  provenance: { method: string; inputs: string[]; config: MergeConfig };
}

export type MergeErrorCode = 'config' | 'file' | 'incompatible' | 'cancelled' | 'storage' | 'internal';

/** Where a run reports as it goes (page callbacks, each passed through comlink's `proxy()`). */
export type ProgressCallback = ((progress: MergeProgress) => void) & ProxyMarked;
export type StatsCallback = ((stats: TensorStats) => void) & ProxyMarked;

export interface MergeWorkerApi {
  /** Reads the inputs' headers and checks the merge; nothing is written. */
  plan(config: MergeConfig, inputs: MergeInputRef[]): Promise<PlanSummary>;
  /** Writes `<dir>/<fileName>` in OPFS (a free name is chosen when it exists). */
  run(id: number, config: MergeConfig, inputs: MergeInputRef[], dir: string, fileName: string, onProgress: ProgressCallback, onStats: StatsCallback): Promise<RunResult>;
  /** Writes a merged MLC model into web-llm's caches under `baseUrl`; on failure deletes it all. */
  runMlc(id: number, config: MergeConfig, inputs: MergeInputRef[], modelId: string, baseUrl: string, onProgress: ProgressCallback, onStats: StatsCallback): Promise<MlcRunResult>;
  /** Cancels run `id` if it is running. */
  cancel(id: number): void;
  /**
   * Ports to the SIMD kernel workers the page started for this worker (src/app/merge.svelte.ts),
   * sent (transferred) once, before any run; without them the kernels run on the merge worker alone.
   */
  kernelPorts(ports: MessagePort[]): void;
}

/** A merge failure rebuilt on the page side; `code` lets the UI pick what to show. */
export class MergeError extends Error {
  override name = 'MergeError';
  constructor(
    readonly code: MergeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
