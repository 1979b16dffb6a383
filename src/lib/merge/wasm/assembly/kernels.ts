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

// ---------------------------------------------------------------------------------------------
// Quantised codecs: Q8_0, Q4_K, Q5_K, Q6_K (codecs/q8_0.ts, q4_k.ts, q5_k.ts, q6_k.ts), byte for
// byte what the JavaScript codecs write and bit for bit what they decode (and so ggml's
// quantize_row_*_ref and dequantize_row_*: tests/unit/codecs-simd.test.ts).
//
// The encoders keep every float sum of the reference in its order: a sub-block's sums run over its
// values one after the other in one f32 lane, and the four lanes of a vector hold four independent
// sub-blocks of a super-block (their values transposed into lanes first), so no sum is reordered.
// Every operation the JavaScript codec rounds with Math.fround is one f32 operation here (JavaScript
// computes a single +, −, ×, ÷ or √ of f32 operands in double and rounds once: the same as in f32).
// nearest_int is ggml's trick: f32(x + 1.5·2^23) − 1.5·2^23 (the JavaScript subtracts in double; the
// two agree for |x| < 2^22, and beyond that the result is only ever clamped). A clamped level keeps
// JavaScript's NaN (Math.min/max propagate it, and so does clamp4) in the sums that use it, and
// stores as 0, as a Uint8Array store of NaN does (stored4, trunc_sat). The few scalar steps that JavaScript
// does on doubles (ToInt32 of a level before `& 0xff`) are emulated by toInt32.
// Each codec call takes a scratch area of its thread (CODEC_SCRATCH bytes, see wasm/index.ts) and a
// flag word, set to 1 when an encoder meets a value that is not finite (the caller then reports it
// and discards the output, as the JavaScript codec refuses such input).

/** 1.5·2^23: adding it in f32 rounds to an integer, ties to even (ggml-quants.c nearest_int). */
const MAGIC: f32 = 12582912.0;
/** ggml-quants.c GROUP_MAX_EPS. */
const GROUP_MAX_EPS: f32 = 1e-15;

@inline
function nearest4(v: v128): v128 {
  const m = f32x4.splat(MAGIC);
  return f32x4.sub(f32x4.add(v, m), m);
}

/**
 * Math.max(lo, Math.min(hi, v)) in four lanes for v from nearest4 (never −0): NaN stays NaN, as
 * Math.min/max keep it — pmin(v, hi) is `hi < v ? hi : v` and pmax(·, lo) `· < lo ? lo : ·`, both
 * false for NaN (one instruction each, where f32x4.min/max need several on x86).
 */
@inline
function clamp4(v: v128, lo: f32, hi: f32): v128 {
  return f32x4.pmax(f32x4.pmin(v, f32x4.splat(hi)), f32x4.splat(lo));
}

/** A clamped level as its Uint8Array store reads back: NaN → 0, as an f32 (the kernels keep levels in f32 lanes). */
@inline
function stored4(l: v128): v128 {
  return v128.and(l, f32x4.eq(l, l));
}

/** The JavaScript value of nearestInt(x) for an f32 x: f32(x + 1.5·2^23) − 1.5·2^23 in double. */
@inline
function nearestJs(x: f32): f64 {
  return <f64>(x + MAGIC) - <f64>MAGIC;
}

/** ECMAScript ToInt32 (what `v & 0xff` does to a double first). */
function toInt32(d: f64): i32 {
  if (!isFinite(d)) return 0;
  const t = trunc(d) % 4294967296.0;
  return <i32><i64>t;
}

/** Half bits (little-endian at p) → f32, exactly. */
@inline
function readHalf(p: usize): f32 {
  return f32x4.extract_lane(halvesToF32(i32x4.splat(<i32>load<i16>(p))), 0);
}

/** f32 → half bits at p, round to nearest even (codecs/half.ts writeF16). */
@inline
function writeHalf(p: usize, v: f32): void {
  store<u16>(p, <u16>i32x4.extract_lane(f32ToHalves(f32x4.splat(v)), 0));
}

/** Lanes whose f32 is Inf or NaN. */
@inline
function nonFinite4(v: v128): v128 {
  const e = i32x4.splat(0x7f800000);
  return i32x4.eq(v128.and(v, e), e);
}

