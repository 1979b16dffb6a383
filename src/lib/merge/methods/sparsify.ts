/**
 * Sparsification of task vectors, after mergekit's `sparsify.py`:
 * - `magnitude` (TIES, arXiv 2306.01708): keep the k = ⌊density·n⌋ entries of largest |x|.
 * - `magnitude_outliers` (Model Breadcrumbs, arXiv 2312.06795): drop the ⌊gamma·n⌋ largest
 *   entries and then the smallest ones, so that ⌊density·n⌋ remain.
 * - `random` (DARE, arXiv 2311.03099): keep each entry with probability `density` (Bernoulli).
 * - `della_magprune` (DELLA, arXiv 2406.11617): keep each entry with a probability that grows with
 *   its magnitude's rank in its row, from density − ε (smallest) to density + ε (largest).
 * With `rescale`, kept entries are divided by `density` (DARE's rescale; mergekit ≤ 0.0.5 did
 * exactly this — newer mergekit matches the L1 norm instead, see the README's note).
 *
 * Ranks use one total order — larger |x| first, ties broken toward the lower index — so the same
 * input always keeps the same entries (torch's argsort is not stable, mergekit's choice among
 * equal magnitudes is arbitrary). Functions work in place and return how many entries were kept.
 */
import { fmix32, fnv1a, mulberry32 } from '../../random.ts';

export type SparsifyMethod = 'magnitude' | 'magnitude_outliers' | 'random' | 'della_magprune';

/**
 * Zeroes every entry of `x` whose rank (0 = largest |x|, ties → lower index first) is outside
 * [from, to). Linear time, three passes and no copy: a histogram of the top 16 bits of |x|, one of
 * the low 16 bits inside the bucket(s) that hold the two threshold ranks, then the zeroing pass.
 * |x|'s IEEE-754 bits order like its values (sign cleared), so bit patterns rank the magnitudes.
 * Tensors holding NaN take the two-selection path below, whose float comparisons define what a
 * NaN does; both give the same result on every NaN-free input.
 */
export function keepRankRange(x: Float32Array, from: number, to: number): number {
  const n = x.length;
  if (from <= 0 && to >= n) return n;
  if (to <= from) {
    x.fill(0);
    return 0;
  }
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  const hist = new Uint32Array(65536);
  if (!histogramHigh(bits, hist)) return keepRankRangeWithNaN(x, from, to);
  if (from <= 0) return keepTop(bits, hist, to);
  // Descending rank r ↔ ascending position n-1-r.
  const pHi = n - 1 - Math.max(from, 0); // magnitude at rank `from` (largest kept)
  const pLo = n - to; // magnitude at rank `to-1` (smallest kept)
  const [bucketHi, belowBucketHi] = bucketOf(hist, pHi);
  const [bucketLo, belowBucketLo] = bucketOf(hist, pLo);
  const histHi = new Uint32Array(65536);
  const histLo = bucketLo === bucketHi ? histHi : new Uint32Array(65536);
  histogramLow(bits, bucketHi, histHi, bucketLo, histLo);
  const [lowHi, belowHi] = bucketOf(histHi, pHi - belowBucketHi);
  const [lowLo, belowLo] = bucketOf(histLo, pLo - belowBucketLo);
  const vHi = ((bucketHi << 16) | lowHi) >>> 0;
  const vLo = ((bucketLo << 16) | lowLo) >>> 0;
  // Entries strictly larger than each threshold: all minus those below minus those equal.
  const gHi = n - (belowBucketHi + belowHi) - histHi[lowHi]!;
  const gLo = n - (belowBucketLo + belowLo) - histLo[lowLo]!;
  return zeroOutsideRanks(x, bits, from, to, vHi, vLo, gHi, gLo);
}

/**
 * hist[|bits| >>> 16]++ for every entry; false when some entry is NaN. Two interleaved tables,
 * summed at the end, so that neighbours in the same bucket do not wait on each other's increment;
 * NaN (|bits| > 0x7f800000) is the one case where adding 0x7fffff sets bit 31.
 */
