/**
 * Q5_K: super-blocks of 256 as { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } — Q4_K
 * plus a fifth bit per element in qh (bit 2k / 2k+1 of qh[l] for the k-th pair of sub-blocks),
 * x = d·sc·q − dmin·m (block_q5_K). decode ≡ dequantize_row_q5_K, encode ≡ quantize_row_q5_K_ref
 * (ggml-quants.c; the reference used without an importance matrix).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { QK_K, quantizeKx, scaleMinK4 } from './kquants-common.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q5_K];

export const q5_KCodec: Codec = {
  type: GGMLType.Q5_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      const dmin = readF16(bytes, o + 2);
      const qh = o + 16;
      let ql = o + 48;
      let k = i * QK_K;
      let u1 = 1;
      let u2 = 2;
      for (let is = 0; is < 8; is += 2) {
        const [sc1, m1] = scaleMinK4(is, bytes, o + 4);
        const [sc2, m2] = scaleMinK4(is + 1, bytes, o + 4);
        const d1 = d * sc1;
        const mm1 = dmin * m1;
        const d2 = d * sc2;
        const mm2 = dmin * m2;
        for (let l = 0; l < 32; l++) y[k++] = d1 * ((bytes[ql + l]! & 0x0f) + (bytes[qh + l]! & u1 ? 16 : 0)) - mm1;
        for (let l = 0; l < 32; l++) y[k++] = d2 * ((bytes[ql + l]! >> 4) + (bytes[qh + l]! & u2 ? 16 : 0)) - mm2;
        ql += 32;
        u1 <<= 2;
        u2 <<= 2;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      // nmax 31, trial scales rmin −0.5 + 0.1·k for k = 0..15.
      const L = quantizeKx(x, i * QK_K, 31, -0.5, 15, y, o, writeF16, readF16);
      y.fill(0, o + 16, o + 48);
      let m1 = 1;
      let m2 = 2;
      for (let n = 0, ql = o + 48; n < QK_K; n += 64, ql += 32) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j]!;
          if (l1 > 15) {
            l1 -= 16;
            y[o + 16 + j]! |= m1;
          }
          let l2 = L[n + j + 32]!;
          if (l2 > 15) {
            l2 -= 16;
            y[o + 16 + j]! |= m2;
          }
          y[ql + j] = l1 | (l2 << 4);
        }
        m1 <<= 2;
        m2 <<= 2;
      }
    }
    return y;
  },
};