/** Four u8 (low lanes of a byte vector) → f32 lanes; `part` picks bytes 4·part … 4·part + 3. */
@inline
function bytesToF32(b: v128, part: i32): v128 {
  const w = part < 2 ? i16x8.extend_low_i8x16_u(b) : i16x8.extend_high_i8x16_u(b);
  const d = (part & 1) == 0 ? i32x4.extend_low_i16x8_u(w) : i32x4.extend_high_i16x8_u(w);
  return f32x4.convert_i32x4_s(d);
}

/** 16 f32 = mul·q − sub for 16 unsigned levels in a byte vector, stored at y. */
@inline
function store16(y: usize, q: v128, mul: v128, sub: v128): void {
  v128.store(y, f32x4.sub(f32x4.mul(mul, bytesToF32(q, 0)), sub));
  v128.store(y, f32x4.sub(f32x4.mul(mul, bytesToF32(q, 1)), sub), 16);
  v128.store(y, f32x4.sub(f32x4.mul(mul, bytesToF32(q, 2)), sub), 32);
  v128.store(y, f32x4.sub(f32x4.mul(mul, bytesToF32(q, 3)), sub), 48);
}

/** Four i32 lanes, each in 0..255, stored as four bytes at p. */
@inline
function storeBytes4(p: usize, v: v128): void {
  const h = i16x8.narrow_i32x4_u(v, v);
  v128.store32_lane(p, i8x16.narrow_i16x8_u(h, h), 0);
}

/** Rows a, b, c, d of a 4×4 f32 (or i32) matrix → its columns, at out (four v128). */
@inline
function transpose4(a: v128, b: v128, c: v128, d: v128, out: usize): void {
  const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(out, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(out, i32x4.shuffle(t0, t2, 2, 3, 6, 7), 16);
  v128.store(out, i32x4.shuffle(t1, t3, 0, 1, 4, 5), 32);
  v128.store(out, i32x4.shuffle(t1, t3, 2, 3, 6, 7), 48);
}

/**
 * The n values (n a multiple of 4) of four sub-blocks starting at x, x + stride, x + 2·stride,
 * x + 3·stride (bytes) → n vectors at t, vector i holding value i of each sub-block.
 */
@inline
function gather4(x: usize, stride: usize, n: i32, t: usize): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    transpose4(v128.load(x + o), v128.load(x + stride + o), v128.load(x + 2 * stride + o), v128.load(x + 3 * stride + o), t + (o << 2));
  }
}

/** The inverse for levels: n vectors of f32 levels (whole, 0..255) at l → bytes of four sub-blocks at out + k·stride. */
@inline
function scatterLevels4(l: usize, n: i32, out: usize, stride: usize, tmp: usize): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 4;
    const a = i32x4.trunc_sat_f32x4_s(v128.load(l + o));
    const b = i32x4.trunc_sat_f32x4_s(v128.load(l + o, 16));
    const c = i32x4.trunc_sat_f32x4_s(v128.load(l + o, 32));
    const d = i32x4.trunc_sat_f32x4_s(v128.load(l + o, 48));
    transpose4(a, b, c, d, tmp);
    for (let k: usize = 0; k < 4; k++) storeBytes4(out + k * stride + <usize>i, v128.load(tmp + (k << 4)));
  }
}

// Scratch layout (bytes from a thread's codec scratch).
const S_X: usize = 0; // 32 vectors: values transposed into lanes
const S_W: usize = 512; // 32 vectors: weights
const S_L: usize = 1024; // 32 vectors: best levels (f32)
const S_A: usize = 1536; // 32 vectors: trial levels (f32)
const S_T: usize = 2048; // 4 vectors: transposition scratch
const S_LB: usize = 2112; // 256 bytes: a super-block's levels
const S_SC: usize = 2368; // 16 f32: sub-block scales
const S_MN: usize = 2432; // 8 f32: sub-block mins

// --- Q8_0 --------------------------------------------------------------------------------------

/** dequantize_row_q8_0 over nb blocks of 34 bytes at src into f32 at dst. */
export function decodeQ8_0(src: usize, dst: usize, nb: i32): void {
  for (let i = 0; i < nb; i++) {
    const b = src + <usize>i * 34;
    const y = dst + (<usize>i << 7);
    const d = f32x4.splat(readHalf(b));
    for (let j: usize = 0; j < 32; j += 8) {
      const w = v128.load8x8_s(b + 2 + j);
      v128.store(y + (j << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w)), d));
      v128.store(y + (j << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w)), d), 16);
    }
  }
}