// Stryker disable next-line BlockStatement: an empty body returns undefined, which sends every tensor down the NaN path: the same result by design (see keepRankRange), only slower.
/** Exported for its unit test (the NaN check decides which path a tensor takes). */
export function histogramHigh(bits: Uint32Array, hist: Uint32Array): boolean {
  const n = bits.length;
  const other = new Uint32Array(65536);
  let nan = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = bits[i]! & 0x7fffffff;
    const b = bits[i + 1]! & 0x7fffffff;
    hist[a >>> 16]!++;
    other[b >>> 16]!++;
    nan |= (a + 0x7fffff) | (b + 0x7fffff);
  }
  if (i < n) {
    const a = bits[i]! & 0x7fffffff;
    hist[a >>> 16]!++;
    nan |= a + 0x7fffff;
  }
  if (nan < 0) return false;
  for (let k = 0; k < 65536; k++) hist[k] = hist[k]! + other[k]!;
  return true;
}

/** Low-16-bit histograms of the entries whose |bits| fall in bucket `b1` (into h1) or `b2` (h2). */
function histogramLow(bits: Uint32Array, b1: number, h1: Uint32Array, b2: number, h2: Uint32Array): void {
  const n = bits.length;
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & 0x7fffffff;
    const b = a >>> 16;
    if (b === b1) h1[a & 0xffff]!++;
    else if (b === b2) h2[a & 0xffff]!++;
  }
}

/** The bucket holding ascending position p, and how many entries lie in the buckets before it. */
function bucketOf(hist: Uint32Array, p: number): [number, number] {
  let b = 0;
  let below = 0;
  while (below + hist[b]! <= p) below += hist[b++]!;
  return [b, below];
}

/**
 * keepRankRange for from = 0 (TIES keeps the top ranks), in one full pass after the histogram:
 * entries above the bucket that holds rank to−1 stay, entries below go (branch free: the mask
 * (bucket − b) >> 31 is all ones exactly when b > bucket), and the bucket's own entries are
 * collected in index order and settled afterwards: above the threshold vLo they stay, below they
 * go, and of those equal to it the first to − (entries larger than vLo) stay — the general pass's
 * rule when vHi is the maximum. Zeroed entries are +0, as there.
 */
function keepTop(bits: Uint32Array, hist: Uint32Array, to: number): number {
  const n = bits.length;
  const [bucket, belowBucket] = bucketOf(hist, n - to);
  const inBucket = new Int32Array(hist[bucket]!);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    const hb = (b & 0x7fffffff) >>> 16;
    if (hb === bucket) inBucket[m++] = i;
    else bits[i] = b & ((bucket - hb) >> 31);
  }
  const low = new Uint32Array(65536);
  for (let j = 0; j < m; j++) low[bits[inBucket[j]!]! & 0xffff]!++;
  const [lowLo, belowLo] = bucketOf(low, n - to - belowBucket);
  const vLo = ((bucket << 16) | lowLo) >>> 0;
  const larger = n - (belowBucket + belowLo) - low[lowLo]!;
  let quota = to - larger;
  for (let j = 0; j < m; j++) {
    const i = inBucket[j]!;
    const a = bits[i]! & 0x7fffffff;
    if (a < vLo) bits[i] = 0;
    else if (a === vLo) {
      if (quota > 0) quota--;
      else bits[i] = 0;
    }
  }
  return to;
}

/**
 * The zeroing pass, on bit patterns: an entry equal to a threshold ranks after the entries
 * strictly larger (g) and the equal ones met before it in index order (seen).
 */
