// AssemblyScript source of the merge's WebAssembly SIMD kernels (compiled by tools/wasm/build.mjs
// into ../kernels.wasm.ts; `npm run build:wasm`). Not part of the TypeScript program: it uses
// AssemblyScript's types (i32, f64, v128, usize) and builtins.
//
// Every kernel computes exactly what the JavaScript kernels in ../../methods compute, bit for bit:
// - fp16 → f32 is exact (integer arithmetic on the bits, subnormals by the 2^-14 magic subtraction);
// - f32 → fp16 rounds to nearest even as codecs/half.ts does (F. Giesen's float_to_half_fast3_rtne:
//   subnormal halves by adding 0.5 in f32, normal ones by adding 0xfff plus the kept bit's parity);
// - arithmetic that JavaScript does on doubles (weights, divisions, λ) is done here on f64 lanes, in
//   the same order, then rounded to f32 once, as storing into a Float32Array does; a difference of two
//   f32 values is the same in f32 as in double-then-f32 (53 ≥ 2·24 + 2 bits);
// - squared norms (statistics) are summed per block of 65,536 entries in four interleaved f32 lanes
//   (entry i into lane i mod 4: its difference and square rounded to f32, added in f32), the block's
//   total being (l0 + l1) + (l2 + l3) in double; kernels write block totals, which the caller adds in
//   block order in double: the order methods/types.ts NormSum fixes for every path, whatever the
//   number of threads (each takes whole blocks).
// Elements are processed four at a time; a last partial group reads zero padding (the caller leaves
// 16 zero bytes after every array) and counts only its real lanes.

/** Bytes of one 65,536-entry u32 histogram. */
const TABLE: usize = 262144;
/** Entries per block of a squared-norm sum (see above). */
const BLOCK_SHIFT: i32 = 16;
const BLOCK: i32 = 1 << BLOCK_SHIFT;

/**
 * Four fp16 bit patterns (sign-extended in i32 lanes) → four f32 (as v128), exact for every finite
 * half. Shifted left 13 and masked, the sign lands on bit 31 and exponent and mantissa on bits
 * 27..13: an f32 2^112 times too small, so one multiplication by 2^112 rebases normal and subnormal
 * halves alike (exact: a power of two; the sign rides along). Exponent 31 (Inf, NaN) becomes a
 * finite f32 of magnitude 65536 or more: halvesToF32 fixes those; the TIES kernels use this alone,
 * their phase 0 looking at every input entry (see `special`) and the caller discarding the tensor's
 * results when one is Inf or NaN.
 */
@inline
function widen(h: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(h, 13), i32x4.splat(<i32>0x8fffe000)), f32x4.splat(reinterpret<f32>(0x77800000)));
}

/**
 * widen, exactly for every half: exponent 31 gets the f32 exponent 255 (widen's exponent field for
 * it, 0x47800000 and up, lies inside 0x7f800000, so OR-ing that in is enough; mantissa and sign stay).
 */
@inline
function halvesToF32(h: v128): v128 {
  const e = i32x4.splat(0x7c00);
  return v128.or(widen(h), v128.and(i32x4.eq(v128.and(h, e), e), i32x4.splat(0x7f800000)));
}

/**
 * Normal halves from f32 magnitudes (bits without the sign, 2^-14 ≤ a < 65536): rebase the exponent
 * and round on the 13 dropped bits, ties to even (a carry out of the mantissa bumps the exponent,
 * up to Inf from 65520).
 */
@inline
function normalHalves(a: v128): v128 {
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  return i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(<i32>0xc8000fff)), odd), 13);
}

/** Four f32 (bits in i32 lanes) → four fp16 bit patterns in i32 lanes, round to nearest even. */
@inline
function f32ToHalves(u: v128): v128 {
  const sign = v128.and(u, i32x4.splat(<i32>0x80000000));
  const a = v128.xor(u, sign);
  const normal = normalHalves(a);
  // Below 2^-14: adding 0.5 rounds to a multiple of 2^-24 in the mantissa (ties to even).
  const small = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  // 65520 and above round to Inf (the normal path carries there); NaN → quiet NaN 0x7e00.
  const big = v128.bitselect(i32x4.splat(0x7e00), i32x4.splat(0x7c00), i32x4.gt_u(a, i32x4.splat(0x7f800000)));
  let o = v128.bitselect(small, normal, i32x4.lt_u(a, i32x4.splat(0x38800000)));
  o = v128.bitselect(big, o, i32x4.ge_u(a, i32x4.splat(0x47800000)));
  return v128.or(o, i32x4.shr_u(sign, 16));
}

@inline
function load4(p: usize): v128 {
  return halvesToF32(v128.load16x4_s(p));
}

@inline
function load4w(p: usize): v128 {
  return widen(v128.load16x4_s(p));
}

/** Four sign-extended halves shifted so that exponent 31 (Inf, NaN) is 0xf8000000 and up, unsigned. */
@inline
function special(h: v128): v128 {
  return i32x4.shl(h, 17);
}

/**
 * Four f32 → four fp16 stored at p. When every lane is a normal half after rounding (2^-14 ≤ |f| <
 * 65536: its bits + 0x47800000 then wrap to below 0x8f000000 as i32) only f32ToHalves' normal path
 * is needed; otherwise f32ToHalves handles zeros, subnormals, overflow and NaN.
 */
@inline
function store4(p: usize, f: v128): void {
  const a = v128.and(f, i32x4.splat(0x7fffffff));
  const outside = i32x4.gt_s(i32x4.add(a, i32x4.splat(0x47800000)), i32x4.splat(<i32>0x8effffff));
  let h: v128;
  if (v128.any_true(outside)) h = f32ToHalves(f);
  else h = v128.or(normalHalves(a), i32x4.shr_u(v128.xor(f, a), 16));
  v128.store64_lane(p, i16x8.narrow_i32x4_u(h, h), 0);
}