/** quantize_row_q8_0_ref over nb blocks of 32 f32 at src into dst; sets the flag word on Inf/NaN. */
export function encodeQ8_0(src: usize, dst: usize, nb: i32, flag: usize): void {
  let bad = i32x4.splat(0);
  for (let i = 0; i < nb; i++) {
    const x = src + (<usize>i << 7);
    const b = dst + <usize>i * 34;
    let amax = f32x4.splat(0);
    for (let j: usize = 0; j < 128; j += 16) {
      const v = v128.load(x + j);
      bad = v128.or(bad, nonFinite4(v));
      // pmax: one instruction; a NaN here is flagged and the block discarded anyway.
      amax = f32x4.pmax(amax, f32x4.abs(v));
    }
    const m = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
    const d: f32 = m / 127;
    const id: f32 = d != 0 ? 1 / d : 0;
    writeHalf(b, d);
    const vid = f32x4.splat(id);
    for (let j: usize = 0; j < 128; j += 32) {
      const r0 = roundf4(f32x4.mul(v128.load(x + j), vid));
      const r1 = roundf4(f32x4.mul(v128.load(x + j, 16), vid));
      const h = i16x8.narrow_i32x4_s(r0, r1);
      v128.store64_lane(b + 2 + (j >> 2), i8x16.narrow_i16x8_s(h, h), 0);
    }
  }
  if (v128.any_true(bad)) store<i32>(flag, 1);
}

/**
 * C roundf (half away from zero) of four f32 → i32 lanes; an Inf or NaN product (a zero scale's
 * inverse overflowing) gives 0, as JavaScript's `q & 0xff` does.
 */
@inline
function roundf4(v: v128): v128 {
  const t = f32x4.trunc(v);
  const up = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(v128.and(v, i32x4.splat(<i32>0x80000000)), f32x4.splat(1));
  const r = f32x4.add(t, v128.and(one, up));
  return v128.andnot(i32x4.trunc_sat_f32x4_s(r), nonFinite4(v));
}

// --- Q4_K and Q5_K -----------------------------------------------------------------------------

/** get_scale_min_k4: (scale, min) j of the 12 bytes at q, as scale | min << 8. */
@inline
function scaleMinK4(j: i32, q: usize): i32 {
  if (j < 4) return (<i32>load<u8>(q + j) & 63) | ((<i32>load<u8>(q + j + 4) & 63) << 8);
  const s = (<i32>load<u8>(q + j + 4) & 0x0f) | ((<i32>load<u8>(q + j - 4) >> 6) << 4);
  const m = (<i32>load<u8>(q + j + 4) >> 4) | ((<i32>load<u8>(q + j) >> 6) << 4);
  return s | (m << 8);
}

/** dequantize_row_q4_K (144-byte super-blocks) and, with qh, dequantize_row_q5_K (176 bytes). */
@inline
function decodeK(src: usize, dst: usize, nb: i32, five: bool): void {
  const size: usize = five ? 176 : 144;
  const nib = i8x16.splat(0x0f);
  for (let i = 0; i < nb; i++) {
    const b = src + <usize>i * size;
    const d = readHalf(b);
    const dmin = readHalf(b + 2);
    const qh = b + 16;
    let q = b + (five ? 48 : 16);
    let y = dst + (<usize>i << 10);
    let u1 = i8x16.splat(1);
    let u2 = i8x16.splat(2);
    for (let is = 0; is < 8; is += 2) {
      const sm1 = scaleMinK4(is, b + 4);
      const sm2 = scaleMinK4(is + 1, b + 4);
      const d1 = f32x4.splat(d * <f32>(sm1 & 0xff));
      const m1 = f32x4.splat(dmin * <f32>(sm1 >> 8));
      const d2 = f32x4.splat(d * <f32>(sm2 & 0xff));
      const m2 = f32x4.splat(dmin * <f32>(sm2 >> 8));
      for (let l: usize = 0; l < 32; l += 16) {
        const v = v128.load(q + l);
        let lo = v128.and(v, nib);
        let hi = i8x16.shr_u(v, 4);
        if (five) {
          const h = v128.load(qh + l);
          const sixteen = i8x16.splat(16);
          lo = v128.or(lo, v128.and(v128.not(i8x16.eq(v128.and(h, u1), i8x16.splat(0))), sixteen));
          hi = v128.or(hi, v128.and(v128.not(i8x16.eq(v128.and(h, u2), i8x16.splat(0))), sixteen));
        }
        store16(y + (l << 2), lo, d1, m1);
        store16(y + 128 + (l << 2), hi, d2, m2);
      }
      q += 32;
      y += 256;
      u1 = i8x16.shl(u1, 2);
      u2 = i8x16.shl(u2, 2);
    }
  }
}

