/**
 * Q4_K: super-blocks of 256 as { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } — eight sub-blocks
 * of 32 with 6-bit scale sc and min m each, x = d·sc·q − dmin·m (block_q4_K).
 * decode ≡ dequantize_row_q4_K, encode ≡ quantize_row_q4_K_ref (ggml-quants.c; the reference used
 * without an importance matrix). Every product is exact in f32, so the single
 * rounding at the store matches C, with or without fused multiply-add.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { QK_K, quantizeKx, scaleMinK4 } from './kquants-common.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q4_K];

export const q4_KCodec: Codec = {
  type: GGMLType.Q4_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      const dmin = readF16(bytes, o + 2);
      let q = o + 16;
      let k = i * QK_K;
      for (let is = 0; is < 8; is += 2) {
        const [sc1, m1] = scaleMinK4(is, bytes, o + 4);
        const [sc2, m2] = scaleMinK4(is + 1, bytes, o + 4);
        const d1 = d * sc1;
        const mm1 = dmin * m1;
        const d2 = d * sc2;
        const mm2 = dmin * m2;
        for (let l = 0; l < 32; l++) y[k++] = d1 * (bytes[q + l]! & 0x0f) - mm1;
        for (let l = 0; l < 32; l++) y[k++] = d2 * (bytes[q + l]! >> 4) - mm2;
        q += 32;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      // nmax 15, trial scales rmin −1 + 0.1·k for k = 0..20.
      const L = quantizeKx(x, i * QK_K, 15, -1, 20, y, o, writeF16, readF16);
      for (let j = 0, q = o + 16; j < QK_K; j += 64, q += 32) {
        for (let l = 0; l < 32; l++) y[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
      }
    }
    return y;
  },
};