function zeroOutsideRanks(x: Float32Array, bits: Uint32Array, from: number, to: number, vHi: number, vLo: number, gHi: number, gLo: number): number {
  const n = x.length;
  let seenHi = 0;
  let seenLo = 0;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & 0x7fffffff;
    let rank: number;
    if (a > vHi) rank = -1; // above the kept range
    else if (a < vLo) rank = n; // below it
    else if (a === vHi) {
      rank = gHi + seenHi++;
      if (a === vLo) seenLo = seenHi;
    } else if (a === vLo) rank = gLo + seenLo++;
    else rank = from; // strictly inside
    if (rank >= from && rank < to) kept++;
    else x[i] = 0;
  }
  return kept;
}

/** keepRankRange for tensors that hold NaN: two selections over a copy of the magnitudes. Exported for its unit test
 * (on NaN-free input it must agree with the fast path and the documented order). */
export function keepRankRangeWithNaN(x: Float32Array, from: number, to: number): number {
  const n = x.length;
  const mags = new Float32Array(n);
  for (let i = 0; i < n; i++) mags[i] = Math.abs(x[i]!);
  // Descending rank r ↔ ascending position n-1-r. Two linear-time selections, no full sort.
  const vHi = selectNonNegative(mags, n - 1 - from); // magnitude at rank `from` (largest kept)
  const vLo = selectNonNegative(mags, n - to); // magnitude at rank `to-1` (smallest kept)
  let gHi = 0; // entries strictly larger than vHi
  let gLo = 0; // … than vLo
  for (let i = 0; i < n; i++) {
    const a = mags[i]!;
    if (a > vHi) gHi++;
    if (a > vLo) gLo++;
  }
  let seenHi = 0; // entries equal to vHi met so far (in index order)
  let seenLo = 0;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[i]!);
    let rank: number;
    if (a === vHi) rank = gHi + seenHi++;
    else if (a === vLo) rank = gLo + seenLo++;
    // Stryker disable next-line UnaryOperator: rank +1 is outside [from, to) as well: this path runs only with a NaN, whose bits rank first, so nothing compares above vHi unless from ≥ 2.
    else if (a > vHi) rank = -1; // above the kept range
    else if (a < vLo) rank = n; // below it
    else rank = from; // strictly inside
    if (a === vHi && a === vLo) seenLo = seenHi;
    if (rank >= from && rank < to) kept++;
    else x[i] = 0;
  }
  return kept;
}

/** mergekit `magnitude`: keep the ⌊density·n⌋ largest magnitudes. */
export function magnitude(x: Float32Array, density: number, rescale: boolean): number {
  if (density >= 1) return x.length;
  const k = Math.floor(density * x.length);
  const kept = keepRankRange(x, 0, k);
  if (rescale) scale(x, 1 / density);
  return kept;
}

/** mergekit `magnitude_outliers`: drop the ⌊gamma·n⌋ largest, then the smallest, keep ⌊density·n⌋. */
export function magnitudeOutliers(x: Float32Array, density: number, gamma: number, rescale: boolean): number {
  if (density >= 1) return x.length;
  const n = x.length;
  const target = Math.floor(density * n);
  let nTop = Math.floor(gamma * n);
  let nBot = n - target - nTop;
  if (nBot < 0) {
    // As mergekit: remove fewer outliers so the target density is met.
    nTop += nBot;
    nBot = 0;
  }
  const kept = keepRankRange(x, nTop, n - nBot);
  if (rescale) scale(x, 1 / density);
  return kept;
}

/**
 * DARE's random drop: keep each entry with probability `density`, drawing u ∈ [0,1) per entry
 * from `rng` in index order (kept when u < density).
 */
export function bernoulli(x: Float32Array, density: number, rescale: boolean, rng: () => number): number {
  if (density >= 1) return x.length;
  let kept = 0;
  const s = rescale ? 1 / density : 1;
  for (let i = 0; i < x.length; i++) {
    if (rng() < density) {
      x[i] = x[i]! * s;
      kept++;
    } else x[i] = 0;
  }
  return kept;
}

