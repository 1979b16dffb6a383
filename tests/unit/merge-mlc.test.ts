/**
 * MLC (web-llm) weights, on synthetic tensor caches built in the test with Chorus's own encoder
 * (real MLC weights cannot be downloaded here): codec round trips and known bytes, cache
 * validation, and merges over caches (self-merge reproduces the weights; a linear merge equals the
 * straightforward average within the quantisation error; shape mismatches are refused).
 */
import { describe, expect, it } from 'vitest';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import { MlcFormatError, decodeParam, encodeParam, listParams, parseTensorCache, type TensorCache } from '../../src/lib/merge/mlc/format.ts';
import { mergeMlc, mergedModelRecord, type MlcInput } from '../../src/lib/merge/mlc/merge.ts';
import { LAYOUT, rand, synthetic } from '../support/mlc-synthetic.ts';

function input(ref: string, s: ReturnType<typeof synthetic>): MlcInput {
  return { ref, name: ref, cache: s.cache, read: async (path, off, len) => s.files.get(path)!.slice(off, off + len) };
}

function memoryOut() {
  const files = new Map<string, Uint8Array>();
  return { files, writeFile: async (name: string, bytes: Uint8Array) => void files.set(name, bytes) };
}

async function decodeAll(cache: TensorCache, files: Map<string, Uint8Array>) {
  const out = new Map<string, Float32Array>();
  for (const p of listParams(cache)) out.set(p.name, decodeParam(p, p.parts.map((part) => files.get(part.dataPath)!.slice(part.record.byteOffset, part.record.byteOffset + part.record.nbytes))));
  return out;
}

describe('synthetic MLC codecs', () => {
  it('q4f16_1 known bytes: scale = max|w|/7 as f16, nibble k of a word is element k, zero point 7', () => {
    const v = new Float32Array(32);
    v[0] = 0.7; // → q = 14
    v[1] = -0.7; // → q = 0
    v[2] = 0.1; // → q = 8
    v[9] = -0.35; // → round(−3.5) = −4 (half away from zero) → q = 3
    const [q, s] = encodeParam('q4f16_1', v);
    expect(Array.from(s!)).toEqual([0x66, 0x2e]); // f16(0.1) = 0x2E66
    const w0 = new DataView(q!.buffer).getUint32(0, true);
    expect(w0 & 15).toBe(14);
    expect((w0 >>> 4) & 15).toBe(0);
    expect((w0 >>> 8) & 15).toBe(8);
    expect((w0 >>> 12) & 15).toBe(7);
    expect(new DataView(q!.buffer).getUint32(4, true) & 0xf0).toBe(3 << 4);
  });
  for (const kind of ['q4f16_1', 'q4f32_1', 'f16', 'bf16-f32', 'f32'] as const) {
    it(`${kind} round-trips within its quantisation error`, () => {
      const v = rand(7, 64 * 32, 0.5);
      const shape = [64, 32];
      const parts = encodeParam(kind, v);
      const back = decodeParam({ name: 'x', kind, shape, parts: [] }, parts);
      for (let g = 0; g < v.length / 32; g++) {
        let maxAbs = 0;
        for (let i = 0; i < 32; i++) maxAbs = Math.max(maxAbs, Math.abs(v[g * 32 + i]!));
        for (let i = 0; i < 32; i++) {
          const x = v[g * 32 + i]!, y = back[g * 32 + i]!;
          const bound = kind.startsWith('q4') ? (maxAbs / 7) * 0.5 * 1.002 + 1e-7 : kind === 'f16' ? Math.abs(x) * 2 ** -11 + 1e-7 : kind === 'bf16-f32' ? Math.abs(x) * 2 ** -8 : 0;
          expect(Math.abs(x - y)).toBeLessThanOrEqual(bound);
        }
      }
      // Encoding decoded values again gives the same bytes (idempotent).
      expect(encodeParam(kind, back).map((b) => Array.from(b))).toEqual(parts.map((b) => Array.from(b)));
    });
  }
});

describe('synthetic MLC tensor cache', () => {
  it('lists logical parameters (q_weight + q_scale → one) with their kinds and shapes', () => {
    const { cache } = synthetic(1);
    const params = listParams(parseTensorCache(JSON.stringify(cache)));
    expect(params.map((p) => [p.name, p.kind, p.shape.join('x')])).toEqual(LAYOUT.map((p) => [p.name, p.kind, p.shape.join('x')]));
  });
  it('refuses broken caches with messages that say what is wrong', () => {
    const { cache } = synthetic(1);
    expect(() => parseTensorCache('{nope', 'ndarray-cache.json')).toThrow(/ndarray-cache.json is not valid JSON/);
    const bad = structuredClone(cache);
    bad.records[0]!.records[1]!.byteOffset = bad.records[0]!.nbytes - 4;
    expect(() => parseTensorCache(JSON.stringify(bad))).toThrow(/runs past params_shard_0.bin|overlaps/);
    const noScale = structuredClone(cache);
    noScale.records[0]!.records = noScale.records[0]!.records.filter((r) => r.name !== 'model.embed_tokens.q_scale');
    expect(() => listParams(noScale)).toThrow(MlcFormatError);
  });
});

