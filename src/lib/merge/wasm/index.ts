/**
 * The merge's WebAssembly SIMD kernels (source: assembly/kernels.ts; bytes: kernels.wasm.ts) behind
 * a small typed API over Uint16Array fp16 tensors. They compute exactly what the JavaScript kernels
 * compute, bit for bit (tests/unit/merge-simd.test.ts), four lanes at a time: the fused F16 paths
 * of linear, task arithmetic and TIES use them when the engine has WebAssembly SIMD (every browser
 * Chorus supports, and Node), and fall back to their JavaScript loops otherwise.
 *
 * One instance per thread, with one linear memory that grows to the largest tensor seen (inputs
 * and output of one tensor: 2 bytes per value each, plus two 256 KB histograms), never to a model.
 *
 * Loading: `simdKernels()` compiles synchronously on first use, which Node and workers allow; a
 * browser's main thread refuses synchronous compilation of modules over 4 KB, so code that may run
 * there awaits `loadSimdKernels()` first (executeMerge does). Either returns null when WebAssembly
 * SIMD is unavailable.
 */
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts';

interface Exports {
  memory: WebAssembly.Memory;
  linear2(a: number, b: number, out: number, n: number, wa: number, wb: number, divisor: number, reciprocal: number): number;
  axpy(x: number, acc: number, n: number, w: number): void;
  divide(acc: number, n: number, divisor: number): void;
  sqDistance(x: number, ref: number, n: number): number;
  encode(acc: number, out: number, n: number): void;
  deltaPass(x0: number, x1: number, base: number, n: number, histograms: number, hist0: number, hist1: number, out: number): number;
  deltaLowPass(x0: number, x1: number, base: number, n: number, bucket0: number, bucket1: number, low0: number, low1: number, tmp: number): void;
  combine2(a: number, b: number, base: number, out: number, n: number, args: number, counts: number, tmp: number): void;
}

// Fixed areas at the start of the memory; tensors follow from DATA on.
const TMP = 256; // 64 bytes of lane scratch
const ARGS = 512; // combine2's parameters: 9 f64 then 8 i32
const COUNTS = 1024; // combine2's [agree, nonzero]
const NORMS = 1040; // deltaPass's two squared norms (f64)
const TABLE = 262144; // bytes of one 65,536-u32 histogram
const HIST = 65536; // two histograms of the high 16 bits, then two of the low 16 bits
const LOW = HIST + 2 * TABLE;
const DATA = LOW + 2 * TABLE;
/** Bytes after every array, zeroed for inputs: the kernels read and write whole groups of four. */
const PAD = 16;

