/**
 * Exact IEEE 754 binary16 and bfloat16 conversions, as ggml does them (ggml-impl.h):
 * - fp16 → fp32 is exact (a 65,536-entry table, like ggml_table_f32_f16).
 * - fp32 → fp16 rounds to nearest, ties to even, keeps subnormals, overflows to ±Inf, and maps
 *   NaN to the quiet NaN 0x7E00 with its sign (the portable path, fp16_ieee_from_fp32_value of
 *   Maratos' FP16 library that ggml_compute_fp32_to_fp16 follows).
 * - fp32 → bf16 is ggml_compute_fp32_to_bf16: round to nearest even on the top 16 bits, NaN made
 *   quiet by setting bit 6; subnormals are kept (current ggml no longer flushes them).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let table: Float32Array | undefined;

/** Whether typed-array views read little-endian (every platform a browser runs on; checked, not assumed). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The f32 value of every f16 bit pattern. */
export function f16Table(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
  table = t;
  return t;
}

/** Decodes binary16 bits by the definition (used to build the table; not on hot paths). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** fp16 → f32 value (exact). */
export function f16ToF32(h: number): number {
  return (table ?? f16Table())[h & 0xffff]!;
}

/** f32 (any JS number, first rounded to f32 like a C float) → fp16 bits, round to nearest even. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  return f32BitsToF16(u32[0]!);
}

/** The same from the f32's bit pattern (the codec's hot loop reads bits straight from the input). */
export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  // 65520 = halfway between the largest half 65504 and 65536; it and above round to infinity.
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    // Below the smallest normal half 2^-14: a multiple of 2^-24, rounded half to even. The product
    // is exact in a double, so the rounding below is the only one. 1024 is the smallest normal.
    u32[0] = a;
    const r = f32[0]! * 2 ** 24;
    let q = Math.floor(r);
    const frac = r - q;
    if (frac > 0.5 || (frac === 0.5 && (q & 1) === 1)) q++;
    return sign | q;
  }
  return f32BitsToF16Normal(u, a);
}

/**
 * The normal-half case of f32BitsToF16, for 2^-14 ≤ |x| < 65520 (a = bits without the sign), branch
 * free (f16.ts's encode loop spells the same arithmetic out inline). Rebasing the exponent (127 → 15, i.e. subtracting
 * 112 << 23) and shifting out 13 bits gives exponent and mantissa in place; adding 0xfff plus the
 * kept bit's parity to the 13 dropped bits carries exactly when they exceed half, or equal half
 * with an odd kept bit: round to nearest, ties to even. A carry out of the mantissa correctly
 * bumps the exponent (up to infinity at 65520).
 */
export function f32BitsToF16Normal(u: number, a: number): number {
  const h = (a - 0x38000000) >>> 13;
  return ((u >>> 16) & 0x8000) | (h + (((a & 0x1fff) + 0xfff + (h & 1)) >>> 13));
}

/**
 * out[at + i] = fp16 bits of the f32 whose bits are bits[i], for i < count: the hot loop of F16
 * encoding (the codec and the fused F16 kernels share it). Normal halves — nearly every weight —
 * take f32BitsToF16Normal's arithmetic written out here, because a call per element is not always
 * inlined (measured 5× slower under tsx); everything else goes through f32BitsToF16. Checked
 * against f32ToF16 on random bit patterns and by ggml's F16 vectors (codecs-reference.test.ts).
 */
export function f32BitsToF16Array(bits: Uint32Array, count: number, out: Uint16Array, at: number): void {
  for (let i = 0; i < count; i++) {
    const u = bits[i]!;
    const a = u & 0x7fffffff;
    if (a >= 0x38800000 && a < 0x477ff000) {
      const m = (a - 0x38000000) >>> 13;
      out[at + i] = ((u >>> 16) & 0x8000) | (m + (((a & 0x1fff) + 0xfff + (m & 1)) >>> 13));
    } else out[at + i] = f32BitsToF16(u);
  }
}

/** bf16 bits → f32 value (exact). */
export function bf16ToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** f32 → bf16 bits, exactly as ggml_compute_fp32_to_bf16. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

/** Reads little-endian fp16 at byte `o` as f32. */
export function readF16(bytes: Uint8Array, o: number): number {
  return (table ?? f16Table())[bytes[o]! | (bytes[o + 1]! << 8)]!;
}

/** Writes `x` as little-endian fp16 at byte `o`. */
export function writeF16(bytes: Uint8Array, o: number, x: number): void {
  const h = f32ToF16(x);
  bytes[o] = h & 0xff;
  bytes[o + 1] = h >>> 8;
}
