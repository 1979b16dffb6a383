/**
 * A seeded mutation fuzzer for the GGUF reader (src/lib/merge/gguf/reader.ts), in the spirit of
 * llama.cpp's tests/test-gguf.cpp (random damage to real headers). It knows where a valid file
 * keeps its counts, string lengths, value types, dimensions, tensor types and data offsets, and
 * damages those as well as random bytes: bit flips, byte sets, truncations, count/length bumps,
 * offset swaps, type changes. Each case must either parse into a consistent structure or throw a
 * GGUFError with a code — within a time bound and with heap growth bounded by the file's size.
 * Used by tests/unit/gguf-fuzz.test.ts (a few hundred cases) and `npm run fuzz` (many more).
 */
import { GGML_TYPE_SIZE, GGUFError, GGUFValueType, alignUp, bytesSource, readGGUF, type GGUFFile } from '../../src/lib/merge/gguf/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** A field of a valid file: where it is, how wide, what it means. */
export interface Field {
  kind: 'tensor-count' | 'kv-count' | 'string-length' | 'value-type' | 'array-count' | 'n-dims' | 'dim' | 'tensor-type' | 'tensor-offset';
  at: number;
  width: 4 | 8;
}

const FIXED: Partial<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** The fields of a valid GGUF (one the reader accepts), found by walking its header. */
export function fieldsOf(bytes: Uint8Array): Field[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Field[] = [{ kind: 'tensor-count', at: 8, width: 8 }, { kind: 'kv-count', at: 16, width: 8 }];
  const nTensors = Number(v.getBigUint64(8, true));
  const nKv = Number(v.getBigUint64(16, true));
  let p = 24;
  const str = () => {
    out.push({ kind: 'string-length', at: p, width: 8 });
    p += 8 + Number(v.getBigUint64(p, true));
  };
  for (let i = 0; i < nKv; i++) {
    str();
    out.push({ kind: 'value-type', at: p, width: 4 });
    const type = v.getUint32(p, true);
    p += 4;
    if (type === GGUFValueType.ARRAY) {
      out.push({ kind: 'value-type', at: p, width: 4 });
      const et = v.getUint32(p, true);
      out.push({ kind: 'array-count', at: p + 4, width: 8 });
      const n = Number(v.getBigUint64(p + 4, true));
      p += 12;
      if (et === GGUFValueType.STRING) for (let k = 0; k < n; k++) str();
      else p += n * FIXED[et]!;
    } else if (type === GGUFValueType.STRING) str();
    else p += FIXED[type]!;
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    out.push({ kind: 'n-dims', at: p, width: 4 });
    const nd = v.getUint32(p, true);
    p += 4;
    for (let d = 0; d < nd; d++, p += 8) out.push({ kind: 'dim', at: p, width: 8 });
    out.push({ kind: 'tensor-type', at: p, width: 4 });
    out.push({ kind: 'tensor-offset', at: p + 4, width: 8 });
    p += 12;
  }
  return out;
}

export interface Mutation {
  /** What was done, to reproduce and to report ("bit-flip @1234"). */
  what: string;
  bytes: Uint8Array;
}

const KNOWN_TYPES = Object.keys(GGML_TYPE_SIZE).map(Number);

/** One seeded mutation of `bytes` (whose header is `headerEnd` bytes long and holds `fields`). */
export function mutate(bytes: Uint8Array, fields: Field[], headerEnd: number, seed: number): Mutation {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const b = bytes.slice();
  const v = new DataView(b.buffer);
  // Most damage goes to the header, where the reader's decisions are; some to anywhere.
  const where = () => (rnd() < 0.85 ? int(headerEnd) : int(b.length));
  const put = (f: Field, x: bigint) => (f.width === 8 ? v.setBigUint64(f.at, BigInt.asUintN(64, x), true) : v.setUint32(f.at, Number(BigInt.asUintN(32, x)), true));
  const get = (f: Field): bigint => (f.width === 8 ? v.getBigUint64(f.at, true) : BigInt(v.getUint32(f.at, true)));
  const kind = int(7);
  switch (kind) {
    case 0: {
      const at = where();
      const bit = int(8);
      b[at]! ^= 1 << bit;
      return { what: `bit-flip @${at} bit ${bit}`, bytes: b };
    }
    case 1: {
      const at = where();
      const val = pick([0x00, 0xff, 0x7f, 0x80, int(256)]);
      b[at] = val;
      return { what: `byte-set @${at} = ${val}`, bytes: b };
    }
    case 2: {
      const len = rnd() < 0.7 ? int(headerEnd + 64) : int(b.length);
      return { what: `truncate to ${len}`, bytes: b.slice(0, len) };
    }
    case 3: {
      // A count or length bumped: by one, doubled, to a large value or to the field's maximum.
      const f = pick(fields.filter((x) => x.kind === 'tensor-count' || x.kind === 'kv-count' || x.kind === 'string-length' || x.kind === 'array-count' || x.kind === 'dim' || x.kind === 'n-dims'));
      const old = get(f);
      const next = pick([old + 1n, old - 1n, old * 2n, old + BigInt(int(1 << 20)), 0n, (1n << BigInt(f.width * 8 - 1)) - 1n, (1n << BigInt(f.width * 8)) - 1n, 40_000_000n]);
      put(f, next);
      return { what: `${f.kind} @${f.at}: ${old} -> ${BigInt.asUintN(f.width * 8, next)}`, bytes: b };
    }
    case 4: {
      const offs = fields.filter((x) => x.kind === 'tensor-offset');
      if (offs.length < 2) return { what: 'no-op (fewer than two tensors)', bytes: b };
      const x = pick(offs), y = pick(offs);
      const [ox, oy] = [get(x), get(y)];
      put(x, oy);
      put(y, ox);
      return { what: `offset swap @${x.at} <-> @${y.at}`, bytes: b };
    }
    case 5: {
      const f = pick(fields.filter((x) => x.kind === 'tensor-type'));
      const t = rnd() < 0.8 ? pick(KNOWN_TYPES) : int(64);
      put(f, BigInt(t));
      return { what: `tensor-type @${f.at} = ${t}`, bytes: b };
    }
    default: {
      const f = pick(fields.filter((x) => x.kind === 'value-type'));
      const t = int(14);
      put(f, BigInt(t));
      return { what: `value-type @${f.at} = ${t}`, bytes: b };
    }
  }
}