/**
 * DELLA's MAGPRUNE (Deep et al., DELLA-Merging, arXiv 2406.11617, §3; mergekit `della_magprune`):
 * within each row of `rowLen` entries (a GGUF row: torch's last dimension, mergekit's dim 1 of a
 * matrix; the whole tensor for a vector), entries are ranked by |x| ascending (r = 0 … L−1, ties
 * → lower index first) and kept with probability p = density − ε + 2ε·r/(L−1) (p = density in a
 * row of one entry, where mergekit's 0/0 is undefined); u ∈ [0,1) is drawn from `rng` per entry in
 * index order and the entry kept when u < p. With `rescale`, a kept entry is divided by its p —
 * the paper's rescaling by 1/(1 − drop probability), as DARE divides by density here; mergekit
 * instead matches the L1 norm of the whole task vector. Returns how many entries were kept.
 */
export function dellaMagprune(x: Float32Array, rowLen: number, density: number, epsilon: number, rescale: boolean, rng: () => number): number {
  if (density >= 1) return x.length;
  const n = x.length;
  const L = Math.max(1, Math.min(rowLen, n));
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  // Sort keys: |x|'s bit pattern (which orders like the magnitude) × 2^22 + the index in the row,
  // exact in a double for rows of up to 2^22 entries, sorted natively.
  const keys = new Float64Array(L);
  const rank = new Uint32Array(L);
  let kept = 0;
  for (let r0 = 0; r0 < n; r0 += L) {
    const len = Math.min(L, n - r0);
    const k = keys.subarray(0, len);
    if (len <= 1 << 22) {
      for (let j = 0; j < len; j++) k[j] = (bits[r0 + j]! & 0x7fffffff) * 4194304 + j;
      k.sort();
      for (let r = 0; r < len; r++) rank[k[r]! % 4194304] = r;
    } else {
      const order = Array.from({ length: len }, (_, j) => j).sort((a, b) => Math.abs(x[r0 + a]!) - Math.abs(x[r0 + b]!) || a - b);
      order.forEach((j, r) => (rank[j] = r));
    }
    for (let j = 0; j < len; j++) {
      const p = len > 1 ? density - epsilon + (2 * epsilon * rank[j]!) / (len - 1) : density;
      if (rng() < p) {
        if (rescale) x[r0 + j] = x[r0 + j]! / p;
        kept++;
      } else x[r0 + j] = 0;
    }
  }
  return kept;
}

/**
 * The k-th smallest (0-based) of non-negative floats, without reordering: a two-pass radix select
 * on the IEEE-754 bit patterns, which order like the values when the sign bit is clear (high 16
 * bits, then low 16 bits within the chosen bucket). Linear time with a small constant, and no
 * worst case (quickselect degrades on the many equal magnitudes that F16 inputs produce).
 */
export function selectNonNegative(a: Float32Array, k: number): number {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const hist = new Uint32Array(65536);
  for (let i = 0; i < bits.length; i++) hist[bits[i]! >>> 16]!++;
  let hi = 0;
  let below = 0;
  while (below + hist[hi]! <= k) below += hist[hi++]!;
  hist.fill(0);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if (b >>> 16 === hi) hist[b & 0xffff]!++;
  }
  let lo = 0;
  while (below + hist[lo]! <= k) below += hist[lo++]!;
  const out = new Uint32Array([((hi << 16) | lo) >>> 0]);
  return new Float32Array(out.buffer)[0]!;
}

function scale(x: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * s;
}

/**
 * The seeded PRNG of DARE: mulberry32 (Tommy Ettinger, public domain; a 32-bit state, period 2^32,
 * passes gjrand/PractRand at this size) seeded per tensor and per model from
 * `fmix32(seed ⊕ FNV-1a(name) ⊕ golden·(model+1))`, so tensors are independent of the order in
 * which they are merged and the same seed always drops the same entries.
 */
export function tensorRng(seed: number, tensorName: string, model: number): () => number {
  return mulberry32(fmix32((seed >>> 0) ^ fnv1a(tensorName) ^ Math.imul(model + 1, 0x9e3779b9)));
}
