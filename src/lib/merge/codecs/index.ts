/**
 * Codec registry: GGML type id → codec. Decode to f32 and encode from f32 per tensor; merges pick
 * the output type per tensor (keep the input type when it can be encoded, or F32/F16/Q8_0).
 */
import { GGMLType, GGUFError, ggmlTypeName, tensorByteSize } from '../gguf/types.ts';
import { bf16Codec } from './bf16.ts';
import { f16Codec } from './f16.ts';
import { f32Codec } from './f32.ts';
import { q2_KCodec } from './q2_k.ts';
import { q3_KCodec } from './q3_k.ts';
import { q4_0Codec } from './q4_0.ts';
import { q4_1Codec } from './q4_1.ts';
import { q4_KCodec } from './q4_k.ts';
import { q5_0Codec } from './q5_0.ts';
import { q5_1Codec } from './q5_1.ts';
import { q5_KCodec } from './q5_k.ts';
import { q6_KCodec } from './q6_k.ts';
import { q8_0Codec } from './q8_0.ts';
import { q8_1Codec } from './q8_1.ts';
import { q8_KCodec } from './q8_k.ts';
import { unsupported, type Codec } from './types.ts';

export type { Codec } from './types.ts';
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, f16Table } from './half.ts';

const CODECS = new Map<GGMLType, Codec>(
  [
    f32Codec,
    f16Codec,
    bf16Codec,
    q8_0Codec,
    q8_1Codec,
    q4_0Codec,
    q4_1Codec,
    q5_0Codec,
    q5_1Codec,
    q2_KCodec,
    q3_KCodec,
    q4_KCodec,
    q5_KCodec,
    q6_KCodec,
    q8_KCodec,
  ].map((c) => [c.type, c]),
);

/** Types Chorus can decode. */
export function decodableTypes(): GGMLType[] {
  return [...CODECS.keys()];
}

/** Types Chorus can encode (valid output types of a merge). */
export function encodableTypes(): GGMLType[] {
  return [...CODECS.values()].filter((c) => c.encode).map((c) => c.type);
}

export function hasCodec(type: GGMLType): boolean {
  return CODECS.has(type);
}

export function canEncode(type: GGMLType): boolean {
  return CODECS.get(type)?.encode !== undefined;
}

/** The codec for `type`, or a GGUFError naming the type and the ones that are supported. */
export function getCodec(type: GGMLType): Codec {
  const c = CODECS.get(type);
  if (!c) throw unsupported(type, 'decode', decodableTypes().map(ggmlTypeName));
  return c;
}

/** Decodes a whole tensor (or any whole-block slice of one) to f32. */
export function decodeTensor(type: GGMLType, bytes: Uint8Array, nElements: number, out?: Float32Array): Float32Array {
  return getCodec(type).decode(bytes, nElements, out);
}

/** Encodes f32 values as `type`; a GGUFError when the type has no encoder. */
export function encodeTensor(type: GGMLType, values: Float32Array, out?: Uint8Array): Uint8Array {
  const c = CODECS.get(type);
  if (!c?.encode) throw unsupported(type, 'encode', encodableTypes().map(ggmlTypeName));
  return c.encode(values, out);
}

/**
 * Whether a tensor with rows of `rowLength` elements can be stored as `type` (block size divides
 * the row). A merge falls back to F16/F32 for tensors where this is false.
 */
export function fitsType(type: GGMLType, rowLength: number): boolean {
  try {
    tensorByteSize(type, rowLength);
    return true;
  } catch (e) {
    if (e instanceof GGUFError) return false;
    throw e;
  }
}
