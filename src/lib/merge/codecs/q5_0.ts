/**
 * Q5_0: blocks of 32 as { f16 d; u8 qh[4]; u8 qs[16] }: low 4 bits as Q4_0's nibbles, bit 4 of
 * element j in bit j of the little-endian u32 qh; x = d·(q − 16) (block_q5_0).
 * encode ≡ quantize_row_q5_0_ref (d = max/−16), decode ≡ dequantize_row_q5_0.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, maxByMagnitude, trunc } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q5_0];
const QK = 32;

export const q5_0Codec: Codec = {
  type: GGMLType.Q5_0,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      const qh = (bytes[o + 2]! | (bytes[o + 3]! << 8) | (bytes[o + 4]! << 16) | (bytes[o + 5]! << 24)) >>> 0;
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[o + 6 + j]!;
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        y[i * QK + j] = (((q & 0x0f) | h0) - 16) * d;
        y[i * QK + j + QK / 2] = (((q >> 4) | h1) - 16) * d;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const max = maxByMagnitude(x, i * QK, QK);
      const d = fr(max / -16);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeF16(y, o, d);
      let qh = 0;
      for (let j = 0; j < QK / 2; j++) {
        const x0 = fr(x[i * QK + j]! * id);
        const x1 = fr(x[i * QK + QK / 2 + j]! * id);
        const q0 = Math.min(31, trunc(fr(x0 + 16.5)));
        const q1 = Math.min(31, trunc(fr(x1 + 16.5)));
        y[o + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        qh |= ((q0 & 0x10) >>> 4) << j;
        qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
      }
      y[o + 2] = qh & 0xff;
      y[o + 3] = (qh >>> 8) & 0xff;
      y[o + 4] = (qh >>> 16) & 0xff;
      y[o + 5] = (qh >>> 24) & 0xff;
    }
    return y;
  },
};
