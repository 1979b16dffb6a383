/**
 * The one executor of a merge plan (plan.ts): for each tensor, read each input's slice, decode to
 * f32 (codecs), combine (the method's kernel), encode to the output type, append to the sink
 * through the project's GGUF writer. Only the current tensor's buffers are alive, so peak memory
 * is a few tensors, never a model. Reports progress (tensors, bytes, rate, ETA) and per-tensor
 * statistics, and stops at the next tensor when the AbortSignal fires (throwing MergeAbortedError;
 * the caller deletes the partial output — see workers/merge.worker.ts and tools/cli/merge.ts).
 */
import { getCodec } from './codecs/index.ts';
import { checkDecode, checkEncode } from './codecs/types.ts';
import { GGMLType, GGUFWriter, readTensorData, readTensorInto, type ByteSink } from './gguf/index.ts';
import { LITTLE_ENDIAN } from './codecs/half.ts';
import { loadSimdKernels, type SimdKernels, type SlotViews } from './wasm/index.ts';
import type { ThreadPort } from './wasm/thread.ts';
import type { MergePlan } from './plan.ts';
import type { TensorStats } from './methods/index.ts';

/**
 * The kernel threads' start, once per thread that runs merges (see startKernelThreads): `attached`
 * once they are added to the kernels (from then on the memory layout holds), `ready` once they run.
 */
let threadStart: { attached: Promise<void>; ready: Promise<void> } | null = null;

/**
 * Starts the SIMD kernels' threads (workers of the platform: the merge worker's nested Workers,
 * Node's worker_threads) once per thread that runs merges; later calls return the same start.
 * executeMerge calls it with its `threads` option and waits for it before the first tensor; a CLI
 * calls it first thing, so the threads boot while it reads the inputs' headers. When the start
 * fails (a thread reports an error, or does not answer within THREAD_START_TIMEOUT_MS), the threads
 * are dropped: the merge waiting for it goes on without them (its result says `threads: 1`), and so do
 * later merges.
 */
export function startKernelThreads(threads: () => ThreadPort[]): Promise<void> {
  if (!threadStart) {
    let running: Promise<void> = Promise.resolve();
    const attached = loadSimdKernels().then((simd) => {
      if (simd) running = simd.attachThreads(threads());
    });
    const ready = attached.then(() => running);
    threadStart = { attached, ready };
    ready.catch(() => {
      threadStart = { attached: Promise.resolve(), ready: Promise.resolve() };
    });
  }
  return threadStart.ready;
}

export interface MergeProgress {
  tensorsDone: number;
  tensorsTotal: number;
  /** Bytes read from the inputs so far and in all. */
  bytesRead: number;
  bytesTotal: number;
  bytesWritten: number;
  outputSize: number;
  elapsedMs: number;
  /** MB of input per second so far. */
  rateMBps: number;
  /** Seconds left at the current rate; null before the first tensor. */
  etaSeconds: number | null;
  /** Name of the tensor just finished. */
  tensor: string;
}

/**
 * A progress report after `tensorsDone` of `tensorsTotal` tensors (GGUF and MLC merges alike): the
 * rate so far and the time left at that rate.
 */
export function progressReport(p: Omit<MergeProgress, 'rateMBps' | 'etaSeconds'>): MergeProgress {
  const rateMBps = p.bytesRead / 1e6 / Math.max(p.elapsedMs / 1000, 1e-6);
  return { ...p, rateMBps, etaSeconds: rateMBps > 0 ? (p.bytesTotal - p.bytesRead) / 1e6 / rateMBps : null };
}

export interface ExecuteOptions {
  sink: ByteSink;
  signal?: AbortSignal;
  onProgress?(p: MergeProgress): void;
  onStats?(s: TensorStats): void;
  /** Minimum milliseconds between progress reports (the last tensor is always reported). */
  progressIntervalMs?: number;
  /**
   * Starts kernel threads for the SIMD kernels (workers of the platform: the merge worker's nested
   * Workers, Node's worker_threads); called at most once per thread that runs merges (see
   * startKernelThreads).
   */
  threads?(): ThreadPort[];
}

