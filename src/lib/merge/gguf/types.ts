/**
 * GGUF and GGML constants and types: the one table of block sizes that the reader, the writer and
 * every codec use. Values follow ggml.h (`enum ggml_type`) and ggml.c (`type_traits`), and the
 * GGUF specification (ggml/docs/gguf.md): https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */

/** GGML tensor types (ggml.h `enum ggml_type`). Ids 4, 5 and 31–33, 36–38 are retired upstream. */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/** GGUF metadata value types (gguf.md `enum gguf_metadata_value_type`). */
export enum GGUFValueType {
  UINT8 = 0,
  INT8,
  UINT16,
  INT16,
  UINT32,
  INT32,
  FLOAT32,
  BOOL,
  STRING,
  ARRAY,
  UINT64,
  INT64,
  FLOAT64,
}

/** 64-bit integers are bigint so no value is silently rounded. */
export type GGUFScalar = number | bigint | boolean | string;

export interface GGUFMetadataEntry {
  key: string;
  type: GGUFValueType;
  value: GGUFScalar | GGUFScalar[];
  /** Element type when `type` is ARRAY. Nested arrays are not supported (no real model uses them). */
  arrayType?: GGUFValueType;
}

export interface GGUFTensorInfo {
  name: string;
  /** ggml `ne` order as stored: shape[0] is the fastest-varying dimension (the row length). */
  shape: number[];
  type: GGMLType;
  /** Byte offset relative to the start of the data section. */
  offset: number;
  nElements: number;
  byteSize: number;
}

export interface GGUFFile {
  version: number;
  metadata: GGUFMetadataEntry[];
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section (after header, metadata, infos and padding). */
  dataOffset: number;
  /** Size in bytes of the file the header was read from. */
  size: number;
}

/** Why a file was rejected; lets the UI pick an icon and tests assert the kind. */
export type GGUFErrorCode =
  | 'not-gguf'
  | 'unsupported-version'
  | 'truncated'
  | 'corrupt'
  | 'unsupported-type'
  | 'misaligned'
  | 'duplicate-tensor'
  | 'too-large'
  | 'writer-order'
  | 'invalid-argument';

/** Every reader/writer failure. The message names the file, what is wrong and what to do. */
export class GGUFError extends Error {
  override readonly name = 'GGUFError';
  constructor(
    readonly code: GGUFErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}

/** The default data alignment when `general.alignment` is absent (gguf.md GGUF_DEFAULT_ALIGNMENT). */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;

export interface GGMLTypeTraits {
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * Block geometry of every GGML type, from ggml.c `type_traits[]` (blck_size, type_size) and the
 * block structs in ggml-common.h (e.g. block_q4_K = 2×f16 + 12 scale bytes + 128 nibble bytes = 144).
 */
export const GGML_TYPE_SIZE: Record<GGMLType, GGMLTypeTraits> = {
  [GGMLType.F32]: { name: 'F32', blockSize: 1, typeSize: 4 },
  [GGMLType.F16]: { name: 'F16', blockSize: 1, typeSize: 2 },
  [GGMLType.Q4_0]: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  [GGMLType.Q4_1]: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  [GGMLType.Q5_0]: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  [GGMLType.Q5_1]: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  [GGMLType.Q8_0]: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  [GGMLType.Q8_1]: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  [GGMLType.Q2_K]: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  [GGMLType.Q3_K]: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  [GGMLType.Q4_K]: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  [GGMLType.Q5_K]: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  [GGMLType.Q6_K]: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  [GGMLType.Q8_K]: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  [GGMLType.IQ2_XXS]: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  [GGMLType.IQ2_XS]: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  [GGMLType.IQ3_XXS]: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  [GGMLType.IQ1_S]: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  [GGMLType.IQ4_NL]: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  [GGMLType.IQ3_S]: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  [GGMLType.IQ2_S]: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  [GGMLType.IQ4_XS]: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  [GGMLType.I8]: { name: 'I8', blockSize: 1, typeSize: 1 },
  [GGMLType.I16]: { name: 'I16', blockSize: 1, typeSize: 2 },
  [GGMLType.I32]: { name: 'I32', blockSize: 1, typeSize: 4 },
  [GGMLType.I64]: { name: 'I64', blockSize: 1, typeSize: 8 },
  [GGMLType.F64]: { name: 'F64', blockSize: 1, typeSize: 8 },
  [GGMLType.IQ1_M]: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  [GGMLType.BF16]: { name: 'BF16', blockSize: 1, typeSize: 2 },
  [GGMLType.TQ1_0]: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  [GGMLType.TQ2_0]: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  [GGMLType.MXFP4]: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
};

/** True when `t` is a GGML type id this project knows the geometry of. */
export function isKnownGGMLType(t: number): t is GGMLType {
  return Object.prototype.hasOwnProperty.call(GGML_TYPE_SIZE, t);
}

/** "Q4_K", or "type 99" for an unknown id. */
export function ggmlTypeName(t: GGMLType | number): string {
  return isKnownGGMLType(t) ? GGML_TYPE_SIZE[t].name : `type ${t}`;
}

/** Parses "q8_0" / "Q8_0" / "f16" to a type id; undefined when unknown. */
export function ggmlTypeFromName(name: string): GGMLType | undefined {
  const upper = name.trim().toUpperCase();
  for (const [id, traits] of Object.entries(GGML_TYPE_SIZE)) {
    if (traits.name.toUpperCase() === upper) return Number(id) as GGMLType;
  }
  return undefined;
}

/** Bytes taken by `nElements` values of `type`; throws when the count is not whole blocks. */
export function tensorByteSize(type: GGMLType, nElements: number): number {
  if (!isKnownGGMLType(type)) {
    throw new GGUFError('unsupported-type', `Unknown GGML type id ${type as number}.`);
  }
  const { blockSize, typeSize, name } = GGML_TYPE_SIZE[type];
  if (!Number.isSafeInteger(nElements) || nElements < 0) {
    throw new GGUFError('invalid-argument', `Invalid element count ${nElements}.`);
  }
  if (nElements % blockSize !== 0) {
    throw new GGUFError(
      'invalid-argument',
      `${nElements} elements are not a whole number of ${name} blocks of ${blockSize}; choose a type whose block size divides the row length (e.g. F16 or F32).`,
    );
  }
  return (nElements / blockSize) * typeSize;
}

/** Product of the dimensions. */
export function shapeElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Rounds `n` up to a multiple of `alignment`. */
export function alignUp(n: number, alignment: number): number {
  const r = n % alignment;
  return r === 0 ? n : n + (alignment - r);
}
