/**
 * The merge worker's protocol, shared by both sides (workers/merge.worker.ts and
 * src/app/merge.svelte.ts). Requests carry an `id`; every reply names the request it answers:
 * - `result`   plan → PlanSummary, run → RunResult, run-mlc → MlcRunResult;
 * - `error`    the request failed; the error crosses as data {code, message} and the page rebuilds
 *              a MergeError whose message says what was wrong and what to do;
 * - `progress` tensors/bytes done, rate and ETA while a run goes;
 * - `stats`    per-tensor statistics (task-vector norms, kept share, sign agreement) as they come.
 */
import type { MergeConfig } from '../src/lib/merge/config.ts';
import type { TensorStats } from '../src/lib/merge/methods/index.ts';
import type { MergeProgress } from '../src/lib/merge/stream.ts';
import type { WebLLMModelRecordLike } from '../src/lib/merge/mlc/merge.ts';

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
  /** Tensors computed by the SIMD kernels, and the threads they ran on (stream.ts MergeResult). */
  kernels: { simdTensors: number; threads: number };
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

export type MergeRequest =
  | { type: 'plan'; id: number; config: MergeConfig; inputs: MergeInputRef[] }
  /** Writes `<dir>/<fileName>` in OPFS (a free name is chosen when it exists). */
  | { type: 'run'; id: number; config: MergeConfig; inputs: MergeInputRef[]; dir: string; fileName: string }
  /** Writes a merged MLC model into web-llm's caches under `baseUrl`; on failure deletes it all. */
  | { type: 'run-mlc'; id: number; config: MergeConfig; inputs: MergeInputRef[]; modelId: string; baseUrl: string }
  | { type: 'cancel'; id: number; target: number };

export type MergeErrorCode = 'config' | 'file' | 'incompatible' | 'cancelled' | 'storage' | 'internal';

export type MergeReply =
  | { type: 'result'; id: number; value: PlanSummary | RunResult | MlcRunResult }
  | { type: 'error'; id: number; code: MergeErrorCode; message: string }
  | { type: 'progress'; id: number; progress: MergeProgress }
  | { type: 'stats'; id: number; stats: TensorStats };

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