export interface MergeResult {
  outputSize: number;
  seconds: number;
  tensors: number;
  /** MB of input per second over the whole merge. */
  rateMBps: number;
  /**
   * What computed it: tensors through the SIMD kernels (fused F16 path), tensors whose quantised
   * inputs or output went through the SIMD codecs, and on how many threads.
   */
  kernels: { simdTensors: number; quantTensors: number; threads: number };
}

export class MergeAbortedError extends Error {
  override name = 'MergeAbortedError';
  constructor() {
    super('the merge was cancelled; nothing was kept');
  }
}

export function hasDecoder(type: GGMLType): boolean {
  try {
    return typeof getCodec(type).decode === 'function';
  } catch {
    return false;
  }
}

export function hasEncoder(type: GGMLType): boolean {
  try {
    return typeof getCodec(type).encode === 'function';
  } catch {
    return false;
  }
}

export async function executeMerge(plan: MergePlan, opts: ExecuteOptions): Promise<MergeResult> {
  const { sink, signal } = opts;
  const check = () => {
    if (signal?.aborted) throw new MergeAbortedError();
  };
  check();
  // Compile the SIMD kernels before the first tensor (asynchronously: allowed on any thread).
  const simd = await loadSimdKernels();
  // Kernel threads start (unless started already) while the first tensor is read, and are awaited
  // before it is computed: the kernels would otherwise run on this thread alone, which is slower
  // than waiting for them.
  const attached = simd && opts.threads ? startKernelThreads(opts.threads) : Promise.resolve();
  attached.catch(() => undefined);
  // Threads are added before the slots are reserved (which fixes the memory layout).
  await threadStart?.attached.catch(() => undefined);
  const started = performance.now();

  let bytesRead = 0;
  let bytesWritten = 0;
  let simdTensors = 0;
  let quantTensors = 0;
  let lastReport = -Infinity;
  const interval = opts.progressIntervalMs ?? 100;
  const total = plan.tasks.length;
  // F16 in, F16 out, and the method has a fused path: the same bytes as decode → kernel → encode
  // (the descriptor's contract), without whole-tensor f32 arrays.
  const fused = (k: number): boolean => {
    const task = plan.tasks[k]!;
    // The kernels' slots hold one tensor per plan input, in order: a tensor of a slice merged from
    // some of the inputs only takes the JavaScript path.
    const allInputs = task.sources.length === plan.inputs.length && task.sources.every((s, i) => s === i);
    return !!plan.method.kernelF16 && LITTLE_ENDIAN && allInputs && task.outType === GGMLType.F16 && task.inputs.every((t) => t.type === GGMLType.F16);
  };
  // With SIMD kernels, fused tensors are read straight into the kernels' memory, in two slots
  // (double buffering: tensor k + 1 is read into one while tensor k is computed from the other and
  // its result written from there): no copies in or out and no garbage per tensor.
  let maxFused = 0;
  for (let k = 0; k < total; k++) if (fused(k)) maxFused = Math.max(maxFused, plan.tasks[k]!.nElements);
  const slots = simd !== null && maxFused > 0 && simd.reserve(maxFused, plan.inputs.length) ? simd : null;
  // Reads of the next tensor are started before the current one is computed, so file I/O (the
  // browser's and Node's reads are asynchronous) overlaps the maths: one tensor of raw bytes per
  // input more in memory, still flat in the model's size. A read that fails after a cancel is
  // nobody's business: the rejection is observed here and otherwise dropped.
  const commonOf = (task: MergePlan['tasks'][number]) => ({
    name: task.name, shape: task.shape, baseIndex: task.baseIndex,
    params: task.params, modelParams: task.modelParams, seed: plan.config.seed,
  });
  type Read = { raw: Uint8Array[]; views: SlotViews | null };
  const readTask = (k: number): Promise<Read> => {
    const task = plan.tasks[k]!;
    let p: Promise<Read>;
    if (slots && fused(k)) {
      const views = slots.slot((k % 2) as 0 | 1, task.nElements);
      p = Promise.all(plan.inputs.map((inp, i) => readTensorInto(inp.source, inp.file, task.inputs[i]!, bytesOf(views.inputs[i]!)))).then(() => {
        // Work the method can do on this tensor before its turn, while the kernel threads compute
        // the one before (only ever a speed-up: a failure is the kernel's to meet, or not).
        try {
          plan.method.prepareF16?.({ ...commonOf(task), halves: views.inputs });
        } catch {
          // The kernel does the same work itself.
        }
        return { raw: [], views };
      });
    } else {
      p = Promise.all(task.sources.map((s, i) => readTensorData(plan.inputs[s]!.source, plan.inputs[s]!.file, task.inputs[i]!))).then((raw) => ({ raw, views: null }));
    }
    p.catch(() => undefined);
    return p;
  };
  // Decoded inputs and the kernel's result live in scratch arrays reused from tensor to tensor
  // (grown to the largest tensor): fresh multi-megabyte arrays cost page faults and zero-filling.
  const scratch = new Scratch(plan.inputs.length + 1);
  let next: Promise<Read> | null = null;
  let writing: Promise<void> | null = null;
  // On cancel, let a write in flight finish first, so the caller deletes a file nothing writes to.
  const stop = async () => {
    if (signal?.aborted) {
      await writing?.catch(() => undefined);
      throw new MergeAbortedError();
    }
  };
  let writer: GGUFWriter;
  try {
    next = total > 0 ? readTask(0) : null;
    // The header (tokenizer and all: milliseconds of encoding) is laid out while that read runs.
    writer = new GGUFWriter(sink, { alignment: plan.alignment });
    writer.addMetadata(plan.metadata);
    for (const t of plan.tasks) writer.addTensorInfo({ name: t.name, shape: t.shape, type: t.outType });
    const size = writer.plannedSize();
    if (size !== plan.outputSize) throw new Error(`internal: planned ${plan.outputSize} bytes but the writer lays out ${size}`);
    // A failed start leaves the kernels on this thread alone: slower, the same bytes.
    await attached.catch((err: unknown) => console.warn(`merge: kernel threads dropped, running on one thread (${err instanceof Error ? err.message : String(err)})`));
    for (let k = 0; k < total; k++) {
      await stop();
      const task = plan.tasks[k]!;
      const { raw, views } = await next!;
      next = k + 1 < total ? readTask(k + 1) : null;
      const n = task.nElements;
      for (const info of task.inputs) bytesRead += info.byteSize;
      await stop();
      const common = commonOf(task);
      let out: Uint8Array;
      let stats: TensorStats;
      if (views) {
        // A tensor the kernels decline (an Inf or NaN input) is computed by the JavaScript kernels.
        const declined = slots!.declinedTensors;
        stats = await plan.method.kernelF16!({ ...common, halves: views.inputs, out: views.out, signal });
        if (slots!.declinedTensors === declined) simdTensors++;
        out = bytesOf(views.out);
      } else if (fused(k)) {
        out = new Uint8Array(n * 2);
        stats = await plan.method.kernelF16!({ ...common, halves: raw.map((b) => halves(b, n)), out: new Uint16Array(out.buffer, 0, n) });
      } else {
        const calls = simd?.codecCalls ?? 0;
        try {
          // Quantised inputs the SIMD kernels decode are read in place, in their memory (views that
          // live until releaseViews, after the tensor is encoded).
          const tensors: Float32Array[] = [];
          for (const [i, b] of raw.entries()) {
            const type = task.inputs[i]!.type;
            tensors.push(simd?.hasQuantCodec(type) ? await decodeWith(simd, type, b, n) : getCodec(type).decode(b, n, scratch.get(i, n)));
          }
          // A result to be encoded by the SIMD codecs is written straight into their memory.
          const into = simd?.hasQuantCodec(task.outType) ? simd.viewF32(n) : scratch.get(plan.inputs.length, n);
          const result = plan.method.kernel({ ...common, tensors, out: into });
          stats = result.stats;
          out = await encodeWith(simd, task.outType, result.data);
        } finally {
          simd?.releaseViews();
        }
        if ((simd?.codecCalls ?? 0) > calls) quantTensors++;
      }
      // A cancel during the kernel leaves this tensor unfinished: it is never written.
      await stop();
      // The previous tensor's write must be complete before the writer takes the next (and before
      // its slot is computed into again); this one proceeds while the next tensor is computed
      // (awaited at once for the last tensor, so the final progress report counts every byte).
      if (writing) await writing;
      const bytes = out;
      writing = writer.writeTensorData(task.name, bytes).then(() => {
        bytesWritten += bytes.byteLength;
      });
      writing.catch(() => undefined);
      if (k === total - 1) await writing;
      opts.onStats?.(stats);
      const now = performance.now();
      if (opts.onProgress && (now - lastReport >= interval || k === total - 1)) {
        lastReport = now;
        opts.onProgress(progressReport({
          tensorsDone: k + 1, tensorsTotal: total, bytesRead, bytesTotal: plan.inputBytes, bytesWritten,
          outputSize: plan.outputSize, elapsedMs: now - started, tensor: task.name,
        }));
      }
    }
    if (writing) await writing;
  } finally {
    // Nothing may still read into or write from the slots once they are given back.
    await next?.catch(() => undefined);
    await writing?.catch(() => undefined);
    slots?.release();
  }
  check();
  await writer.finish();
  const seconds = (performance.now() - started) / 1000;
  return {
    outputSize: plan.outputSize, seconds, tensors: total, rateMBps: plan.inputBytes / 1e6 / Math.max(seconds, 1e-6),
    kernels: { simdTensors, quantTensors, threads: simd?.threads ?? 1 },
  };
}

