/**
 * GGUF reader: header, metadata of every value type, tensor infos, alignment — never tensor data
 * unless asked for one tensor. Format: ggml/docs/gguf.md (versions 2 and 3; version 1 used 32-bit
 * counts and is long obsolete).
 *
 * It works on byte offsets and checks every count and size against the bytes that remain in the
 * file before allocating anything, in the spirit of llama.cpp's gguf.cpp validation and its
 * tests/test-gguf.cpp fuzzing of broken headers. It reads a prefix of the file and parses it
 * synchronously; when the prefix runs out it reads a larger one and parses again, so a
 * header of a few MB (big tokenizers) costs a handful of reads and no per-field awaits.
 */
import type { ByteSource } from '../source.ts';
import {
  GGML_TYPE_SIZE,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUFError,
  GGUFValueType,
  alignUp,
  ggmlTypeName,
  isKnownGGMLType,
  type GGMLType,
  type GGUFFile,
  type GGUFMetadataEntry,
  type GGUFScalar,
  type GGUFTensorInfo,
} from './types.ts';

/** ggml.h GGML_MAX_DIMS. */
const MAX_DIMS = 4;
const FIRST_READ = 64 * 1024;

/** Fixed sizes of scalar value types; STRING and ARRAY are variable. */
const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1,
  [GGUFValueType.INT8]: 1,
  [GGUFValueType.UINT16]: 2,
  [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4,
  [GGUFValueType.INT32]: 4,
  [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT64]: 8,
  [GGUFValueType.INT64]: 8,
  [GGUFValueType.FLOAT64]: 8,
};

/** Smallest encoding of one value of `type` (a string is at least its 8-byte length). */
function minValueSize(type: GGUFValueType): number {
  if (type === GGUFValueType.STRING) return 8;
  if (type === GGUFValueType.ARRAY) return 12;
  return SCALAR_SIZE[type] ?? 1;
}

/** Thrown inside the synchronous parse when the loaded prefix is too short (not when the file is). */
class NeedMore {
  constructor(readonly upTo: number) {}
}

const utf8 = new TextDecoder('utf-8');

/**
 * UTF-8 bytes to a string. Tokenizer vocabularies are hundreds of thousands of short, mostly ASCII
 * strings, for which building the string directly is several times faster than TextDecoder.
 */
function decodeString(buf: Uint8Array, at: number, n: number): string {
  if (n <= 32) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (buf[at + i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, buf.subarray(at, at + n) as unknown as number[]);
  }
  return utf8.decode(buf.subarray(at, at + n));
}

/** A synchronous cursor over the loaded prefix `buf` of a file of `fileSize` bytes. */
class Cursor {
  pos = 0;
  private readonly view: DataView;
  /** What is being read, for truncation messages ("the value of general.name"). */
  what = 'the header';

