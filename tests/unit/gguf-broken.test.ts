/**
 * Hand-built broken GGUF files: each is a valid file built by the writer, then damaged at a known
 * byte offset. Every one must give a GGUFError whose message names the file, what is wrong and
 * what to do — never a RangeError, a hang, or a giant allocation.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  GGMLType,
  GGUFError,
  GGUFValueType,
  GGUFWriter,
  bytesSource,
  memorySink,
  meta,
  readGGUF,
  readTensorData,
  type GGUFErrorCode,
} from '../../src/lib/merge/gguf/index.ts';
import { storiesModel } from '../support/paths.ts';

async function tiny(opts: { alignment?: number } = {}): Promise<Uint8Array> {
  const sink = memorySink();
  const w = new GGUFWriter(sink, opts);
  w.addMetadata([meta.string('general.architecture', 'test'), meta.string('general.name', 'tiny'), meta.stringArray('tokenizer.ggml.tokens', ['a', 'b', 'c'])]);
  w.addTensorInfo({ name: 'a.weight', shape: [8], type: GGMLType.F32 });
  w.addTensorInfo({ name: 'b.weight', shape: [32, 2], type: GGMLType.Q8_0 });
  for (const t of w.tensorInfos()) await w.writeTensorData(t.name, new Uint8Array(t.byteSize).fill(1));
  await w.finish();
  return sink.bytes();
}

/** Byte offset where the GGUF string `s` (u64 length + UTF-8) starts. */
function findString(b: Uint8Array, s: string): number {
  const enc = new TextEncoder().encode(s);
  outer: for (let i = 0; i + 8 + enc.length <= b.length; i++) {
    if (new DataView(b.buffer, b.byteOffset).getBigUint64(i, true) !== BigInt(enc.length)) continue;
    for (let k = 0; k < enc.length; k++) if (b[i + 8 + k] !== enc[k]) continue outer;
    return i;
  }
  throw new Error(`string ${s} not found`);
}

/** Offsets of the fields of tensor info `name`: n_dims, first dim, type, offset. */
function infoFields(b: Uint8Array, name: string): { nDims: number; dim0: number; type: number; offset: number } {
  const at = findString(b, name) + 8 + name.length;
  const n = new DataView(b.buffer, b.byteOffset).getUint32(at, true);
  return { nDims: at, dim0: at + 4, type: at + 4 + 8 * n, offset: at + 8 + 8 * n };
}

const u32 = (b: Uint8Array, at: number, v: number): Uint8Array => {
  const c = b.slice();
  new DataView(c.buffer).setUint32(at, v, true);
  return c;
};
const u64 = (b: Uint8Array, at: number, v: bigint): Uint8Array => {
  const c = b.slice();
  new DataView(c.buffer).setBigUint64(at, v, true);
  return c;
};

async function fails(bytes: Uint8Array, code: GGUFErrorCode, message: RegExp, name = 'tiny.gguf'): Promise<GGUFError> {
  const err = await readGGUF(bytesSource(bytes, name)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GGUFError);
  const g = err as GGUFError;
  if (!message.test(g.message) || g.code !== code) throw new Error(`expected ${code} ${String(message)}, got ${g.code}: ${g.message}`);
  expect(g.message.startsWith(name)).toBe(true);
  expect(g.file).toBe(name);
  return g;
}

