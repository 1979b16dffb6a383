/**
 * Q4_K: super-blocks of 256 as { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } — eight sub-blocks
 * of 32 with 6-bit scale sc and min m each, x = d·sc·q − dmin·m (block_q4_K).
 * decode ≡ dequantize_row_q4_K (ggml-quants.c). Every product is exact in f32, so the single
 * rounding at the store matches C, with or without fused multiply-add.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16 } from './half.ts';
import { QK_K, scaleMinK4 } from './kquants-common.ts';
import { checkDecode, type Codec } from './types.ts';

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
};