  constructor(
    readonly buf: Uint8Array,
    readonly fileSize: number,
    readonly fileName: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  need(n: number): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw new GGUFError(
        'truncated',
        `${this.fileName} is truncated: reading ${this.what} needs bytes up to ${end} but the file has ${this.fileSize} — download or copy it again.`,
        this.fileName,
      );
    }
    if (end > this.buf.byteLength) throw new NeedMore(end);
  }

  /**
   * Rejects a count whose smallest possible encoding does not fit in the rest of the file. A count
   * that could not fit in any real file (over 1 TB) means damage; a smaller one means the file was cut.
   */
  checkCount(count: bigint, minEach: number, what: string): number {
    const each = BigInt(Math.max(1, minEach));
    const needed = count * each;
    if (needed > BigInt(this.remaining)) {
      if (needed > 1n << 40n) {
        throw new GGUFError(
          'corrupt',
          `${this.fileName} is corrupt: it declares ${count} ${what}, but only ${this.remaining} bytes remain — the file is damaged; download it again.`,
          this.fileName,
        );
      }
      throw new GGUFError(
        'truncated',
        `${this.fileName} is truncated: it declares ${count} ${what}, which need at least ${needed} bytes, but only ${this.remaining} bytes remain — download or copy it again.`,
        this.fileName,
      );
    }
    return Number(count);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  i8(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  string(): string {
    const len = this.u64();
    if (len > BigInt(this.remaining)) {
      throw new GGUFError(
        'truncated',
        `${this.fileName} is truncated or corrupt: ${this.what} is a string of ${len} bytes at offset ${this.pos}, but only ${this.remaining} bytes remain — download or copy the file again.`,
        this.fileName,
      );
    }
    const n = Number(len);
    this.need(n);
    const s = decodeString(this.buf, this.pos, n);
    this.pos += n;
    return s;
  }
}

function readScalar(c: Cursor, type: GGUFValueType): GGUFScalar {
  switch (type) {
    case GGUFValueType.UINT8:
      return c.u8();
    case GGUFValueType.INT8:
      return c.i8();
    case GGUFValueType.UINT16:
      return c.u16();
    case GGUFValueType.INT16:
      return c.i16();
    case GGUFValueType.UINT32:
      return c.u32();
    case GGUFValueType.INT32:
      return c.i32();
    case GGUFValueType.FLOAT32:
      return c.f32();
    case GGUFValueType.BOOL:
      return c.u8() !== 0;
    case GGUFValueType.STRING:
      return c.string();
    case GGUFValueType.UINT64:
      return c.u64();
    case GGUFValueType.INT64:
      return c.i64();
    case GGUFValueType.FLOAT64:
      return c.f64();
    default:
      throw new GGUFError(
        'corrupt',
        `${c.fileName} is corrupt: ${c.what} has unknown value type ${type as number} — the file is damaged or was written by a newer tool; download it again.`,
        c.fileName,
      );
  }
}

function isValueType(t: number): t is GGUFValueType {
  return Number.isInteger(t) && t >= GGUFValueType.UINT8 && t <= GGUFValueType.FLOAT64;
}

function readEntry(c: Cursor, index: number): GGUFMetadataEntry {
  c.what = `the key of metadata entry ${index}`;
  const key = c.string();
  c.what = `the value of ${key}`;
  const type = c.u32();
  if (!isValueType(type)) {
    throw new GGUFError(
      'corrupt',
      `${c.fileName} is corrupt: metadata ${key} has unknown value type ${type} — the file is damaged or was written by a newer tool; download it again.`,
      c.fileName,
    );
  }
  if (type !== GGUFValueType.ARRAY) return { key, type, value: readScalar(c, type) };
  const arrayType = c.u32();
  if (!isValueType(arrayType) || arrayType === GGUFValueType.ARRAY) {
    throw new GGUFError(
      'corrupt',
      `${c.fileName} is corrupt or unsupported: metadata ${key} is an array of value type ${arrayType}, which Chorus cannot read (nested arrays are not supported) — re-export the model with llama.cpp's gguf tools.`,
      c.fileName,
    );
  }
  const count = c.checkCount(c.u64(), minValueSize(arrayType), `elements in the array ${key}`);
  const value: GGUFScalar[] = new Array<GGUFScalar>(count);
  for (let i = 0; i < count; i++) value[i] = readScalar(c, arrayType);
  return { key, type, value, arrayType };
}

function parse(buf: Uint8Array, src: ByteSource): GGUFFile {
  const name = src.name;
  const c = new Cursor(buf, src.size, name);
  if (src.size < 4) {
    throw new GGUFError('not-gguf', `${name} is not a GGUF file: it has only ${src.size} bytes — choose a .gguf model file.`, name);
  }
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) {
    const head = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(buf.subarray(0, 4), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    throw new GGUFError(
      'not-gguf',
      `${name} is not a GGUF file: it starts with bytes ${head} ("${text}") instead of "GGUF" — choose a .gguf model file (convert other formats with llama.cpp's convert_hf_to_gguf.py).`,
      name,
    );
  }
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const hint =
      version > 0xffff
        ? 'it looks like a big-endian GGUF, which browsers cannot use — convert it to little-endian'
        : version === 1
          ? 'version 1 is obsolete — convert the model again with a current llama.cpp'
          : 'it was written by a newer tool — update Chorus or re-export the model as GGUF version 3';
    throw new GGUFError('unsupported-version', `${name} has GGUF version ${version}; Chorus reads versions 2 and 3: ${hint}.`, name);
  }
  c.what = 'the tensor count';
  // A tensor info needs at least: name length 8, n_dims 4, type 4, offset 8.
  const tensorCount = c.checkCount(c.u64(), 24, 'tensors');
  c.what = 'the metadata count';
  // A metadata entry needs at least: key length 8, value type 4, one value byte.
  const kvCount = c.checkCount(c.u64(), 13, 'metadata entries');

  const metadata: GGUFMetadataEntry[] = [];
  const seenKeys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    const e = readEntry(c, i);
    if (seenKeys.has(e.key)) {
      throw new GGUFError('corrupt', `${name} is corrupt: metadata key ${e.key} appears twice — re-export the model.`, name);
    }
    seenKeys.add(e.key);
    metadata.push(e);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignEntry = metadata.find((e) => e.key === 'general.alignment');
  if (alignEntry) {
    const a = alignEntry.value;
    const n = typeof a === 'number' ? a : typeof a === 'bigint' ? Number(a) : NaN;
    if (!Number.isInteger(n) || n <= 0 || (n & (n - 1)) !== 0 || n > 1 << 30) {
      throw new GGUFError('corrupt', `${name} is corrupt: general.alignment is ${String(a)}, not a power of two — re-export the model.`, name);
    }
    alignment = n;
  }

  const tensors: GGUFTensorInfo[] = [];
  const seenNames = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    c.what = `the name of tensor ${i}`;
    const tname = c.string();
    c.what = `the info of tensor ${tname}`;
    const nDims = c.u32();
    if (nDims > MAX_DIMS) {
      throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has ${nDims} dimensions (ggml allows at most ${MAX_DIMS}) — download the file again.`, name);
    }
    const shape: number[] = [];
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = c.u64();
      if (dim > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has dimension ${dim} — download the file again.`, name);
      }
      shape.push(Number(dim));
      nElements *= Number(dim);
    }
    if (!Number.isSafeInteger(nElements) || nElements > src.size * 64) {
      throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has shape [${shape.join(', ')}], far more elements than the file can hold — download it again.`, name);
    }
    const type = c.u32();
    const offset64 = c.u64();
    if (!isKnownGGMLType(type)) {
      throw new GGUFError(
        'unsupported-type',
        `${name}: tensor ${tname} uses GGML type ${type}, which Chorus does not know — the file is damaged or uses a newer quantisation; update Chorus or re-quantise the model (e.g. Q8_0, Q4_K_M).`,
        name,
      );
    }
    const { blockSize, typeSize } = GGML_TYPE_SIZE[type as GGMLType];
    const rowLen = shape[0] ?? 1;
    if (rowLen % blockSize !== 0) {
      throw new GGUFError(
        'corrupt',
        `${name} is corrupt: tensor ${tname} is ${ggmlTypeName(type)} with rows of ${rowLen} elements, not a multiple of its block size ${blockSize} — download the file again.`,
        name,
      );
    }
    if (seenNames.has(tname)) {
      throw new GGUFError('duplicate-tensor', `${name} is corrupt: tensor ${tname} appears twice — re-export the model.`, name);
    }
    seenNames.add(tname);
    if (offset64 > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has data offset ${offset64} — download the file again.`, name);
    }
    const offset = Number(offset64);
    if (offset % alignment !== 0) {
      throw new GGUFError('misaligned', `${name} is corrupt: tensor ${tname} starts at data offset ${offset}, not a multiple of the alignment ${alignment} — re-export the model.`, name);
    }
    tensors.push({ name: tname, shape, type: type as GGMLType, offset, nElements, byteSize: (nElements / blockSize) * typeSize });
  }

  const dataOffset = alignUp(c.pos, alignment);
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  let prevEnd = 0;
  let prevName = '';
  for (const t of byOffset) {
    if (t.offset < prevEnd) {
      throw new GGUFError('corrupt', `${name} is corrupt: tensor ${t.name} (data offset ${t.offset}) overlaps tensor ${prevName}, which ends at ${prevEnd} — re-export the model.`, name);
    }
    const end = dataOffset + t.offset + t.byteSize;
    if (end > src.size) {
      throw new GGUFError(
        'truncated',
        `${name} is truncated: tensor ${t.name} needs bytes up to ${end} but the file has ${src.size} — download it again.`,
        name,
      );
    }
    prevEnd = t.offset + t.byteSize;
    prevName = t.name;
  }
  return { version, metadata, tensors, alignment, dataOffset, size: src.size };
}

