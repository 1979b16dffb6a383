/**
 * Q8_1: blocks of 32 as { f16 d; f16 s; int8 qs[32] } with s = d·Σq, x = d·q (block_q8_1).
 * encode ≡ quantize_row_q8_1_ref, decode ≡ d·q (ggml has no dequantize for it; s only speeds up dot products).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { decodeQ8Blocks, encodeQ8Blocks, type Q8Layout } from './q8-blocks.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q8_1];
const LAYOUT: Q8Layout = { typeSize: T.typeSize, qsOffset: 4, sumOffset: 2 };

export const q8_1Codec: Codec = {
  type: GGMLType.Q8_1,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    return decodeQ8Blocks(bytes, nb, LAYOUT, out ?? new Float32Array(n));
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    return encodeQ8Blocks(x, nb, LAYOUT, out ?? new Uint8Array(nb * T.typeSize));
  },
};