export function decodeQ4_K(src: usize, dst: usize, nb: i32): void {
  decodeK(src, dst, nb, false);
}

export function decodeQ5_K(src: usize, dst: usize, nb: i32): void {
  decodeK(src, dst, nb, true);
}

/**
 * make_qkx2_quants (kquants-common.ts makeQkx2Quants, n = 32) on four sub-blocks at once, one per
 * lane: values at s + S_X, weights at s + S_W (vectors). Writes the best levels (f32 lanes) at
 * s + S_L and returns the lanes' scales; the lanes' −min (the_min) at s + S_T.
 */
function makeQkx2Quants4(s: usize, nmax: f32, rmin: f32, nstep: i32): v128 {
  const X = s + S_X, W = s + S_W, L = s + S_L, A = s + S_A;
  let mn = v128.load(X);
  let mx = mn;
  let sumW = v128.load(W);
  let sumX = f32x4.mul(sumW, mn);
  for (let i: usize = 16; i < 512; i += 16) {
    const v = v128.load(X + i);
    mn = f32x4.pmin(mn, v);
    mx = f32x4.pmax(mx, v);
    const w = v128.load(W + i);
    sumW = f32x4.add(sumW, w);
    sumX = f32x4.add(sumX, f32x4.mul(w, v));
  }
  mn = f32x4.pmin(mn, f32x4.splat(0));
  // A flat sub-block (max = min, so every x − min is +0) needs no case of its own: C returns levels 0,
  // scale 0 and this min, and here iscale = nmax/0 = Inf gives levels from Inf·0 = NaN, stored as 0,
  // scale 1/Inf = 0, and NaN sums that no trial improves on.
  const vnmax = f32x4.splat(nmax);
  let iscale = f32x4.div(vnmax, f32x4.sub(mx, mn));
  let scale = f32x4.div(f32x4.splat(1), iscale);
  let best = f32x4.splat(0);
  for (let i: usize = 0; i < 512; i += 16) {
    const v = v128.load(X + i);
    const l = clamp4(nearest4(f32x4.mul(iscale, f32x4.sub(v, mn))), 0, nmax);
    v128.store(L + i, stored4(l));
    let diff = f32x4.sub(f32x4.add(f32x4.mul(scale, l), mn), v);
    diff = f32x4.mul(diff, diff);
    best = f32x4.add(best, f32x4.mul(v128.load(W + i), diff));
  }
  const rdelta: f32 = 0.1;
  for (let is = 0; is <= nstep; is++) {
    iscale = f32x4.div(f32x4.splat((rmin + rdelta * <f32>is) + nmax), f32x4.sub(mx, mn));
    let sumL = f32x4.splat(0);
    let sumL2 = f32x4.splat(0);
    let sumXL = f32x4.splat(0);
    for (let i: usize = 0; i < 512; i += 16) {
      const v = v128.load(X + i);
      const l = clamp4(nearest4(f32x4.mul(iscale, f32x4.sub(v, mn))), 0, nmax);
      v128.store(A + i, stored4(l));
      const wl = f32x4.mul(v128.load(W + i), l);
      sumL = f32x4.add(sumL, wl);
      sumL2 = f32x4.add(sumL2, f32x4.mul(wl, l));
      sumXL = f32x4.add(sumXL, f32x4.mul(wl, v));
    }
    const D = f32x4.sub(f32x4.mul(sumW, sumL2), f32x4.mul(sumL, sumL));
    let thisScale = f32x4.div(f32x4.sub(f32x4.mul(sumW, sumXL), f32x4.mul(sumX, sumL)), D);
    let thisMin = f32x4.div(f32x4.sub(f32x4.mul(sumL2, sumX), f32x4.mul(sumL, sumXL)), D);
    const positive = f32x4.gt(thisMin, f32x4.splat(0));
    thisMin = v128.andnot(thisMin, positive);
    thisScale = v128.bitselect(f32x4.div(sumXL, sumL2), thisScale, positive);
    let cur = f32x4.splat(0);
    for (let i: usize = 0; i < 512; i += 16) {
      let diff = f32x4.sub(f32x4.add(f32x4.mul(thisScale, v128.load(A + i)), thisMin), v128.load(X + i));
      diff = f32x4.mul(diff, diff);
      cur = f32x4.add(cur, f32x4.mul(v128.load(W + i), diff));
    }
    const better = v128.and(f32x4.gt(D, f32x4.splat(0)), f32x4.lt(cur, best));
    if (v128.any_true(better)) {
      for (let i: usize = 0; i < 512; i += 16) v128.store(L + i, v128.bitselect(v128.load(A + i), v128.load(L + i), better));
      best = v128.bitselect(cur, best, better);
      scale = v128.bitselect(thisScale, scale, better);
      mn = v128.bitselect(thisMin, mn, better);
    }
  }
  v128.store(s + S_T, f32x4.neg(mn));
  return scale;
}

