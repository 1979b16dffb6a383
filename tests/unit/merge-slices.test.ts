/**
 * mergekit's config features on real checkpoints (stories260K and the pool's specialists):
 * `slices:` that stack and renumber layers (checked against the source layers' own bytes and a
 * straightforward per-layer average, and loaded and run by llama.cpp), per-layer metadata arrays,
 * `tokenizer_source` / `tokenizer.source`, `chat_template` (auto, a built-in name, a model, a
 * template), the explicit base that TIES-family methods need, and every bad slice refused by name.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LlamaCompletion } from 'node-llama-cpp';
import { REPO_ROOT } from '../support/paths.ts';
import { storiesBytes as loadStories, storiesVariant } from './merge-fixtures.ts';
import { CHAT_TEMPLATES, MergeConfigError, parseMergeConfig } from '../../src/lib/merge/config.ts';
import { GGUFValueType, bytesSource, getMeta, memorySink, meta, readGGUF, readTensorData, setMeta } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, MergePlanError, type MergeInput } from '../../src/lib/merge/plan.ts';
import { executeMerge } from '../../src/lib/merge/stream.ts';
import { loadLlama } from '../../tools/lib/llama-openai-server.ts';

const stories = loadStories();
const pool = (id: string) => new Uint8Array(readFileSync(join(REPO_ROOT, `public/models/${id}.gguf`)));
const dir = mkdtempSync(join(tmpdir(), 'chorus-slices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function open(bytes: Uint8Array, ref: string): Promise<MergeInput> {
  const source = bytesSource(bytes, ref);
  return { ref, source, file: await readGGUF(source) };
}
async function merge(yaml: string, files: Record<string, Uint8Array>) {
  const cfg = parseMergeConfig(yaml, 'test.yaml');
  const inputs = await Promise.all(Object.entries(files).map(([ref, b]) => open(b, ref)));
  const plan = planMerge(cfg, inputs, { created: '2026-01-01T00:00:00Z' });
  const sink = memorySink();
  await executeMerge(plan, { sink });
  return { plan, bytes: sink.bytes(), out: await open(sink.bytes(), 'out.gguf') };
}
async function f32(inp: MergeInput, name: string): Promise<Float32Array> {
  const t = inp.file.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${inp.ref} has no ${name}`);
  return new Float32Array((await readTensorData(inp.source, inp.file, t)).slice().buffer);
}
async function rawOf(inp: MergeInput, name: string): Promise<Buffer> {
  return Buffer.from(await readTensorData(inp.source, inp.file, inp.file.tensors.find((x) => x.name === name)!));
}
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e instanceof MergeConfigError || e instanceof MergePlanError).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}
const SUFFIXES = ['attn_q.weight', 'attn_k.weight', 'attn_v.weight', 'attn_output.weight', 'attn_norm.weight', 'ffn_gate.weight', 'ffn_down.weight', 'ffn_up.weight', 'ffn_norm.weight'];

describe('slices: layer stacking', () => {
  const franken = 'merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [0, 5]}]\n  - sources: [{model: s.gguf, layer_range: [3, 5]}]\n';
  it('passthrough [0, 5) + [3, 5): 7 layers, renumbered blk.0 … blk.6, each the bytes of its source layer; block_count 7', async () => {
    const { plan, out } = await merge(franken, { 's.gguf': stories });
    const s = await open(stories, 's.gguf');
    expect(plan.blockCount).toBe(7);
    expect(getMeta(out.file, 'llama.block_count')).toBe(7);
    const names = out.file.tensors.map((t) => t.name);
    expect(names.filter((n) => n.startsWith('blk.')).length).toBe(7 * SUFFIXES.length);
    const origin = [0, 1, 2, 3, 4, 3, 4];
    for (let k = 0; k < 7; k++) for (const suf of SUFFIXES) expect((await rawOf(out, `blk.${k}.${suf}`)).equals(await rawOf(s, `blk.${origin[k]}.${suf}`)), `blk.${k}.${suf}`).toBe(true);
    for (const n of ['token_embd.weight', 'output_norm.weight', 'output.weight']) expect((await rawOf(out, n)).equals(await rawOf(s, n)), n).toBe(true);
    expect(plan.notes.join('\n')).toMatch(/the output has 7 layers \(blk\.0 … blk\.6\), stacked from 2 slices/);
  });

  it('llama.cpp loads the 7-layer model and generates; the one-slice [0, 5) copy generates exactly what stories260K generates (greedy)', async () => {
    const { bytes: fr } = await merge(franken, { 's.gguf': stories });
    const { bytes: same } = await merge('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [0, 5]}]\n', { 's.gguf': stories });
    writeFileSync(join(dir, 'franken.gguf'), fr);
    writeFileSync(join(dir, 'same.gguf'), same);
    writeFileSync(join(dir, 'stories.gguf'), stories);
    const gen = async (file: string) => {
      const l = await loadLlama(join(dir, file));
      try {
        const ctx = await l.model.createContext({ contextSize: 256, threads: 1 });
        const text = await new LlamaCompletion({ contextSequence: ctx.getSequence() }).generateCompletion('Once upon a time', { maxTokens: 24, temperature: 0 });
        return { text, layers: l.model.fileInfo.metadata.llama?.block_count };
      } finally {
        await l.dispose();
      }
    };
    const [orig, copy, stacked] = [await gen('stories.gguf'), await gen('same.gguf'), await gen('franken.gguf')];
    expect(copy.text).toBe(orig.text);
    expect(stacked.layers).toBe(7);
    expect(stacked.text.trim().split(/\s+/).length).toBeGreaterThan(5);
    expect(stacked.text).not.toBe(orig.text);
  }, 120_000);

  it('linear over slices of two models: layer k of the output = weighted average of arith layer k and world layer k+2, with the slice gradient; head from the last slice', async () => {
    const files = { 'a.gguf': pool('arithmetic-specialist'), 'w.gguf': pool('world-specialist') };
    const yaml = `merge_method: linear
slices:
  - sources:
      - {model: a.gguf, layer_range: [0, 3], parameters: {weight: 1}}
      - {model: w.gguf, layer_range: [2, 5], parameters: {weight: [0, 1]}}
  - sources:
      - {model: w.gguf, layer_range: [4, 5], parameters: {weight: 1}}
parameters: {normalize: true}
`;
    const { out } = await merge(yaml, files);
    const a = await open(files['a.gguf'], 'a.gguf'), w = await open(files['w.gguf'], 'w.gguf');
    expect(getMeta(out.file, 'llama.block_count')).toBe(4);
    for (let k = 0; k < 3; k++) {
      const t = k / 2;
      for (const suf of ['attn_q.weight', 'ffn_down.weight', 'attn_norm.weight']) {
        const x = await f32(a, `blk.${k}.${suf}`), y = await f32(w, `blk.${k + 2}.${suf}`);
        const got = await f32(out, `blk.${k}.${suf}`);
        const want = Array.from(x, (v, i) => (1 * v + t * y[i]!) / (1 + t));
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `blk.${k}.${suf}[${i}]`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!)));
      }
    }
    expect((await rawOf(out, 'blk.3.ffn_up.weight')).equals(await rawOf(w, 'blk.4.ffn_up.weight'))).toBe(true);
    expect((await rawOf(out, 'output.weight')).equals(await rawOf(w, 'output.weight'))).toBe(true);
    // token_embd from the first slice: t = 0 gives world weight 0, so arith's embeddings.
    expect((await rawOf(out, 'token_embd.weight')).equals(await rawOf(a, 'token_embd.weight'))).toBe(true);
  });

  it('rebuilds per-layer metadata arrays from the source layers', async () => {
    const v = await storiesVariant({ metadata: (m) => setMeta(m, meta.u32Array('llama.test_per_layer', [10, 11, 12, 13, 14])) }, stories);
    const { out } = await merge(franken.replaceAll('s.gguf', 'v.gguf'), { 'v.gguf': v });
    const e = out.file.metadata.find((x) => x.key === 'llama.test_per_layer')!;
    expect(e.type).toBe(GGUFValueType.ARRAY);
    expect(e.value).toEqual([10, 11, 12, 13, 14, 13, 14]);
  });

  it('refuses bad slices by name: a range past the model, empty, fractional, unequal lengths, both models and slices, one model twice, two sources for passthrough', async () => {
    const one = { 's.gguf': stories };
    const plan = async (yaml: string) => {
      const cfg = parseMergeConfig(yaml, 'test.yaml');
      return planMerge(cfg, await Promise.all(Object.entries(one).map(([r, b]) => open(b, r))));
    };
    await expect(plan('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [3, 9]}]\n')).rejects.toThrow(
      'slices[0].sources[0].layer_range [3, 9] reaches past the 5 layers of s.gguf (layers 0 … 4); use a range within [0, 5]',
    );
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [4, 2]}]\n', 'c.yaml'))).toMatch(/slices\[0\]\.sources\[0\]\.layer_range \[4, 2\] is empty or negative/);
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [-1, 2]}]\n', 'c.yaml'))).toMatch(/layer_range \[-1, 2\] is empty or negative/);
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf, layer_range: [0, 2.5]}]\n', 'c.yaml'))).toMatch(/layer_range must be two whole numbers \[from, to\].*got \[0,2\.5\]/);
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: s.gguf}]\n', 'c.yaml'))).toMatch(/layer_range must be two whole numbers.*got null/);
    expect(refusal(() => parseMergeConfig('merge_method: linear\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}, {model: b.gguf, layer_range: [0, 3]}]\n', 'c.yaml'))).toMatch(/slices\[0\]: every source must span the same number of layers .*got 2, 3/);
    expect(refusal(() => parseMergeConfig('merge_method: linear\nmodels: [{model: a.gguf}]\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}]\n', 'c.yaml'))).toMatch(/give either "models:" .* or "slices:"/);
    expect(refusal(() => parseMergeConfig('merge_method: linear\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}, {model: a.gguf, layer_range: [2, 4]}]\n', 'c.yaml'))).toMatch(/slices\[0\] lists one model twice/);
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}, {model: b.gguf, layer_range: [0, 2]}]\n', 'c.yaml'))).toMatch(/slices\[0\]: passthrough takes at most 1 source per slice, got 2/);
    expect(refusal(() => parseMergeConfig('merge_method: ties\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}, {model: b.gguf, layer_range: [0, 2]}]\n', 'c.yaml'))).toMatch(/ties needs an explicit base_model/);
    expect(refusal(() => parseMergeConfig('merge_method: ties\nbase_model: c.gguf\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2]}, {model: b.gguf, layer_range: [0, 2]}]\n', 'c.yaml'))).toMatch(/slices\[0\]: the base model c\.gguf is not one of the slice's sources/);
    expect(refusal(() => parseMergeConfig('merge_method: passthrough\nslices:\n  - sources: [{model: a.gguf, layer_range: [0, 2], parameters: {scale: .nan}}]\n', 'c.yaml'))).toMatch(/"scale" for a\.gguf is \.nan/);
  });
});

describe('TIES-family methods need an explicit base_model (mergekit\'s rule)', () => {
  for (const id of ['ties', 'dare_ties', 'breadcrumbs_ties', 'della', 'della_linear', 'sce', 'task_arithmetic', 'ram']) {
    it(`${id} without base_model is refused, naming the setting`, () => {
      const models = id === 'sce' || id === 'ram' ? '[a.gguf, b.gguf]' : '[{model: a.gguf, parameters: {weight: 1}}, {model: b.gguf, parameters: {weight: 1}}]';
      expect(refusal(() => parseMergeConfig(`merge_method: ${id}\nmodels: ${models}\n`, 'c.yaml'))).toMatch(new RegExp(`^c\\.yaml: ${id} needs an explicit base_model .*add base_model:`));
    });
  }
});

describe('chat template and tokenizer source', () => {
  const files = (): Record<string, Uint8Array> => ({ 's.gguf': stories, 'a.gguf': pool('arithmetic-specialist'), 'w.gguf': pool('world-specialist') });
  const yaml = (extra: string) => `merge_method: task_arithmetic\nbase_model: s.gguf\nmodels:\n  - {model: a.gguf, parameters: {weight: 0.5}}\n  - {model: w.gguf, parameters: {weight: 0.5}}\n${extra}`;
  const template = (f: MergeInput) => getMeta(f.file, 'tokenizer.chat_template');
  it('without chat_template: the base has none, so the first input\'s that has one, and the log says which', async () => {
    const { plan, out } = await merge(yaml(''), files());
    const a = await open(files()['a.gguf']!, 'a.gguf');
    expect(template(out)).toBe(template(a));
    expect(plan.chatTemplateFrom).toBe('a.gguf');
    expect(getMeta(out.file, 'chorus.provenance.chat_template')).toBe('a.gguf');
    expect(plan.notes.join('\n')).toMatch(/s\.gguf \(the base\) has no chat template; the output keeps the one of a\.gguf/);
  });
  it('chat_template: auto elects the template most inputs carry; chatml the built-in; a model its own; a Jinja text itself', async () => {
    const w = await open(files()['w.gguf']!, 'w.gguf');
    const f = files();
    // A third template carried by two inputs outvotes the one of a.gguf.
    const other = '{% for m in messages %}{{ m.content }}{% endfor %}';
    f['w.gguf'] = await storiesVariant({ metadata: (m) => setMeta(m, meta.string('tokenizer.chat_template', other)) }, pool('world-specialist'));
    f['s.gguf'] = await storiesVariant({ metadata: (m) => setMeta(m, meta.string('tokenizer.chat_template', other)) }, stories);
    const auto = await merge(yaml('chat_template: auto\n'), f);
    expect(template(auto.out)).toBe(other);
    expect(auto.plan.notes.join('\n')).toMatch(/chat_template auto: 2 of 3 inputs carry the template of w\.gguf/);
    const chatml = await merge(yaml('chat_template: chatml\n'), files());
    expect(template(chatml.out)).toBe(CHAT_TEMPLATES.chatml);
    expect(getMeta(chatml.out.file, 'chorus.provenance.chat_template')).toBe('chatml');
    const named = await merge(yaml('chat_template: w.gguf\n'), files());
    expect(template(named.out)).toBe(template(w));
    const literal = await merge(yaml(`chat_template: "${other}"\n`), files());
    expect(template(literal.out)).toBe(other);
    expect(getMeta(literal.out.file, 'chorus.provenance.chat_template')).toBe('the config');
  });
  it('refuses a template that is none of these, and a model without a template', async () => {
    expect(refusal(() => parseMergeConfig(yaml('chat_template: vicuna\n'), 'c.yaml'))).toMatch(/chat_template "vicuna" is not a template: use auto, chatml, a model of this merge \(a\.gguf, w\.gguf, s\.gguf\) or a Jinja template/);
    const cfg = parseMergeConfig(yaml('chat_template: s.gguf\n'), 'c.yaml');
    const inputs = await Promise.all(Object.entries(files()).map(([r, b]) => open(b, r)));
    expect(() => planMerge(cfg, inputs)).toThrow(/chat_template names s\.gguf, which has no chat template/);
  });
  it('tokenizer_source / tokenizer.source: the output carries that model\'s tokenizer metadata; conflicting or unsupported settings are refused', async () => {
    const f = files();
    f['w.gguf'] = await storiesVariant({ metadata: (m) => setMeta(m, meta.bool('tokenizer.ggml.add_bos_token', false)) }, pool('world-specialist'));
    const viaSource = await merge(yaml('tokenizer_source: w.gguf\n'), f);
    expect(getMeta(viaSource.out.file, 'tokenizer.ggml.add_bos_token')).toBe(false);
    expect(getMeta(viaSource.out.file, 'chorus.provenance.tokenizer')).toBe('w.gguf');
    const viaBase = await merge(yaml('tokenizer: {source: base}\n'), f);
    expect(getMeta(viaBase.out.file, 'tokenizer.ggml.add_bos_token')).toBe(getMeta((await open(stories, 's')).file, 'tokenizer.ggml.add_bos_token'));
    expect(refusal(() => parseMergeConfig(yaml('tokenizer_source: base\ntokenizer: {source: base}\n'), 'c.yaml'))).toMatch(/give tokenizer_source or tokenizer, not both/);
    expect(refusal(() => parseMergeConfig(yaml('tokenizer: {source: union, tokens: {"<x>": {source: a.gguf}}}\n'), 'c.yaml'))).toMatch(/tokenizer\.tokens is not supported/);
    expect(refusal(() => parseMergeConfig(yaml('tokenizer_source: z.gguf\n'), 'c.yaml'))).toMatch(/tokenizer source "z\.gguf" is not a model of this merge/);
  });
});
