/**
 * GGUF reader and writer on the real stories260K.gguf and on files built here: byte-identical
 * rewrite, every metadata value type, the writer's order rules, alignment, provenance, summary.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GGMLType,
  GGUFError,
  GGUFValueType,
  GGUFWriter,
  blobSource,
  bytesSource,
  getMeta,
  layoutTensors,
  memorySink,
  meta,
  readGGUF,
  readTensorData,
  readTensorRows,
  rowByteSize,
  summarize,
  tensorByteSize,
  withProvenance,
  type GGUFFile,
  type GGUFMetadataEntry,
  type ByteSource,
} from '../../src/lib/merge/gguf/index.ts';
import { fileSink, fileSource } from '../../tools/lib/node-source.ts';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'chorus-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Copies a GGUF tensor by tensor through the writer, as a streaming merge would. */
async function rewrite(src: ByteSource, f: GGUFFile, metadata: GGUFMetadataEntry[], keepOffsets: boolean): Promise<Uint8Array> {
  const sink = memorySink();
  const w = new GGUFWriter(sink, { alignment: f.alignment, version: f.version as 3 });
  w.addMetadata(metadata);
  for (const t of f.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: t.type, ...(keepOffsets ? { offset: t.offset } : {}) });
  for (const t of [...f.tensors].sort((a, b) => a.offset - b.offset)) await w.writeTensorData(t.name, await readTensorData(src, f, t));
  await w.finish();
  return sink.bytes();
}

