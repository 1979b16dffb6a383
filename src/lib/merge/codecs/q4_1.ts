/**
 * Q4_1: blocks of 32 as { f16 d; f16 m; u8 qs[16] }, nibbles as in Q4_0, x = d·q + m (block_q4_1).
 * encode ≡ quantize_row_q4_1_ref (d = (max − min)/15, m = min), decode ≡ dequantize_row_q4_1.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { fr, trunc } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q4_1];
const QK = 32;
const FLT_MAX = 3.4028234663852886e38;

export const q4_1Codec: Codec = {
  type: GGMLType.Q4_1,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o);
      const m = readF16(bytes, o + 2);
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[o + 4 + j]!;
        // d·q is exact in f32 (11-bit × 4-bit), so one rounding at the store matches C.
        y[i * QK + j] = (q & 0x0f) * d + m;
        y[i * QK + j + QK / 2] = (q >> 4) * d + m;
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
      const d = fr(fr(max - min) / 15);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeF16(y, o, d);
      writeF16(y, o + 2, min);
      for (let j = 0; j < QK / 2; j++) {
        const x0 = fr(fr(x[i * QK + j]! - min) * id);
        const x1 = fr(fr(x[i * QK + QK / 2 + j]! - min) * id);
        const q0 = Math.min(15, trunc(fr(x0 + 0.5)));
        const q1 = Math.min(15, trunc(fr(x1 + 0.5)));
        y[o + 4 + j] = q0 | (q1 << 4);
      }
    }
    return y;
  },
};