describe('broken files give GGUFErrors that say what and what to do', () => {
  it('the untouched file reads', async () => {
    const f = await readGGUF(bytesSource(await tiny(), 'tiny.gguf'));
    expect(f.tensors.map((t) => t.name)).toEqual(['a.weight', 'b.weight']);
  });

  it('bad magic: not a GGUF file (a zip, a safetensors header, an empty file)', async () => {
    const b = await tiny();
    const zip = b.slice();
    zip.set([0x50, 0x4b, 0x03, 0x04]);
    await fails(zip, 'not-gguf', /not a GGUF file: it starts with bytes 50 4b 03 04 \("PK\.\."\) instead of "GGUF" — choose a \.gguf model file/);
    await fails(new TextEncoder().encode('{"__metadata__":{}}'), 'not-gguf', /not a GGUF file/);
    await fails(new Uint8Array(0), 'not-gguf', /has only 0 bytes/);
  });

  it('unsupported versions: 1 (obsolete), 4 (newer), big-endian', async () => {
    const b = await tiny();
    await fails(u32(b, 4, 1), 'unsupported-version', /version 1; Chorus reads versions 2 and 3: version 1 is obsolete/);
    await fails(u32(b, 4, 4), 'unsupported-version', /version 4.*newer tool/);
    await fails(u32(b, 4, 0x03000000), 'unsupported-version', /big-endian/);
  });

  it('truncated header and truncated metadata string', async () => {
    const b = await tiny();
    await fails(b.slice(0, 12), 'truncated', /^tiny\.gguf is truncated: reading the tensor count needs bytes up to 16 but the file has 12 — download or copy it again\.$/);
    await fails(b.slice(0, 20), 'truncated', /^tiny\.gguf is truncated: it declares 2 tensors, which need at least 48 bytes, but only 4 bytes remain — download or copy it again\.$/);
    const nameAt = findString(b, 'tiny');
    await fails(b.slice(0, nameAt + 8 + 2), 'truncated', /general\.name is a string of 4 bytes .* only 2 bytes remain/);
    const tokAt = findString(b, 'tokenizer.ggml.tokens');
    // Cut inside the token array: its 3 strings cannot fit in the bytes left.
    await fails(b.slice(0, tokAt + 8 + 21 + 4 + 4 + 8 + 9), 'truncated', /truncated: it declares 3 elements in the array tokenizer\.ggml\.tokens, which need at least 24 bytes, but only 9 bytes remain/);
    // Cut inside the length field of the general.name value.
    await fails(b.slice(0, nameAt + 4), 'truncated', new RegExp(`reading the value of general\\.name needs bytes up to ${nameAt + 8} but the file has ${nameAt + 4}`));
  });

  it('absurd counts and lengths are refused before anything is allocated', async () => {
    const b = await tiny();
    await fails(u64(b, 8, 2n ** 40n), 'corrupt', /declares 1099511627776 tensors, but only \d+ bytes remain/);
    await fails(u64(b, 16, 2n ** 62n), 'corrupt', /declares 4611686018427387904 metadata entries/);
    await fails(u64(b, 24, 2n ** 62n), 'truncated', /key of metadata entry 0 is a string of 4611686018427387904 bytes/);
    const tok = findString(b, 'tokenizer.ggml.tokens') + 8 + 21 + 4 + 4; // past key, type, element type
    await fails(u64(b, tok, 2n ** 50n), 'corrupt', /declares 1125899906842624 elements in the array tokenizer\.ggml\.tokens/);
    const f = infoFields(b, 'b.weight');
    await fails(u64(b, f.dim0, 2n ** 40n), 'corrupt', /tensor b\.weight has shape \[1099511627776, 2\], far more elements than the file can hold/);
    await fails(u64(b, f.dim0, 2n ** 60n), 'corrupt', /tensor b\.weight has dimension 1152921504606846976/);
  });

  it('tensor data past the end of the file (a truncated download)', async () => {
    const b = await tiny();
    const f = await readGGUF(bytesSource(b, 'tiny.gguf'));
    const cut = f.dataOffset + 40;
    const end = f.dataOffset + f.tensors[1]!.offset + f.tensors[1]!.byteSize;
    await fails(b.slice(0, cut), 'truncated', new RegExp(`tiny\\.gguf is truncated: tensor b\\.weight needs bytes up to ${end} but the file has ${cut} — download it again`));
  });

  it('the real stories260K.gguf cut at 600,000 bytes names the first tensor that does not fit', async () => {
    const full = new Uint8Array(readFileSync(storiesModel()));
    const f = await readGGUF(bytesSource(full, 'stories260K.gguf'));
    const first = [...f.tensors].sort((a, b) => a.offset - b.offset).find((t) => f.dataOffset + t.offset + t.byteSize > 600000)!;
    // Data starts at 14176; blk.1.ffn_up.weight is at 581632..625664 in the data section.
    expect([first.name, f.dataOffset + first.offset + first.byteSize]).toEqual(['blk.1.ffn_up.weight', 639840]);
    await fails(
      full.slice(0, 600000),
      'truncated',
      /^stories260K\.gguf is truncated: tensor blk\.1\.ffn_up\.weight needs bytes up to 639840 but the file has 600000 — download it again\.$/,
      'stories260K.gguf',
    );
  });

  it('unknown GGML type, misaligned offset, overlapping tensors, too many dimensions, partial blocks', async () => {
    const b = await tiny();
    const f = infoFields(b, 'b.weight');
    await fails(u32(b, f.type, 99), 'unsupported-type', /tensor b\.weight uses GGML type 99, which Chorus does not know/);
    await fails(u64(b, f.offset, 40n), 'misaligned', /tensor b\.weight starts at data offset 40, not a multiple of the alignment 32/);
    await fails(u64(b, f.offset, 0n), 'corrupt', /overlaps tensor a\.weight/);
    await fails(u32(b, f.nDims, 5), 'corrupt', /tensor b\.weight has 5 dimensions \(ggml allows at most 4\)/);
    await fails(u64(b, f.dim0, 16n), 'corrupt', /b\.weight is Q8_0 with rows of 16 elements, not a multiple of its block size 32/);
  });

  it('duplicate tensor names and duplicate metadata keys', async () => {
    const b = await tiny();
    const at = findString(b, 'b.weight');
    const dup = b.slice();
    dup[at + 8] = 'a'.charCodeAt(0);
    await fails(dup, 'duplicate-tensor', /tensor a\.weight appears twice/);
    // Two keys of equal length, then the second renamed to the first in place.
    const sink = memorySink();
    const w = new GGUFWriter(sink);
    w.addMetadata(meta.string('general.architecture', 'x'));
    w.addMetadata(meta.string('general.architecturf', 'y'));
    await w.finish();
    const bytes = sink.bytes();
    const second = findString(bytes, 'general.architecturf');
    bytes[second + 8 + 19] = 'e'.charCodeAt(0);
    await fails(bytes, 'corrupt', /metadata key general\.architecture appears twice/);
  });

  it('unknown value types, nested arrays and a bad general.alignment', async () => {
    const b = await tiny();
    const key = findString(b, 'general.architecture');
    await fails(u32(b, key + 8 + 20, 13), 'corrupt', /metadata general\.architecture has unknown value type 13/);
    const tok = findString(b, 'tokenizer.ggml.tokens') + 8 + 21 + 4;
    await fails(u32(b, tok, GGUFValueType.ARRAY), 'corrupt', /array of value type 9.*nested arrays are not supported/);
    const a = await tiny({ alignment: 64 });
    const alignKey = findString(a, 'general.alignment');
    await fails(u32(a, alignKey + 8 + 17 + 4, 48), 'corrupt', /general\.alignment is 48, not a power of two/);
  });

  it('a source that changed size since its header was read is refused when reading data', async () => {
    const b = await tiny();
    const f = await readGGUF(bytesSource(b, 'tiny.gguf'));
    await expect(readTensorData(bytesSource(b.slice(0, b.length - 32), 'tiny.gguf'), f, f.tensors[1]!)).rejects.toThrow(/the file changed; read it again/);
  });

  it('alignment 2^31 is a power of two: it is not called "not a power of two" (a tensor off that alignment is named instead)', async () => {
    const a = await tiny({ alignment: 64 });
    const alignKey = findString(a, 'general.alignment');
    const g = await fails(u32(a, alignKey + 8 + 17 + 4, 2 ** 31), 'misaligned', /tensor b\.weight starts at data offset 64, not a multiple of the alignment 2147483648/);
    expect(g.message).not.toMatch(/power of two/);
  });
});