describe('stories260K.gguf (real model)', () => {
  it('reads header, metadata and tensor infos', async () => {
    const src = await fileSource(storiesModel());
    try {
      const f = await readGGUF(src);
      expect(f.version).toBe(3);
      expect(f.alignment).toBe(32);
      expect(f.size).toBe(1185376);
      expect(f.dataOffset % 32).toBe(0);
      expect(f.tensors).toHaveLength(48);
      expect(getMeta(f, 'general.architecture')).toBe('llama');
      const tokens = getMeta(f, 'tokenizer.ggml.tokens') as string[];
      expect(tokens).toHaveLength(512);
      expect(tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
      const q = f.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
      expect(q.shape).toEqual([64, 64]);
      expect(q.type).toBe(GGMLType.F32);
      // The last tensor ends exactly where the file does (the file is complete and tight).
      const last = f.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
      expect(f.dataOffset + last.offset + last.byteSize).toBe(f.size);
    } finally {
      await src.close();
    }
  });

  it('summarize: llama, vocabulary 512, context 2048 as the file says, 292,800 parameters, all F32', async () => {
    const f = await readGGUF(bytesSource(new Uint8Array(readFileSync(storiesModel())), 'stories260K.gguf'));
    const s = summarize(f);
    // Parameter count from the architecture alone: embeddings + output + norm + 5 blocks of
    // q (64·64) k, v (64·32: 4 KV heads of 8) o (64·64), gate/up/down (64·172), two norms (64).
    const perBlock = 64 * 64 * 2 + 64 * 32 * 2 + 64 * 172 * 3 + 64 * 2;
    expect(s).toMatchObject({
      architecture: 'llama',
      name: 'llama',
      vocabSize: 512,
      // The README says 512 (the llama2.c training length); the GGUF header says 2048 and that is what llama.cpp uses.
      contextLength: 2048,
      embeddingLength: 64,
      blockCount: 5,
      headCount: 8,
      headCountKv: 4,
      parameterCount: 512 * 64 * 2 + 64 + 5 * perBlock,
      tensorTypes: { F32: 48 },
      tensorCount: 48,
      hasChatTemplate: false,
      tokenizerModel: 'llama',
    });
    expect(s.parameterCount).toBe(292800);
    expect(s.chatTemplate).toBeUndefined();
  });

  it('read-then-write gives a byte-identical file (given offsets, and offsets planned by the writer)', async () => {
    const original = new Uint8Array(readFileSync(storiesModel()));
    const src = bytesSource(original, 'stories260K.gguf');
    const f = await readGGUF(src);
    const a = await rewrite(src, f, f.metadata, true);
    const b = await rewrite(src, f, f.metadata, false);
    expect(a.byteLength).toBe(original.byteLength);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(original))).toBe(0);
    expect(Buffer.compare(Buffer.from(b), Buffer.from(original))).toBe(0);
  });

  it('writes through a Node file sink and reads back through a Blob source: same metadata and tensors', async () => {
    const original = new Uint8Array(readFileSync(storiesModel()));
    const src = bytesSource(original, 'stories260K.gguf');
    const f = await readGGUF(src);
    const path = join(tmp, 'copy.gguf');
    const sink = await fileSink(path);
    const w = new GGUFWriter(sink);
    w.addMetadata(f.metadata);
    for (const t of f.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: t.type });
    const planned = w.plannedSize();
    for (const t of f.tensors) await w.writeTensorData(t.name, await readTensorData(src, f, t));
    await w.finish();
    expect(existsSync(`${path}.part`)).toBe(false);
    const copy = new Blob([readFileSync(path)]);
    expect(copy.size).toBe(planned);
    const bsrc = blobSource(copy, 'copy.gguf');
    const g = await readGGUF(bsrc);
    expect(g.metadata).toEqual(f.metadata);
    expect(g.tensors.map(({ name, shape, type }) => ({ name, shape, type }))).toEqual(f.tensors.map(({ name, shape, type }) => ({ name, shape, type })));
    for (const t of f.tensors) {
      const u = g.tensors.find((x) => x.name === t.name)!;
      expect(Buffer.compare(Buffer.from(await readTensorData(bsrc, g, u)), Buffer.from(await readTensorData(src, f, t)))).toBe(0);
    }
  });

  it('adds provenance keys and keeps the tokenizer and everything else as it was', async () => {
    const original = new Uint8Array(readFileSync(storiesModel()));
    const src = bytesSource(original, 'stories260K.gguf');
    const f = await readGGUF(src);
    const md = withProvenance(f.metadata, { method: 'linear', inputs: ['a.gguf', 'b.gguf'], parameters: { weights: [0.3, 0.7] }, tool: 'Chorus test', created: '2026-01-01T00:00:00Z' });
    const out = await rewrite(src, f, md, false);
    const g = await readGGUF(bytesSource(out, 'merged.gguf'));
    for (const e of f.metadata) expect(g.metadata.find((x) => x.key === e.key)).toEqual(e);
    expect(getMeta(g, 'chorus.provenance.method')).toBe('linear');
    expect(getMeta(g, 'chorus.provenance.inputs')).toEqual(['a.gguf', 'b.gguf']);
    expect(JSON.parse(getMeta(g, 'chorus.provenance.parameters') as string)).toEqual({ weights: [0.3, 0.7] });
    expect(getMeta(g, 'general.base_model.count')).toBe(2);
    expect(getMeta(g, 'general.base_model.1.name')).toBe('b.gguf');
    // A second provenance replaces the first instead of piling up.
    const again = withProvenance(g.metadata, { method: 'slerp', inputs: ['c.gguf'] });
    expect(again.filter((e) => e.key.startsWith('chorus.provenance.method'))).toHaveLength(1);
    expect(again.find((e) => e.key === 'general.base_model.1.name')).toBeUndefined();
  });

  it('reads row slices of a tensor for streaming', async () => {
    const src = bytesSource(new Uint8Array(readFileSync(storiesModel())), 'stories260K.gguf');
    const f = await readGGUF(src);
    const t = f.tensors.find((x) => x.name === 'token_embd.weight')!;
    const whole = await readTensorData(src, f, t);
    const rows = await readTensorRows(src, f, t, 10, 3);
    expect(rowByteSize(t)).toBe(256);
    expect(Buffer.compare(Buffer.from(rows), Buffer.from(whole.subarray(2560, 2560 + 768)))).toBe(0);
    await expect(readTensorRows(src, f, t, 511, 2)).rejects.toThrow(/outside tensor token_embd.weight/);
  });
});

