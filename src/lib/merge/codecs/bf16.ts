/** BF16: bfloat16, the top half of a binary32 (ggml's GGML_TYPE_BF16; ggml_bf16_to_fp32_row / ggml_fp32_to_bf16_row). */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { f32ToBf16 } from './half.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.BF16];

export const bf16Codec: Codec = {
  type: GGMLType.BF16,
  ...T,
  decode(bytes, n, out) {
    checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    // Widening is a 16-bit shift of the bits, done through an integer view of the output.
    const bits = new Uint32Array(y.buffer, y.byteOffset, n);
    for (let i = 0, o = 0; i < n; i++, o += 2) bits[i] = ((bytes[o]! | (bytes[o + 1]! << 8)) << 16) >>> 0;
    return y;
  },
  encode(values, out) {
    checkEncode(T, values, out, false);
    const y = out ?? new Uint8Array(values.length * 2);
    for (let i = 0, o = 0; i < values.length; i++, o += 2) {
      const b = f32ToBf16(values[i]!);
      y[o] = b & 0xff;
      y[o + 1] = b >>> 8;
    }
    return y;
  },
};
