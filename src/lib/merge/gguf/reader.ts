/**
 * GGUF reader: header, metadata of every value type, tensor infos, alignment — never tensor data
 * unless asked for one tensor. Format: ggml/docs/gguf.md (versions 2 and 3; version 1 used 32-bit
 * counts and is long obsolete).
 *
 * It works on byte offsets and checks every count and size against the bytes that remain in the
 * file before allocating anything, in the spirit of llama.cpp's gguf.cpp validation and its
 * tests/test-gguf.cpp fuzzing of broken headers, and refuses what llama.cpp's gguf_init_from_file
 * refuses (ggml/src/gguf.cpp): tensor names of GGML_MAX_NAME (64) bytes or more, data offsets that
 * are not exactly the running sum of the tensors' padded sizes in listed order (a gap, a swap or an
 * overlap left by a changed type), alignments that are not powers of two. It also refuses a zero
 * dimension (an empty tensor no model has, which would be stored and then fail to load).
 *
 * It reads a prefix of the file and parses it synchronously; when the prefix runs out it reads a
 * larger one and resumes at the metadata entry or tensor info it was in (never from the start),
 * and an array's bytes are made sure of before its elements are built, so each value is decoded
 * once: a header of a few MB costs a handful of reads, a 40M-element array one pass.
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
/** ggml.h GGML_MAX_NAME: llama.cpp refuses tensor names of this many bytes or more. */
const MAX_NAME = 64;
/**
 * Longest metadata string read (256 MiB). Real ones are at most a few MB (a tokenizer JSON); a
 * longer one is damage, and one over V8's string limit (about 2^29 characters) cannot be built.
 */
