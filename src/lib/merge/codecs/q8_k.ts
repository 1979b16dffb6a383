/**
 * Q8_K: super-blocks of 256 as { f32 d; i8 qs[256]; i16 bsums[16] } — the intermediate type
 * k-quant dot products use; x = d·q (block_q8_K). encode ≡ quantize_row_q8_K_ref (scale from the
 * value of largest magnitude, nearest_int rounding, bsums = sums of 16 consecutive q),
 * decode ≡ dequantize_row_q8_K.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { QK_K } from './kquants-common.ts';
import { fr, nearestInt } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q8_K];

export const q8_KCodec: Codec = {
  type: GGMLType.Q8_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = view.getFloat32(o, true);
      for (let j = 0; j < QK_K; j++) y[i * QK_K + j] = d * ((bytes[o + 4 + j]! << 24) >> 24);
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    const view = new DataView(y.buffer, y.byteOffset, y.byteLength);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      let max = 0;
      let amax = 0;
      for (let j = 0; j < QK_K; j++) {
        const v = x[i * QK_K + j]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      if (amax === 0) {
        // The reference leaves bsums unset here; they are all zero, and zero is what we write.
        y.fill(0, o, o + T.typeSize);
        continue;
      }
      const iscale = fr(-127 / max);
      for (let j = 0; j < QK_K; j++) {
        const v = Math.min(127, nearestInt(fr(iscale * x[i * QK_K + j]!)));
        y[o + 4 + j] = v & 0xff;
      }
      for (let j = 0; j < QK_K / 16; j++) {
        let sum = 0;
        for (let l = 0; l < 16; l++) sum += (y[o + 4 + j * 16 + l]! << 24) >> 24;
        view.setInt16(o + 4 + QK_K + j * 2, sum, true);
      }
      view.setFloat32(o, fr(1 / iscale), true);
    }
    return y;
  },
};
