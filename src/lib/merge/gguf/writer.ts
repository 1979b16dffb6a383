/**
 * GGUF writer: a small state machine — metadata → tensor infos → (header is emitted) → tensor data
 * in offset order → finish — that refuses calls out of order. Layout follows ggml/docs/gguf.md and
 * gguf.cpp `gguf_write_to_buf`: header, key/values, tensor infos, zero padding to the alignment,
 * then each tensor's bytes at its offset followed by zero padding to the alignment.
 *
 * Designed for streaming: a merge computes every tensor info (name, shape, type) up front, the
 * writer emits header + metadata + infos at the first data write, then takes each tensor's bytes
 * (whole, or in consecutive chunks) as they are produced. Nothing but the header is buffered.
 */
import type { ByteSink } from '../source.ts';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUFError,
  GGUFValueType,
  alignUp,
  ggmlTypeName,
  isKnownGGMLType,
  shapeElements,
  tensorByteSize,
  type GGMLType,
  type GGUFMetadataEntry,
  type GGUFScalar,
  type GGUFTensorInfo,
} from './types.ts';

/** What a caller knows about a tensor before its data exists. */
export interface TensorSpec {
  name: string;
  /** ggml `ne` order: shape[0] is the row length. */
  shape: number[];
  type: GGMLType;
  /** Data-section offset; omit to have the writer pack tensors in the order they were added. */
  offset?: number;
}

/**
 * Assigns data-section offsets to tensors in the given order, each aligned, as llama.cpp and
 * gguf-py do. Returns complete infos; the data section is `dataSize` bytes (last tensor padded).
 */
export function layoutTensors(specs: readonly TensorSpec[], alignment: number = GGUF_DEFAULT_ALIGNMENT): GGUFTensorInfo[] & { dataSize: number } {
  checkAlignment(alignment);
  let at = 0;
  const out = specs.map((s) => {
    const info = completeInfo(s, at);
    at = alignUp(at + info.byteSize, alignment);
    return info;
  }) as GGUFTensorInfo[] & { dataSize: number };
  out.dataSize = at;
  return out;
}

function checkAlignment(alignment: number): void {
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new GGUFError('invalid-argument', `GGUF alignment must be a positive power of two, got ${alignment}.`);
  }
}

function completeInfo(s: TensorSpec, offset: number): GGUFTensorInfo {
  if (typeof s.name !== 'string' || s.name.length === 0) {
    throw new GGUFError('invalid-argument', 'A tensor needs a non-empty name.');
  }
  if (!isKnownGGMLType(s.type)) {
    throw new GGUFError('unsupported-type', `Tensor ${s.name}: unknown GGML type ${s.type as number}.`);
  }
  if (s.shape.length > 4 || s.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new GGUFError('invalid-argument', `Tensor ${s.name}: shape [${s.shape.join(', ')}] must be at most 4 non-negative integers.`);
  }
  const nElements = shapeElements(s.shape);
  let byteSize: number;
  try {
    byteSize = tensorByteSize(s.type, nElements);
    tensorByteSize(s.type, s.shape[0] ?? 1);
  } catch {
    throw new GGUFError(
      'invalid-argument',
      `Tensor ${s.name}: rows of ${s.shape[0] ?? 1} elements cannot be stored as ${ggmlTypeName(s.type)} (block size does not divide the row) — choose F16, F32 or a type with a smaller block.`,
    );
  }
  return { name: s.name, shape: [...s.shape], type: s.type, offset, nElements, byteSize };
}

/** Little-endian append buffer for the header. */
class Out {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static enc = new TextEncoder();

