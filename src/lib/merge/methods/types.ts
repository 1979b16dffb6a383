/**
 * The contract of a merge method: one file per method exports a descriptor
 * `{ id, paper, parameters, perModelParameters, kernel }` (mergekit's `merge_methods/`, one
 * `MergeMethod` each). Kernels are pure functions on Float32Array: no worker, file or DOM.
 *
 * Inputs follow mergekit's model set: every model named in `models[]` plus `base_model`
 * (added when it is not listed). `baseIndex` says which input is the base, or null.
 */

export type ParamValue = number | boolean | string;

export interface ParameterDef {
  /** mergekit's parameter name, e.g. "weight", "density", "t". */
  name: string;
  type: 'number' | 'boolean';
  /** Absent with `required: true`. */
  default?: ParamValue;
  required?: boolean;
  /** Sensible range for the UI slider; values outside are still accepted unless `strict`. */
  min?: number;
  max?: number;
  /** Values outside [min, max] are refused (e.g. density must lie in [0, 1]). */
  strict?: boolean;
  /** One or two sentences: what the knob does to the merged tensor. Shown next to the control. */
  help: string;
}

/** What a kernel gets for one tensor, parameters already resolved (gradients, filters). */
export interface KernelInput {
  /** GGUF tensor name, e.g. "blk.3.attn_q.weight" (DARE derives its random stream from it). */
  name: string;
  /** ne order: shape[0] is the fastest-varying dimension (a GGUF row). */
  shape: readonly number[];
  /** One tensor per input model, all of the same length. */
  tensors: readonly Float32Array[];
  /** Index of the base model in `tensors`, or null when the method has none. */
  baseIndex: number | null;
  /** Global parameters, resolved for this tensor. */
  params: Readonly<Record<string, ParamValue>>;
  /** Per-model parameters, aligned with `tensors` (the base's entry holds what it was given). */
  modelParams: readonly Readonly<Record<string, ParamValue>>[];
  /** Seed of the merge (DARE's random drop); same seed + same tensor name → same result. */
  seed: number;
  /**
   * Optional scratch of the tensor's length, distinct from the inputs, with arbitrary contents: a
   * kernel may write its result there and return it as `data` instead of allocating (the executor
   * reuses one such buffer for every tensor).
   */
  out?: Float32Array;
}

/** Numbers that explain a merge, per tensor (shown live in the merge view). */
export interface TensorStats {
  name: string;
  /** L2 norm of each non-base model's task vector (θ_i − θ_base), in input order; empty without a base. */
  taskVectorNorms: number[];
  /** Share of each task vector's entries kept by sparsification (TIES/DARE/breadcrumbs); 1 when none. */
  kept: number[];
  /**
   * Share of non-zero (kept, weighted) task-vector entries whose sign agrees with the elected sign
   * (TIES's "sum" rule); null with fewer than two task vectors.
   */
  signAgreement: number | null;
  /** Method-specific numbers: slerp's angle and lerp fallback, model_stock's t, … */
  extra: Record<string, number>;
}

/**
 * The same tensor with every input stored as F16 and an F16 output: raw binary16 bits in, raw
 * bits out (see MethodDescriptor.kernelF16).
 */
export interface KernelInputF16 extends Omit<KernelInput, 'tensors' | 'out'> {
  /**
   * The merge's cancel: a fused path may stop part-way through a large tensor when it fires (the
   * executor then discards the tensor and throws MergeAbortedError).
   */
  signal?: AbortSignal;
  /** One array of fp16 bit patterns per input model, all of the same length. */
  halves: readonly Uint16Array[];
  /** Receives the result's fp16 bit patterns; same length as the inputs. */
  out: Uint16Array;
}

export interface KernelResult {
  data: Float32Array;
  stats: TensorStats;
}

