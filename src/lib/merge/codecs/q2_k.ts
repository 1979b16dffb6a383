/**
 * Q2_K: super-blocks of 256 as { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin } — sixteen
 * sub-blocks of 16 with a 4-bit scale (low nibble) and 4-bit min (high nibble), 2-bit values,
 * x = d·sc·q − dmin·m (block_q2_K). decode ≡ dequantize_row_q2_K (ggml-quants.c).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16 } from './half.ts';
import { QK_K } from './kquants-common.ts';
import { checkDecode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q2_K];

export const q2_KCodec: Codec = {
  type: GGMLType.Q2_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o + 80);
      const dmin = readF16(bytes, o + 82);
      let q = o + 16;
      let k = i * QK_K;
      let is = 0;
      for (let half = 0; half < 2; half++) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (let part = 0; part < 2; part++) {
            const sc = bytes[o + is++]!;
            const dl = d * (sc & 0x0f);
            const ml = dmin * (sc >> 4);
            for (let l = 0; l < 16; l++) y[k++] = dl * ((bytes[q + part * 16 + l]! >> shift) & 3) - ml;
          }
        }
        q += 32;
      }
    }
    return y;
  },
};