/**
 * kquants-common.ts quantizeKx for one super-block of 256 f32 at x: writes d, dmin and the 12
 * scale bytes at b, and the levels (0..nmax) of the 256 values as bytes at s + S_LB.
 */
function quantizeKx(x: usize, b: usize, s: usize, nmax: f32, rmin: f32, nstep: i32): void {
  const X = s + S_X, W = s + S_W;
  const sc = s + S_SC, mnp = s + S_MN;
  for (let g: usize = 0; g < 2; g++) {
    // Sub-blocks 4g … 4g + 3 in the four lanes.
    gather4(x + (g << 9), 128, 32, X);
    let sumX2 = f32x4.splat(0);
    for (let i: usize = 0; i < 512; i += 16) {
      const v = v128.load(X + i);
      sumX2 = f32x4.add(sumX2, f32x4.mul(v, v));
    }
    const avX = f32x4.sqrt(f32x4.div(sumX2, f32x4.splat(32)));
    for (let i: usize = 0; i < 512; i += 16) v128.store(W + i, f32x4.add(avX, f32x4.abs(v128.load(X + i))));
    v128.store(sc + (g << 4), makeQkx2Quants4(s, nmax, rmin, nstep));
    v128.store(mnp + (g << 4), v128.load(s + S_T));
    scatterLevels4(s + S_L, 32, s + S_LB + (g << 7), 32, s + S_T);
  }
  let maxScale: f32 = 0;
  let maxMin: f32 = 0;
  for (let j: usize = 0; j < 8; j++) {
    const sj = load<f32>(sc + (j << 2));
    const mj = load<f32>(mnp + (j << 2));
    if (sj > maxScale) maxScale = sj;
    if (mj > maxMin) maxMin = mj;
  }
  const invScale: f32 = maxScale > 0 ? 63 / maxScale : 0;
  const invMin: f32 = maxMin > 0 ? 63 / maxMin : 0;
  const q = b + 4;
  memory.fill(q, 0, 12);
  for (let j: i32 = 0; j < 8; j++) {
    // C stores nearest_int into a uint8_t (wrapping) before MIN(63, ·).
    const ls = min(63, toInt32(nearestJs(invScale * load<f32>(sc + (<usize>j << 2)))) & 0xff);
    const lm = min(63, toInt32(nearestJs(invMin * load<f32>(mnp + (<usize>j << 2)))) & 0xff);
    if (j < 4) {
      store<u8>(q + j, <u8>ls);
      store<u8>(q + j + 4, <u8>lm);
    } else {
      store<u8>(q + j + 4, <u8>((ls & 0x0f) | ((lm & 0x0f) << 4)));
      store<u8>(q + j - 4, load<u8>(q + j - 4) | <u8>((ls >> 4) << 6));
      store<u8>(q + j, load<u8>(q + j) | <u8>((lm >> 4) << 6));
    }
  }
  writeHalf(b, maxScale / 63);
  writeHalf(b + 2, maxMin / 63);
  const dAll = readHalf(b);
  const dminAll = readHalf(b + 2);
  for (let j: i32 = 0; j < 8; j++) {
    const sm = scaleMinK4(j, q);
    const d: f32 = dAll * <f32>(sm & 0xff);
    if (d == 0) continue;
    const vd = f32x4.splat(d);
    const dm = f32x4.splat(dminAll * <f32>(sm >> 8));
    const xs = x + (<usize>j << 7);
    const out = s + S_LB + (<usize>j << 5);
    for (let i: usize = 0; i < 32; i += 4) {
      const l = clamp4(nearest4(f32x4.div(f32x4.add(v128.load(xs + (i << 2)), dm), vd)), 0, nmax);
      storeBytes4(out + i, i32x4.trunc_sat_f32x4_s(l));
    }
  }
}