/** The low and high pairs of four f32 lanes as f64x2. */
@inline
function lo64(f: v128): v128 {
  return f64x2.promote_low_f32x4(f);
}
@inline
function hi64(f: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(f, f, 2, 3, 2, 3));
}
/** Two f64x2 rounded to f32 and joined into four lanes (lo, hi). */
@inline
function join32(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** (l0 + l1) + (l2 + l3), in double, of four f32 lane sums. */
@inline
function laneSum(q: v128): f64 {
  return (<f64>f32x4.extract_lane(q, 0) + <f64>f32x4.extract_lane(q, 1)) + (<f64>f32x4.extract_lane(q, 2) + <f64>f32x4.extract_lane(q, 3));
}

/**
 * v / d in double, or v · d when `reciprocal` is set: d then already holds 1/divisor for a power-of-
 * two divisor, and multiplying is exactly dividing.
 */
@inline
function over(v: v128, d: v128, reciprocal: bool): v128 {
  return reciprocal ? f64x2.mul(v, d) : f64x2.div(v, d);
}

// ---------------------------------------------------------------------------------------------
// linear (methods/linear.ts)

/**
 * out = fp16((wa·a + wb·b) / divisor) computed in double; the block totals of Σ (b − a)² to `blocks`
 * (f64 each). With `reciprocal` set (divisor a power of two) it multiplies by 1/divisor, which is
 * then exactly dividing.
 */
export function linear2(a: usize, b: usize, out: usize, n: i32, wa: f64, wb: f64, divisor: f64, reciprocal: i32, blocks: usize): void {
  const va = f64x2.splat(wa);
  const vb = f64x2.splat(wb);
  const vd = f64x2.splat(reciprocal ? 1 / divisor : divisor);
  const recip = reciprocal != 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = min(n, start + BLOCK);
    let q = f32x4.splat(0);
    for (let i = start; i < end; i += 4) {
      const o = <usize>i << 1;
      const x = load4(a + o);
      const y = load4(b + o);
      const xl = lo64(x), xh = hi64(x), yl = lo64(y), yh = hi64(y);
      const rl = f64x2.add(f64x2.mul(va, xl), f64x2.mul(vb, yl));
      const rh = f64x2.add(f64x2.mul(va, xh), f64x2.mul(vb, yh));
      store4(out + o, join32(over(rl, vd, recip), over(rh, vd, recip)));
      const d = f32x4.sub(y, x);
      q = f32x4.add(q, f32x4.mul(d, d));
    }
    store<f64>(blocks + (<usize>(start >> BLOCK_SHIFT) << 3), laneSum(q));
  }
}

/** acc (f32) = f32(acc + w·x) for fp16 x, in double. */
export function axpy(x: usize, acc: usize, n: i32, w: f64): void {
  const vw = f64x2.splat(w);
  for (let i = 0; i < n; i += 4) {
    const p = acc + (<usize>i << 2);
    const v = load4(x + (<usize>i << 1));
    const s = v128.load(p);
    v128.store(p, join32(f64x2.add(lo64(s), f64x2.mul(vw, lo64(v))), f64x2.add(hi64(s), f64x2.mul(vw, hi64(v)))));
  }
}

/** acc (f32) = f32(acc / divisor), in double. */
export function divide(acc: usize, n: i32, divisor: f64): void {
  const vd = f64x2.splat(divisor);
  for (let i = 0; i < n; i += 4) {
    const p = acc + (<usize>i << 2);
    const s = v128.load(p);
    v128.store(p, join32(f64x2.div(lo64(s), vd), f64x2.div(hi64(s), vd)));
  }
}

/** The block totals of Σ (x − ref)² over fp16 x and ref (see the header for the order), to `blocks`. */
export function sqDistance(x: usize, ref: usize, n: i32, blocks: usize): void {
  for (let start = 0; start < n; start += BLOCK) {
    const end = min(n, start + BLOCK);
    let q = f32x4.splat(0);
    for (let i = start; i < end; i += 4) {
      const o = <usize>i << 1;
      const d = f32x4.sub(load4(x + o), load4(ref + o));
      q = f32x4.add(q, f32x4.mul(d, d));
    }
    store<f64>(blocks + (<usize>(start >> BLOCK_SHIFT) << 3), laneSum(q));
  }
}

/** out (fp16) = acc (f32), round to nearest even. */
export function encode(acc: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) store4(out + (<usize>i << 1), v128.load(acc + (<usize>i << 2)));
}

// ---------------------------------------------------------------------------------------------
// task arithmetic / TIES with two task vectors (methods/task-arithmetic-core.ts, sparsify.ts)
//
// Magnitude sparsification keeps the k largest |δ| of a task vector. Its threshold (the k-th largest
// |δ|, as f32 bits: they order like the magnitudes) is found without sorting: the caller picks a
// band [lo, hi] of |δ| that holds it (from a sample, or exactly: the high-16-bit bucket of a full
// histogram); combine2's phase 0 then settles every group of four with no entry in the band (above hi
// stays, below lo goes), counts the entries above, and lists the other groups (with a copy of their
// inputs, so that phase 1 reads them in a row); the band's entries, listed by phase 0 too, give the
// exact threshold and how many entries equal to it stay (the first ones in index order); phase 1
// settles the listed groups with them.

@inline
function bump(hist: usize, bucket: i32): void {
  const p = hist + (<usize>bucket << 2);
  store<u32>(p, load<u32>(p) + 1);
}

/**
 * hist[h lane]++ for the first `lanes` lanes of h, lanes 0 and 2 into `hist`, lanes 1 and 3 into the
 * table after it (summed by the caller): neighbours in one bucket — the rule for small fine-tunes,
 * whose task vectors take few distinct values — then do not wait on each other's increment.
 */
@inline
function bump4(hist: usize, h: v128, lanes: i32): void {
  bump(hist, i32x4.extract_lane(h, 0));
  if (lanes > 1) bump(hist + TABLE, i32x4.extract_lane(h, 1));
  if (lanes > 2) bump(hist, i32x4.extract_lane(h, 2));
  if (lanes > 3) bump(hist + TABLE, i32x4.extract_lane(h, 3));
}

/**
 * The exact band's first step: hist_t[|δ_t| bits >>> 16]++ over the whole range for both task
 * vectors δ_t = f32(x_t − base) (each hist_t two 65,536-u32 tables in a row, see bump4, zeroed by the
 * caller).
 */
