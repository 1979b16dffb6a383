/**
 * Q6_K: super-blocks of 256 as { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } — sixteen
 * sub-blocks of 16 with an 8-bit signed scale, 6-bit values (4 low bits in ql, 2 high in qh),
 * x = d·sc·(q − 32) (block_q6_K). decode ≡ dequantize_row_q6_K (ggml-quants.c): C computes
 * (d·sc)·q in float; d·sc is exact and the double product rounds once at the store, the same.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16 } from './half.ts';
import { QK_K } from './kquants-common.ts';
import { checkDecode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q6_K];

export const q6_KCodec: Codec = {
  type: GGMLType.Q6_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o + 208);
      let ql = o;
      let qh = o + 128;
      let sc = o + 192;
      let k = i * QK_K;
      for (let half = 0; half < 2; half++) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = bytes[qh + l]!;
          const q1 = ((bytes[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
          const q2 = ((bytes[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
          const s = (j: number): number => (bytes[sc + is + j]! << 24) >> 24;
          y[k + l] = d * s(0) * q1;
          y[k + l + 32] = d * s(2) * q2;
          y[k + l + 64] = d * s(4) * q3;
          y[k + l + 96] = d * s(6) * q4;
        }
        k += 128;
        ql += 64;
        qh += 32;
        sc += 8;
      }
    }
    return y;
  },
};