/** Sets the flag word when one of the n f32 at x is Inf or NaN. */
function checkFinite(x: usize, n: i32, flag: usize): void {
  let bad = i32x4.splat(0);
  for (let i: usize = 0; i < (<usize>n << 2); i += 16) bad = v128.or(bad, nonFinite4(v128.load(x + i)));
  if (v128.any_true(bad)) store<i32>(flag, 1);
}

/** quantize_row_q4_K_ref over nb super-blocks at src into dst (scratch s); flags Inf/NaN. */
export function encodeQ4_K(src: usize, dst: usize, nb: i32, s: usize, flag: usize): void {
  checkFinite(src, nb << 8, flag);
  if (load<i32>(flag) != 0) return;
  const nib = i8x16.splat(0x0f);
  for (let i = 0; i < nb; i++) {
    const b = dst + <usize>i * 144;
    // nmax 15, trial scales rmin −1 + 0.1·k for k = 0..20.
    quantizeKx(src + (<usize>i << 10), b, s, 15, -1, 20);
    const L = s + S_LB;
    for (let j: usize = 0; j < 256; j += 64) {
      for (let l: usize = 0; l < 32; l += 16) {
        v128.store(b + 16 + (j >> 1) + l, v128.or(v128.and(v128.load(L + j + l), nib), i8x16.shl(v128.load(L + j + l + 32), 4)));
      }
    }
  }
}

/** quantize_row_q5_K_ref over nb super-blocks at src into dst (scratch s); flags Inf/NaN. */
export function encodeQ5_K(src: usize, dst: usize, nb: i32, s: usize, flag: usize): void {
  checkFinite(src, nb << 8, flag);
  if (load<i32>(flag) != 0) return;
  const nib = i8x16.splat(0x0f);
  for (let i = 0; i < nb; i++) {
    const b = dst + <usize>i * 176;
    // nmax 31, trial scales rmin −0.5 + 0.1·k for k = 0..15.
    quantizeKx(src + (<usize>i << 10), b, s, 31, -0.5, 15);
    const L = s + S_LB;
    for (let l: usize = 0; l < 32; l += 16) {
      let qh = i8x16.splat(0);
      let m1 = i8x16.splat(1);
      let m2 = i8x16.splat(2);
      for (let n: usize = 0; n < 256; n += 64) {
        const l1 = v128.load(L + n + l);
        const l2 = v128.load(L + n + l + 32);
        // Levels above 15 keep their fifth bit in qh (bit 2k for the first sub-block of pair k, 2k + 1 for the second).
        qh = v128.or(qh, v128.and(i8x16.gt_u(l1, nib), m1));
        qh = v128.or(qh, v128.and(i8x16.gt_u(l2, nib), m2));
        v128.store(b + 48 + (n >> 1) + l, v128.or(v128.and(l1, nib), i8x16.shl(v128.and(l2, nib), 4)));
        m1 = i8x16.shl(m1, 2);
        m2 = i8x16.shl(m2, 2);
      }
      v128.store(b + 16 + l, qh);
    }
  }
}

// --- Q6_K --------------------------------------------------------------------------------------