export function highPass(x0: usize, x1: usize, base: usize, n: i32, hist0: usize, hist1: usize): void {
  const abs = i32x4.splat(0x7fffffff);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 1;
    const b = load4w(base + o);
    const lanes = min(4, n - i);
    bump4(hist0, i32x4.shr_u(v128.and(f32x4.sub(load4w(x0 + o), b), abs), 16), lanes);
    bump4(hist1, i32x4.shr_u(v128.and(f32x4.sub(load4w(x1 + o), b), abs), 16), lanes);
  }
}

/**
 * Where sample group j starts: inside stride j, at a pseudo-random multiple of 4 (stride a power of
 * two, at least 4), so that a sample of a tensor whose rows are a multiple of the stride long does
 * not keep to a few columns.
 */
@inline
function sampleAt(j: u32, stride: u32): usize {
  let h = j * 0x9e3779b1;
  h ^= h >>> 15;
  return <usize>(j * stride + ((h >>> 8) & (stride - 4)));
}

/**
 * |δ_t| bits of four consecutive entries in every `stride` (a power of two, at least 4; at a
 * pseudo-random offset inside it, see sampleAt) for both task vectors, to out0/out1 (u32 each,
 * 4·⌊n/stride⌋ of them): the sample a band is picked from. Groups of four cost one memory access per
 * input where scattered entries cost four (a tensor is far larger than the caches). The pointers
 * start `first` strides into the tensor (a chunk's start), which places the offsets.
 */
export function sampleDeltas(x0: usize, x1: usize, base: usize, n: i32, stride: i32, first: i32, out0: usize, out1: usize): void {
  const m = n / stride;
  const abs = i32x4.splat(0x7fffffff);
  const st = <u32>stride;
  const start = <usize>first * <usize>stride;
  for (let j = 0; j < m; j++) {
    const o = (sampleAt(<u32>(first + j), st) - start) << 1;
    const b = load4w(base + o);
    v128.store(out0 + (<usize>j << 4), v128.and(f32x4.sub(load4w(x0 + o), b), abs));
    v128.store(out1 + (<usize>j << 4), v128.and(f32x4.sub(load4w(x1 + o), b), abs));
  }
}

/**
 * Over the listed groups (absolute entry indices at `list`), for both task vectors: with `high` set,
 * hist_t[|δ_t| bits >>> 16]++ for the entries inside the band [lo_t, hi_t]; else
 * low_t[|δ_t| bits & 0xffff]++ for the band entries whose high 16 bits equal bucket_t. Tables are
 * zeroed by the caller; a task vector whose lo_t > hi_t (unsigned) counts nothing.
 */
export function bandPass(x0: usize, x1: usize, base: usize, n: i32, lo0: u32, hi0: u32, lo1: u32, hi1: u32, bucket0: i32, bucket1: i32, high: i32, hist0: usize, hist1: usize, tmp: usize, list: usize, groups: i32): void {
  const abs = i32x4.splat(0x7fffffff);
  const vl0 = i32x4.splat(lo0), vh0 = i32x4.splat(hi0), vl1 = i32x4.splat(lo1), vh1 = i32x4.splat(hi1);
  const vb0 = i32x4.splat(bucket0), vb1 = i32x4.splat(bucket1);
  for (let g = 0; g < groups; g++) {
    const i = load<i32>(list + (<usize>g << 2));
    const o = <usize>i << 1;
    const b = load4w(base + o);
    const a0 = v128.and(f32x4.sub(load4w(x0 + o), b), abs);
    const a1 = v128.and(f32x4.sub(load4w(x1 + o), b), abs);
    let in0 = v128.and(i32x4.ge_u(a0, vl0), i32x4.le_u(a0, vh0));
    let in1 = v128.and(i32x4.ge_u(a1, vl1), i32x4.le_u(a1, vh1));
    if (!high) {
      in0 = v128.and(in0, i32x4.eq(i32x4.shr_u(a0, 16), vb0));
      in1 = v128.and(in1, i32x4.eq(i32x4.shr_u(a1, 16), vb1));
    }
    v128.store(tmp, in0);
    v128.store(tmp, in1, 16);
    v128.store(tmp, high ? i32x4.shr_u(a0, 16) : v128.and(a0, i32x4.splat(0xffff)), 32);
    v128.store(tmp, high ? i32x4.shr_u(a1, 16) : v128.and(a1, i32x4.splat(0xffff)), 48);
    const lanes = min(4, n - i);
    for (let k = 0; k < lanes; k++) {
      const at = tmp + (<usize>k << 2);
      if (load<i32>(at) != 0) bump(hist0, load<i32>(at, 32));
      if (load<i32>(at, 16) != 0) bump(hist1, load<i32>(at, 48));
    }
  }
}

/**
 * Appends the lanes of v selected by mask m (all ones or zero per lane) to the u32 list at `list`
 * holding `count` entries, and returns the new count. Branch-free (which lanes are selected is close
 * to random, and branches on it mispredict): every lane is written at the next free slot and counted
 * only when selected; past the list's `capacity` entries they all go to the slot after it (which the
 * caller leaves free), and the count goes on, which tells the caller the list overflowed.
 */
@inline
function append4(list: usize, count: i32, capacity: i32, v: v128, m: v128): i32 {
  let c = count;
  store<u32>(list + (<usize>min(c, capacity) << 2), i32x4.extract_lane(v, 0));
  c -= i32x4.extract_lane(m, 0);
  store<u32>(list + (<usize>min(c, capacity) << 2), i32x4.extract_lane(v, 1));
  c -= i32x4.extract_lane(m, 1);
  store<u32>(list + (<usize>min(c, capacity) << 2), i32x4.extract_lane(v, 2));
  c -= i32x4.extract_lane(m, 2);
  store<u32>(list + (<usize>min(c, capacity) << 2), i32x4.extract_lane(v, 3));
  return c - i32x4.extract_lane(m, 3);
}

/** Ties kept by the last tieKeep call (a global: an inlined helper cannot write its caller's locals). */
let tiesTaken: i32 = 0;