describe('synthetic MLC merges', () => {
  it('linear self-merge reproduces every parameter bit for bit', async () => {
    const a = synthetic(1);
    const out = memoryOut();
    const cfg = parseMergeConfig('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n');
    const cache = await mergeMlc(cfg, [input('a', a), input('b', a)], out);
    const got = await decodeAll(cache, out.files);
    const want = await decodeAll(a.cache, a.files);
    for (const [name, v] of want) expect(Array.from(got.get(name)!), name).toEqual(Array.from(v));
    expect(JSON.parse(new TextDecoder().decode(out.files.get('tensor-cache.json')!)).metadata['chorus.merge'].method).toBe('linear');
  });
  it('linear merge of two checkpoints = the average of their decoded weights, within the output quantisation error; shards respect the size limit', async () => {
    const a = synthetic(1), b = synthetic(2);
    const out = memoryOut();
    const cfg = parseMergeConfig('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n');
    const cache = await mergeMlc(cfg, [input('a', a), input('b', b)], out, { shardBytes: 4096 });
    expect(cache.records.length).toBeGreaterThan(2);
    for (const s of cache.records) expect(out.files.get(s.dataPath)!.byteLength).toBe(s.nbytes);
    const da = await decodeAll(a.cache, a.files), db = await decodeAll(b.cache, b.files), dm = await decodeAll(cache, out.files);
    for (const p of LAYOUT) {
      const avg = da.get(p.name)!.map((x, i) => (x + db.get(p.name)![i]!) / 2);
      const m = dm.get(p.name)!;
      const tol = p.kind.startsWith('q4') ? 0.1 / 7 : p.kind === 'f32' ? 1e-7 : 1e-3;
      for (let i = 0; i < avg.length; i++) expect(Math.abs(m[i]! - avg[i]!), `${p.name}[${i}]`).toBeLessThanOrEqual(tol);
    }
  });
  it('task arithmetic weight 0 returns the base; a per-layer gradient reaches MLC layer names', async () => {
    const base = synthetic(1), other = synthetic(3);
    const out = memoryOut();
    const cfg = parseMergeConfig('merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: other\n    parameters:\n      weight: [0, 1]\n');
    const cache = await mergeMlc(cfg, [input('base', base), input('other', other)], out);
    const dm = await decodeAll(cache, out.files), dbase = await decodeAll(base.cache, base.files), dother = await decodeAll(other.cache, other.files);
    // layer 0 → weight 0 (the base); layer 1 → weight 1 (the other model); outside layers t = 0.
    expect(Array.from(dm.get('model.layers.0.self_attn.qkv_proj')!)).toEqual(Array.from(dbase.get('model.layers.0.self_attn.qkv_proj')!));
    expect(Array.from(dm.get('model.embed_tokens')!)).toEqual(Array.from(dbase.get('model.embed_tokens')!));
    expect(Array.from(dm.get('model.layers.1.mlp.down_proj')!)).toEqual(Array.from(dother.get('model.layers.1.mlp.down_proj')!));
  });
  it('refuses checkpoints of different shapes, naming the parameter and the shapes', async () => {
    const a = synthetic(1);
    const b = synthetic(2, LAYOUT.map((p) => (p.name === 'lm_head' ? { ...p, shape: [32, 64] } : p)));
    const cfg = parseMergeConfig('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]\n');
    const out = memoryOut();
    await expect(mergeMlc(cfg, [input('a', a), input('b', b)], out)).rejects.toThrow('b: lm_head is [32, 64] here and [48, 64] in a — these checkpoints cannot be merged');
    expect(out.files.size).toBe(0);
  });
  it('refuses slices and tokenizer / chat-template options (GGUF only), writing nothing', async () => {
    const a = synthetic(1);
    const out = memoryOut();
    const sliced = parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n');
    await expect(mergeMlc(sliced, [input('a', a)], out)).rejects.toThrow(/slices \(layer stacking\) apply to GGUF merges only/);
    const templated = parseMergeConfig('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\nchat_template: chatml\n');
    await expect(mergeMlc(templated, [input('a', a)], out)).rejects.toThrow(/tokenizer_source and chat_template apply to GGUF merges only/);
    expect(out.files.size).toBe(0);
  });
  it('the merged model record reuses the parent model library', () => {
    const parent = { model: 'https://huggingface.co/mlc-ai/X-q4f16_1-MLC', model_id: 'X-q4f16_1-MLC', model_lib: 'https://example/X-q4f16_1-webgpu.wasm', overrides: { context_window_size: 2048 } };
    const r = mergedModelRecord(parent, 'X-merged', 'https://local/merged/');
    expect(r).toEqual({ ...parent, model: 'https://local/merged/', model_id: 'X-merged' });
  });
});