/** One entry of every value type, with edge values. */
const everyType: GGUFMetadataEntry[] = [
  meta.u8('t.u8', 255),
  meta.i8('t.i8', -128),
  meta.u16('t.u16', 65535),
  meta.i16('t.i16', -32768),
  meta.u32('t.u32', 4294967295),
  meta.i32('t.i32', -2147483648),
  meta.f32('t.f32', Math.fround(-1.25e-7)),
  meta.bool('t.bool', true),
  meta.string('t.string', 'héllo {{ bos_token }} 🙂\n'),
  meta.u64('t.u64', 2n ** 64n - 1n),
  meta.i64('t.i64', -(2n ** 63n)),
  meta.f64('t.f64', Math.PI),
  meta.string('t.empty', ''),
  meta.stringArray('t.strings', ['<unk>', '', 'ünï', 'a b']),
  meta.array('t.bools', GGUFValueType.BOOL, [true, false, true]),
  meta.array('t.u64s', GGUFValueType.UINT64, [0n, 2n ** 63n]),
  meta.array('t.i64s', GGUFValueType.INT64, [-1n, 2n ** 62n]),
  meta.array('t.i8s', GGUFValueType.INT8, [-1, 0, 127]),
  meta.array('t.u16s', GGUFValueType.UINT16, [1, 65535]),
  meta.array('t.i16s', GGUFValueType.INT16, [-2, 300]),
  meta.i32Array('t.i32s', [-7, 7]),
  meta.u32Array('t.u32s', [1, 4294967295]),
  meta.f32Array('t.f32s', [0.5, -2, Math.fround(0.1)]),
  meta.array('t.f64s', GGUFValueType.FLOAT64, [0.1, -1e300]),
  meta.array('t.u8s', GGUFValueType.UINT8, []),
  meta.string('tokenizer.chat_template', "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"),
];

async function build(entries: GGUFMetadataEntry[], tensors: { name: string; shape: number[]; type: GGMLType }[], opts: { alignment?: number } = {}): Promise<Uint8Array> {
  const sink = memorySink();
  const w = new GGUFWriter(sink, opts);
  w.addMetadata(entries);
  for (const t of tensors) w.addTensorInfo(t);
  for (const t of w.tensorInfos()) {
    const data = new Uint8Array(t.byteSize);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + t.name.length) & 0xff;
    await w.writeTensorData(t.name, data);
  }
  await w.finish();
  return sink.bytes();
}

describe('interoperability with llama.cpp\'s gguf-py writer (tests/fixtures/make_reference.py)', () => {
  it('reads every value type gguf-py wrote, and rewrites the file byte for byte with offsets the writer plans', async () => {
    const original = new Uint8Array(readFileSync(`${REPO_ROOT}/tests/fixtures/gguf-py-every-type.gguf`));
    const src = bytesSource(original, 'gguf-py-every-type.gguf');
    const f = await readGGUF(src);
    const typeOf = (k: string): string => GGUFValueType[f.metadata.find((e) => e.key === k)!.type]!;
    expect(getMeta(f, 't.u64')).toBe(2n ** 64n - 1n);
    expect(typeOf('t.u64')).toBe('UINT64');
    expect(getMeta(f, 't.i64')).toBe(-(2n ** 63n));
    expect(getMeta(f, 't.i8')).toBe(-128);
    expect(getMeta(f, 't.f32')).toBe(Math.fround(-1.25e-7));
    expect(getMeta(f, 't.f64')).toBe(Math.PI);
    expect(getMeta(f, 't.string')).toBe('héllo {{ bos_token }} 🙂\n');
    expect(getMeta(f, 't.strings')).toEqual(['<unk>', '', 'ünï', 'a b']);
    expect(getMeta(f, 't.ints')).toEqual([-7, 7, 1000]);
    expect(getMeta(f, 't.bools')).toEqual([true, false, true]);
    expect(summarize(f)).toMatchObject({ architecture: 'test', name: 'every-type', hasChatTemplate: true, tensorTypes: { F32: 1, F16: 1, Q8_0: 1 } });
    const a = f.tensors.find((t) => t.name === 'a.weight')!;
    expect(a.shape).toEqual([32, 2]); // numpy shape (2, 32) is ne [32, 2]
    const values = new Float32Array((await readTensorData(src, f, a)).slice().buffer);
    expect(Array.from(values)).toEqual(Array.from({ length: 64 }, (_, i) => (i - 32) / 8));
    const out = await rewrite(src, f, f.metadata, false);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(original))).toBe(0);
  });
});

