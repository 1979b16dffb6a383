/**
 * Q8_0: blocks of 32 as { f16 d; int8 qs[32] }, x = d·q (ggml-common.h block_q8_0).
 * encode ≡ quantize_row_q8_0_ref, decode ≡ dequantize_row_q8_0 (ggml-quants.c).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { decodeQ8Blocks, encodeQ8Blocks, type Q8Layout } from './q8-blocks.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q8_0];
const LAYOUT: Q8Layout = { typeSize: T.typeSize, qsOffset: 2, sumOffset: null };

export const q8_0Codec: Codec = {
  type: GGMLType.Q8_0,
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