/**
 * Reads the header, metadata and tensor infos of a GGUF file. Throws GGUFError for anything that
 * is not a valid little-endian GGUF v2/v3 whose tensors all lie inside the file.
 */
export async function readGGUF(src: ByteSource): Promise<GGUFFile> {
  let want = Math.min(src.size, FIRST_READ);
  let buf = want > 0 ? await src.read(0, want) : new Uint8Array(0);
  for (;;) {
    try {
      return parse(buf, src);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      // Grow twofold: each retry parses from the start (about two parses in all), and at most twice
      // the header is read, however large the file.
      want = Math.min(src.size, Math.max(want * 2, e.upTo + FIRST_READ));
      const more = await src.read(buf.byteLength, want - buf.byteLength);
      const grown = new Uint8Array(want);
      grown.set(buf, 0);
      grown.set(more, buf.byteLength);
      buf = grown;
    }
  }
}

/** The value of metadata `key`, or undefined. */
export function getMeta(file: GGUFFile, key: string): GGUFScalar | GGUFScalar[] | undefined {
  return file.metadata.find((e) => e.key === key)?.value;
}

/** The info of tensor `name`, or undefined. */
export function getTensor(file: GGUFFile, name: string): GGUFTensorInfo | undefined {
  return file.tensors.find((t) => t.name === name);
}