describe('what llama.cpp refuses (gguf.cpp gguf_init_from_file_impl), the reader refuses too', () => {
  const stories = () => new Uint8Array(readFileSync(storiesModel()));

  it('tensor offsets out of order (two equal-sized tensors swapped): no overlap, but not where llama.cpp expects them', async () => {
    const b = stories();
    const f = await readGGUF(bytesSource(b, 'stories260K.gguf'));
    const [x, y] = [f.tensors.findIndex((t) => t.name === 'blk.0.attn_q.weight'), f.tensors.findIndex((t) => t.name === 'blk.0.attn_output.weight')];
    const [tx, ty] = [f.tensors[x]!, f.tensors[y]!];
    expect(tx.byteSize).toBe(ty.byteSize);
    const swapped = u64(u64(b, infoFields(b, tx.name).offset, BigInt(ty.offset)), infoFields(b, ty.name).offset, BigInt(tx.offset));
    const first = x < y ? tx : ty;
    await fails(swapped, 'corrupt', new RegExp(`tensor ${first.name.replace(/\./g, '\\.')} has data offset ${Math.max(tx.offset, ty.offset)} where ${Math.min(tx.offset, ty.offset)} was expected \\(it leaves a gap of \\d+ bytes after tensor .*\\); llama\\.cpp refuses such a file`), 'stories260K.gguf');
  });

  it('a changed tensor type: smaller (F32 → F16) leaves a gap, larger (F32 → F64) overlaps the next tensor', async () => {
    const b = stories();
    const f = await readGGUF(bytesSource(b, 'stories260K.gguf'));
    const i = f.tensors.findIndex((t) => t.name === 'blk.0.attn_norm.weight');
    const next = f.tensors[i + 1]!;
    const at = infoFields(b, 'blk.0.attn_norm.weight').type;
    await fails(u32(b, at, GGMLType.F16), 'corrupt', new RegExp(`tensor ${next.name.replace(/\./g, '\\.')} has data offset ${next.offset} where ${next.offset - 128} was expected \\(it leaves a gap of 128 bytes after tensor blk\\.0\\.attn_norm\\.weight\\)`), 'stories260K.gguf');
    await fails(u32(b, at, GGMLType.F64), 'corrupt', new RegExp(`tensor ${next.name.replace(/\./g, '\\.')} has data offset ${next.offset} where ${next.offset + 256} was expected \\(it overlaps tensor blk\\.0\\.attn_norm\\.weight`), 'stories260K.gguf');
  });

  it('a zero-sized dimension', async () => {
    const b = await tiny();
    const f = infoFields(b, 'b.weight');
    await fails(u64(b, f.dim0 + 8, 0n), 'corrupt', /tensor b\.weight has shape \[32, 0\], with a dimension of 0/);
  });

  it('a tensor name of 64 bytes or more (GGML_MAX_NAME)', async () => {
    const long = 'x'.repeat(64);
    const sink = memorySink();
    const w = new GGUFWriter(sink);
    w.addMetadata(meta.string('general.architecture', 'test'));
    w.addTensorInfo({ name: long, shape: [8], type: GGMLType.F32 });
    await w.writeTensorData(long, new Uint8Array(32));
    await w.finish();
    await fails(sink.bytes(), 'corrupt', /tensor 0 has a name of 64 bytes \(llama\.cpp allows at most 63\)/);
  });
});