export interface MethodDescriptor {
  /** mergekit's `merge_method` name. */
  id: string;
  /** Human name for the UI. */
  name: string;
  /** Paper (or reference) the method follows. */
  paper: string;
  /** One paragraph: what the method does. */
  summary: string;
  /** Whether the result depends on the config's `seed` (random drops: DARE, DELLA; arcee_fusion's sample of a large tensor). */
  seeded?: boolean;
  /** Whether `base_model` is required, optional or unused. */
  base: 'required' | 'optional' | 'unused';
  /** Fewest and most inputs (models ∪ base). */
  minInputs: number;
  maxInputs?: number;
  /** Global parameters (`parameters:` at the top level of the config). */
  parameters: ParameterDef[];
  /** Per-model parameters (`models[].parameters`); globals of the same name act as defaults. */
  perModelParameters: ParameterDef[];
  /** Whether per-model parameters apply to the base model too (linear: yes; task arithmetic: no). */
  baseTakesModelParameters: boolean;
  /** Checks that need resolved values (e.g. weights summing to zero); returns a message or null. */
  validate?(
    params: Readonly<Record<string, ParamValue>>,
    modelParams: readonly Readonly<Record<string, ParamValue>>[],
    baseIndex: number | null,
    nElements: number,
  ): string | null;
  kernel(input: KernelInput): KernelResult;
  /**
   * Optional fused path for F16 inputs and an F16 output: exactly kernel()'s result, bit for bit,
   * encoded as F16 (kernel() → Float32Array → F16 codec), and the same statistics — but computed
   * in cache-sized pieces straight from and to binary16 bits, without whole-tensor f32 arrays.
   * The executor uses it when every input and the output are F16.
   */
  kernelF16?(input: KernelInputF16): Promise<TensorStats>;
  /**
   * Optional, with kernelF16: work on a tensor's inputs that can be done before its turn (the
   * executor calls it, synchronously, as soon as the inputs are read, while the previous tensor is
   * computed). Only a speed-up: kernelF16 gives the same result with or without it, and a throw is
   * ignored.
   */
  prepareF16?(input: Omit<KernelInputF16, 'out' | 'signal'>): void;
}

export class MergeMethodError extends Error {
  override name = 'MergeMethodError';
}

export function num(p: Readonly<Record<string, ParamValue>>, key: string): number {
  const v = p[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new MergeMethodError(`parameter "${key}" must be a number, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
}

export function bool(p: Readonly<Record<string, ParamValue>>, key: string): boolean {
  const v = p[key];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw new MergeMethodError(`parameter "${key}" must be true or false, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
}

/** Entries per block of a squared-norm sum (see NormSum). */
export const NORM_BLOCK = 65536;

/**
 * The one summation order of squared norms (task-vector norms, a statistic shown with a few digits):
 * per block of NORM_BLOCK entries from entry 0, four interleaved f32 lanes — entry i into q[i mod 4],
 * its difference and its square rounded to f32 and added in f32 (`q[i & 3] += Math.fround(d * d)` on
 * a Float32Array, d itself an f32) — whose block total is (q0 + q1) + (q2 + q3) in double; block
 * totals are added in block order in double. It is what the SIMD kernels (wasm/assembly/kernels.ts)
 * compute four lanes at a time with any number of threads (each takes whole blocks), fixed here so
 * that every path gives the same statistics to the last bit.
 *
 * Use: add entry i as above, call `boundary(i)` before entry i when i is a multiple of 4 (it closes
 * the block that ends there), read `total()` at the end.
 */
export class NormSum {
  readonly q = new Float32Array(4);
  #sum = 0;

  boundary(i: number): void {
    if (i > 0 && i % NORM_BLOCK === 0) this.#close();
  }

  #close(): void {
    const q = this.q;
    this.#sum += (q[0]! + q[1]!) + (q[2]! + q[3]!);
    q.fill(0);
  }

  total(): number {
    this.#close();
    return this.#sum;
  }
}

/** Euclidean norm, accumulated in double precision. */
export function l2(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}