function bytesOf(base64: string): Uint8Array {
  const s = atob(base64);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Settings of the magnitude sparsification of one task vector (TIES); see taskArithmetic2. */
export interface SparsifySetting {
  /** Share of entries kept (≥ 1 keeps all). */
  density: number;
  /** Divide kept entries by the density. */
  rescale: boolean;
}

export interface TaskArithmetic2Options {
  /** One per task vector: magnitude sparsification, or null for none (task arithmetic). */
  sparsify: [SparsifySetting | null, SparsifySetting | null];
  weights: [number, number];
  /** 0 = no consensus, 1 = TIES "sum", 2 = TIES "count". */
  mode: 0 | 1 | 2;
  normalize: boolean;
  lambda: number;
}

export interface TaskArithmetic2Result {
  /** ‖θ_i − θ_base‖ of each task vector. */
  norms: [number, number];
  /** Entries kept by sparsification, per task vector. */
  kept: [number, number];
  /** Entries agreeing with the sum-elected sign, and non-zero entries (after sparsification and weights). */
  agree: number;
  nonzero: number;
}

export interface SlotViews {
  /** One fp16 view per input, to read the tensor's bytes into. */
  inputs: Uint16Array[];
  /** Where a kernel writes the result; valid until the slot is taken again. */
  out: Uint16Array;
}

const round16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

export class SimdKernels {
  readonly #x: Exports;
  /** Where a call's scratch starts (after the slots, while reserved), and its bump pointer. */
  #base = DATA;
  #top = DATA;
  #slots: { n: number; inputs: number; stride: number } | null = null;

  constructor(instance: WebAssembly.Instance) {
    this.#x = instance.exports as unknown as Exports;
    this.#ensure(DATA); // the fixed areas below DATA
  }

  get #buffer(): ArrayBuffer {
    return this.#x.memory.buffer;
  }

  #ensure(end: number): void {
    const have = this.#buffer.byteLength;
    if (have >= end) return;
    // Growing detaches every view of the memory: never while the executor holds slot views.
    if (this.#slots) throw new Error('internal: the SIMD kernels needed more memory than reserved for the merge');
    this.#x.memory.grow(Math.ceil((end - have) / 65536));
  }

  /** Room for `bytes` (plus zero padding) in this call's scratch. */
  #alloc(bytes: number): number {
    const at = this.#top;
    this.#top = at + round16(bytes) + PAD;
    this.#ensure(this.#top);
    return at;
  }

  /** Where the kernels find `h`: in place when it already lives in this memory (a slot), else a padded copy. */
  #in(h: Uint16Array): number {
    if (h.buffer === this.#buffer) return h.byteOffset;
    const at = this.#alloc(h.byteLength);
    const u8 = new Uint8Array(this.#buffer);
    u8.set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), at);
    u8.fill(0, at + h.byteLength, at + h.byteLength + PAD);
    return at;
  }

  #outAt(out: Uint16Array): number {
    return out.buffer === this.#buffer ? out.byteOffset : this.#alloc(out.byteLength);
  }

  #done(out: Uint16Array, at: number): void {
    if (out.buffer !== this.#buffer) new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(this.#buffer, at, out.byteLength));
    this.#top = this.#base;
  }

  /**
   * Reserves, once per merge, two slots of `inputs` input tensors and one output of up to `maxN`
   * values each, for the executor's double buffering (tensor k + 1 is read into one slot while
   * tensor k is computed from the other and its result written out), plus the kernels' scratch, so
   * that the memory does not grow, and no view is detached, until release(). Returns false when the
   * memory cannot grow that far (the caller then reads into its own buffers).
   */
  reserve(maxN: number, inputs: number): boolean {
    if (this.#slots) throw new Error('internal: SIMD slots are already reserved');
    const stride = round16(maxN * 2) + PAD;
    const slotsEnd = DATA + 2 * (inputs + 1) * stride;
    try {
      // Scratch after the slots: linear's f32 accumulator for more than two inputs.
      this.#ensure(slotsEnd + round16(maxN * 4) + PAD);
    } catch {
      return false;
    }
    this.#slots = { n: maxN, inputs, stride };
    this.#base = this.#top = slotsEnd;
    return true;
  }

  /** Views of slot 0 or 1 for a tensor of n values (n ≤ the reserved maxN); input padding is zeroed. */
  slot(slot: 0 | 1, n: number): SlotViews {
    const s = this.#slots;
    if (!s || n > s.n) throw new Error('internal: no SIMD slot reserved for this tensor');
    const at = DATA + slot * (s.inputs + 1) * s.stride;
    const u8 = new Uint8Array(this.#buffer);
    const inputs: Uint16Array[] = [];
    for (let k = 0; k < s.inputs; k++) {
      const p = at + k * s.stride;
      u8.fill(0, p + n * 2, p + n * 2 + PAD);
      inputs.push(new Uint16Array(this.#buffer, p, n));
    }
    return { inputs, out: new Uint16Array(this.#buffer, at + s.inputs * s.stride, n) };
  }

  /** Ends a reservation (the memory stays, for the next merge on this thread). */
  release(): void {
    this.#slots = null;
    this.#base = this.#top = DATA;
  }

  /** out = fp16((wa·a + wb·b) / divisor), in double; returns Σ (b − a)² (lane order, see laneSum). */
  linear2(a: Uint16Array, b: Uint16Array, out: Uint16Array, wa: number, wb: number, divisor: number): number {
    const n = out.length;
    const pa = this.#in(a);
    const pb = this.#in(b);
    const po = this.#outAt(out);
    const sq = this.#x.linear2(pa, pb, po, n, wa, wb, divisor, isPowerOfTwo(divisor) ? 1 : 0);
    this.#done(out, po);
    return sq;
  }

  /**
   * out = fp16(Σ w_m·x_m / divisor) for any number of fp16 inputs, accumulated in f32 model by
   * model (as linear's JavaScript loop); returns Σ (x_m − x_ref)² for every m ≠ ref, in input order.
   */
  linearN(halves: readonly Uint16Array[], weights: readonly number[], divisor: number, ref: number, out: Uint16Array): number[] {
    const n = out.length;
    const M = halves.length;
    const at = halves.map((h) => this.#in(h));
    const po = this.#outAt(out);
    const acc = this.#alloc(n * 4);
    new Uint8Array(this.#buffer).fill(0, acc, acc + n * 4 + PAD);
    for (let m = 0; m < M; m++) this.#x.axpy(at[m]!, acc, n, weights[m]!);
    if (divisor !== 1) this.#x.divide(acc, n, divisor);
    this.#x.encode(acc, po, n);
    const sq: number[] = [];
    for (let m = 0; m < M; m++) if (m !== ref) sq.push(this.#x.sqDistance(at[m]!, at[ref]!, n));
    this.#done(out, po);
    return sq;
  }

  /**
   * θ = base + λ·Δ for two task vectors δ_i = x_i − base, with optional magnitude sparsification
   * (keep the ⌊density·n⌋ largest |δ|, ties to the lower index, as sparsify.ts), per-model weights and
   * TIES sign consensus, exactly as task-arithmetic-core.ts. Returns null, writing nothing, when some
   * task vector holds NaN and sparsification is asked for (the caller takes the general path).
   */
  taskArithmetic2(x0: Uint16Array, x1: Uint16Array, base: Uint16Array, out: Uint16Array, o: TaskArithmetic2Options): TaskArithmetic2Result | null {
    const n = out.length;
    const p0 = this.#in(x0);
    const p1 = this.#in(x1);
    const pb = this.#in(base);
    const po = this.#outAt(out);
    const x = this.#x;
    const u32 = () => new Uint32Array(x.memory.buffer);
    const ranked = [0, 1].map((t) => { const sp = o.sparsify[t]; return sp !== null && sp !== undefined && sp.density < 1; });
    if (ranked[0] || ranked[1]) u32().fill(0, HIST / 4, (HIST + 2 * TABLE) / 4);
    const nan = x.deltaPass(p0, p1, pb, n, ranked[0] || ranked[1] ? 1 : 0, HIST, HIST + TABLE, NORMS);
    if (nan && (ranked[0] || ranked[1])) {
      this.#top = this.#base;
      return null;
    }
    const sq = new Float64Array(x.memory.buffer, NORMS, 2);
    const norms: [number, number] = [Math.sqrt(sq[0]!), Math.sqrt(sq[1]!)];
    const kept: [number, number] = [n, n];
    const thresholds = [0, 0];
    const quotas = [0, 0];
    const all = [-1, -1];
    // The threshold |δ| at rank k − 1 (descending) = ascending position n − k: its high 16 bits
    // from pass 1's histogram, its low 16 bits from pass 2's (only entries in that bucket).
    const buckets = [-1, -1];
    const belowBuckets = [0, 0];
    for (const t of [0, 1]) {
      if (!ranked[t]) continue;
      const k = Math.floor(o.sparsify[t]!.density * n);
      kept[t] = k;
      all[t] = 0;
      if (k === 0) {
        thresholds[t] = 0x7fffffff; // nothing kept: no |δ| exceeds it, and no quota
        continue;
      }
      const hist = u32().subarray((HIST + t * TABLE) / 4, (HIST + (t + 1) * TABLE) / 4);
      [buckets[t]!, belowBuckets[t]!] = bucketOf(hist, n - k);
    }
    if (buckets[0] !== -1 || buckets[1] !== -1) {
      u32().fill(0, LOW / 4, (LOW + 2 * TABLE) / 4);
      x.deltaLowPass(p0, p1, pb, n, buckets[0]!, buckets[1]!, LOW, LOW + TABLE, TMP);
      for (const t of [0, 1]) {
        if (buckets[t] === -1) continue;
        const k = kept[t]!;
        const low = u32().subarray((LOW + t * TABLE) / 4, (LOW + (t + 1) * TABLE) / 4);
        const [lowBits, belowLow] = bucketOf(low, n - k - belowBuckets[t]!);
        const larger = n - (belowBuckets[t]! + belowLow) - low[lowBits]!;
        thresholds[t] = ((buckets[t]! << 16) | lowBits) >>> 0;
        quotas[t] = k - larger;
      }
    }
    const w = o.weights;
    const scale = (t: 0 | 1) => {
      const sp = o.sparsify[t];
      return sp && sp.rescale && sp.density < 1 ? 1 / sp.density : 1;
    };
    const divisor = (d: number) => (o.normalize ? (d === 0 ? 1 : d) : 1);
    let plain = w[0] + w[1];
    if (Math.abs(plain) < 1e-8) plain = 1;
    // Divisors by which task vectors are kept (none, 0 only, 1 only, both); without consensus
    // both always are, and the plain Σ w (|Σ w| < 1e-8 → 1) applies.
    const divisors = o.mode === 0 ? [plain, plain, plain, plain].map(divisor) : [divisor(0), divisor(w[0]), divisor(w[1]), divisor(w[0] + w[1])];
    const f64 = new Float64Array(x.memory.buffer, ARGS, 9);
    f64.set([scale(0), w[0], scale(1), w[1], ...divisors, o.lambda]);
    const reciprocal = divisors.every(isPowerOfTwo) ? 1 : 0;
    new Int32Array(x.memory.buffer, ARGS + 72, 8).set([thresholds[0]! | 0, thresholds[1]! | 0, all[0]!, all[1]!, quotas[0]!, quotas[1]!, o.mode, reciprocal]);
    x.combine2(p0, p1, pb, po, n, ARGS, COUNTS, TMP);
    this.#done(out, po);
    const counts = new Int32Array(x.memory.buffer, COUNTS, 2);
    return { norms, kept, agree: counts[0]!, nonzero: counts[1]! };
  }

  /** Bytes of linear memory (it grows to the largest merge's reservation or tensor, never shrinks). */
  get memoryBytes(): number {
    return this.#buffer.byteLength;
  }
}

/** Whether x/d equals x·(1/d) for every x: d = ±2^k with 1/d a normal double. */
function isPowerOfTwo(d: number): boolean {
  const a = Math.abs(d);
  if (!(a >= 2 ** -1022 && a <= 2 ** 1022)) return false;
  return 2 ** Math.round(Math.log2(a)) === a;
}

/** The bucket holding ascending position p, and how many entries lie in the buckets before it. */
function bucketOf(hist: Uint32Array, p: number): [number, number] {
  let b = 0;
  let below = 0;
  while (below + hist[b]! <= p) below += hist[b++]!;
  return [b, below];
}

let kernels: SimdKernels | null | undefined;
let module: WebAssembly.Module | undefined;

function instantiate(m: WebAssembly.Module): SimdKernels {
  return new SimdKernels(new WebAssembly.Instance(m, {}));
}

/**
 * This thread's kernels, compiling synchronously on first use; null when WebAssembly SIMD is not
 * available or synchronous compilation is refused (a browser's main thread: await
 * loadSimdKernels() there first). The environment variable CHORUS_NO_SIMD=1 (Node) turns them off,
 * for side-by-side measurements.
 */
export function simdKernels(): SimdKernels | null {
  if (!enabled) return null;
  if (kernels !== undefined) return kernels;
  if (disabled()) return (kernels = null);
  try {
    module ??= new WebAssembly.Module(bytesOf(KERNELS_WASM_BASE64) as BufferSource);
    kernels = instantiate(module);
  } catch {
    // Not cached as null: an async load may still succeed where a sync compile was refused.
    return null;
  }
  return kernels;
}

/** Compiles the kernels asynchronously (safe on any thread); resolves to simdKernels()'s value. */
export async function loadSimdKernels(): Promise<SimdKernels | null> {
  if (!enabled) return null;
  if (kernels !== undefined) return kernels;
  if (disabled()) return (kernels = null);
  try {
    module ??= await WebAssembly.compile(bytesOf(KERNELS_WASM_BASE64) as BufferSource);
    kernels = instantiate(module);
  } catch {
    kernels = null;
  }
  return kernels;
}

let enabled = true;

/** Turns the SIMD kernels off (every caller takes its JavaScript loops) or back on; for tests and benchmarks. */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}

function disabled(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.CHORUS_NO_SIMD === '1';
}