/** dequantize_row_q6_K over nb super-blocks of 210 bytes at src into f32 at dst. */
export function decodeQ6_K(src: usize, dst: usize, nb: i32): void {
  const nib = i8x16.splat(0x0f);
  const three = i8x16.splat(3);
  const off = i8x16.splat(32);
  for (let i = 0; i < nb; i++) {
    const b = src + <usize>i * 210;
    const d = readHalf(b + 208);
    let ql = b;
    let qh = b + 128;
    let sc = b + 192;
    let y = dst + (<usize>i << 10);
    for (let half = 0; half < 2; half++) {
      for (let l: usize = 0; l < 32; l += 16) {
        const is = l >> 4;
        const h = v128.load(qh + l);
        const a = v128.load(ql + l);
        const c = v128.load(ql + l + 32);
        // Levels q − 32 as signed bytes (−32 … 31).
        const q1 = i8x16.sub(v128.or(v128.and(a, nib), i8x16.shl(v128.and(h, three), 4)), off);
        const q2 = i8x16.sub(v128.or(v128.and(c, nib), i8x16.shl(v128.and(i8x16.shr_u(h, 2), three), 4)), off);
        const q3 = i8x16.sub(v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), three), 4)), off);
        const q4 = i8x16.sub(v128.or(i8x16.shr_u(c, 4), i8x16.shl(i8x16.shr_u(h, 6), 4)), off);
        storeSigned16(y + (l << 2), q1, d * <f32>load<i8>(sc + is));
        storeSigned16(y + 128 + (l << 2), q2, d * <f32>load<i8>(sc + is + 2));
        storeSigned16(y + 256 + (l << 2), q3, d * <f32>load<i8>(sc + is + 4));
        storeSigned16(y + 384 + (l << 2), q4, d * <f32>load<i8>(sc + is + 6));
      }
      y += 512;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

/** 16 f32 = ds·q for 16 signed byte levels q, stored at y. */
@inline
function storeSigned16(y: usize, q: v128, ds: f32): void {
  const v = f32x4.splat(ds);
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(y, f32x4.mul(v, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo))));
  v128.store(y, f32x4.mul(v, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo))), 16);
  v128.store(y, f32x4.mul(v, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi))), 32);
  v128.store(y, f32x4.mul(v, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi))), 48);
}

/**
 * make_qx_quants with rmse_type 1 (kquants-common.ts makeQxQuants, n = 16, nmax = 32) on four
 * sub-blocks at once, one per lane (values at s + S_X): best levels + 32 (f32) at s + S_L; returns
 * the lanes' scales.
 */
function makeQxQuants4(s: usize): v128 {
  const X = s + S_X, L = s + S_L, A = s + S_A;
  const nmax: f32 = 32;
  const vn = f32x4.splat(nmax);
  // The value of largest magnitude, the first on ties.
  let amax = f32x4.splat(0);
  let mx = f32x4.splat(0);
  for (let i: usize = 0; i < 256; i += 16) {
    const v = v128.load(X + i);
    const ax = f32x4.abs(v);
    const gt = f32x4.gt(ax, amax);
    amax = v128.bitselect(ax, amax, gt);
    mx = v128.bitselect(v, mx, gt);
  }
  const zero = f32x4.lt(f32x4.abs(mx), f32x4.splat(GROUP_MAX_EPS));
  let iscale = f32x4.div(f32x4.splat(-nmax), mx);
  let sumlx = f32x4.splat(0);
  let suml2 = f32x4.splat(0);
  for (let i: usize = 0; i < 256; i += 16) {
    const v = v128.load(X + i);
    const l = clamp4(nearest4(f32x4.mul(iscale, v)), -nmax, nmax - 1);
    v128.store(L + i, stored4(f32x4.add(l, vn)));
    const w = f32x4.mul(v, v);
    sumlx = f32x4.add(sumlx, f32x4.mul(f32x4.mul(w, v), l));
    suml2 = f32x4.add(suml2, f32x4.mul(f32x4.mul(w, l), l));
  }
  let scale = v128.and(f32x4.div(sumlx, suml2), f32x4.ne(suml2, f32x4.splat(0)));
  let best = f32x4.mul(scale, sumlx);
  const tenth: f32 = 0.1;
  for (let is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = f32x4.div(f32x4.splat(-(nmax + tenth * <f32>is)), mx);
    sumlx = f32x4.splat(0);
    suml2 = f32x4.splat(0);
    for (let i: usize = 0; i < 256; i += 16) {
      const v = v128.load(X + i);
      const l = clamp4(nearest4(f32x4.mul(iscale, v)), -nmax, nmax - 1);
      v128.store(A + i, stored4(f32x4.add(l, vn)));
      const w = f32x4.mul(v, v);
      sumlx = f32x4.add(sumlx, f32x4.mul(f32x4.mul(w, v), l));
      suml2 = f32x4.add(suml2, f32x4.mul(f32x4.mul(w, l), l));
    }
    const better = v128.and(f32x4.gt(suml2, f32x4.splat(0)), f32x4.gt(f32x4.mul(sumlx, sumlx), f32x4.mul(best, suml2)));
    if (v128.any_true(better)) {
      for (let i: usize = 0; i < 256; i += 16) v128.store(L + i, v128.bitselect(v128.load(A + i), v128.load(L + i), better));
      scale = v128.bitselect(f32x4.div(sumlx, suml2), scale, better);
      best = v128.bitselect(f32x4.mul(scale, sumlx), best, better);
    }
  }
  if (v128.any_true(zero)) {
    for (let i: usize = 0; i < 256; i += 16) v128.store(L + i, v128.andnot(v128.load(L + i), zero));
    scale = v128.andnot(scale, zero);
  }
  return scale;
}