describe('writer', () => {
  it('round-trips every metadata value type, 64-bit integers as bigint, arrays of strings', async () => {
    const out = await build(everyType, []);
    const f = await readGGUF(bytesSource(out, 'types.gguf'));
    expect(f.metadata).toEqual(everyType);
    expect(typeof getMeta(f, 't.u64')).toBe('bigint');
    expect(f.tensors).toEqual([]);
    expect(summarize(f).hasChatTemplate).toBe(true);
    expect(summarize(f).chatTemplate).toContain("m['role']");
  });

  it('respects the alignment: data offset, every tensor offset and the file end; records general.alignment', async () => {
    const tensors = [
      { name: 'a', shape: [3], type: GGMLType.F32 },
      { name: 'b', shape: [32, 3], type: GGMLType.Q8_0 },
      { name: 'c', shape: [5, 1], type: GGMLType.F16 },
    ];
    const out = await build([meta.string('general.architecture', 'test')], tensors, { alignment: 64 });
    const f = await readGGUF(bytesSource(out, 'aligned.gguf'));
    expect(f.alignment).toBe(64);
    expect(getMeta(f, 'general.alignment')).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    expect(f.tensors.map((t) => t.offset)).toEqual([0, 64, 192]);
    expect(f.tensors.map((t) => t.byteSize)).toEqual([12, 102, 10]);
    expect(out.byteLength % 64).toBe(0);
    // Padding is zeros.
    expect(Array.from(out.subarray(f.dataOffset + 12, f.dataOffset + 64)).every((b) => b === 0)).toBe(true);
    // The default alignment is not written as a key.
    const def = await readGGUF(bytesSource(await build([], tensors), 'default.gguf'));
    expect(getMeta(def, 'general.alignment')).toBeUndefined();
    expect(def.tensors.map((t) => t.offset)).toEqual([0, 32, 160]);
  });

  it('layoutTensors plans the same offsets the writer uses', () => {
    const plan = layoutTensors(
      [
        { name: 'x', shape: [64, 2], type: GGMLType.Q4_0 },
        { name: 'y', shape: [7], type: GGMLType.F32 },
      ],
      32,
    );
    expect(plan.map((t) => [t.offset, t.byteSize, t.nElements])).toEqual([
      [0, 72, 128],
      [96, 28, 7],
    ]);
    expect(plan.dataSize).toBe(128);
    expect(tensorByteSize(GGMLType.Q6_K, 512)).toBe(420);
    expect(() => layoutTensors([{ name: 'z', shape: [100], type: GGMLType.Q8_0 }])).toThrow(/rows of 100 elements cannot be stored as Q8_0/);
  });

  it('refuses calls out of order', async () => {
    const w = new GGUFWriter(memorySink());
    w.addMetadata(meta.string('general.architecture', 'test'));
    w.addTensorInfo({ name: 'a', shape: [4], type: GGMLType.F32 });
    w.addTensorInfo({ name: 'b', shape: [4], type: GGMLType.F32 });
    expect(() => w.addMetadata(meta.u32('late', 1))).toThrow(/metadata must all be added before the first tensor info/);
    await expect(w.writeTensorData('b', new Uint8Array(16))).rejects.toThrow(/tensor a must be written before b/);
    await w.writeTensorData('a', new Uint8Array(8)); // first half of a
    await expect(w.writeTensorData('b', new Uint8Array(16))).rejects.toThrow(/tensor a must be written to its end before b/);
    await w.writeTensorData('a', new Uint8Array(8)); // second half: chunks are allowed
    expect(() => w.addTensorInfo({ name: 'c', shape: [4], type: GGMLType.F32 })).toThrow(/every tensor info must be added before the first tensor data/);
    await expect(w.writeTensorData('zz', new Uint8Array(16))).rejects.toThrow(/no tensor info named zz/);
    await expect(w.writeTensorData('b', new Uint8Array(20))).rejects.toThrow(/20 bytes given but a F32 tensor of shape \[4\] has 16/);
    await expect(w.finish()).rejects.toThrow(/tensor data missing for 1 tensor\(s\): b/);
    await w.writeTensorData('b', new Uint8Array(16));
    await expect(w.writeTensorData('b', new Uint8Array(1))).rejects.toThrow(/every tensor is already written/);
    await w.finish();
    await expect(w.finish()).rejects.toThrow(GGUFError);
    expect(() => w.addMetadata([])).toThrow(/writer state: done/);
  });

  it('rejects bad metadata and tensor infos at the call that adds them', () => {
    const w = new GGUFWriter(memorySink());
    expect(() => w.addMetadata(meta.u8('x', 300))).toThrow(/Metadata x: 300 \(number\) is not a valid UINT8/);
    expect(() => w.addMetadata(meta.u64('y', 1.5 as unknown as bigint))).toThrow(/not a valid UINT64/);
    expect(() => w.addMetadata({ key: 'z', type: GGUFValueType.ARRAY, value: [1] })).toThrow(/needs an array value and a scalar arrayType/);
    w.addMetadata(meta.string('k', 'v'));
    expect(() => w.addMetadata(meta.string('k', 'again'))).toThrow(/added twice/);
    expect(() => new GGUFWriter(memorySink(), { alignment: 48 })).toThrow(/power of two/);
    expect(() => w.addMetadata(meta.u32('general.alignment', 48))).toThrow(/power of two, got 48/);
    expect(() => new GGUFWriter(memorySink(), { alignment: 64 }).addMetadata(meta.u32('general.alignment', 32))).toThrow(/general\.alignment is 32 but the writer was created with alignment 64/);
    w.addTensorInfo({ name: 't', shape: [32], type: GGMLType.Q8_0 });
    expect(() => w.addTensorInfo({ name: 't', shape: [32], type: GGMLType.Q8_0 })).toThrow(/Tensor t was added twice/);
    expect(() => w.addTensorInfo({ name: 'u', shape: [1, 2, 3, 4, 5], type: GGMLType.F32 })).toThrow(/at most 4/);
    expect(() => w.addTensorInfo({ name: 'v', shape: [4], type: 77 as GGMLType })).toThrow(/unknown GGML type 77/);
  });

  it('reads a header far larger than the first read (a 40,000-token vocabulary) in a few growing reads', async () => {
    const tokens = Array.from({ length: 40000 }, (_, i) => (i % 3 === 0 ? `▁wörd${i}` : `tok${i}`));
    const out = await build([meta.string('general.architecture', 'llama'), meta.stringArray('tokenizer.ggml.tokens', tokens), meta.f32Array('tokenizer.ggml.scores', tokens.map((_, i) => -i))], [
      { name: 'token_embd.weight', shape: [32, 40000], type: GGMLType.Q8_0 },
    ]);
    const reads: number[] = [];
    const inner = bytesSource(out, 'vocab.gguf');
    const counting: ByteSource = { name: inner.name, size: inner.size, read: (o, l) => (reads.push(l), inner.read(o, l)) };
    const f = await readGGUF(counting);
    expect(f.dataOffset).toBeGreaterThan(500_000);
    expect(getMeta(f, 'tokenizer.ggml.tokens')).toEqual(tokens);
    expect((getMeta(f, 'tokenizer.ggml.scores') as number[])[39999]).toBe(-39999);
    expect(summarize(f).vocabSize).toBe(40000);
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.length).toBeLessThanOrEqual(6);
    // Never more than twice the header is read to parse it.
    expect(reads.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2 * f.dataOffset + 65536);
  });

  it('a rejected entry leaves nothing behind: the file has exactly the accepted entries', async () => {
    const sink = memorySink();
    const w = new GGUFWriter(sink);
    w.addMetadata(meta.string('a', 'x'));
    expect(() => w.addMetadata([meta.string('b', 'y'), meta.i8('c', 1000)])).toThrow(/c: 1000/);
    expect(() => w.addMetadata(meta.u32('general.alignment', 3))).toThrow(/power of two/);
    w.addMetadata(meta.string('d', 'z'));
    await w.finish();
    const f = await readGGUF(bytesSource(sink.bytes(), 'partial.gguf'));
    expect(f.metadata.map((e) => e.key)).toEqual(['a', 'b', 'd']);
    expect(f.alignment).toBe(32);
  });

  it('writes a file with no tensors', async () => {
    const sink = memorySink();
    const w = new GGUFWriter(sink);
    w.addMetadata(meta.string('general.architecture', 'none'));
    await w.finish();
    const f = await readGGUF(bytesSource(sink.bytes(), 'empty.gguf'));
    expect(f.tensors).toEqual([]);
    expect(sink.bytes().byteLength % 32).toBe(0);
  });
});
