/**
 * The merge's WebAssembly SIMD kernels (source: assembly/kernels.ts; bytes: kernels.wasm.ts) behind
 * a small typed API over Uint16Array fp16 tensors. They compute exactly what the JavaScript kernels
 * compute, bit for bit (tests/unit/merge-f16-fused.test.ts), four lanes at a time: the fused F16
 * paths of linear, task arithmetic and TIES use them when the engine has WebAssembly SIMD and shared
 * memory (every browser Chorus supports, on a cross-origin-isolated page as the app serves it, and
 * Node), and fall back to their JavaScript loops otherwise. They also hold the Q8_0, Q4_K, Q5_K and Q6_K
 * codecs (encodeQuant, decodeQuantView: byte for byte the JavaScript codecs, tests/unit/codecs-simd.test.ts),
 * which the executor uses for quantised tensors.
 *
 * One instance per thread, on one shared linear memory that grows to the largest merge's needs (two
 * slots of one tensor's inputs and output, 2 bytes per value each, plus per-thread histograms),
 * never to a model. With kernel threads attached (attachThreads; the merge worker and the CLI attach
 * one per core) every kernel splits its tensor into chunks of whole 65,536-entry blocks, a few per
 * thread, handed to whichever thread is free (a core busy with file I/O gets fewer), on the same
 * memory; the thread that drives the merge only hands them out. Elementwise results do not depend on
 * the split, sums are added in block order, histograms are added up, and TIES's ties at the threshold
 * are handed out in index order — so the bytes and statistics are the same with any number of threads.
 *
 * Loading: `simdKernels()` compiles synchronously on first use, which Node and workers allow; a
 * browser's main thread refuses synchronous compilation of modules over 4 KB, so code that may run
 * there awaits `loadSimdKernels()` first (executeMerge does). Either returns null when WebAssembly
 * SIMD or shared memory is unavailable.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { KERNELS_WASM_BASE64 } from './kernels.wasm.ts';
import { KernelThread, MAX_THREADS, type ThreadPort } from './thread.ts';

interface Exports {
  linear2(a: number, b: number, out: number, n: number, wa: number, wb: number, divisor: number, reciprocal: number, blocks: number): void;
  axpy(x: number, acc: number, n: number, w: number): void;
  divide(acc: number, n: number, divisor: number): void;
  sqDistance(x: number, ref: number, n: number, blocks: number): void;
  encode(acc: number, out: number, n: number): void;
  highPass(x0: number, x1: number, base: number, n: number, hist0: number, hist1: number): void;
  sampleDeltas(x0: number, x1: number, base: number, n: number, stride: number, first: number, out0: number, out1: number): void;
  bandPass(x0: number, x1: number, base: number, n: number, lo0: number, hi0: number, lo1: number, hi1: number, bucket0: number, bucket1: number, high: number, hist0: number, hist1: number, tmp: number, list: number, groups: number): void;
  combine2(a: number, b: number, base: number, out: number, n: number, args: number, counts: number, list: number, phase: number, blocks0: number, blocks1: number, band0: number, band1: number, records: number): void;
  zero(ptr: number, bytes: number): void;
  addTable(dst: number, src: number): void;
  rank(hist: number, p: number, out: number): void;
  selectPair(values: number, m: number, p: number, q: number, table: number, out: number): void;
  countTies(x0: number, x1: number, base: number, n: number, thr0: number, thr1: number, list: number, groups: number, out: number): void;
  countU32(values: number, m: number, v: number, out: number): void;
  decodeQ8_0(src: number, dst: number, nb: number): void;
  decodeQ4_K(src: number, dst: number, nb: number): void;
  decodeQ5_K(src: number, dst: number, nb: number): void;
  decodeQ6_K(src: number, dst: number, nb: number): void;
  encodeQ8_0(src: number, dst: number, nb: number, flag: number): void;
  encodeQ4_K(src: number, dst: number, nb: number, scratch: number, flag: number): void;
  encodeQ5_K(src: number, dst: number, nb: number, scratch: number, flag: number): void;
  encodeQ6_K(src: number, dst: number, nb: number, scratch: number, flag: number): void;
}

/**
 * The quantised types the kernels encode and decode (assembly/kernels.ts, "Quantised codecs"), with
 * their kernels; block geometry from the one table, GGML_TYPE_SIZE. Q8_0's encoder needs no scratch.
 */
const QUANT_KERNELS: ReadonlyMap<GGMLType, { name: string; blockSize: number; typeSize: number; decode: keyof Exports & string; encode: keyof Exports & string; scratch: boolean }> = new Map(
  ([
    [GGMLType.Q8_0, 'decodeQ8_0', 'encodeQ8_0', false],
    [GGMLType.Q4_K, 'decodeQ4_K', 'encodeQ4_K', true],
    [GGMLType.Q5_K, 'decodeQ5_K', 'encodeQ5_K', true],
    [GGMLType.Q6_K, 'decodeQ6_K', 'encodeQ6_K', true],
  ] as const).map(([type, decode, encode, scratch]) => [type, { ...GGML_TYPE_SIZE[type], decode, encode, scratch }]),
);

/** GGML type ids of the quantised types with SIMD codecs. */
export const SIMD_CODEC_TYPES: readonly GGMLType[] = [...QUANT_KERNELS.keys()];

/** Entries per block of a squared-norm sum (assembly/kernels.ts BLOCK; methods/types.ts NORM_BLOCK). */
const BLOCK = 65536;
const PAGE = 65536;
/** Bytes of one 65,536-entry u32 histogram. */
const TABLE = 262144;
// Per-thread areas from AREAS on: lane scratch, counts, then per task vector two tables of the high
// 16 bits (summed), then two of the low 16 bits. The first page holds the driving thread's own
// small results and the counter of a pass (thread.ts).
const AREAS = PAGE;
const TMP = 0;
const COUNTS = 320;
const RANK = 336; // rank()'s [bucket, below]; selectPair's four words
const COUNTER = 352;
/** A thread's codec scratch within its area (assembly/kernels.ts S_*: under 4 KiB, below HIST). */
const CODEC_SCRATCH = 1024;
const HIST = PAGE;
const LOW = HIST + 4 * TABLE;
const AREA_BYTES = LOW + 2 * TABLE;
/**
 * TIES bands are placed from a sample of four consecutive |δ| in every `stride` entries, when that
 * gives MIN_SAMPLES or more. A larger sample costs more to take and sort, a smaller one gives wider
 * bands whose groups phase 1 must settle again (their share falls as 1/√m): about (9n)^(2/3)
 * samples balance the two on measured costs (taking one ≈ 13 ns, settling a listed group ≈ 40 ns),
 * from one in ~11 entries for n = 2^17 to one in ~50 for n = 2^23; the stride is the nearest power
 * of two.
 */
