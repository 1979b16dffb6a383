/** F16: IEEE binary16 (ggml's GGML_TYPE_F16; ggml_fp16_to_fp32_row / ggml_fp32_to_fp16_row). */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { f16Table, f32BitsToF16, f32BitsToF16Array, LITTLE_ENDIAN } from './half.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.F16];

export const f16Codec: Codec = {
  type: GGMLType.F16,
  ...T,
  decode(bytes, n, out) {
    checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    const tab = f16Table();
    // Byte loads and a table lookup: measured faster here than reading through a Uint16Array view
    // or rebuilding normal halves arithmetically (the lookup, not the loads, bounds this loop).
    for (let i = 0, o = 0; i < n; i++, o += 2) y[i] = tab[bytes[o]! | (bytes[o + 1]! << 8)]!;
    return y;
  },
  encode(values, out) {
    checkEncode(T, values, out, false);
    const y = out ?? new Uint8Array(values.length * 2);
    const n = values.length;
    const bits = new Uint32Array(values.buffer, values.byteOffset, n);
    if (LITTLE_ENDIAN && y.byteOffset % 2 === 0) {
      f32BitsToF16Array(bits, n, new Uint16Array(y.buffer, y.byteOffset, n), 0);
    } else {
      for (let i = 0, o = 0; i < n; i++, o += 2) {
        const v = f32BitsToF16(bits[i]!);
        y[o] = v & 0xff;
        y[o + 1] = v >>> 8;
      }
    }
    return y;
  },
};
