/**
 * C float arithmetic helpers for bit-exact codecs. llama.cpp's reference quantisers compute in
 * 32-bit float; JS computes in double, so every intermediate that C holds in a `float` goes through
 * Math.fround here.
 */
export const fr = Math.fround;

/** C roundf: round half away from zero (exact for f32 inputs: |x| + 0.5 is exact in a double). */
export function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * ggml-quants.c nearest_int: adds 1.5·2^23 in float so the FPU rounds to nearest even, then reads
 * the integer back (valid for |x| < 2^22).
 */
export function nearestInt(x: number): number {
  return fr(fr(x) + 12582912) - 12582912;
}

/** C conversion of a float to an integer type: truncation toward zero. */
export const trunc = Math.trunc;

/**
 * The signed value of largest magnitude among x[start … start+n) — the first one on ties, NaN never
 * chosen, 0 for an all-zero group — as ggml's quantisers find `max` (quantize_row_q4_0_ref and
 * friends, make_qx_quants, make_q3_quants); its magnitude is their `amax`.
 */
export function maxByMagnitude(x: Float32Array, start: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let i = start; i < start + n; i++) {
    const ax = Math.abs(x[i]!);
    if (ax > amax) {
      amax = ax;
      max = x[i]!;
    }
  }
  return max;
}