/**
 * The keep mask of magnitude sparsification for four δ with the exact threshold: |δ| > threshold
 * stays; |δ| = threshold stays while `quota` equal entries remain, in index order (the first
 * `quota` of the lanes equal to it, counted by an inclusive prefix sum across lanes); smaller goes.
 * Only `valid` lanes (inside the tensor) can be ties. Sets tiesTaken.
 */
@inline
function tieKeep(d: v128, threshold: v128, quota: i32, valid: v128): v128 {
  const a = v128.and(d, i32x4.splat(0x7fffffff));
  const eq = v128.and(i32x4.eq(a, threshold), valid);
  const zero = i32x4.splat(0);
  const e = i32x4.sub(zero, eq); // 1 per tie
  const s1 = i32x4.add(e, i32x4.shuffle(zero, e, 0, 4, 5, 6));
  const inclusive = i32x4.add(s1, i32x4.shuffle(zero, s1, 0, 0, 4, 5));
  const total = i32x4.extract_lane(inclusive, 3);
  tiesTaken = min(total, quota);
  return v128.or(i32x4.gt_u(a, threshold), v128.and(eq, i32x4.lt_s(inclusive, i32x4.splat(quota + 1))));
}

/** f32(v·s) in double (one rounding, as a Float32Array store of a double product). */
@inline
function scale(v: v128, s: v128): v128 {
  return join32(f64x2.mul(lo64(v), s), f64x2.mul(hi64(v), s));
}

@inline
function divisorAt(args: usize, k: usize, reciprocal: bool): v128 {
  const d = load<f64>(args + 32 + k * 8);
  return f64x2.splat(reciprocal ? 1 / d : d);
}

/** combine2's divisor (or its reciprocal) per f64 lane, chosen by which task vectors are kept (k0, k1). */
@inline
function divisorOf(args: usize, k0: v128, k1: v128, reciprocal: bool): v128 {
  const d00 = divisorAt(args, 0, reciprocal), d10 = divisorAt(args, 1, reciprocal);
  const d01 = divisorAt(args, 2, reciprocal), d11 = divisorAt(args, 3, reciprocal);
  return v128.bitselect(v128.bitselect(d11, d10, k1), v128.bitselect(d01, d00, k1), k0);
}

/**
 * One group of combine2 the general way: fp16(base + λ·(y0 + y1)/divisor) in double, the divisor
 * chosen by which of the two are kept (k0, k1). Kept out of line: it needs its own constants (read
 * from `args` again), and the loop that calls it for the few groups the f32 shortcut cannot take
 * then keeps fewer values live.
 */
function exactGroup(at: usize, bs: v128, y0: v128, y1: v128, k0: v128, k1: v128, args: usize): void {
  const reciprocal = load<i32>(args, 72 + 28) != 0;
  const lambdaV = load<f64>(args, 64);
  // Lanes widened to 64-bit masks.
  const dl = divisorOf(args, i64x2.extend_low_i32x4_s(k0), i64x2.extend_low_i32x4_s(k1), reciprocal);
  const dh = divisorOf(args, i64x2.extend_high_i32x4_s(k0), i64x2.extend_high_i32x4_s(k1), reciprocal);
  let ml = over(f64x2.add(lo64(y0), lo64(y1)), dl, reciprocal);
  let mh = over(f64x2.add(hi64(y0), hi64(y1)), dh, reciprocal);
  if (lambdaV != 1) {
    const lambda = f64x2.splat(lambdaV);
    ml = f64x2.mul(ml, lambda);
    mh = f64x2.mul(mh, lambda);
  }
  store4(at, join32(f64x2.add(lo64(bs), ml), f64x2.add(hi64(bs), mh)));
}

/**
 * out = fp16(base + λ·Δ) for two task vectors, with Δ as task-arithmetic-core.ts combines
 * them. Parameters at `args` (f64): [s0, w0, s1, w1, div00, div10, div01, div11, lambda] where s is the
 * rescale factor (1 without), w the weight, div_jk the divisor when task vector 0 is kept (j) and 1 is
 * kept (k) (all 1 without normalize); then (i32 at args + 72):
 *   [0, 1]  hi_t (phase 0: the band's top) or the exact threshold (phase 1), as u32
 *   [2, 3]  all_t: −1 keeps every entry of task vector t (no ranking), else 0
 *   [4, 5]  quota_t: entries equal to the threshold still to keep (phase 1; consumed in place)
 *   [6]     mode: 0 = no consensus (every entry kept), 1 = "sum", 2 = "count"
 *   [7]     reciprocal: 1 when every divisor is a power of two (multiplying by its reciprocal is
 *           then exactly dividing)
 *   [8, 9]  lo_t, the band's bottom (phase 0)
 *   [10]    out, phase 0: groups listed; in, phase 1: groups to settle
 *   [11, 12] out, phase 0: entries above the band, per task vector
 *   [13]    out, phase 0: 1 when an input entry is an fp16 Inf or NaN, which the kernels' fast
 *           conversion (widen) does not handle: the caller then discards every result of the call
 *   [14]    added to every index written to the list (the range's start)
 *   [15, 16] (countTies' counts, written by the caller's use of it)
 *   [17, 18] out, phase 0: the band's entries per task vector, whose |δ| bits were appended to
 *           band0/band1 (u32 each) in index order as long as they had room
 *   [19]    in: that room, in entries (each list has one u32 more, written past the room)
 *   [20]    in: room at `records`, in groups: phase 0 copies the inputs of each listed group there
 *           (24 bytes: base, a, b) while it has room; phase 1 reads them from there when every
 *           listed group was copied (sequential reads, where the listed groups are scattered over
 *           the tensor), else from the tensor
 * Factors equal to 1 are skipped (multiplying by 1 is exact). Phase 0 also writes the block totals
 * of ‖δ_t‖² to blocks0/blocks1, and lists the band's entries (above). Adds [agree, nonzero] (i32) to
 * `counts`.
 */
