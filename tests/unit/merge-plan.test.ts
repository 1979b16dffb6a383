/**
 * Planner and streaming executor on the real stories260K.gguf: compatibility errors name the
 * tensor, shapes and files; self-merges reproduce the model; gradients and filters reach the
 * right tensors; progress, statistics and cancel work; metadata keeps the tokenizer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.ts';
import { storiesBytes as loadStories, storiesVariant, type VariantEdit } from './merge-fixtures.ts';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import {
  bytesSource, getMeta, memorySink, readGGUF, readTensorData, setMeta, meta,
  type GGUFFile, type GGUFMetadataEntry,
} from '../../src/lib/merge/gguf/index.ts';
import { planMerge, MergePlanError, type MergeInput } from '../../src/lib/merge/plan.ts';
import { executeMerge, MergeAbortedError, type MergeProgress } from '../../src/lib/merge/stream.ts';
import type { TensorStats } from '../../src/lib/merge/methods/index.ts';

const storiesBytes = loadStories();

async function open(bytes: Uint8Array, name: string, ref = name): Promise<MergeInput> {
  const source = bytesSource(bytes, name);
  return { ref, source, file: await readGGUF(source) };
}

const variant = (edit: VariantEdit) => storiesVariant(edit, storiesBytes);

async function run(yaml: string, inputs: MergeInput[], opts: { signal?: AbortSignal; onProgress?: (p: MergeProgress) => void; onStats?: (s: TensorStats) => void } = {}) {
  const plan = planMerge(parseMergeConfig(yaml, 'test.yaml'), inputs, { created: '2026-01-01T00:00:00Z' });
  const sink = memorySink();
  const result = await executeMerge(plan, { sink, ...opts, progressIntervalMs: 0 });
  const bytes = sink.bytes();
  const out = await open(bytes, 'out.gguf');
  return { plan, result, bytes, out };
}

async function tensorF32(inp: MergeInput, name: string): Promise<Float32Array> {
  const t = inp.file.tensors.find((x) => x.name === name)!;
  const b = await readTensorData(inp.source, inp.file, t);
  return new Float32Array(b.slice().buffer);
}

function sameTensors(a: GGUFFile, b: GGUFFile) {
  expect(a.tensors.map((t) => [t.name, t.shape, t.type])).toEqual(b.tensors.map((t) => [t.name, t.shape, t.type]));
}

describe('merge of stories260K with itself', () => {
  it('linear, equal weights: every tensor byte-identical, tokenizer kept, provenance added, size as planned', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const b = await open(storiesBytes, 'stories260K.gguf', 'b.gguf');
    const { plan, result, bytes, out } = await run('merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1}\n  - model: b.gguf\n    parameters: {weight: 1}\n', [a, b]);
    expect(bytes.length).toBe(plan.outputSize);
    expect(result.tensors).toBe(a.file.tensors.length);
    sameTensors(out.file, a.file);
    for (const t of a.file.tensors) {
      const want = await readTensorData(a.source, a.file, t);
      const got = await readTensorData(out.source, out.file, out.file.tensors.find((x) => x.name === t.name)!);
      expect(Buffer.from(got).equals(Buffer.from(want)), t.name).toBe(true);
    }
    for (const k of ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.bos_token_id', 'llama.block_count']) {
      expect(getMeta(out.file, k), k).toEqual(getMeta(a.file, k));
    }
    expect(getMeta(out.file, 'chorus.provenance.method')).toBe('linear');
    expect(getMeta(out.file, 'chorus.provenance.inputs')).toEqual(['stories260K.gguf', 'stories260K.gguf']);
    expect(JSON.parse(String(getMeta(out.file, 'chorus.provenance.parameters'))).models[0].parameters.weight).toBe(1);
    expect(String(getMeta(out.file, 'general.name'))).toMatch(/linear merge/);
  });

  it('task_arithmetic with weight 0 equals the base, bit for bit', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    const other = await open(await variant({ scale: 1.5 }), 'scaled.gguf', 'other.gguf');
    const { out } = await run('merge_method: task_arithmetic\nbase_model: base.gguf\nmodels:\n  - model: other.gguf\n    parameters: {weight: 0}\n', [other, base]);
    for (const t of base.file.tensors) expect(Array.from(await tensorF32(out, t.name)), t.name).toEqual(Array.from(await tensorF32(base, t.name)));
  });

  it('slerp with a per-layer gradient t: [0, 1] gives the base at layer 0 and the other model at the last layer; non-layer tensors take t = 0', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    const other = await open(await variant({ scale: -0.5 }), 'flip.gguf', 'other.gguf');
    const { out } = await run('merge_method: slerp\nbase_model: base.gguf\nmodels: [{model: base.gguf}, {model: other.gguf}]\nparameters:\n  t: [0, 1]\n', [base, other]);
    const near = (x: Float32Array, y: Float32Array) => x.every((v, i) => Math.abs(v - y[i]!) <= 1e-6 * (1 + Math.abs(y[i]!)));
    expect(near(await tensorF32(out, 'blk.0.attn_q.weight'), await tensorF32(base, 'blk.0.attn_q.weight'))).toBe(true);
    expect(near(await tensorF32(out, 'blk.4.attn_q.weight'), await tensorF32(other, 'blk.4.attn_q.weight'))).toBe(true);
    expect(near(await tensorF32(out, 'token_embd.weight'), await tensorF32(base, 'token_embd.weight'))).toBe(true);
    // Layer 2 sits at t = 0.5: the anti-parallel inputs (other = −0.5·base) make lerp: 0.5·x − 0.25·x.
    const mid = await tensorF32(out, 'blk.2.attn_q.weight');
    const x = await tensorF32(base, 'blk.2.attn_q.weight');
    expect(near(mid, x.map((v) => 0.25 * v))).toBe(true);
  });

  it('filters: a {filter: self_attn} condition (an HF name) reaches GGUF attn_* tensors only', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    const other = await open(await variant({ scale: 2 }), 'x2.gguf', 'other.gguf');
    const yaml = 'merge_method: task_arithmetic\nbase_model: base.gguf\nmodels:\n  - model: other.gguf\n    parameters:\n      weight:\n        - filter: self_attn\n          value: 1\n        - value: 0\n';
    const { out } = await run(yaml, [base, other]);
    expect(Array.from(await tensorF32(out, 'blk.1.attn_k.weight'))).toEqual(Array.from(await tensorF32(other, 'blk.1.attn_k.weight')));
    expect(Array.from(await tensorF32(out, 'blk.1.ffn_up.weight'))).toEqual(Array.from(await tensorF32(base, 'blk.1.ffn_up.weight')));
  });

  it('reports progress (monotonic, ends at the total) and per-tensor statistics (task-vector norms, kept share, sign agreement)', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    const o1 = await open(await variant({ scale: 1.1 }), 'a.gguf', 'a.gguf');
    const o2 = await open(await variant({ scale: 0.8 }), 'b.gguf', 'b.gguf');
    const progress: MergeProgress[] = [];
    const stats: TensorStats[] = [];
    await run('merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1, density: 0.5}\n  - model: b.gguf\n    parameters: {weight: 1, density: 0.5}\n', [base, o1, o2], { onProgress: (p) => progress.push(p), onStats: (s) => stats.push(s) });
    expect(progress.at(-1)!.tensorsDone).toBe(base.file.tensors.length);
    expect(progress.at(-1)!.bytesRead).toBe(progress.at(-1)!.bytesTotal);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytesRead).toBeGreaterThan(progress[i - 1]!.bytesRead);
    const q = stats.find((s) => s.name === 'blk.0.attn_q.weight')!;
    expect(q.kept).toEqual([0.5, 0.5]);
    // a = 1.1x and b = 0.8x: task vectors 0.1x and −0.2x point in opposite directions everywhere.
    expect(q.signAgreement).toBeCloseTo(0.5, 1);
    expect(q.taskVectorNorms[1]! / q.taskVectorNorms[0]!).toBeCloseTo(2, 4);
  });

  it('cancel: an aborted signal stops the merge with MergeAbortedError', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const ctl = new AbortController();
    const plan = planMerge(parseMergeConfig('merge_method: linear\nmodels: [{model: a.gguf, parameters: {weight: 1}}]\n'), [a]);
    const sink = memorySink();
    await expect(executeMerge(plan, { sink, signal: ctl.signal, progressIntervalMs: 0, onProgress: (p) => { if (p.tensorsDone === 3) ctl.abort(); } })).rejects.toBeInstanceOf(MergeAbortedError);
    expect(sink.length).toBeLessThan(plan.outputSize);
  });

  it('dtype float16 / q8_0 changes the output types and general.file_type; sizes match the plan', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const f16 = await run('merge_method: linear\ndtype: float16\nmodels: [{model: a.gguf, parameters: {weight: 1}}]\n', [a]);
    expect(new Set(f16.out.file.tensors.map((t) => t.type))).toEqual(new Set([1]));
    const q8 = await run('merge_method: linear\ndtype: q8_0\nmodels: [{model: a.gguf, parameters: {weight: 1}}]\n', [a]);
    const ty = Object.fromEntries(q8.out.file.tensors.map((t) => [t.name, t.type]));
    expect(ty['blk.0.attn_q.weight']).toBe(8);
    expect(ty['blk.0.attn_norm.weight']).toBe(0); // vectors stay F32
    expect(ty['blk.0.ffn_down.weight']).toBe(1); // rows of 172 are not whole Q8_0 blocks → F16
    expect(q8.bytes.length).toBe(q8.plan.outputSize);
  });
});

describe('planner errors name the tensor, the shapes and the files', () => {
  const yaml = 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1}\n  - model: b.gguf\n    parameters: {weight: 1}\n';
  const cfg = () => parseMergeConfig(yaml);
  it('shape mismatch', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const b = await open(await variant({ replace: { 'blk.3.attn_q.weight': { shape: [32, 64], data: new Float32Array(2048) } } }), 'reshaped.gguf', 'b.gguf');
    const e = (() => { try { planMerge(cfg(), [a, b]); } catch (x) { return x as MergePlanError; } return null; })();
    expect(e).toBeInstanceOf(MergePlanError);
    expect(e!.code).toBe('shape');
    expect(e!.message).toBe('reshaped.gguf: tensor blk.3.attn_q.weight is [32, 64] here and [64, 64] in stories260K.gguf — these checkpoints cannot be merged');
  });
  it('missing tensor', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const b = await open(await variant({ drop: ['blk.4.ffn_up.weight'] }), 'dropped.gguf', 'b.gguf');
    expect(() => planMerge(cfg(), [a, b])).toThrow('dropped.gguf has no tensor blk.4.ffn_up.weight, which stories260K.gguf has');
  });
  it('vocabulary mismatch names the token', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const edit = (m: GGUFMetadataEntry[]) => m.map((e) => (e.key === 'tokenizer.ggml.tokens' ? { ...e, value: (e.value as string[]).map((t, i) => (i === 300 ? 'XYZ' : t)) } : e));
    const b = await open(await variant({ metadata: edit }), 'othervocab.gguf', 'b.gguf');
    expect(() => planMerge(cfg(), [a, b])).toThrow(/othervocab.gguf and stories260K.gguf have different vocabularies: token 300 is "XYZ"/);
  });
  it('architecture mismatch', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const b = await open(await variant({ metadata: (m) => setMeta(m, meta.string('general.architecture', 'qwen2')) }), 'qwen.gguf', 'b.gguf');
    expect(() => planMerge(cfg(), [a, b])).toThrow('qwen.gguf is a qwen2 model and stories260K.gguf is llama');
  });
  it('a parameter that would empty a tensor names the tensor', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    const o = await open(storiesBytes, 'stories260K.gguf', 'o.gguf');
    const c = parseMergeConfig('merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: o.gguf\n    parameters: {weight: 1, density: 0.01}\n');
    expect(() => planMerge(c, [o, base])).toThrow(/ties, tensor output_norm.weight: density 0.01 keeps ⌊0.01·64⌋ = 0 of the 64 entries/);
  });
  it('plan reports sizes, an estimated time and per-tensor tasks', async () => {
    const a = await open(storiesBytes, 'stories260K.gguf', 'a.gguf');
    const plan = planMerge(parseMergeConfig('merge_method: linear\nmodels: [{model: a.gguf, parameters: {weight: 1}}]\n'), [a]);
    expect(plan.tasks.length).toBe(48);
    expect(plan.inputBytes).toBe(a.file.tensors.reduce((s, t) => s + t.byteSize, 0));
    expect(plan.outputSize).toBeGreaterThan(plan.inputBytes);
    expect(plan.estimatedSeconds).toBeGreaterThan(0);
  });
});

describe('chat template: kept when the base has none (real GGUF bytes)', () => {
  const specialist = () => new Uint8Array(readFileSync(join(REPO_ROOT, 'public/models/arithmetic-specialist.gguf')));
  it('ties with base stories260K (no template) and two pool specialists keeps the first input\'s template and says so', async () => {
    const base = await open(storiesBytes, 'stories260K.gguf', 'base.gguf');
    expect(getMeta(base.file, 'tokenizer.chat_template')).toBeUndefined();
    const arith = await open(specialist(), 'arithmetic-specialist.gguf', 'a.gguf');
    const world = await open(new Uint8Array(readFileSync(join(REPO_ROOT, 'public/models/world-specialist.gguf'))), 'world-specialist.gguf', 'w.gguf');
    const template = getMeta(arith.file, 'tokenizer.chat_template');
    expect(typeof template).toBe('string');
    const { plan, out } = await run('merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1, density: 0.5}\n  - model: w.gguf\n    parameters: {weight: 1, density: 0.5}\n', [base, arith, world]);
    expect(getMeta(out.file, 'tokenizer.chat_template')).toBe(template);
    expect(getMeta(out.file, 'chorus.provenance.chat_template')).toBe('arithmetic-specialist.gguf');
    expect(plan.chatTemplateFrom).toBe('arithmetic-specialist.gguf');
    expect(plan.notes).toContain('stories260K.gguf (the base) has no chat template; the output keeps the one of arithmetic-specialist.gguf');
  });
  it('the base\'s own template wins when it has one; none anywhere gives none', async () => {
    const arith = await open(specialist(), 'arithmetic-specialist.gguf', 'a.gguf');
    const other = await open(storiesBytes, 'stories260K.gguf', 'o.gguf');
    const { plan, out } = await run('merge_method: task_arithmetic\nbase_model: a.gguf\nmodels:\n  - model: o.gguf\n    parameters: {weight: 0}\n', [arith, other]);
    expect(getMeta(out.file, 'tokenizer.chat_template')).toBe(getMeta(arith.file, 'tokenizer.chat_template'));
    expect(plan.chatTemplateFrom).toBe('arithmetic-specialist.gguf');
    expect(plan.notes.some((n) => /chat template/.test(n))).toBe(false);
    const bare = await run('merge_method: linear\nmodels:\n  - model: o.gguf\n    parameters: {weight: 1}\n', [other]);
    expect(getMeta(bare.out.file, 'tokenizer.chat_template')).toBeUndefined();
    expect(bare.plan.chatTemplateFrom).toBeNull();
  });
});