function sampleStride(n: number): number {
  const samples = Math.cbrt(9 * n) ** 2;
  return 2 ** Math.min(12, Math.max(2, Math.round(Math.log2((4 * n) / samples))));
}
const MIN_SAMPLES = 2048;
/** Sample values per task vector for a tensor of n entries. */
function sampleSize(n: number): number {
  return 4 * Math.floor(n / sampleStride(n));
}
/** The most sample values per task vector of any tensor of up to maxN entries. */
function maxSamples(maxN: number): number {
  // The stride is the power of two nearest 4n / (9n)^(2/3) (within √2), and grows with n.
  return Math.max(MIN_SAMPLES, sampleSize(maxN), Math.ceil(Math.SQRT2 * Math.cbrt(9 * maxN) ** 2) + 4);
}
/** selectPair's two 2,048-u32 tables. */
const DIGIT_TABLE_BYTES = 2 * 2048 * 4;
/** Bands prepared ahead for a taskArithmetic2 call (see prepareTaskArithmetic2). */
interface Prepared { p0: number; p1: number; pb: number; n: number; keep: number[]; bands: [number, number][] }

/** Which task vectors taskArithmetic2 ranks by magnitude, and how many entries of each it keeps. */
function ranking(o: TaskArithmetic2Options, n: number): { ranked: boolean[]; keep: number[] } {
  const ranked = [0, 1].map((t) => { const sp = o.sparsify[t]; return sp !== null && sp !== undefined && sp.density < 1; });
  return { ranked, keep: [0, 1].map((t) => (ranked[t] ? Math.floor(o.sparsify[t]!.density * n) : n)) };
}
/** Quantised tensors of at least this many values are decoded on the kernel threads (see decodeQuantView). */
const DECODE_ON_THREADS = 1 << 22;
/** Tensors of at least this many entries are sampled on the kernel threads. */
const SAMPLE_ON_THREADS = 1 << 22;
/**
 * Band half-width in standard deviations of the sample quantile (a miss costs a second phase 0);
 * tests set it to 0 or below to force misses.
 */
export const tuning = { sampleMargin: 3 };
/** Most kernel threads (workers) a merge uses (declared in thread.ts, which the page imports without the kernels). */
export { MAX_THREADS };
/** Bytes after every array, zeroed for inputs: the kernels read and write whole groups of four. */
const PAD = 16;

const round16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

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

/** A piece of a tensor: `len` entries from entry `lo` (both multiples of BLOCK but the last len). */
interface Chunk {
  index: number;
  lo: number;
  len: number;
}

/** Chunks per kernel thread: enough for a busy core's thread to hand work to an idle one. */
const CHUNKS_PER_THREAD = 4;
/** Bytes of one chunk's state for combine2 (its parameters, then 21 i32; see assembly/kernels.ts). */
const CHUNK_STATE = 256;

type Call = { fn: keyof Exports & string; args: number[] };

export class SimdKernels {
  readonly #module: WebAssembly.Module;
  readonly #memory: WebAssembly.Memory;
  readonly #x: Exports;
  #threads: KernelThread[] = [];
  /** Start of the data region (after the per-thread areas). */
  #data = AREAS + AREA_BYTES;
  /** Where a call's scratch starts (after the slots, while reserved), and its bump pointer. */
  #base = this.#data;
  #top = this.#data;
  #slots: { n: number; inputs: number; stride: number } | null = null;
  /**
   * While slots are reserved: scratch of prepareTaskArithmetic2 (after the slots: sample values for
   * two task vectors, then two select tables), used by nothing else, and the bands it prepared,
   * by the slot inputs they were sampled from.
   */
  #prep: { at: number; samples: number } | null = null;
  #prepared: Prepared[] = [];
  /** Sampled TIES bands that missed their threshold in the last taskArithmetic2 call (tests). */
  bandMisses = 0;
  /** taskArithmetic2 calls so far that started from bands prepareTaskArithmetic2 had taken (tests). */
  preparedCalls = 0;
  /**
   * Tensors taskArithmetic2 declined so far for an Inf or NaN input (the executor counts the tensors
   * the kernels computed themselves).
   */
  declinedTensors = 0;
  /** decodeQuant and encodeQuant calls so far (the executor counts the tensors the SIMD codecs coded). */
  codecCalls = 0;
  /** Views made by slot(): kernels use them in place. */
  #owned = new WeakSet<Uint16Array>();

  constructor(module: WebAssembly.Module) {
    this.#module = module;
    this.#memory = new WebAssembly.Memory({ initial: Math.ceil(this.#data / PAGE), maximum: 65536, shared: true });
    this.#x = new WebAssembly.Instance(module, { env: { memory: this.#memory } }).exports as unknown as Exports;
  }