/**
 * Decodes a tensor's bytes with the SIMD kernels when they have the type's codec (Q8_0, Q4_K, Q5_K,
 * Q6_K: the same bits, on the kernel threads), into `out`, or without `out` as a view in the
 * kernels' memory valid until simd.releaseViews(); else with the JavaScript codec (into `out`).
 */
export async function decodeWith(simd: SimdKernels | null, type: GGMLType, bytes: Uint8Array, n: number, out?: Float32Array): Promise<Float32Array> {
  const codec = getCodec(type);
  if (!simd?.hasQuantCodec(type)) return codec.decode(bytes, n, out);
  checkDecode(codec, bytes, n, out);
  return out ? simd.decodeQuant(type, bytes, n, out) : simd.decodeQuantView(type, bytes, n);
}

/**
 * Encodes f32 values as `type` with the SIMD kernels when they have its codec (the same bytes), else
 * with the JavaScript codec. Inf or NaN in a quantised tensor fails with the JavaScript codec's
 * error (the kernels report it and write nothing).
 */
export async function encodeWith(simd: SimdKernels | null, type: GGMLType, values: Float32Array): Promise<Uint8Array> {
  const codec = getCodec(type);
  if (!codec.encode) throw new Error(`internal: no encoder for output type ${codec.name}`);
  if (!simd?.hasQuantCodec(type)) return codec.encode(values);
  checkEncode(codec, values, undefined, false);
  const out = await simd.encodeQuant(type, values);
  if (out) return out;
  checkEncode(codec, values, undefined, true);
  throw new Error(`internal: the ${codec.name} kernel refused finite values`);
}

function bytesOf(h: Uint16Array): Uint8Array {
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** The fp16 bit patterns of F16 tensor bytes: a view when aligned, else a copy. */
function halves(bytes: Uint8Array, n: number): Uint16Array {
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint16Array(bytes.slice(0, n * 2).buffer);
}

/** Float32Array buffers reused across tensors: slot i gives a view of exactly n values. */
class Scratch {
  private readonly buffers: (Float32Array | undefined)[];
  constructor(slots: number) {
    this.buffers = new Array<Float32Array | undefined>(slots);
  }
  get(slot: number, n: number): Float32Array {
    let b = this.buffers[slot];
    if (!b || b.length < n) this.buffers[slot] = b = new Float32Array(n);
    return b.subarray(0, n);
  }
}
