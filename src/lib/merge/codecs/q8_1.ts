/**
 * Q8_1: blocks of 32 as { f16 d; f16 s; int8 qs[32] } with s = d·Σq, x = d·q (block_q8_1).
 * encode ≡ quantize_row_q8_1_ref, decode ≡ d·q (ggml has no dequantize for it; s only speeds up dot products).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, roundf } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q8_1];
const QK = 32;

export const q8_1Codec: Codec = {
  type: GGMLType.Q8_1,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      for (let j = 0; j < QK; j++) y[i * QK + j] = ((bytes[o + 4 + j]! << 24) >> 24) * d;
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      let amax = 0;
      for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[i * QK + j]!));
      const d = fr(amax / 127);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeF16(y, o, d);
      let sum = 0;
      for (let j = 0; j < QK; j++) {
        const q = roundf(fr(x[i * QK + j]! * id));
        y[o + 4 + j] = q & 0xff;
        sum += q;
      }
      writeF16(y, o + 2, fr(sum * d));
    }
    return y;
  },
};
