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
