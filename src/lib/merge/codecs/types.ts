/**
 * The codec contract: one object per GGML type, registered by type id in ./index.ts. Geometry
 * (blockSize, typeSize) always comes from the one constants table GGML_TYPE_SIZE.
 */
import { GGUFError, ggmlTypeName, type GGMLType } from '../gguf/types.ts';

export interface Codec {
  readonly type: GGMLType;
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /**
   * Decodes `nElements` values (whole blocks) from `bytes` (at least nElements/blockSize*typeSize
   * bytes, any byte offset) into `out` (allocated when absent). Matches llama.cpp's dequantize_row_*.
   */
  decode(bytes: Uint8Array, nElements: number, out?: Float32Array): Float32Array;
  /**
   * Encodes `values` (whole blocks) into `out` (allocated when absent). Matches llama.cpp's
   * quantize_row_*_ref bit for bit. Absent for types Chorus only reads.
   */
  encode?(values: Float32Array, out?: Uint8Array): Uint8Array;
}

/** Checks the element count and buffer sizes shared by every codec; returns the block count. */
export function checkDecode(c: { name: string; blockSize: number; typeSize: number }, bytes: Uint8Array, n: number, out?: Float32Array): number {
  if (!Number.isSafeInteger(n) || n < 0 || n % c.blockSize !== 0) {
    throw new GGUFError('invalid-argument', `${c.name}: cannot decode ${n} elements — the count must be a multiple of the block size ${c.blockSize}.`);
  }
  const blocks = n / c.blockSize;
  if (bytes.byteLength < blocks * c.typeSize) {
    throw new GGUFError('invalid-argument', `${c.name}: ${n} elements need ${blocks * c.typeSize} bytes, got ${bytes.byteLength}.`);
  }
  if (out && out.length < n) throw new GGUFError('invalid-argument', `${c.name}: output holds ${out.length} values, ${n} needed.`);
  return blocks;
}

/** Same for encoding; quantised types also reject NaN/Infinity, as llama.cpp's ggml_validate_row_data does. */
export function checkEncode(
  c: { name: string; blockSize: number; typeSize: number },
  values: Float32Array,
  out: Uint8Array | undefined,
  finiteOnly: boolean,
): number {
  const n = values.length;
  if (n % c.blockSize !== 0) {
    throw new GGUFError('invalid-argument', `${c.name}: cannot encode ${n} values — the count must be a multiple of the block size ${c.blockSize}; keep this tensor as F16 or F32.`);
  }
  const blocks = n / c.blockSize;
  if (out && out.byteLength < blocks * c.typeSize) {
    throw new GGUFError('invalid-argument', `${c.name}: output holds ${out.byteLength} bytes, ${blocks * c.typeSize} needed.`);
  }
  if (finiteOnly) {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(values[i])) {
        throw new GGUFError('invalid-argument', `${c.name}: value ${i} is ${values[i]}; quantised types need finite values — check the merge inputs or keep the tensor as F32.`);
      }
    }
  }
  return blocks;
}

export function unsupported(type: GGMLType, what: 'decode' | 'encode', supported: string[]): GGUFError {
  return new GGUFError(
    'unsupported-type',
    `Chorus cannot ${what} ${ggmlTypeName(type)} tensors; it can ${what} ${supported.join(', ')} — ${what === 'decode' ? 're-quantise the input with llama.cpp to one of them' : 'choose one of them as the output type'}.`,
  );
}
