/**
 * Q5_1: blocks of 32 as { f16 d; f16 m; u8 qh[4]; u8 qs[16] }, bits as Q5_0, x = d·q + m (block_q5_1).
 * encode ≡ quantize_row_q5_1_ref (d = (max − min)/31), decode ≡ dequantize_row_q5_1.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, trunc } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q5_1];
const QK = 32;
const FLT_MAX = 3.4028234663852886e38;

export const q5_1Codec: Codec = {
  type: GGMLType.Q5_1,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      const m = readF16(bytes, o + 2);
      const qh = (bytes[o + 4]! | (bytes[o + 5]! << 8) | (bytes[o + 6]! << 16) | (bytes[o + 7]! << 24)) >>> 0;
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[o + 8 + j]!;
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        y[i * QK + j] = ((q & 0x0f) | h0) * d + m;
        y[i * QK + j + QK / 2] = ((q >> 4) | h1) * d + m;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      let min = FLT_MAX;
      let max = -FLT_MAX;
      for (let j = 0; j < QK; j++) {
        const v = x[i * QK + j]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const d = fr(fr(max - min) / 31);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeF16(y, o, d);
      writeF16(y, o + 2, min);
      let qh = 0;
      for (let j = 0; j < QK / 2; j++) {
        const x0 = fr(fr(x[i * QK + j]! - min) * id);
        const x1 = fr(fr(x[i * QK + QK / 2 + j]! - min) * id);
        // quantize_row_q5_1_ref casts to uint8_t without clamping; (max−min)·id rounds to at most 31.
        const q0 = trunc(fr(x0 + 0.5)) & 0xff;
        const q1 = trunc(fr(x1 + 0.5)) & 0xff;
        y[o + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        qh |= ((q0 & 0x10) >>> 4) << j;
        qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
      }
      y[o + 4] = qh & 0xff;
      y[o + 5] = (qh >>> 8) & 0xff;
      y[o + 6] = (qh >>> 16) & 0xff;
      y[o + 7] = (qh >>> 24) & 0xff;
    }
    return y;
  },
};
