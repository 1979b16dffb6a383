/**
 * Q4_0: blocks of 32 as { f16 d; u8 qs[16] }, element j in the low nibble of qs[j] and element
 * j+16 in the high nibble, x = d·(q − 8) (block_q4_0).
 * encode ≡ quantize_row_q4_0_ref (d = max/−8 where max is the value of largest magnitude, so that
 * value maps to −8 exactly), decode ≡ dequantize_row_q4_0 (ggml-quants.c).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, maxByMagnitude, trunc } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q4_0];
const QK = 32;

export const q4_0Codec: Codec = {
  type: GGMLType.Q4_0,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[o + 2 + j]!;
        y[i * QK + j] = ((q & 0x0f) - 8) * d;
        y[i * QK + j + QK / 2] = ((q >> 4) - 8) * d;
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
      const d = fr(max / -8);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeF16(y, o, d);
      for (let j = 0; j < QK / 2; j++) {
        const x0 = fr(x[i * QK + j]! * id);
        const x1 = fr(x[i * QK + QK / 2 + j]! * id);
        const q0 = Math.min(15, trunc(fr(x0 + 8.5)));
        const q1 = Math.min(15, trunc(fr(x1 + 8.5)));
        y[o + 2 + j] = q0 | (q1 << 4);
      }
    }
    return y;
  },
};