/** quantize_row_q6_K_ref over nb super-blocks at src into dst (scratch s); flags Inf/NaN. */
export function encodeQ6_K(src: usize, dst: usize, nb: i32, s: usize, flag: usize): void {
  checkFinite(src, nb << 8, flag);
  if (load<i32>(flag) != 0) return;
  const LB = s + S_LB, sc = s + S_SC;
  const nib = i8x16.splat(0x0f);
  for (let i = 0; i < nb; i++) {
    const x = src + (<usize>i << 10);
    const b = dst + <usize>i * 210;
    for (let g: usize = 0; g < 4; g++) {
      // Sub-blocks 4g … 4g + 3 (16 values each) in the four lanes.
      gather4(x + (g << 8), 64, 16, s + S_X);
      v128.store(sc + (g << 4), makeQxQuants4(s));
      scatterLevels4(s + S_L, 16, LB + (g << 6), 16, s + S_T);
    }
    let maxScale: f32 = 0;
    let maxAbs: f32 = 0;
    for (let ib: usize = 0; ib < 16; ib++) {
      const v = load<f32>(sc + (ib << 2));
      if (abs(v) > maxAbs) {
        maxAbs = abs(v);
        maxScale = v;
      }
    }
    memory.fill(b, 0, 210);
    if (maxAbs < GROUP_MAX_EPS) continue;
    const iscale: f32 = -128 / maxScale;
    writeHalf(b + 208, 1 / iscale);
    for (let ib: usize = 0; ib < 16; ib++) {
      const r = min<f64>(127, nearestJs(iscale * load<f32>(sc + (ib << 2))));
      store<u8>(b + 192 + ib, <u8>(toInt32(r) & 0xff));
    }
    const dAll = readHalf(b + 208);
    for (let j: usize = 0; j < 16; j++) {
      const d: f32 = dAll * <f32>load<i8>(b + 192 + j);
      if (d == 0) continue;
      const vd = f32x4.splat(d);
      for (let ii: usize = 0; ii < 16; ii += 4) {
        const l = clamp4(nearest4(f32x4.div(v128.load(x + ((16 * j + ii) << 2)), vd)), -32, 31);
        storeBytes4(LB + 16 * j + ii, i32x4.trunc_sat_f32x4_s(f32x4.add(l, f32x4.splat(32))));
      }
    }
    for (let j: usize = 0; j < 256; j += 128) {
      const ql = b + (j >> 1);
      const qh = b + 128 + (j >> 2);
      for (let l: usize = 0; l < 32; l += 16) {
        const a = v128.load(LB + j + l);
        const bb = v128.load(LB + j + l + 32);
        const c = v128.load(LB + j + l + 64);
        const e = v128.load(LB + j + l + 96);
        v128.store(ql + l, v128.or(v128.and(a, nib), i8x16.shl(v128.and(c, nib), 4)));
        v128.store(ql + l + 32, v128.or(v128.and(bb, nib), i8x16.shl(v128.and(e, nib), 4)));
        const h = v128.or(v128.or(i8x16.shr_u(a, 4), i8x16.shl(i8x16.shr_u(bb, 4), 2)), v128.or(i8x16.shl(i8x16.shr_u(c, 4), 4), i8x16.shl(i8x16.shr_u(e, 4), 6)));
        v128.store(qh + l, h);
      }
    }
  }
}