export function combine2(a: usize, b: usize, base: usize, out: usize, n: i32, args: usize, counts: usize, list: usize, phase: i32, blocks0: usize, blocks1: usize, band0: usize, band1: usize, records: usize): void {
  // Three copies of the loop, each compiled with what it is known to need: phase 0 of the common
  // case (TIES: magnitude ranking of both task vectors, weights 1, "sum" consensus, a
  // power-of-two divisor: no multiplications, no loop-invariant tests), any other phase 0, and
  // phase 1 (a few percent of the groups).
  const flags = flagsOf(args);
  const mode = load<i32>(args + 72, 24);
  if (phase == 0) {
    if (flags == COMMON && mode == 1) combine2Loop(a, b, base, out, n, args, counts, list, 0, blocks0, blocks1, band0, band1, records, COMMON, 1);
    else combine2Loop(a, b, base, out, n, args, counts, list, 0, blocks0, blocks1, band0, band1, records, flags, mode);
  } else combine2Loop(a, b, base, out, n, args, counts, list, 1, blocks0, blocks1, band0, band1, records, flags, mode);
}

// combine2's loop-invariant cases (see flagsOf).
const SCALED0 = 1, WEIGHTED0 = 2, SCALED1 = 4, WEIGHTED1 = 8, RANKED0 = 16, RANKED1 = 32, SHORT = 64, ONE_OR_BOTH = 128, TINY = 256;
const COMMON = RANKED0 | RANKED1 | SHORT | ONE_OR_BOTH;

/** combine2's four reciprocal divisors (by which task vectors are kept) as f32: 0 unless an f32. */
@inline
function reciprocalAt(args: usize, k: usize, reciprocal: bool): f32 {
  const d = f64x2.extract_lane(divisorAt(args, k, reciprocal), 0);
  return <f64><f32>d == d ? <f32>d : 0;
}

/** The smallest magnitude of four reciprocal divisors. */
@inline
function smallest(q00: f32, q10: f32, q01: f32, q11: f32): f32 {
  return min(min(abs(q00), abs(q10)), min(abs(q01), abs(q11)));
}

/** Which of combine2's loop-invariant cases hold for the parameters at `args` (bits, see COMMON). */
function flagsOf(args: usize): i32 {
  const s0v = load<f64>(args), w0v = load<f64>(args, 8), s1v = load<f64>(args, 16), w1v = load<f64>(args, 24);
  const lambdaV = load<f64>(args, 64);
  const ints = args + 72;
  const reciprocal = load<i32>(ints, 28) != 0;
  const q00 = reciprocalAt(args, 0, reciprocal), q10 = reciprocalAt(args, 1, reciprocal);
  const q01 = reciprocalAt(args, 2, reciprocal), q11 = reciprocalAt(args, 3, reciprocal);
  let flags = 0;
  if (s0v != 1) flags |= SCALED0;
  if (w0v != 1) flags |= WEIGHTED0;
  if (s1v != 1) flags |= SCALED1;
  if (w1v != 1) flags |= WEIGHTED1;
  if (load<i32>(ints, 8) == 0) flags |= RANKED0;
  if (load<i32>(ints, 12) == 0) flags |= RANKED1;
  // The f32 shortcut (see combine2Loop) needs λ = 1 and every divisor a power of two whose
  // reciprocal is an f32.
  if (reciprocal && lambdaV == 1 && q00 != 0 && q10 != 0 && q01 != 0 && q11 != 0) flags |= SHORT;
  // One reciprocal unless both are kept (consensus with equal weights, or none): one select.
  if (q00 == q10 && q00 == q01) flags |= ONE_OR_BOTH;
  // Scaling by r = 2^k is exact unless it lands below the smallest normal: with |r| < 1, sums of at
  // least 2^-126 / |r| are safe (and 0); with |r| ≥ 1 every sum is. Unscaled, every δ (a difference
  // of halves, rounded to f32) and so every sum of them is a multiple of 2^-24, 0 or at least 2^-24,
  // which stays normal when scaled by 2^-102 or more.
  const plain = (flags & (SCALED0 | WEIGHTED0 | SCALED1 | WEIGHTED1)) == 0;
  if (smallest(q00, q10, q01, q11) < (plain ? <f32>1.9721522630525295e-31 : 1)) flags |= TINY;
  return flags;
}