  get #buffer(): ArrayBufferLike {
    return this.#memory.buffer;
  }

  /** Threads that run the kernels: the attached workers, or this one when there are none. */
  get threads(): number {
    return Math.max(1, this.#threads.length);
  }

  /**
   * Adds kernel threads (workers running kernelThreadMain on the other end of each port), up to
   * MAX_THREADS in all; resolves when they are ready. Not while slots are reserved. If one of them
   * fails to start (an error, or no answer within `startTimeoutMs`), all of them are dropped and
   * ended, and the promise rejects with the reason: the kernels then run on the threads there were
   * before (the memory layout keeps their areas, unused).
   */
  async attachThreads(ports: ThreadPort[], startTimeoutMs?: number): Promise<void> {
    if (this.#slots) throw new Error('internal: kernel threads cannot be attached during a merge');
    const added = ports.slice(0, MAX_THREADS - this.#threads.length).map((p) => new KernelThread(p, this.#module, this.#memory, startTimeoutMs));
    this.#threads.push(...added);
    this.#data = AREAS + (1 + this.#threads.length) * AREA_BYTES;
    this.#base = this.#top = this.#data;
    this.#ensure(this.#data);
    try {
      await Promise.all(added.map((t) => t.ready()));
    } catch (err) {
      this.#threads = this.#threads.filter((t) => !added.includes(t));
      for (const t of added) t.close();
      throw err;
    }
  }

  #ensure(end: number): void {
    const have = this.#buffer.byteLength;
    if (have >= end) return;
    // Shared memory grows in place (views stay valid); only the 4 GiB limit can refuse.
    this.#memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** Room for `bytes` (plus zero padding) in this call's scratch. */
  #alloc(bytes: number): number {
    const at = this.#top;
    this.#top = at + round16(bytes) + PAD;
    this.#ensure(this.#top);
    return at;
  }

  /** Where the kernels find `h`: in place when it is a slot view, else a padded copy. */
  #in(h: Uint16Array): number {
    if (this.#owned.has(h)) return h.byteOffset;
    const at = this.#alloc(h.byteLength);
    const u8 = new Uint8Array(this.#buffer);
    u8.set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), at);
    u8.fill(0, at + h.byteLength, at + h.byteLength + PAD);
    return at;
  }

  #outAt(out: Uint16Array): number {
    return this.#owned.has(out) ? out.byteOffset : this.#alloc(out.byteLength);
  }

  #done(out: Uint16Array, at: number): void {
    if (!this.#owned.has(out)) new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(this.#buffer, at, out.byteLength));
    this.#top = this.#base;
  }

  /** The thread's area (lane scratch, parameters, histograms). */
  #area(thread: number): number {
    return AREAS + thread * AREA_BYTES;
  }

  /** Thread ids whose areas a call may use: 0 (this thread) and 1..W (the workers). */
  get #areas(): number[] {
    return [...Array(1 + this.#threads.length).keys()];
  }

  /** Splits n entries into chunks of whole blocks, CHUNKS_PER_THREAD per kernel thread (one without workers). */
  #chunks(n: number): Chunk[] {
    const blocks = Math.max(1, Math.ceil(n / BLOCK));
    const per = this.#threads.length === 0 ? blocks : Math.max(1, Math.ceil(blocks / (this.#threads.length * CHUNKS_PER_THREAD)));
    const out: Chunk[] = [];
    for (let b = 0; b < blocks; b += per) {
      const lo = b * BLOCK;
      out.push({ index: out.length, lo, len: Math.max(0, Math.min(n, (b + per) * BLOCK) - lo) });
    }
    return out;
  }

  /** Whether #dispatch runs these chunks on this thread: no workers, or one chunk of one block at most. */
  #allHere(chunks: Chunk[]): boolean {
    return this.#threads.length === 0 || (chunks.length === 1 && chunks[0]!.len <= BLOCK);
  }

  /** Set for the duration of a kernel call: dispatch hands out no more chunks once it fires. */
  #signal: AbortSignal | undefined;

  /**
   * Runs make(chunk, thread) for every chunk: on the workers (thread ids 1..W) as one pass, in which
   * each takes the next chunk as it frees up (thread.ts); on this thread (id 0) when there are none.
   * Once the call's signal fires no chunk is started (the caller discards the tensor). Resolves or
   * rejects only when every worker has stopped, so nothing writes to the memory afterwards.
   */
  async #dispatch(chunks: Chunk[], make: (c: Chunk, thread: number) => Call, here = false): Promise<void> {
    if (this.#signal?.aborted) return;
    // One small chunk (norm vectors and the like) is not worth a round trip to a worker, nor is
    // light work (`here`).
    if (here || this.#allHere(chunks)) {
      for (const c of chunks) {
        if (this.#signal?.aborted) return;
        const call = make(c, 0);
        (this.#x[call.fn] as (...a: number[]) => unknown)(...call.args);
      }
      return;
    }
    const counter = new Int32Array(this.#buffer, COUNTER, 1);
    Atomics.store(counter, 0, 0);
    const stop = () => void Atomics.store(counter, 0, chunks.length);
    const signal = this.#signal;
    signal?.addEventListener('abort', stop);
    try {
      // A failed thread stops the pass for the others too.
      const runs = await Promise.allSettled(this.#threads.map((t, w) => t.pass(chunks.map((c) => make(c, w + 1)), COUNTER).catch((e: unknown) => {
        stop();
        throw e;
      })));
      const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /** rank() of the histogram at `table`: the bucket holding ascending position p, and the entries below it. */
  #rank(table: number, p: number): [number, number] {
    this.#x.rank(table, p, RANK);
    const r = new Int32Array(this.#buffer, RANK, 2);
    return [r[0]!, r[1]! >>> 0];
  }

  /** Σ of block totals at `at` (count of them), in block order. */
  #sumBlocks(at: number, count: number): number {
    const b = new Float64Array(this.#buffer, at, count);
    let s = 0;
    for (let i = 0; i < count; i++) s += b[i]!;
    return s;
  }

  /**
   * Reserves, once per merge, two slots of `inputs` input tensors and one output of up to `maxN`
   * values each, for the executor's double buffering (tensor k + 1 is read into one slot while
   * tensor k is computed from the other and its result written out), plus the kernels' scratch.
   * Returns false when the memory cannot grow that far (the caller then reads into its own buffers).
   */
  reserve(maxN: number, inputs: number): boolean {
    if (this.#slots) throw new Error('internal: SIMD slots are already reserved');
    const stride = round16(maxN * 2) + PAD;
    const slotsEnd = this.#data + 2 * (inputs + 1) * stride;
    const samples = maxSamples(maxN);
    const prepEnd = slotsEnd + round16(2 * samples * 4) + DIGIT_TABLE_BYTES + PAD;
    try {
      // Scratch after the slots: linear's f32 accumulator for more than two inputs, block sums.
      this.#ensure(prepEnd + round16(maxN * 4) + PAD + 4 * (round16((maxN / BLOCK + 1) * 8) + PAD));
    } catch {
      return false;
    }
    this.#slots = { n: maxN, inputs, stride };
    this.#prep = { at: slotsEnd, samples };
    this.#prepared = [];
    this.#base = this.#top = prepEnd;
    return true;
  }

  /** Views of slot 0 or 1 for a tensor of n values (n ≤ the reserved maxN); input padding is zeroed. */
  slot(slot: 0 | 1, n: number): SlotViews {
    const s = this.#slots;
    if (!s || n > s.n) throw new Error('internal: no SIMD slot reserved for this tensor');
    const at = this.#data + slot * (s.inputs + 1) * s.stride;
    // Bands prepared from what this slot held are stale now.
    const end = at + (s.inputs + 1) * s.stride;
    this.#prepared = this.#prepared.filter((p) => p.pb < at || p.pb >= end);
    const u8 = new Uint8Array(this.#buffer);
    const inputs: Uint16Array[] = [];
    for (let k = 0; k < s.inputs; k++) {
      const p = at + k * s.stride;
      u8.fill(0, p + n * 2, p + n * 2 + PAD);
      const v = new Uint16Array(this.#buffer, p, n);
      this.#owned.add(v);
      inputs.push(v);
    }
    const out = new Uint16Array(this.#buffer, at + s.inputs * s.stride, n);
    this.#owned.add(out);
    return { inputs, out };
  }

  /** Ends a reservation (the memory stays, for the next merge on this thread). */
  release(): void {
    this.#slots = null;
    this.#prep = null;
    this.#prepared = [];
    this.#base = this.#top = this.#data;
  }

  /**
   * Runs `f` with `signal` as the cancel of its chunks. A cancelled call returns a partial result:
   * callers check the signal afterwards and discard it (the executor throws MergeAbortedError).
   */
  async withSignal<T>(signal: AbortSignal | undefined, f: () => Promise<T>): Promise<T> {
    this.#signal = signal;
    try {
      return await f();
    } finally {
      this.#signal = undefined;
    }
  }

  /** out = fp16((wa·a + wb·b) / divisor), in double; returns Σ (b − a)² (block order, see methods/types.ts). */
  async linear2(a: Uint16Array, b: Uint16Array, out: Uint16Array, wa: number, wb: number, divisor: number): Promise<number> {
    const n = out.length;
    const pa = this.#in(a);
    const pb = this.#in(b);
    const po = this.#outAt(out);
    const blocks = this.#alloc(Math.ceil(n / BLOCK) * 8);
    const recip = isPowerOfTwo(divisor) ? 1 : 0;
    await this.#dispatch(this.#chunks(n), (r) => ({
      fn: 'linear2', args: [pa + r.lo * 2, pb + r.lo * 2, po + r.lo * 2, r.len, wa, wb, divisor, recip, blocks + (r.lo / BLOCK) * 8],
    }));
    const sq = this.#sumBlocks(blocks, Math.ceil(n / BLOCK));
    this.#done(out, po);
    return sq;
  }

  /**
   * out = fp16(Σ w_m·x_m / divisor) for any number of fp16 inputs, accumulated in f32 model by
   * model (as linear's JavaScript loop); returns Σ (x_m − x_ref)² for every m ≠ ref, in input order.
   */
  async linearN(halves: readonly Uint16Array[], weights: readonly number[], divisor: number, ref: number, out: Uint16Array): Promise<number[]> {
    const n = out.length;
    const M = halves.length;
    const at = halves.map((h) => this.#in(h));
    const po = this.#outAt(out);
    const acc = this.#alloc(n * 4);
    const nb = Math.ceil(n / BLOCK);
    const others = [...Array(M).keys()].filter((m) => m !== ref);
    const blocks = others.map(() => this.#alloc(nb * 8));
    new Uint8Array(this.#buffer).fill(0, acc, acc + n * 4 + PAD);
    const chunks = this.#chunks(n);
    for (let m = 0; m < M; m++) await this.#dispatch(chunks, (r) => ({ fn: 'axpy', args: [at[m]! + r.lo * 2, acc + r.lo * 4, r.len, weights[m]!] }));
    if (divisor !== 1) await this.#dispatch(chunks, (r) => ({ fn: 'divide', args: [acc + r.lo * 4, r.len, divisor] }));
    await this.#dispatch(chunks, (r) => ({ fn: 'encode', args: [acc + r.lo * 4, po + r.lo * 2, r.len] }));
    for (const [j, m] of others.entries()) {
      await this.#dispatch(chunks, (r) => ({ fn: 'sqDistance', args: [at[m]! + r.lo * 2, at[ref]! + r.lo * 2, r.len, blocks[j]! + (r.lo / BLOCK) * 8] }));
    }
    const sq = blocks.map((b) => this.#sumBlocks(b, nb));
    this.#done(out, po);
    return sq;
  }

  /**
   * θ = base + λ·Δ for two task vectors δ_i = x_i − base, with optional magnitude sparsification
   * (keep the ⌊density·n⌋ largest |δ|, ties to the lower index, as sparsify.ts), per-model weights and
   * TIES sign consensus, exactly as task-arithmetic-core.ts. Resolves to null when some input entry
   * is an fp16 Inf or NaN (these kernels convert only finite halves): `out` is then unfinished and
   * the caller takes the general path, which writes all of it.
   *
   * Ranking (see assembly/kernels.ts): a band of |δ| that holds each threshold comes from a sample
   * of the tensor (large tensors), or exactly from a full histogram of the high 16 bits (small
   * tensors, or when the sample's band turns out to miss the threshold); phase 0 settles the groups
   * outside the bands on every thread; the band entries of the listed groups give the exact
   * thresholds; phase 1 settles the listed groups, each chunk with its share of the ties.
   */
  async taskArithmetic2(x0: Uint16Array, x1: Uint16Array, base: Uint16Array, out: Uint16Array, o: TaskArithmetic2Options): Promise<TaskArithmetic2Result | null> {
    const n = out.length;
    const p0 = this.#in(x0);
    const p1 = this.#in(x1);
    const pb = this.#in(base);
    const po = this.#outAt(out);
    const x = this.#x;
    const nb = Math.ceil(n / BLOCK);
    const blocks0 = this.#alloc(nb * 8);
    const blocks1 = this.#alloc(nb * 8);
    const chunks = this.#chunks(n);
    // The areas (histograms, counts) of the threads that may run a chunk: this one alone for a small
    // tensor, which then zeroes and adds up only its own tables.
    const areas = this.#allHere(chunks) ? [0] : this.#areas;
    const { ranked, keep } = ranking(o, n);
    const anyRanked = ranked[0]! || ranked[1]!;
    // Per thread (whichever runs a chunk): lane scratch, counts, histograms. Per chunk: combine2's
    // parameters and state (ints: see assembly/kernels.ts; [15, 16] hold countTies' counts).
    const hist = (thread: number, t: number) => this.#area(thread) + HIST + 2 * t * TABLE;
    const low = (thread: number, t: number) => this.#area(thread) + LOW + t * TABLE;
    const state = this.#alloc(chunks.length * CHUNK_STATE);
    const args = (c: Chunk) => state + c.index * CHUNK_STATE;
    const ints = (c: Chunk) => new Int32Array(this.#buffer, args(c) + 72, 21);
    const list = anyRanked ? this.#alloc(Math.ceil(n / 4) * 4) : 0;
    const listAt = (c: Chunk) => list + c.lo; // one i32 per group of four entries
    /** Adds table `of(th)` of every thread into thread 0's (zeroed beforehand like the others). */
    const gather = (of: (thread: number) => number) => {
      for (const th of areas) if (th !== 0) x.addTable(of(0), of(th));
    };

    // Parameters, the same for every chunk.
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
    const reciprocal = divisors.every(isPowerOfTwo) ? 1 : 0;
    for (const c of chunks) new Float64Array(this.#buffer, args(c), 9).set([scale(0), w[0], scale(1), w[1], ...divisors, o.lambda]);
    const all = [0, 1].map((t) => (ranked[t] ? 0 : -1));

    // Bands [lo, hi] (u32 bits of |δ|) holding each threshold; k = 0 keeps nothing: an empty band
    // at the top (no |δ| is above or inside it).
    const bands: [number, number][] = [[-1, -1], [-1, -1]];
    const exactBands = async () => {
      for (const th of areas) x.zero(hist(th, 0), 4 * TABLE);
      await this.#dispatch(chunks, (c, th) => ({ fn: 'highPass', args: [p0 + c.lo * 2, p1 + c.lo * 2, pb + c.lo * 2, c.len, hist(th, 0), hist(th, 1)] }));
      if (this.#signal?.aborted) return;
      for (const t of [0, 1]) {
        if (!ranked[t] || keep[t] === 0) continue;
        // Threads count alternate lanes into two tables: every thread's into thread 0's two, then
        // its second into its first.
        gather((th) => hist(th, t));
        gather((th) => hist(th, t) + TABLE);
        x.addTable(hist(0, t), hist(0, t) + TABLE);
        const [bucket] = this.#rank(hist(0, t), n - keep[t]!);
        bands[t] = [bucket << 16, (bucket << 16) | 0xffff];
      }
    };
    let sampled = false;
    this.bandMisses = 0;
    if (anyRanked) {
      sampled = sampleSize(n) >= MIN_SAMPLES;
      const prepared = sampled ? this.#takePrepared(p0, p1, pb, n, keep) : null;
      if (prepared) bands.splice(0, 2, ...prepared);
      else if (sampled) await this.#sampleBands(chunks, p0, p1, pb, n, ranked, keep, bands);
      else await exactBands();
    }

    // A cancelled call stops here and there with a result nobody reads (see withSignal).
    const cancelled = (): TaskArithmetic2Result | null => {
      if (!this.#signal?.aborted) return null;
      this.#top = this.#base;
      return { norms: [NaN, NaN], kept: [keep[0]!, keep[1]!], agree: 0, nonzero: 0 };
    };

    // Phase 0 on every chunk; with a sampled band that misses a threshold, again with exact bands.
    // Each chunk lists its band entries' |δ| bits, up to a quarter of its entries per task vector.
    // (A chunk's list has a u32 after its room, which the kernel writes once the room is full.)
    const half = Math.ceil(n / 4) * 4 + 4 * chunks.length + 16;
    const bandLists = anyRanked ? this.#alloc(2 * half) : 0;
    const bandAt = (c: Chunk, t: number) => bandLists + t * half + c.lo + 4 * c.index;
    const capacity = (c: Chunk) => Math.ceil(c.len / 4);
    // Copies of the listed groups' inputs, for phase 1 to read in a row: room for a quarter of each
    // chunk's groups (24 bytes each; chunks start at whole blocks, so their rooms do not overlap).
    const records = anyRanked ? this.#alloc(Math.ceil(n / 16) * 24) : 0;
    const recordsAt = (c: Chunk) => records + (c.lo / 16) * 24;
    const room = (c: Chunk) => Math.ceil(c.len / 16);
    const count = (c: Chunk, t: number) => ints(c)[17 + t]!;
    let above = [0, 0];
    let inBand = [0, 0];
    let overflow = false;
    for (;;) {
      for (const c of chunks) ints(c).set([bands[0]![1], bands[1]![1], all[0]!, all[1]!, 0, 0, o.mode, reciprocal, bands[0]![0], bands[1]![0], 0, 0, 0, 0, c.lo, 0, 0, 0, 0, capacity(c), room(c)]);
      for (const th of areas) new Int32Array(this.#buffer, this.#area(th) + COUNTS, 2).fill(0);
      await this.#dispatch(chunks, (c, th) => ({
        fn: 'combine2',
        args: [p0 + c.lo * 2, p1 + c.lo * 2, pb + c.lo * 2, po + c.lo * 2, c.len, args(c), this.#area(th) + COUNTS, listAt(c), 0,
          blocks0 + (c.lo / BLOCK) * 8, blocks1 + (c.lo / BLOCK) * 8, bandAt(c, 0), bandAt(c, 1), recordsAt(c)],
      }));
      const stop = cancelled();
      if (stop) return stop;
      // An Inf or NaN input entry (flagged by phase 0, which sees every entry): the kernels' fast fp16
      // conversion does not handle them, so nothing computed so far counts.
      if (chunks.some((c) => ints(c)[13] !== 0)) {
        this.#top = this.#base;
        this.declinedTensors++;
        return null;
      }
      if (!anyRanked) break;
      above = [0, 1].map((t) => chunks.reduce((sum, c) => sum + ints(c)[11 + t]!, 0));
      inBand = [0, 1].map((t) => chunks.reduce((sum, c) => sum + count(c, t), 0));
      overflow = chunks.some((c) => count(c, 0) > capacity(c) || count(c, 1) > capacity(c));
      const missed = [0, 1].some((t) => ranked[t] && keep[t]! > 0 && !(keep[t]! - above[t]! >= 1 && keep[t]! - above[t]! <= inBand[t]!));
      if (!missed) break;
      if (!sampled) throw new Error('internal: an exact band does not hold the TIES threshold');
      this.bandMisses++;
      sampled = false;
      await exactBands();
    }

    if (anyRanked) {
      // The exact threshold among the band's entries: the (k − above)-th largest of them; how many
      // entries equal to it each chunk holds (the quota goes to chunks in index order); how many are
      // larger.
      const need = [0, 1].map((t) => keep[t]! - above[t]!);
      const thresholds = [-1, -1];
      const larger = [0, 0];
      const ties = [chunks.map(() => 0), chunks.map(() => 0)];
      if (!overflow) {
        // From the chunks' band lists, gathered in one array.
        for (const t of [0, 1]) {
          if (!ranked[t] || keep[t] === 0) continue;
          const gathered = this.#alloc(inBand[t]! * 4);
          // A view made after the allocation: growing the memory does not lengthen older views.
          const u8 = new Uint8Array(this.#buffer);
          let at = gathered;
          for (const c of chunks) {
            u8.copyWithin(at, bandAt(c, t), bandAt(c, t) + count(c, t) * 4);
            at += count(c, t) * 4;
          }
          thresholds[t] = this.#select(gathered, inBand[t]!, inBand[t]! - need[t]!, inBand[t]! - need[t]!, this.#area(0) + LOW)[0];
          for (const c of chunks) {
            x.countU32(bandAt(c, t), count(c, t), thresholds[t]!, RANK);
            const r = new Int32Array(this.#buffer, RANK, 2);
            larger[t] = larger[t]! + r[0]!;
            ties[t]![c.index] = r[1]!;
          }
        }
      } else {
        // A band too full to list (a tensor of a few distinct values): histograms of the band's
        // entries over the listed groups, high 16 bits then low, and each chunk's ties counted.
        await this.#bandPass(chunks, areas, p0, p1, pb, n, bands, [-1, -1], true, hist, listAt, ints);
        const buckets = [-1, -1];
        const belowBuckets = [0, 0];
        for (const t of [0, 1]) {
          if (!ranked[t] || keep[t] === 0) continue;
          gather((th) => hist(th, t));
          [buckets[t]!, belowBuckets[t]!] = this.#rank(hist(0, t), inBand[t]! - need[t]!);
        }
        await this.#bandPass(chunks, areas, p0, p1, pb, n, bands, buckets, false, low, listAt, ints);
        const halted = cancelled();
        if (halted) return halted;
        for (const t of [0, 1]) {
          if (buckets[t] === -1) continue;
          gather((th) => low(th, t));
          const [lowBits, belowLow] = this.#rank(low(0, t), inBand[t]! - need[t]! - belowBuckets[t]!);
          thresholds[t] = (buckets[t]! << 16) | lowBits;
          larger[t] = inBand[t]! - (belowBuckets[t]! + belowLow) - new Uint32Array(this.#buffer, low(0, t) + lowBits * 4, 1)[0]!;
        }
        await this.#dispatch(chunks, (c) => ({
          fn: 'countTies', args: [p0, p1, pb, n, thresholds[0]!, thresholds[1]!, listAt(c), ints(c)[10]!, args(c) + 72 + 60],
        }));
        for (const c of chunks) for (const t of [0, 1]) ties[t]![c.index] = ints(c)[15 + t]!;
      }
      const quota = [0, 1].map((t) => (thresholds[t] === -1 ? 0 : need[t]! - larger[t]!));
      for (const c of chunks) {
        const a = ints(c);
        for (const t of [0, 1]) {
          const mine = Math.min(quota[t]!, ties[t]![c.index]!);
          quota[t] = quota[t]! - mine;
          a[t] = thresholds[t]!;
          a[4 + t] = mine;
        }
        a[14] = 0; // phase 1 reads absolute indices, pointers at the tensor's start
      }
      await this.#dispatch(chunks, (c, th) => ({
        fn: 'combine2', args: [p0, p1, pb, po, n, args(c), this.#area(th) + COUNTS, listAt(c), 1, 0, 0, 0, 0, recordsAt(c)],
      }));
    }
    this.#done(out, po);
    let agree = 0;
    let nonzero = 0;
    for (const th of areas) {
      const c = new Int32Array(this.#buffer, this.#area(th) + COUNTS, 2);
      agree += c[0]!;
      nonzero += c[1]!;
    }
    const norms: [number, number] = [Math.sqrt(this.#sumBlocks(blocks0, nb)), Math.sqrt(this.#sumBlocks(blocks1, nb))];
    return { norms, kept: [keep[0]!, keep[1]!], agree, nonzero };
  }

  /** Whether `type` has SIMD codecs (Q8_0, Q4_K, Q5_K, Q6_K). */
  hasQuantCodec(type: GGMLType): boolean {
    return QUANT_KERNELS.has(type);
  }

  #quant(type: GGMLType, n: number) {
    const k = QUANT_KERNELS.get(type);
    if (!k) throw new Error(`internal: no SIMD codec for GGML type ${type}`);
    if (!Number.isSafeInteger(n) || n < 0 || n % k.blockSize !== 0) throw new Error(`internal: ${k.name} codec given ${n} values, not whole blocks`);
    return k;
  }

  /**
   * Decodes n values (whole blocks) of a quantised tensor, exactly as its JavaScript codec: the bytes
   * are copied into the kernels' memory and decoded there on the kernel threads (chunks of whole
   * blocks; one chunk on this thread for a small tensor). Returns a view of the f32 in the kernels'
   * memory, valid until releaseViews() (the views of several calls coexist; calls that are not
   * decodeQuantView reuse the memory after them and end with releaseViews). Copying the values out
   * would cost as much as decoding them. The caller checks sizes (codecs/types.ts checkDecode).
   */
  async decodeQuantView(type: GGMLType, bytes: Uint8Array, n: number): Promise<Float32Array> {
    const k = this.#quant(type, n);
    this.codecCalls++;
    const size = (n / k.blockSize) * k.typeSize;
    const dst = this.#alloc(n * 4);
    const src = this.#alloc(size);
    new Uint8Array(this.#buffer).set(bytes.subarray(0, size), src);
    // Decoding runs at memory speed: below DECODE_ON_THREADS values a round trip to the threads
    // costs more than it saves.
    await this.#dispatch(this.#chunks(n), (c) => ({ fn: k.decode, args: [src + (c.lo / k.blockSize) * k.typeSize, dst + c.lo * 4, c.len / k.blockSize] }), n < DECODE_ON_THREADS);
    // The source bytes are not needed any more: the next allocation may reuse them.
    this.#top = dst + round16(n * 4) + PAD;
    return new Float32Array(this.#buffer, dst, n);
  }

  /** Ends the views decodeQuantView returned: their memory is reused from now on. */
  releaseViews(): void {
    this.#top = this.#base;
  }

  /**
   * n f32 in the kernels' memory, valid until releaseViews(), for values to encode: encodeQuant reads
   * them in place (the executor has the method write its result there).
   */
  viewF32(n: number): Float32Array {
    // Allocated first: growing the memory gives a new, longer buffer object.
    const at = this.#alloc(n * 4);
    return new Float32Array(this.#buffer, at, n);
  }

  /** decodeQuantView, copied out to `out` (allocated when absent). */
  async decodeQuant(type: GGMLType, bytes: Uint8Array, n: number, out?: Float32Array): Promise<Float32Array> {
    try {
      const v = await this.decodeQuantView(type, bytes, n);
      const y = out ?? new Float32Array(n);
      y.set(v);
      return y;
    } finally {
      this.releaseViews();
    }
  }

  /**
   * Encodes n f32 (whole blocks) as a quantised type, byte for byte as its JavaScript codec (and so
   * ggml's quantize_row_*_ref): values copied into the kernels' memory (unless they are there
   * already), encoded on the kernel threads, bytes copied out to `out` (allocated when absent). Ends
   * the views (releaseViews). Resolves to null, writing nothing to
   * `out`, when a value is Inf or NaN (the caller reports it: codecs/types.ts checkEncode).
   */
  async encodeQuant(type: GGMLType, x: Float32Array, out?: Uint8Array): Promise<Uint8Array | null> {
    const n = x.length;
    const k = this.#quant(type, n);
    this.codecCalls++;
    const size = (n / k.blockSize) * k.typeSize;
    // Values already in the kernels' memory (viewF32, decodeQuantView) are read in place.
    const inPlace = x.buffer === this.#buffer;
    const src = inPlace ? x.byteOffset : this.#alloc(n * 4);
    if (!inPlace) new Float32Array(this.#buffer, src, n).set(x);
    const dst = this.#alloc(size);
    const flag = this.#alloc(4);
    new Int32Array(this.#buffer, flag, 1)[0] = 0;
    try {
      await this.#dispatch(this.#chunks(n), (c, th) => {
        const args = [src + c.lo * 4, dst + (c.lo / k.blockSize) * k.typeSize, c.len / k.blockSize];
        return { fn: k.encode, args: k.scratch ? [...args, this.#area(th) + CODEC_SCRATCH, flag] : [...args, flag] };
      });
      if (new Int32Array(this.#buffer, flag, 1)[0] !== 0) return null;
      const y = out ?? new Uint8Array(size);
      y.set(new Uint8Array(this.#buffer, dst, size));
      return y;
    } finally {
      this.#top = this.#base;
    }
  }

  /** bandPass over every chunk's listed groups, into the running thread's tables (all zeroed here). */
  async #bandPass(
    chunks: Chunk[], areas: number[], p0: number, p1: number, pb: number, n: number, bands: [number, number][], buckets: number[], high: boolean,
    table: (thread: number, t: number) => number, listAt: (c: Chunk) => number, ints: (c: Chunk) => Int32Array,
  ): Promise<void> {
    for (const th of areas) {
      this.#x.zero(table(th, 0), TABLE);
      this.#x.zero(table(th, 1), TABLE);
    }
    await this.#dispatch(chunks, (c, th) => ({
      fn: 'bandPass',
      args: [p0, p1, pb, n, bands[0]![0], bands[0]![1], bands[1]![0], bands[1]![1], buckets[0]!, buckets[1]!, high ? 1 : 0,
        table(th, 0), table(th, 1), this.#area(th) + TMP, listAt(c), ints(c)[10]!],
    }));
  }

  /** The p-th and q-th smallest of the m u32 at `values`, which it reorders (`tables`: two 2,048-u32 tables of scratch). */
  #select(values: number, m: number, p: number, q: number, tables: number): [number, number] {
    this.#x.selectPair(values, m, p, q, tables, RANK);
    const r = new Uint32Array(this.#buffer, RANK, 2);
    return [r[0]!, r[1]!];
  }

  /**
   * Bands from a sample of |δ| (four consecutive entries in every sampleStride(n)), taken by the chunks
   * (see #bandsOfSample).
   */
  async #sampleBands(chunks: Chunk[], p0: number, p1: number, pb: number, n: number, ranked: boolean[], keep: number[], bands: [number, number][]): Promise<void> {
    const every = sampleStride(n);
    const m = sampleSize(n);
    const at = this.#alloc(2 * m * 4);
    // Each chunk (whole strides but the last) samples its own range, on the kernel threads when the
    // tensor is large (a sample is a small fraction of it: round trips cost more for smaller ones).
    await this.#dispatch(chunks, (c) => {
      const first = c.lo / every;
      return { fn: 'sampleDeltas', args: [p0 + c.lo * 2, p1 + c.lo * 2, pb + c.lo * 2, c.len, every, first, at + first * 16, at + m * 4 + first * 16] };
    }, n < SAMPLE_ON_THREADS);
    if (this.#signal?.aborted) return;
    this.#bandsOfSample(at, m, n, ranked, keep, bands, this.#area(0) + LOW);
  }

  /**
   * Bands from the sample at `at` (m values per task vector, one after the other): the sample's
   * order statistics around the threshold's rank, tuning.sampleMargin standard deviations of a sample
   * quantile (plus a few) either side. A band that misses is detected after phase 0, which then runs
   * again with exact bands. `tables`: selectPair's scratch.
   */
  #bandsOfSample(at: number, m: number, n: number, ranked: boolean[], keep: number[], bands: [number, number][], tables: number): void {
    for (const t of [0, 1]) {
      if (!ranked[t] || keep[t] === 0) continue;
      // Ascending rank of the threshold among all n, scaled to the sample.
      const q = (n - keep[t]!) / n;
      const h = tuning.sampleMargin > 0 ? Math.ceil(tuning.sampleMargin * Math.sqrt(m * q * (1 - q))) + 8 : Math.round(tuning.sampleMargin);
      const r = Math.floor(q * m);
      // Bits of non-negative floats order like their values.
      const [lo, hi] = this.#select(at + t * m * 4, m, Math.max(0, r - h), Math.min(m - 1, r + h), tables);
      bands[t] = [r - h <= 0 ? 0 : lo, r + h >= m - 1 ? 0x7fffffff : hi];
    }
  }

  /**
   * Takes the sample of a coming taskArithmetic2 call now, on this thread, from inputs in a reserved
   * slot (the executor calls it as soon as a tensor is read, while the kernel threads compute the
   * one before): that call then starts with its bands. Does nothing where the call would not sample
   * (no ranking, a small tensor) or the inputs are not slot views. The bands are the ones the call
   * would find itself (the same sample), and a band only places work: results are the same either way.
   */
  prepareTaskArithmetic2(x0: Uint16Array, x1: Uint16Array, base: Uint16Array, o: TaskArithmetic2Options): void {
    const prep = this.#prep;
    if (!prep || ![x0, x1, base].every((h) => this.#owned.has(h))) return;
    const n = base.length;
    const { ranked, keep } = ranking(o, n);
    const m = sampleSize(n);
    if (!(ranked[0] || ranked[1]) || m < MIN_SAMPLES || m > prep.samples) return;
    const [p0, p1, pb] = [x0.byteOffset, x1.byteOffset, base.byteOffset];
    this.#x.sampleDeltas(p0, p1, pb, n, sampleStride(n), 0, prep.at, prep.at + m * 4);
    const bands: [number, number][] = [[-1, -1], [-1, -1]];
    this.#bandsOfSample(prep.at, m, n, ranked, keep, bands, prep.at + round16(2 * prep.samples * 4));
    this.#prepared = this.#prepared.filter((p) => p.pb !== pb);
    this.#prepared.push({ p0, p1, pb, n, keep, bands });
  }

  /** The bands prepared for these inputs and ranks, if any (taken: each serves one call). */
  #takePrepared(p0: number, p1: number, pb: number, n: number, keep: number[]): [number, number][] | null {
    const i = this.#prepared.findIndex((p) => p.p0 === p0 && p.p1 === p1 && p.pb === pb && p.n === n && p.keep[0] === keep[0] && p.keep[1] === keep[1]);
    if (i < 0) return null;
    const [p] = this.#prepared.splice(i, 1);
    this.preparedCalls++;
    return p!.bands;
  }

}

/** Whether x/d equals x·(1/d) for every x: d = ±2^k with 1/d a normal double. */
function isPowerOfTwo(d: number): boolean {
  const a = Math.abs(d);
  if (!(a >= 2 ** -1022 && a <= 2 ** 1022)) return false;
  return 2 ** Math.round(Math.log2(a)) === a;
}

let kernels: SimdKernels | null | undefined;
let module: WebAssembly.Module | undefined;

/**
 * This thread's kernels, compiling synchronously on first use; null when WebAssembly SIMD or shared
 * memory is not available, or synchronous compilation is refused (a browser's main thread: await
 * loadSimdKernels() there first).
 */
export function simdKernels(): SimdKernels | null {
  if (!enabled) return null;
  if (kernels !== undefined) return kernels;
  try {
    module ??= new WebAssembly.Module(bytesOf(KERNELS_WASM_BASE64) as BufferSource);
  } catch {
    // Not cached as null: an async load may still succeed where a sync compile was refused.
    return null;
  }
  return (kernels = create(module));
}

/** Compiles the kernels asynchronously (safe on any thread); resolves to simdKernels()'s value. */
export async function loadSimdKernels(): Promise<SimdKernels | null> {
  if (!enabled) return null;
  if (kernels !== undefined) return kernels;
  try {
    module ??= await WebAssembly.compile(bytesOf(KERNELS_WASM_BASE64) as BufferSource);
  } catch {
    return (kernels = null);
  }
  return (kernels = create(module));
}

/** Null when shared memory is refused (a page that is not cross-origin isolated) or SIMD is missing. */
function create(m: WebAssembly.Module): SimdKernels | null {
  try {
    return new SimdKernels(m);
  } catch {
    return null;
  }
}

let enabled = true;

/** Turns the SIMD kernels off (every caller takes its JavaScript loops) or back on; for tests and benchmarks. */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}