describe('sizes that once exhausted time or memory', () => {
  it('a 536 MB metadata string is refused with a GGUFError (too-large) before it is read', async () => {
    const b = await tiny();
    const nameAt = findString(b, 'tiny');
    const claimed = 536_000_000;
    const head = u64(b, nameAt, BigInt(claimed)).slice(0, nameAt + 8);
    let bytesRead = 0;
    // A file of 600 MB that exists only as far as it is read: the header above, then zeros.
    const src = {
      name: 'huge-string.gguf',
      size: 600_000_000,
      async read(offset: number, length: number): Promise<Uint8Array> {
        bytesRead += length;
        const out = new Uint8Array(length);
        if (offset < head.length) out.set(head.subarray(offset, Math.min(head.length, offset + length)));
        return out;
      },
    };
    const err = await readGGUF(src).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(GGUFError);
    expect((err as GGUFError).code).toBe('too-large');
    expect((err as GGUFError).message).toMatch(/^huge-string\.gguf: the value of general\.name is a string of 536000000 bytes; Chorus reads metadata strings of up to 268435456 bytes/);
    expect(bytesRead).toBeLessThan(1 << 20);
  });

  it('a metadata array larger than the first read is decoded once, not rebuilt on every re-parse', async () => {
    const n = 300_000;
    const sink = memorySink();
    const w = new GGUFWriter(sink);
    w.addMetadata([meta.string('general.architecture', 'test'), meta.array('test.big', GGUFValueType.UINT8, new Array<number>(n).fill(7))]);
    w.addTensorInfo({ name: 'a.weight', shape: [8], type: GGMLType.F32 });
    await w.writeTensorData('a.weight', new Uint8Array(32));
    await w.finish();
    const bytes = sink.bytes();
    // Every UINT8 value is read through DataView#getUint8: count the reads. The earlier reader built
    // the array up to the end of each prefix it had, threw it away and started over with a prefix
    // twice as long (about 2.5n reads here; for 40M elements 32 CPU s and 1.26 GB instead of 6 s).
    const spy = vi.spyOn(DataView.prototype, 'getUint8');
    try {
      const f = await readGGUF(bytesSource(bytes, 'big-array.gguf'));
      const big = f.metadata.find((e) => e.key === 'test.big')!.value as number[];
      expect([big.length, big[0], big[n - 1]]).toEqual([n, 7, 7]);
      expect(spy.mock.calls.length).toBeLessThan(n + 1000);
    } finally {
      spy.mockRestore();
    }
  });
});