/** The raw bytes of one tensor (its GGML encoding; decode with a codec). */
export async function readTensorData(src: ByteSource, file: GGUFFile, t: GGUFTensorInfo): Promise<Uint8Array> {
  return readTensorBytes(src, file, t, 0, t.byteSize);
}

/** Bytes of one row (shape[0] elements) of `t`. */
export function rowByteSize(t: GGUFTensorInfo): number {
  const { blockSize, typeSize } = GGML_TYPE_SIZE[t.type];
  return ((t.shape[0] ?? 1) / blockSize) * typeSize;
}

/** Number of rows (all dimensions but the first). */
export function rowCount(t: GGUFTensorInfo): number {
  return t.nElements / (t.shape[0] ?? 1);
}

/**
 * Rows [rowStart, rowStart + rows) of `t`: a slice for streaming a big tensor without holding it
 * whole. Rows are whole blocks, so every codec can decode a row slice on its own.
 */
export async function readTensorRows(
  src: ByteSource,
  file: GGUFFile,
  t: GGUFTensorInfo,
  rowStart: number,
  rows: number,
): Promise<Uint8Array> {
  const rb = rowByteSize(t);
  return readTensorBytes(src, file, t, rowStart * rb, rows * rb);
}

/**
 * The whole of `t`'s data into `target` (exactly t.byteSize bytes), without allocating when the source
 * can read into a buffer (ByteSource.readInto; e.g. straight into the SIMD kernels' memory).
 */
export async function readTensorInto(src: ByteSource, file: GGUFFile, t: GGUFTensorInfo, target: Uint8Array): Promise<void> {
  if (target.byteLength !== t.byteSize) throw new GGUFError('invalid-argument', `tensor ${t.name} has ${t.byteSize} bytes but the target holds ${target.byteLength}`, src.name);
  checkTensorRange(src, file, t, 0, t.byteSize);
  const at = file.dataOffset + t.offset;
  if (src.readInto) await src.readInto(at, target);
  else target.set(await src.read(at, t.byteSize));
}

async function readTensorBytes(src: ByteSource, file: GGUFFile, t: GGUFTensorInfo, start: number, length: number): Promise<Uint8Array> {
  checkTensorRange(src, file, t, start, length);
  return src.read(file.dataOffset + t.offset + start, length);
}

function checkTensorRange(src: ByteSource, file: GGUFFile, t: GGUFTensorInfo, start: number, length: number): void {
  if (start < 0 || length < 0 || start + length > t.byteSize) {
    throw new GGUFError('invalid-argument', `${src.name}: bytes ${start}..${start + length} are outside tensor ${t.name} (${t.byteSize} bytes).`, src.name);
  }
  if (src.size !== file.size) {
    throw new GGUFError(
      'invalid-argument',
      `${src.name} has ${src.size} bytes but its header was read from a file of ${file.size} bytes — the file changed; read it again.`,
      src.name,
    );
  }
  const end = file.dataOffset + t.offset + start + length;
  if (end > src.size) {
    throw new GGUFError('truncated', `${src.name} is truncated: tensor ${t.name} needs bytes up to ${end} but the file has ${src.size} — download it again.`, src.name);
  }
}