  private room(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.room(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.room(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint): void {
    this.room(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.room(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  string(s: string): void {
    const b = Out.enc.encode(s);
    this.u64(BigInt(b.byteLength));
    this.room(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  append(b: Uint8Array): void {
    this.room(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  pad(alignment: number): void {
    const n = alignUp(this.length, alignment) - this.length;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const INT_RANGE: Partial<Record<GGUFValueType, [number, number]>> = {
  [GGUFValueType.UINT8]: [0, 0xff],
  [GGUFValueType.INT8]: [-0x80, 0x7f],
  [GGUFValueType.UINT16]: [0, 0xffff],
  [GGUFValueType.INT16]: [-0x8000, 0x7fff],
  [GGUFValueType.UINT32]: [0, 0xffffffff],
  [GGUFValueType.INT32]: [-0x80000000, 0x7fffffff],
};

function badValue(key: string, type: GGUFValueType, v: unknown): GGUFError {
  return new GGUFError(
    'invalid-argument',
    `Metadata ${key}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)} (${typeof v}) is not a valid ${GGUFValueType[type] ?? `value type ${type}`}.`,
  );
}

function writeScalar(o: Out, key: string, type: GGUFValueType, v: GGUFScalar): void {
  const range = INT_RANGE[type];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) throw badValue(key, type, v);
  }
  switch (type) {
    case GGUFValueType.UINT8:
      return o.u8(v as number);
    case GGUFValueType.INT8:
      return o.i8(v as number);
    case GGUFValueType.UINT16:
      return o.u16(v as number);
    case GGUFValueType.INT16:
      return o.i16(v as number);
    case GGUFValueType.UINT32:
      return o.u32(v as number);
    case GGUFValueType.INT32:
      return o.i32(v as number);
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      if (typeof v !== 'number') throw badValue(key, type, v);
      return type === GGUFValueType.FLOAT32 ? o.f32(v) : o.f64(v);
    case GGUFValueType.BOOL:
      if (typeof v !== 'boolean') throw badValue(key, type, v);
      return o.u8(v ? 1 : 0);
    case GGUFValueType.STRING:
      if (typeof v !== 'string') throw badValue(key, type, v);
      return o.string(v);
    case GGUFValueType.UINT64:
    case GGUFValueType.INT64: {
      const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
      const ok = b !== undefined && (type === GGUFValueType.UINT64 ? b >= 0n && b < 1n << 64n : b >= -(1n << 63n) && b < 1n << 63n);
      if (!ok) throw badValue(key, type, v);
      return type === GGUFValueType.UINT64 ? o.u64(b) : o.i64(b);
    }
    default:
      throw new GGUFError('invalid-argument', `Metadata ${key}: unknown value type ${type as number}.`);
  }
}

function writeEntry(o: Out, e: GGUFMetadataEntry): void {
  o.string(e.key);
  o.u32(e.type);
  if (e.type !== GGUFValueType.ARRAY) {
    if (Array.isArray(e.value)) throw badValue(e.key, e.type, '[array]');
    writeScalar(o, e.key, e.type, e.value);
    return;
  }
  const at = e.arrayType;
  if (at === undefined || at === GGUFValueType.ARRAY || !Array.isArray(e.value)) {
    throw new GGUFError('invalid-argument', `Metadata ${e.key}: an ARRAY entry needs an array value and a scalar arrayType.`);
  }
  o.u32(at);
  o.u64(BigInt(e.value.length));
  for (const v of e.value) writeScalar(o, e.key, at, v);
}

type State = 'metadata' | 'tensors' | 'data' | 'done' | 'failed';

export interface GGUFWriterOptions {
  /** Data alignment; default 32, or general.alignment when the metadata has it. */
  alignment?: number;
  version?: 2 | 3;
}

export class GGUFWriter {
  private state: State = 'metadata';
  private readonly metadata: GGUFMetadataEntry[] = [];
  /** The key/value section, encoded (and so validated) once as entries are added. */
  private readonly metaOut = new Out();
  private readonly keys = new Set<string>();
  private readonly specs: TensorSpec[] = [];
  private readonly names = new Set<string>();
  private infos: GGUFTensorInfo[] = [];
  private readonly version: 2 | 3;
  private alignment: number;
  private readonly alignmentGiven: boolean;
  /** Absolute position in the output. */
  private pos = 0;
  private dataOffset = 0;
  /** Index into `infos` (sorted by offset) of the tensor being written, and bytes of it done. */
  private next = 0;
  private doneOfNext = 0;

  constructor(
    private readonly sink: ByteSink,
    opts: GGUFWriterOptions = {},
  ) {
    this.version = opts.version ?? 3;
    if (this.version !== 2 && this.version !== 3) {
      throw new GGUFError('invalid-argument', `GGUFWriter writes versions 2 and 3, not ${String(opts.version)}.`);
    }
    this.alignmentGiven = opts.alignment !== undefined;
    this.alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    checkAlignment(this.alignment);
  }

  private refuse(call: string, why: string): never {
    throw new GGUFError('writer-order', `GGUFWriter.${call}: ${why} (writer state: ${this.state}).`);
  }

  /** Adds metadata entries; only before the first tensor info. Keys must be unique. */
  addMetadata(entries: GGUFMetadataEntry | readonly GGUFMetadataEntry[]): this {
    if (this.state !== 'metadata') this.refuse('addMetadata', 'metadata must all be added before the first tensor info');
    const list = Array.isArray(entries) ? entries : [entries as GGUFMetadataEntry];
    for (const e of list) {
      if (typeof e.key !== 'string' || e.key.length === 0) throw new GGUFError('invalid-argument', 'Metadata keys must be non-empty strings.');
      if (this.keys.has(e.key)) throw new GGUFError('invalid-argument', `Metadata ${e.key} was added twice; each key appears once in a GGUF file.`);
      let alignment = this.alignment;
      if (e.key === 'general.alignment') {
        alignment = Number(e.value);
        checkAlignment(alignment);
        if (this.alignmentGiven && alignment !== this.alignment) {
          throw new GGUFError('invalid-argument', `Metadata general.alignment is ${alignment} but the writer was created with alignment ${this.alignment}.`);
        }
      }
      // Encode now: a bad value fails at the call that added it, and no entry is encoded twice.
      const mark = this.metaOut.length;
      try {
        writeEntry(this.metaOut, e);
      } catch (err) {
        this.metaOut.length = mark;
        throw err;
      }
      this.alignment = alignment;
      this.keys.add(e.key);
      this.metadata.push(e);
    }
    return this;
  }

  /** Declares one tensor; all infos must be added before any tensor data is written. */
  addTensorInfo(spec: TensorSpec): this {
    if (this.state !== 'metadata' && this.state !== 'tensors') this.refuse('addTensorInfo', 'every tensor info must be added before the first tensor data');
    if (this.names.has(spec.name)) throw new GGUFError('duplicate-tensor', `Tensor ${spec.name} was added twice; tensor names must be unique.`);
    const hasOffset = spec.offset !== undefined;
    if (this.specs.length > 0 && (this.specs[0]!.offset !== undefined) !== hasOffset) {
      throw new GGUFError('invalid-argument', `Tensor ${spec.name}: give an offset for every tensor or for none.`);
    }
    completeInfo(spec, 0);
    this.names.add(spec.name);
    this.specs.push({ ...spec, shape: [...spec.shape] });
    this.state = 'tensors';
    return this;
  }

  /** The tensor infos with their offsets, as they will be written. Fixes the layout. */
  tensorInfos(): readonly GGUFTensorInfo[] {
    this.layout();
    return this.infos;
  }

  /** Total size of the file this writer will produce, known once every tensor info is added. */
  plannedSize(): number {
    this.layout();
    const last = this.infos.reduce((end, t) => Math.max(end, t.offset + t.byteSize), 0);
    return this.headerBytes().length + alignUp(last, this.alignment);
  }

  private layout(): void {
    if (this.infos.length === this.specs.length && this.infos.length > 0) return;
    if (this.specs.length === 0) {
      this.infos = [];
      return;
    }
    if (this.specs[0]!.offset === undefined) {
      this.infos = layoutTensors(this.specs, this.alignment);
      return;
    }
    const infos = this.specs.map((s) => completeInfo(s, s.offset!));
    const sorted = [...infos].sort((a, b) => a.offset - b.offset);
    let end = 0;
    for (const t of sorted) {
      if (t.offset % this.alignment !== 0) {
        throw new GGUFError('misaligned', `Tensor ${t.name}: offset ${t.offset} is not a multiple of the alignment ${this.alignment}.`);
      }
      if (t.offset < end) throw new GGUFError('invalid-argument', `Tensor ${t.name}: offset ${t.offset} overlaps the tensor before it (ends at ${end}).`);
      end = t.offset + t.byteSize;
    }
    this.infos = infos;
  }

  /** Readers assume alignment 32 unless told otherwise (gguf.md), so another one is recorded. */
  private needsAlignmentKey(): boolean {
    return this.alignment !== GGUF_DEFAULT_ALIGNMENT && !this.keys.has('general.alignment');
  }

  private headerCache: { infos: GGUFTensorInfo[]; bytes: Uint8Array } | undefined;

  private headerBytes(): Uint8Array {
    if (this.headerCache?.infos === this.infos) return this.headerCache.bytes;
    const o = new Out();
    const extra = this.needsAlignmentKey();
    o.u32(GGUF_MAGIC);
    o.u32(this.version);
    o.u64(BigInt(this.infos.length));
    o.u64(BigInt(this.metadata.length + (extra ? 1 : 0)));
    o.append(this.metaOut.bytes());
    if (extra) writeEntry(o, { key: 'general.alignment', type: GGUFValueType.UINT32, value: this.alignment });
    for (const t of this.infos) {
      o.string(t.name);
      o.u32(t.shape.length);
      for (const d of t.shape) o.u64(BigInt(d));
      o.u32(t.type);
      o.u64(BigInt(t.offset));
    }
    o.pad(this.alignment);
    const bytes = o.bytes();
    this.headerCache = { infos: this.infos, bytes };
    return bytes;
  }

  private async emit(bytes: Uint8Array): Promise<void> {
    try {
      await this.sink.write(bytes);
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
    this.pos += bytes.byteLength;
  }

  private async zeros(n: number): Promise<void> {
    if (n > 0) await this.emit(new Uint8Array(n));
  }

  /** Emits header, metadata and tensor infos. Called by the first data write or by finish(). */
  private async writeHeader(): Promise<void> {
    this.layout();
    const header = this.headerBytes();
    this.dataOffset = header.byteLength;
    // Data goes out in offset order; keep the header's info order (it is what readers list).
    this.order = [...this.infos].sort((a, b) => a.offset - b.offset);
    this.state = 'data';
    await this.emit(header);
  }
  private order: GGUFTensorInfo[] = [];

  /**
   * Writes bytes of tensor `name`. Tensors go in data-offset order (the order they were added when
   * offsets were planned by the writer). A tensor may come in several consecutive chunks; the next
   * tensor can start only when the current one is complete.
   */
  async writeTensorData(name: string, bytes: Uint8Array): Promise<void> {
    if (this.state === 'metadata' || this.state === 'tensors') {
      if (this.specs.length === 0) this.refuse('writeTensorData', 'no tensor info was added');
      await this.writeHeader();
    }
    if (this.state !== 'data') this.refuse('writeTensorData', 'the file is finished or failed');
    const t = this.order[this.next];
    if (!t) this.refuse('writeTensorData', `every tensor is already written, ${name} is extra`);
    if (t.name !== name) {
      const known = this.infos.some((i) => i.name === name);
      this.refuse(
        'writeTensorData',
        known
          ? `tensor ${t.name} must be written ${this.doneOfNext > 0 ? 'to its end ' : ''}before ${name} (tensors are written in offset order)`
          : `no tensor info named ${name} was added`,
      );
    }
    if (this.doneOfNext === 0) await this.zeros(this.dataOffset + t.offset - this.pos);
    if (this.doneOfNext + bytes.byteLength > t.byteSize) {
      throw new GGUFError(
        'invalid-argument',
        `Tensor ${name}: ${this.doneOfNext + bytes.byteLength} bytes given but a ${ggmlTypeName(t.type)} tensor of shape [${t.shape.join(', ')}] has ${t.byteSize}.`,
      );
    }
    await this.emit(bytes);
    this.doneOfNext += bytes.byteLength;
    if (this.doneOfNext === t.byteSize) {
      this.next++;
      this.doneOfNext = 0;
    }
  }

  /** Completes the file (final padding) and closes the sink. Refuses if a tensor is missing. */
  async finish(): Promise<void> {
    if (this.state === 'metadata' || this.state === 'tensors') await this.writeHeader();
    if (this.state !== 'data') this.refuse('finish', 'the file is already finished or failed');
    const missing = this.order.slice(this.next).map((t) => t.name);
    if (missing.length > 0) {
      this.refuse('finish', `tensor data missing for ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    }
    await this.zeros(alignUp(this.pos - this.dataOffset, this.alignment) - (this.pos - this.dataOffset));
    this.state = 'done';
    await this.sink.close?.();
  }
}
