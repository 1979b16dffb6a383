/**
 * Q8_0: blocks of 32 as { f16 d; int8 qs[32] }, x = d·q (ggml-common.h block_q8_0).
 * encode ≡ quantize_row_q8_0_ref, decode ≡ dequantize_row_q8_0 (ggml-quants.c).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, roundf } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q8_0];
const QK = 32;

export const q8_0Codec: Codec = {
  type: GGMLType.Q8_0,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      for (let j = 0; j < QK; j++) y[i * QK + j] = ((bytes[o + 2 + j]! << 24) >> 24) * d;
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
      for (let j = 0; j < QK; j++) y[o + 2 + j] = roundf(fr(x[i * QK + j]! * id)) & 0xff;
    }
    return y;
  },
};