/** combine2 for one phase and one set of flags (constants where the caller passes them). */
@inline
function combine2Loop(a: usize, b: usize, base: usize, out: usize, n: i32, args: usize, counts: usize, list: usize, phase: i32, blocks0: usize, blocks1: usize, band0: usize, band1: usize, records: usize, flags: i32, mode: i32): void {
  const s0v = load<f64>(args), w0v = load<f64>(args, 8), s1v = load<f64>(args, 16), w1v = load<f64>(args, 24);
  const s0 = f64x2.splat(s0v), w0 = f64x2.splat(w0v), s1 = f64x2.splat(s1v), w1 = f64x2.splat(w1v);
  // A factor that is an f32 scales in f32: the double product of two f32 is exact, so rounding it
  // to f32 is the correctly rounded f32 product.
  const s0f = f32x4.splat(<f32>s0v), w0f = f32x4.splat(<f32>w0v), s1f = f32x4.splat(<f32>s1v), w1f = f32x4.splat(<f32>w1v);
  const s0single = <f64><f32>s0v == s0v, w0single = <f64><f32>w0v == w0v, s1single = <f64><f32>s1v == s1v, w1single = <f64><f32>w1v == w1v;
  const ints = args + 72;
  const reciprocal = load<i32>(ints, 28) != 0;
  const short = (flags & SHORT) != 0, oneOrBoth = (flags & ONE_OR_BOTH) != 0, tinyOn = (flags & TINY) != 0;
  const scaled0 = (flags & SCALED0) != 0, weighted0 = (flags & WEIGHTED0) != 0, scaled1 = (flags & SCALED1) != 0, weighted1 = (flags & WEIGHTED1) != 0;
  const plain = !(scaled0 || weighted0 || scaled1 || weighted1);
  const ranked0 = (flags & RANKED0) != 0, ranked1 = (flags & RANKED1) != 0;
  const q00 = reciprocalAt(args, 0, reciprocal), q10 = reciprocalAt(args, 1, reciprocal);
  const q01 = reciprocalAt(args, 2, reciprocal), q11 = reciprocalAt(args, 3, reciprocal);
  const r00 = f32x4.splat(q00), r10 = f32x4.splat(q10), r01 = f32x4.splat(q01), r11 = f32x4.splat(q11);
  // Unsafe sums (see flagsOf): 1 ≤ |sum| bits < tiny, i.e. |sum| bits − 1 below tiny − 1, unsigned.
  const tinyM1 = i32x4.splat(tinyOn ? reinterpret<i32>(<f32>(1.1754943508222875e-38 / <f64>smallest(q00, q10, q01, q11))) - 1 : 0);
  const belowOne = i32x4.splat(0x3f7fffff);
  // Phase 1: the exact thresholds, as u32.
  const t0 = i32x4.splat(load<i32>(ints));
  const t1 = i32x4.splat(load<i32>(ints, 4));
  // Phase 0 compares |δ| bits (0 to 0x7fffffff) as signed i32 (cheaper than unsigned): above the
  // band is > hi, inside it is > lo − 1 and not above; 0x7fffffff for both puts nothing anywhere (a
  // task vector that is not ranked, or keeps nothing: its band is [2^32 − 1, 2^32 − 1]).
  const hi0 = i32x4.splat(ranked0 ? <i32>min<u32>(load<u32>(ints), 0x7fffffff) : 0x7fffffff);
  const hi1 = i32x4.splat(ranked1 ? <i32>min<u32>(load<u32>(ints, 4), 0x7fffffff) : 0x7fffffff);
  const lo0 = load<u32>(ints, 32), lo1 = load<u32>(ints, 36);
  const below0 = i32x4.splat(ranked0 && lo0 <= 0x7fffffff ? <i32>lo0 - 1 : 0x7fffffff);
  const below1 = i32x4.splat(ranked1 && lo1 <= 0x7fffffff ? <i32>lo1 - 1 : 0x7fffffff);
  const indexBase = load<i32>(ints, 56);
  const abs = i32x4.splat(0x7fffffff);
  const one = i32x4.splat(1);
  const zero = f32x4.splat(0);
  const iota = i32x4(0, 1, 2, 3);
  let quota0 = load<i32>(ints, 16);
  let quota1 = load<i32>(ints, 20);
  let agree = i32x4.splat(0);
  let nonzero = i32x4.splat(0);
  let above0 = i32x4.splat(0);
  let above1 = i32x4.splat(0);
  let specials = i32x4.splat(0);
  let deferred = 0;
  let count0 = 0;
  let count1 = 0;
  const capacity = load<i32>(ints, 76);
  const room = load<i32>(ints, 80);
  const groups = phase == 0 ? (n + 3) >> 2 : load<i32>(ints, 40);
  const recorded = phase != 0 && groups <= room;
  let q0 = f32x4.splat(0), q1 = f32x4.splat(0);
  for (let g = 0; g < groups; g++) {
    const i = phase == 0 ? g << 2 : load<i32>(list + (<usize>g << 2)) - indexBase;
    const o = <usize>i << 1;
    let hb: v128, ha: v128, hc: v128;
    if (recorded) {
      const r = records + <usize>g * 24;
      hb = v128.load16x4_s(r);
      ha = v128.load16x4_s(r + 8);
      hc = v128.load16x4_s(r + 16);
    } else {
      hb = v128.load16x4_s(base + o);
      ha = v128.load16x4_s(a + o);
      hc = v128.load16x4_s(b + o);
    }
    // Phase 0 sees every entry: an Inf or NaN input anywhere is flagged (widen does not convert them).
    if (phase == 0) specials = i32x4.max_u(specials, i32x4.max_u(special(hb), i32x4.max_u(special(ha), special(hc))));
    const bs = widen(hb);
    let x0 = f32x4.sub(widen(ha), bs);
    let x1 = f32x4.sub(widen(hc), bs);
    if (phase == 0) {
      // ‖δ‖² block by block (a block is 2^14 groups), in lane order, before anything is dropped.
      q0 = f32x4.add(q0, f32x4.mul(x0, x0));
      q1 = f32x4.add(q1, f32x4.mul(x1, x1));
      if (((g + 1) & ((BLOCK >> 2) - 1)) == 0 || g + 1 == groups) {
        const k = <usize>(g >> (BLOCK_SHIFT - 2)) << 3;
        store<f64>(blocks0 + k, laneSum(q0));
        store<f64>(blocks1 + k, laneSum(q1));
        q0 = f32x4.splat(0);
        q1 = f32x4.splat(0);
      }
      if (ranked0 || ranked1) {
        const a0 = v128.and(x0, abs);
        const a1 = v128.and(x1, abs);
        const up0 = i32x4.gt_s(a0, hi0);
        const up1 = i32x4.gt_s(a1, hi1);
        above0 = i32x4.sub(above0, up0);
        above1 = i32x4.sub(above1, up1);
        const in0 = v128.andnot(i32x4.gt_s(a0, below0), up0);
        const in1 = v128.andnot(i32x4.gt_s(a1, below1), up1);
        if (v128.any_true(v128.or(in0, in1))) {
          store<i32>(list + (<usize>deferred << 2), i + indexBase);
          if (deferred < room) {
            const r = records + <usize>deferred * 24;
            store<u64>(r, load<u64>(base + o));
            store<u64>(r, load<u64>(a + o), 8);
            store<u64>(r, load<u64>(b + o), 16);
          }
          deferred++;
          // The band's entries (inside the tensor: padding lanes hold δ = 0, not entries), in index
          // order, into this chunk's band lists (counted past their capacity, which the caller sees).
          let m0 = in0, m1 = in1;
          if (i + 4 > n) {
            const valid = i32x4.lt_s(i32x4.add(iota, i32x4.splat(i)), i32x4.splat(n));
            m0 = v128.and(m0, valid);
            m1 = v128.and(m1, valid);
          }
          count0 = append4(band0, count0, capacity, a0, m0);
          count1 = append4(band1, count1, capacity, a1, m1);
          continue;
        }
        if (ranked0) x0 = v128.and(x0, up0);
        if (ranked1) x1 = v128.and(x1, up1);
      }
    } else {
      const valid = i32x4.lt_s(i32x4.add(iota, i32x4.splat(i)), i32x4.splat(n));
      if (ranked0) {
        x0 = v128.and(x0, tieKeep(x0, t0, quota0, valid));
        quota0 -= tiesTaken;
      }
      if (ranked1) {
        x1 = v128.and(x1, tieKeep(x1, t1, quota1, valid));
        quota1 -= tiesTaken;
      }
    }
    if (scaled0) x0 = s0single ? f32x4.mul(x0, s0f) : scale(x0, s0);
    if (weighted0) x0 = w0single ? f32x4.mul(x0, w0f) : scale(x0, w0);
    if (scaled1) x1 = s1single ? f32x4.mul(x1, s1f) : scale(x1, s1);
    if (weighted1) x1 = w1single ? f32x4.mul(x1, w1f) : scale(x1, w1);
    // δ is finite here (inputs with Inf or NaN are flagged and their results discarded), so an
    // entry is non-zero or ±0, and its sign bit says which side of 0 it is on.
    const nz0 = f32x4.ne(x0, zero);
    const nz1 = f32x4.ne(x1, zero);
    // sign(x0 + x1 ≥ 0): the sign of a rounded sum is the exact sum's, as in double.
    const sumGe = f32x4.ge(f32x4.add(x0, x1), zero);
    // Kept by "sum": non-zero, and positive exactly when the sum is ≥ 0.
    const k0sum = v128.and(nz0, v128.xor(i32x4.shr_s(x0, 31), sumGe));
    const k1sum = v128.and(nz1, v128.xor(i32x4.shr_s(x1, 31), sumGe));
    // Padding lanes past n hold δ = 0, which counts nowhere.
    nonzero = i32x4.sub(i32x4.sub(nonzero, nz0), nz1);
    agree = i32x4.sub(i32x4.sub(agree, k0sum), k1sum);
    let k0 = k0sum;
    let k1 = k1sum;
    if (mode == 2) {
      // "count": the sign most entries have (s0 + s1 ≥ 0 → +).
      const p0 = f32x4.gt(x0, zero), n0 = f32x4.lt(x0, zero);
      const p1 = f32x4.gt(x1, zero), n1 = f32x4.lt(x1, zero);
      const s = i32x4.add(i32x4.sub(n0, p0), i32x4.sub(n1, p1));
      const cntGe = i32x4.ge_s(s, i32x4.splat(0));
      k0 = v128.or(v128.and(p0, cntGe), v128.andnot(n0, cntGe));
      k1 = v128.or(v128.and(p1, cntGe), v128.andnot(n1, cntGe));
    } else if (mode == 0) {
      // Without consensus every entry counts.
      k0 = i32x4.splat(-1);
      k1 = i32x4.splat(-1);
    }
    const y0 = v128.and(x0, k0);
    const y1 = v128.and(x1, k1);
    if (short) {
      // Shortcut: when y0 + y1 is exact in f32 (below 1 unscaled, else when TwoSum's error is 0)
      // and scaling it by the reciprocal divisor (a power of two) is exact too (see `tinyM1`), the
      // sum is the double the JavaScript divides; base + it, rounded once to f32, is then what the JavaScript
      // gets by rounding to double and then to f32: either the double sum is exact (exponents within
      // 29 of each other), or one term is below 2^-28 of the other and both roundings give the larger.
      const sum = f32x4.add(y0, y1);
      let inexact: v128;
      if (plain) inexact = i32x4.gt_s(v128.and(sum, abs), belowOne);
      else {
        const bb = f32x4.sub(sum, y0);
        const err = f32x4.add(f32x4.sub(y0, f32x4.sub(sum, bb)), f32x4.sub(y1, bb));
        inexact = f32x4.ne(err, zero);
      }
      if (tinyOn) inexact = v128.or(inexact, i32x4.lt_u(i32x4.sub(v128.and(sum, abs), one), tinyM1));
      if (!v128.any_true(inexact)) {
        const r = oneOrBoth ? v128.bitselect(r11, r00, v128.and(k0, k1)) : v128.bitselect(v128.bitselect(r11, r10, k1), v128.bitselect(r01, r00, k1), k0);
        store4(out + o, f32x4.add(bs, f32x4.mul(sum, r)));
        continue;
      }
    }
    exactGroup(out + o, bs, y0, y1, k0, k1, args);
  }
  if (phase == 0) {
    store<i32>(ints, deferred, 40);
    store<i32>(ints, i32(v128.any_true(i32x4.ge_u(specials, i32x4.splat(<i32>0xf8000000)))), 52);
    store<i32>(ints, count0, 68);
    store<i32>(ints, count1, 72);
    store<i32>(ints, i32x4.extract_lane(above0, 0) + i32x4.extract_lane(above0, 1) + i32x4.extract_lane(above0, 2) + i32x4.extract_lane(above0, 3), 44);
    store<i32>(ints, i32x4.extract_lane(above1, 0) + i32x4.extract_lane(above1, 1) + i32x4.extract_lane(above1, 2) + i32x4.extract_lane(above1, 3), 48);
  }
  store<i32>(ints, quota0, 16);
  store<i32>(ints, quota1, 20);
  const sumA = i32x4.extract_lane(agree, 0) + i32x4.extract_lane(agree, 1) + i32x4.extract_lane(agree, 2) + i32x4.extract_lane(agree, 3);
  const sumN = i32x4.extract_lane(nonzero, 0) + i32x4.extract_lane(nonzero, 1) + i32x4.extract_lane(nonzero, 2) + i32x4.extract_lane(nonzero, 3);
  store<i32>(counts, load<i32>(counts) + sumA);
  store<i32>(counts, load<i32>(counts, 4) + sumN, 4);
}