/** Why a parsed file is inconsistent, or null: every promise the reader's result makes, checked. */
export function inconsistency(f: GGUFFile, size: number): string | null {
  if (f.size !== size) return `size ${f.size} is not the file's ${size}`;
  if (f.alignment <= 0 || !Number.isInteger(Math.log2(f.alignment))) return `alignment ${f.alignment}`;
  if (f.dataOffset % f.alignment !== 0) return `data offset ${f.dataOffset} is not aligned`;
  const keys = new Set(f.metadata.map((e) => e.key));
  if (keys.size !== f.metadata.length) return 'duplicate metadata keys';
  const names = new Set(f.tensors.map((t) => t.name));
  if (names.size !== f.tensors.length) return 'duplicate tensor names';
  let expected = 0;
  for (const t of f.tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n !== t.nElements || n <= 0) return `tensor ${t.name}: ${t.nElements} elements for shape [${t.shape.join(', ')}]`;
    const { blockSize, typeSize } = GGML_TYPE_SIZE[t.type];
    if ((t.shape[0] ?? 1) % blockSize !== 0 || t.byteSize !== (n / blockSize) * typeSize) return `tensor ${t.name}: byte size ${t.byteSize}`;
    if (t.offset !== expected) return `tensor ${t.name} at ${t.offset}, expected ${expected}`;
    if (f.dataOffset + t.offset + t.byteSize > size) return `tensor ${t.name} ends past the file`;
    expected += alignUp(t.byteSize, f.alignment);
  }
  return null;
}

export interface CaseResult {
  seed: number;
  what: string;
  /** 'ok' (parsed, consistent), a GGUFError code, or 'FAIL: …'. */
  outcome: string;
  ms: number;
  /** Heap growth while parsing (bytes), result held. */
  heapGrowth: number;
  size: number;
}

/** Runs one mutation of `base` through the reader. */
export async function runCase(name: string, base: Uint8Array, fields: Field[], headerEnd: number, seed: number): Promise<CaseResult> {
  const { what, bytes } = mutate(base, fields, headerEnd, seed);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let outcome: string;
  let held: unknown = null;
  try {
    const f = await readGGUF(bytesSource(bytes, name));
    held = f;
    const why = inconsistency(f, bytes.length);
    outcome = why === null ? 'ok' : `FAIL: parsed but inconsistent: ${why}`;
  } catch (e) {
    if (e instanceof GGUFError && typeof e.code === 'string' && e.code.length > 0 && e.message.length > 0) outcome = e.code;
    else outcome = `FAIL: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  const ms = performance.now() - t0;
  const heapGrowth = process.memoryUsage().heapUsed - heap0;
  void held;
  return { seed, what, outcome, ms, heapGrowth, size: bytes.length };
}

export interface FuzzLimits {
  /** Most milliseconds one case may take. */
  maxMs: number;
  /** Most heap growth per case, as a multiple of the file's size (plus `heapSlackBytes`). */
  heapFactor: number;
  heapSlackBytes: number;
}

export const DEFAULT_LIMITS: FuzzLimits = { maxMs: 2000, heapFactor: 32, heapSlackBytes: 16 << 20 };

/** The failures among results: wrong outcomes, slow cases, heap growth beyond the bound. */
export function failures(results: CaseResult[], limits: FuzzLimits = DEFAULT_LIMITS): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.outcome.startsWith('FAIL')) out.push(`seed ${r.seed} (${r.what}): ${r.outcome}`);
    if (r.ms > limits.maxMs) out.push(`seed ${r.seed} (${r.what}): took ${r.ms.toFixed(0)} ms (limit ${limits.maxMs})`);
    if (r.heapGrowth > limits.heapFactor * r.size + limits.heapSlackBytes) out.push(`seed ${r.seed} (${r.what}): heap grew by ${(r.heapGrowth / 1e6).toFixed(1)} MB for a file of ${(r.size / 1e6).toFixed(2)} MB`);
  }
  return out;
}

/** A base file ready for mutation: its bytes, fields and header length. */
export async function prepare(name: string, bytes: Uint8Array): Promise<{ name: string; bytes: Uint8Array; fields: Field[]; headerEnd: number }> {
  const f = await readGGUF(bytesSource(bytes, name));
  return { name, bytes, fields: fieldsOf(bytes), headerEnd: f.dataOffset };
}
