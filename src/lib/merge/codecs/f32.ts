/** F32: little-endian IEEE binary32, copied bit for bit (ggml's GGML_TYPE_F32). */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.F32];

export const f32Codec: Codec = {
  type: GGMLType.F32,
  ...T,
  decode(bytes, n, out) {
    checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    // A typed-array copy keeps every bit, NaN payloads included. Views need 4-byte alignment.
    const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, n * 4);
    y.set(new Float32Array(src.buffer, src.byteOffset, n));
    return y;
  },
  encode(values, out) {
    checkEncode(T, values, out, false);
    const y = out ?? new Uint8Array(values.length * 4);
    y.set(new Uint8Array(values.buffer, values.byteOffset, values.length * 4));
    return y;
  },
};
