/**
 * The MLC (web-llm) weight format: `tensor-cache.json` (older builds: `ndarray-cache.json`) lists
 * shards `params_shard_N.bin`, each holding raw tensor records at byte offsets (TVM's
 * TensorCacheMetadata; web-llm's `loadTensorCacheRecordData`). Quantised weights are stored as
 * two records, `<param>.q_weight` and `<param>.q_scale` (mlc-llm `quantization/group_quantization.py`):
 *
 *   q4f16_1 / q4f32_1: groups of 32 along the last axis; scale = max|w| / 7 (stored f16 / f32);
 *     q = clamp(round(w / scale) + 7, 0, 14), eight 4-bit values per uint32, element k of a word in
 *     bits 4k..4k+3; w ≈ (q − 7)·scale. q_weight is [rows, cols/8] uint32, q_scale [rows, cols/32].
 *   q0f16 / q0f32: unquantised float16 / float32 records.
 *   "f32-to-bf16": a float32 tensor stored as bfloat16 (the top 16 bits, round-to-nearest-even).
 *
 * Everything here is pure: bytes in, Float32Array out, and back.
 */
import { f16Table, f32ToBf16, f32ToF16, bf16ToF32 } from '../codecs/index.ts';

export interface ParamRecord {
  name: string;
  shape: number[];
  dtype: string;
  format: 'raw' | 'f32-to-bf16';
  nbytes: number;
  byteOffset: number;
}

export interface ShardRecord {
  dataPath: string;
  format: 'raw-shard';
  nbytes: number;
  records: ParamRecord[];
}

export interface TensorCache {
  metadata: Record<string, unknown>;
  records: ShardRecord[];
}

export class MlcFormatError extends Error {
  override name = 'MlcFormatError';
}

/** Parses and checks a tensor cache (every record inside its shard, no overlaps). */
export function parseTensorCache(text: string, file = 'tensor-cache.json'): TensorCache {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MlcFormatError(`${file} is not valid JSON (${(e as Error).message}) — download the model again`);
  }
  const d = doc as Partial<TensorCache>;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.records)) {
    throw new MlcFormatError(`${file} has no "records" list — is this an MLC tensor cache (tensor-cache.json / ndarray-cache.json)?`);
  }
  for (const shard of d.records) {
    if (typeof shard.dataPath !== 'string' || !Number.isSafeInteger(shard.nbytes) || !Array.isArray(shard.records)) {
      throw new MlcFormatError(`${file}: a shard record lacks dataPath, nbytes or records`);
    }
    let end = 0;
    for (const r of [...shard.records].sort((a, b) => a.byteOffset - b.byteOffset)) {
      if (typeof r.name !== 'string' || !Array.isArray(r.shape) || !Number.isSafeInteger(r.byteOffset) || !Number.isSafeInteger(r.nbytes)) {
        throw new MlcFormatError(`${file}: a record in ${shard.dataPath} lacks name, shape, byteOffset or nbytes`);
      }
      if (r.byteOffset < end || r.byteOffset + r.nbytes > shard.nbytes) {
        throw new MlcFormatError(`${file}: ${r.name} (bytes ${r.byteOffset}..${r.byteOffset + r.nbytes}) overlaps another record or runs past ${shard.dataPath} (${shard.nbytes} bytes)`);
      }
      const want = expectedBytes(r);
      if (want !== null && want !== r.nbytes) throw new MlcFormatError(`${file}: ${r.name} is ${r.dtype} [${r.shape.join(', ')}] (${want} bytes) but its record says ${r.nbytes}`);
      end = r.byteOffset + r.nbytes;
    }
  }
  return { metadata: (d.metadata ?? {}) as Record<string, unknown>, records: d.records };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, bfloat16: 2, uint32: 4, int32: 4, int8: 1, uint8: 1 };

function expectedBytes(r: ParamRecord): number | null {
  const n = r.shape.reduce((a, b) => a * b, 1);
  if (r.format === 'f32-to-bf16') return n * 2;
  const b = DTYPE_BYTES[r.dtype];
  return b === undefined ? null : n * b;
}

/** How one logical parameter is stored. */
export type MlcKind = 'q4f16_1' | 'q4f32_1' | 'f16' | 'f32' | 'bf16-f32';

/** A logical parameter: one weight, possibly spread over a q_weight and a q_scale record. */
export interface MlcParam {
  name: string;
  kind: MlcKind;
  /** Logical (dequantised) shape, e.g. [rows, cols]. */
  shape: number[];
  /** The records it is made of, with the shard each lives in. */
  parts: { role: 'weight' | 'q_weight' | 'q_scale'; record: ParamRecord; dataPath: string }[];
}