export const MAX_STRING_BYTES = 256 * 1024 * 1024;
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
  private view: DataView;
  /** What is being read, for truncation messages ("the value of general.name"). */
  what = 'the header';
  /** Byte length of the last string read. */
  lastStringBytes = 0;

  constructor(
    public buf: Uint8Array,
    readonly fileSize: number,
    readonly fileName: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A longer prefix of the same file (the position is kept). */
  grow(buf: Uint8Array): void {
    this.buf = buf;
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
  /** The length of a string, checked against the rest of the file and MAX_STRING_BYTES. */
  private stringLength(): number {
    const len = this.u64();
    if (len > BigInt(this.remaining)) {
      throw new GGUFError(
        'truncated',
        `${this.fileName} is truncated or corrupt: ${this.what} is a string of ${len} bytes at offset ${this.pos}, but only ${this.remaining} bytes remain — download or copy the file again.`,
        this.fileName,
      );
    }
    if (len > BigInt(MAX_STRING_BYTES)) {
      throw new GGUFError(
        'too-large',
        `${this.fileName}: ${this.what} is a string of ${len} bytes; Chorus reads metadata strings of up to ${MAX_STRING_BYTES} bytes (real ones are at most a few MB) — the file is damaged or not a model; download it again.`,
        this.fileName,
      );
    }
    return Number(len);
  }

  string(): string {
    const n = this.stringLength();
    this.need(n);
    const s = decodeString(this.buf, this.pos, n);
    this.pos += n;
    this.lastStringBytes = n;
    return s;
  }

  /** Steps over a string without decoding it. */
  skipString(): void {
    const n = this.stringLength();
    this.need(n);
    this.pos += n;
  }

  /** `count` values of a fixed-size type, whose bytes the caller has made sure are loaded. */
  scalars(type: GGUFValueType, count: number): GGUFScalar[] {
    const out = new Array<GGUFScalar>(count);
    const v = this.view;
    let p = this.pos;
    switch (type) {
      case GGUFValueType.UINT8: for (let i = 0; i < count; i++) out[i] = v.getUint8(p++); break;
      case GGUFValueType.INT8: for (let i = 0; i < count; i++) out[i] = v.getInt8(p++); break;
      case GGUFValueType.BOOL: for (let i = 0; i < count; i++) out[i] = v.getUint8(p++) !== 0; break;
      case GGUFValueType.UINT16: for (let i = 0; i < count; i++, p += 2) out[i] = v.getUint16(p, true); break;
      case GGUFValueType.INT16: for (let i = 0; i < count; i++, p += 2) out[i] = v.getInt16(p, true); break;
      case GGUFValueType.UINT32: for (let i = 0; i < count; i++, p += 4) out[i] = v.getUint32(p, true); break;
      case GGUFValueType.INT32: for (let i = 0; i < count; i++, p += 4) out[i] = v.getInt32(p, true); break;
      case GGUFValueType.FLOAT32: for (let i = 0; i < count; i++, p += 4) out[i] = v.getFloat32(p, true); break;
      case GGUFValueType.UINT64: for (let i = 0; i < count; i++, p += 8) out[i] = v.getBigUint64(p, true); break;
      case GGUFValueType.INT64: for (let i = 0; i < count; i++, p += 8) out[i] = v.getBigInt64(p, true); break;
      case GGUFValueType.FLOAT64: for (let i = 0; i < count; i++, p += 8) out[i] = v.getFloat64(p, true); break;
      default: throw new Error(`internal: ${type} is not a fixed-size value type`);
    }
    this.pos = p;
    return out;
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
  // Every byte of the array is made sure of before any element is built, so a prefix that runs
  // out is found before the work, not after it (the parse resumes at this entry with more bytes).
  const fixed = SCALAR_SIZE[arrayType];
  if (fixed !== undefined) {
    c.need(count * fixed);
    return { key, type, value: c.scalars(arrayType, count), arrayType };
  }
  const start = c.pos;
  for (let i = 0; i < count; i++) c.skipString();
  c.pos = start;
  const value: GGUFScalar[] = new Array<GGUFScalar>(count);
  for (let i = 0; i < count; i++) value[i] = c.string();
  return { key, type, value, arrayType };
}

/**
 * What has been parsed so far: a parse that runs out of loaded bytes resumes from here with a
 * longer prefix, at the start of the entry or tensor info it was in.
 */
interface ParseState {
  c: Cursor;
  /** Position after the last complete item. */
  pos: number;
  header?: { version: number; tensorCount: number; kvCount: number };
  metadata: GGUFMetadataEntry[];
  seenKeys: Set<string>;
  alignment?: number;
  tensors: GGUFTensorInfo[];
  seenNames: Set<string>;
}

function parse(st: ParseState, src: ByteSource): GGUFFile {
  const name = src.name;
  const c = st.c;
  const buf = c.buf;
  c.pos = st.pos;
  if (!st.header) {
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
    st.header = { version, tensorCount, kvCount };
    st.pos = c.pos;
  }
  const { version, tensorCount, kvCount } = st.header;

  while (st.metadata.length < kvCount) {
    const e = readEntry(c, st.metadata.length);
    if (st.seenKeys.has(e.key)) {
      throw new GGUFError('corrupt', `${name} is corrupt: metadata key ${e.key} appears twice — re-export the model.`, name);
    }
    st.seenKeys.add(e.key);
    st.metadata.push(e);
    st.pos = c.pos;
  }

  if (st.alignment === undefined) st.alignment = readAlignment(st.metadata, name);
  const alignment = st.alignment;

  while (st.tensors.length < tensorCount) {
    const t = readTensorInfo(c, st.tensors.length, name, src.size);
    if (st.seenNames.has(t.name)) {
      throw new GGUFError('duplicate-tensor', `${name} is corrupt: tensor ${t.name} appears twice — re-export the model.`, name);
    }
    if (t.offset % alignment !== 0) {
      throw new GGUFError('misaligned', `${name} is corrupt: tensor ${t.name} starts at data offset ${t.offset}, not a multiple of the alignment ${alignment} — re-export the model.`, name);
    }
    st.seenNames.add(t.name);
    st.tensors.push(t);
    st.pos = c.pos;
  }
  const tensors = st.tensors;

  const dataOffset = alignUp(c.pos, alignment);
  // llama.cpp's rule (gguf.cpp, gguf_init_from_file_impl): each tensor's offset is exactly the sum
  // of the padded sizes of the tensors listed before it — no gaps, no other order, no overlap.
  let expected = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    if (t.offset !== expected) {
      const prev = tensors[i - 1];
      const why = t.offset < expected
        ? prev ? `it overlaps tensor ${prev.name}, which ends at ${prev.offset + prev.byteSize}` : 'it starts before the data section'
        : `it leaves a gap of ${t.offset - expected} bytes after ${prev ? `tensor ${prev.name}` : 'the start of the data section'}`;
      throw new GGUFError(
        'corrupt',
        `${name} is corrupt: tensor ${t.name} has data offset ${t.offset} where ${expected} was expected (${why}); llama.cpp refuses such a file — download it again or re-export the model.`,
        name,
      );
    }
    expected += alignUp(t.byteSize, alignment);
  }
  for (const t of tensors) {
    const end = dataOffset + t.offset + t.byteSize;
    if (end > src.size) {
      throw new GGUFError(
        'truncated',
        `${name} is truncated: tensor ${t.name} needs bytes up to ${end} but the file has ${src.size} — download it again.`,
        name,
      );
    }
  }
  return { version, metadata: st.metadata, tensors, alignment, dataOffset, size: src.size };
}

/** general.alignment (llama.cpp reads it as a u32 and requires a power of two), or the default. */
function readAlignment(metadata: GGUFMetadataEntry[], name: string): number {
  const alignEntry = metadata.find((e) => e.key === 'general.alignment');
  if (!alignEntry) return GGUF_DEFAULT_ALIGNMENT;
  const a = alignEntry.value;
  const n = typeof a === 'number' ? a : typeof a === 'bigint' ? Number(a) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || !Number.isInteger(Math.log2(n))) {
    throw new GGUFError('corrupt', `${name} is corrupt: general.alignment is ${Array.isArray(a) ? 'an array' : String(a)}, not a power of two — re-export the model.`, name);
  }
  if (n > 2 ** 31) {
    throw new GGUFError('corrupt', `${name} is corrupt: general.alignment is ${n}, a power of two but above 2^31, the largest a GGUF (u32) alignment can be — re-export the model.`, name);
  }
  return n;
}