// ---------------------------------------------------------------------------------------------
// Histogram bookkeeping (JavaScript's typed arrays over shared memory are slow for this).

/** Zeroes `bytes` bytes at `ptr`. */
export function zero(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/** dst[i] += src[i] for the 65,536 u32 of two histograms. */
export function addTable(dst: usize, src: usize): void {
  for (let o: usize = 0; o < TABLE; o += 16) v128.store(dst + o, i32x4.add(v128.load(dst + o), v128.load(src + o)));
}

/**
 * The bucket of a histogram of `size` entries that holds ascending position p (0-based), and how
 * many entries lie in the buckets before it: written as two i32 at `out`.
 */
@inline
function rankIn(hist: usize, size: usize, p: u32, out: usize): void {
  let b: usize = 0;
  let below: u32 = 0;
  // Bounded by the table (a histogram holding fewer than p + 1 entries stops at its last bucket).
  while (b < size - 1 && below + load<u32>(hist + (b << 2)) <= p) {
    below += load<u32>(hist + (b << 2));
    b++;
  }
  store<i32>(out, <i32>b);
  store<u32>(out, below, 4);
}

/** rankIn over a 65,536-entry histogram (the high or low 16 bits of |δ|). */
export function rank(hist: usize, p: u32, out: usize): void {
  rankIn(hist, 65536, p, out);
}

/** Bits per digit of selectPair's radix select (three digits: 11, 11 and 10 bits). */
const DIGIT: i32 = 11;
const DIGIT_TABLE: usize = <usize>(1 << DIGIT) << 2;

/**
 * The p-th and q-th smallest (0-based, p ≤ q < m) of the `m` u32 at `values`, written as two u32 at
 * `out` (16 bytes of scratch): a radix select, digit by digit from the top (bits 31..21, 20..10,
 * 9..0). The first digit is counted over all m values in one table, which places both ranks; the
 * values in either rank's bucket are then moved to the front of `values` (reordered: the caller's
 * scratch), and the other two digits count only those, both ranks from one pass per digit.
 * `table` holds two 2,048-u32 histograms of scratch. Small tables keep it cheap for the few
 * thousand values of a small tensor's sample.
 */
export function selectPair(values: usize, m: i32, p: u32, q: u32, table: usize, out: usize): void {
  const tableQ = table + DIGIT_TABLE;
  const top = 32 - DIGIT;
  memory.fill(table, 0, DIGIT_TABLE);
  for (let j = 0; j < m; j++) bump(table, <i32>(load<u32>(values + (<usize>j << 2)) >>> <u32>top));
  rankIn(table, <usize>1 << <usize>DIGIT, p, out);
  rankIn(table, <usize>1 << <usize>DIGIT, q, out + 8);
  const bucketP = load<u32>(out), bucketQ = load<u32>(out, 8);
  let prefixP: u32 = bucketP << <u32>top, prefixQ: u32 = bucketQ << <u32>top;
  let rp = p - load<u32>(out, 4), rq = q - load<u32>(out, 12);
  // In place: the write index never passes the read index.
  let kept = 0;
  for (let j = 0; j < m; j++) {
    const v = load<u32>(values + (<usize>j << 2));
    const d = v >>> <u32>top;
    if (d == bucketP || d == bucketQ) {
      store<u32>(values + (<usize>kept << 2), v);
      kept++;
    }
  }
  for (let shift = top - DIGIT; shift > -DIGIT; shift -= DIGIT) {
    const s = max(shift, 0);
    const width = shift + DIGIT - s;
    // Entries whose bits above this digit equal the ones found so far take part.
    const known: u32 = ~((<u32>1 << <u32>(s + width)) - 1);
    const mask: u32 = (<u32>1 << <u32>width) - 1;
    memory.fill(table, 0, 2 * DIGIT_TABLE);
    for (let j = 0; j < kept; j++) {
      const v = load<u32>(values + (<usize>j << 2));
      const d = <i32>((v >>> <u32>s) & mask);
      if ((v & known) == prefixP) bump(table, d);
      if ((v & known) == prefixQ) bump(tableQ, d);
    }
    rankIn(table, <usize>1 << <usize>width, rp, out);
    rankIn(tableQ, <usize>1 << <usize>width, rq, out + 8);
    prefixP |= load<u32>(out) << <u32>s;
    prefixQ |= load<u32>(out, 8) << <u32>s;
    rp -= load<u32>(out, 4);
    rq -= load<u32>(out, 12);
  }
  store<u32>(out, prefixP);
  store<u32>(out, prefixQ, 4);
}

/**
 * Over the listed groups (absolute entry indices at `list`), how many entries of each task vector
 * equal its exact threshold (|δ_t| bits = thr_t): two i32 at `out`. A range's count decides its
 * share of the ties, which go to ranges in index order.
 */
export function countTies(x0: usize, x1: usize, base: usize, n: i32, thr0: u32, thr1: u32, list: usize, groups: i32, out: usize): void {
  const abs = i32x4.splat(0x7fffffff);
  const v0 = i32x4.splat(thr0), v1 = i32x4.splat(thr1);
  const iota = i32x4(0, 1, 2, 3);
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
  for (let g = 0; g < groups; g++) {
    const i = load<i32>(list + (<usize>g << 2));
    const o = <usize>i << 1;
    const b = load4w(base + o);
    const valid = i32x4.lt_s(i32x4.add(iota, i32x4.splat(i)), i32x4.splat(n));
    c0 = i32x4.sub(c0, v128.and(i32x4.eq(v128.and(f32x4.sub(load4w(x0 + o), b), abs), v0), valid));
    c1 = i32x4.sub(c1, v128.and(i32x4.eq(v128.and(f32x4.sub(load4w(x1 + o), b), abs), v1), valid));
  }
  store<i32>(out, i32x4.extract_lane(c0, 0) + i32x4.extract_lane(c0, 1) + i32x4.extract_lane(c0, 2) + i32x4.extract_lane(c0, 3));
  store<i32>(out, i32x4.extract_lane(c1, 0) + i32x4.extract_lane(c1, 1) + i32x4.extract_lane(c1, 2) + i32x4.extract_lane(c1, 3), 4);
}

/** How many of the m u32 at `values` are greater than v, and how many equal it: two i32 at `out`. */
export function countU32(values: usize, m: i32, v: u32, out: usize): void {
  let greater = 0;
  let equal = 0;
  for (let j = 0; j < m; j++) {
    const x = load<u32>(values + (<usize>j << 2));
    greater += i32(x > v);
    equal += i32(x == v);
  }
  store<i32>(out, greater);
  store<i32>(out, equal, 4);
}