/** Groups records into logical parameters, in cache order. */
export function listParams(cache: TensorCache, file = 'tensor-cache.json'): MlcParam[] {
  const where = new Map<string, { record: ParamRecord; dataPath: string }>();
  const order: string[] = [];
  for (const s of cache.records) for (const r of s.records) {
    where.set(r.name, { record: r, dataPath: s.dataPath });
    order.push(r.name);
  }
  const out: MlcParam[] = [];
  for (const name of order) {
    const { record, dataPath } = where.get(name)!;
    if (name.endsWith('.q_scale')) continue;
    if (name.endsWith('.q_weight')) {
      const base = name.slice(0, -'.q_weight'.length);
      const scale = where.get(`${base}.q_scale`);
      if (!scale) throw new MlcFormatError(`${file}: ${name} has no ${base}.q_scale`);
      if (record.dtype !== 'uint32') throw new MlcFormatError(`${file}: ${name} is ${record.dtype}; only uint32-packed 4-bit weights (q4f16_1, q4f32_1) are supported`);
      const kind: MlcKind = scale.record.dtype === 'float16' ? 'q4f16_1' : scale.record.dtype === 'float32' ? 'q4f32_1' : (() => {
        throw new MlcFormatError(`${file}: ${base}.q_scale is ${scale.record.dtype}; expected float16 or float32`);
      })();
      const rows = record.shape.slice(0, -1);
      const cols = record.shape[record.shape.length - 1]! * 8;
      const sCols = scale.record.shape[scale.record.shape.length - 1]!;
      if (sCols * 32 !== cols) throw new MlcFormatError(`${file}: ${base} has ${cols} columns but ${sCols} scales; q4*_1 uses one scale per 32`);
      out.push({ name: base, kind, shape: [...rows, cols], parts: [{ role: 'q_weight', ...where.get(name)! }, { role: 'q_scale', ...scale }] });
      continue;
    }
    const kind: MlcKind | null = record.format === 'f32-to-bf16' ? 'bf16-f32' : record.dtype === 'float16' ? 'f16' : record.dtype === 'float32' ? 'f32' : null;
    if (!kind) throw new MlcFormatError(`${file}: ${name} is ${record.dtype}, which Chorus cannot merge`);
    out.push({ name, kind, shape: [...record.shape], parts: [{ role: 'weight', record, dataPath }] });
  }
  return out;
}

const MAX_INT = 7;
const GROUP = 32;

/** Decodes a parameter from the bytes of its parts (aligned with `param.parts`). */
export function decodeParam(param: MlcParam, bytes: Uint8Array[]): Float32Array {
  const n = param.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (param.kind === 'f32') {
    const v = view(bytes[0]!);
    for (let i = 0; i < n; i++) out[i] = v.getFloat32(i * 4, true);
  } else if (param.kind === 'f16') {
    const tab = f16Table();
    const b = bytes[0]!;
    for (let i = 0; i < n; i++) out[i] = tab[b[2 * i]! | (b[2 * i + 1]! << 8)]!;
  } else if (param.kind === 'bf16-f32') {
    const b = bytes[0]!;
    for (let i = 0; i < n; i++) out[i] = bf16ToF32(b[2 * i]! | (b[2 * i + 1]! << 8));
  } else {
    const q = view(bytes[0]!);
    const s = bytes[1]!;
    const tab = f16Table();
    const sv = view(s);
    const groups = n / GROUP;
    for (let g = 0; g < groups; g++) {
      const scale = param.kind === 'q4f16_1' ? tab[s[2 * g]! | (s[2 * g + 1]! << 8)]! : sv.getFloat32(4 * g, true);
      for (let w = 0; w < GROUP / 8; w++) {
        const word = q.getUint32((g * 4 + w) * 4, true);
        for (let k = 0; k < 8; k++) out[g * GROUP + w * 8 + k] = (((word >>> (4 * k)) & 15) - MAX_INT) * scale;
      }
    }
  }
  return out;
}

/** Encodes values as `kind`, returning the bytes of each part (weight, or q_weight then q_scale). */
export function encodeParam(kind: MlcKind, values: Float32Array): Uint8Array[] {
  const n = values.length;
  if (kind === 'f32') return [new Uint8Array(Float32Array.from(values).buffer)];
  if (kind === 'f16' || kind === 'bf16-f32') {
    const b = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      const h = kind === 'f16' ? f32ToF16(values[i]!) : f32ToBf16(values[i]!);
      b[2 * i] = h & 255;
      b[2 * i + 1] = h >>> 8;
    }
    return [b];
  }
  if (n % GROUP !== 0) throw new MlcFormatError(`${kind} needs a multiple of ${GROUP} values per row, got ${n}`);
  const groups = n / GROUP;
  const q = new Uint8Array(groups * 16);
  const qv = new DataView(q.buffer);
  const s = new Uint8Array(groups * (kind === 'q4f16_1' ? 2 : 4));
  const sv = new DataView(s.buffer);
  const tab = f16Table();
  for (let g = 0; g < groups; g++) {
    let maxAbs = 0;
    for (let i = 0; i < GROUP; i++) maxAbs = Math.max(maxAbs, Math.abs(values[g * GROUP + i]!));
    let scale = Math.fround(maxAbs / MAX_INT);
    if (kind === 'q4f16_1') {
      const h = f32ToF16(scale);
      s[2 * g] = h & 255;
      s[2 * g + 1] = h >>> 8;
      scale = tab[h]!; // quantise with the scale the decoder will see
    } else sv.setFloat32(4 * g, scale, true);
    for (let w = 0; w < GROUP / 8; w++) {
      let word = 0;
      for (let k = 0; k < 8; k++) {
        const x = values[g * GROUP + w * 8 + k]!;
        // Round half away from zero, as TVM's round (C roundf) does.
        const r = x / scale;
        const qi = scale === 0 ? MAX_INT : Math.min(2 * MAX_INT, Math.max(0, Math.sign(r) * Math.round(Math.abs(r)) + MAX_INT));
        word |= qi << (4 * k);
      }
      qv.setUint32((g * 4 + w) * 4, word >>> 0, true);
    }
  }
  return [q, s];
}