function readTensorInfo(c: Cursor, i: number, name: string, fileSize: number): GGUFTensorInfo {
  c.what = `the name of tensor ${i}`;
  const tname = c.string();
  if (c.lastStringBytes >= MAX_NAME) {
    throw new GGUFError('corrupt', `${name} is corrupt: tensor ${i} has a name of ${c.lastStringBytes} bytes (llama.cpp allows at most ${MAX_NAME - 1}) — download the file again.`, name);
  }
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
  if (shape.includes(0)) {
    throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has shape [${shape.join(', ')}], with a dimension of 0 — download the file again.`, name);
  }
  if (!Number.isSafeInteger(nElements) || nElements > fileSize * 64) {
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
  if (offset64 > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new GGUFError('corrupt', `${name} is corrupt: tensor ${tname} has data offset ${offset64} — download the file again.`, name);
  }
  return { name: tname, shape, type: type as GGMLType, offset: Number(offset64), nElements, byteSize: (nElements / blockSize) * typeSize };
}

/**
 * Reads the header, metadata and tensor infos of a GGUF file. Throws GGUFError for anything that
 * is not a valid little-endian GGUF v2/v3 whose tensors all lie inside the file.
 */
export async function readGGUF(src: ByteSource): Promise<GGUFFile> {
  let want = Math.min(src.size, FIRST_READ);
  const first = want > 0 ? await src.read(0, want) : new Uint8Array(0);
  const st: ParseState = { c: new Cursor(first, src.size, src.name), pos: 0, metadata: [], seenKeys: new Set(), tensors: [], seenNames: new Set() };
  for (;;) {
    try {
      return parse(st, src);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      // Grow twofold (or at once to what the item in hand needs): the parse resumes at that item,
      // and at most twice the header is read, however large the file.
      const buf = st.c.buf;
      want = Math.min(src.size, Math.max(want * 2, e.upTo + FIRST_READ));
      const more = await src.read(buf.byteLength, want - buf.byteLength);
      const grown = new Uint8Array(want);
      grown.set(buf, 0);
      grown.set(more, buf.byteLength);
      st.c.grow(grown);
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
