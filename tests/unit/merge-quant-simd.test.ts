/**
 * Quantised merges through the executor with the SIMD codecs (stream.ts decodeWith / encodeWith):
 * Q4_K_M-style inputs (Q4_K and Q6_K matrices, F32 norms, as llama.cpp's Q4_K_M mixes them) merged
 * to the same types must give the very bytes of the JavaScript codecs (SIMD off), on this thread and
 * on kernel threads, and the result must say the SIMD codecs did the work; a merge whose result
 * overflows f32 fails with the JavaScript codec's error, not with half a file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import { GGMLType, memorySink, readGGUF, bytesSource } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { executeMerge, type MergeResult } from '../../src/lib/merge/stream.ts';
import { setSimdEnabled, simdKernels } from '../../src/lib/merge/wasm/index.ts';
import type { ThreadPort } from '../../src/lib/merge/wasm/thread.ts';
import { fileSink, fileSource } from '../../tools/lib/node-source.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';
import { q4KMType, writeSyntheticModel } from '../../tools/bench/merge-model.ts';

let dir = '';
const refs = ['base.gguf', 'a.gguf', 'b.gguf'];
// 3 layers: use_more_bits gives Q6_K to attn_v and ffn_down of layer 2, Q4_K to those of layers 0
// and 1. token_embd and output: 256 × 300 = 76,800 values (two 65,536-value chunks on the threads).
const MODEL = { layers: 3, dim: 256, ffn: 256, vocab: 300, type: 'Q4_K_M' as const };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chorus-quant-simd-'));
  for (const [i, name] of refs.entries()) await writeSyntheticModel(await fileSink(join(dir, name)), { ...MODEL, seed: i + 31 });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIGS: Record<string, string> = {
  linear: 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 0.7}\n  - model: b.gguf\n    parameters: {weight: 0.3}\n',
  ties: 'merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1, density: 0.5}\n  - model: b.gguf\n    parameters: {weight: 0.6, density: 0.3}\n',
};

async function merge(yaml: string, threads?: () => ThreadPort[]): Promise<{ bytes: Uint8Array; result: MergeResult; types: GGMLType[] }> {
  const cfg = parseMergeConfig(yaml, 'test.yaml');
  const inputs: MergeInput[] = [];
  for (const r of refs.filter((r) => yaml.includes(r))) {
    const source = await fileSource(join(dir, r));
    inputs.push({ ref: r, source, file: await readGGUF(source) });
  }
  const plan = planMerge(cfg, inputs, { created: '2026-01-01T00:00:00.000Z' });
  const sink = memorySink();
  try {
    const result = await executeMerge(plan, { sink, threads });
    return { bytes: sink.bytes(), result, types: plan.tasks.map((t) => t.outType) };
  } finally {
    for (const i of inputs) await (i.source as { close?(): Promise<void> }).close?.();
  }
}

async function withoutSimd<T>(f: () => Promise<T>): Promise<T> {
  setSimdEnabled(false);
  try {
    return await f();
  } finally {
    setSimdEnabled(true);
  }
}

describe('quantised merges with the SIMD codecs', () => {
  it('the inputs are Q4_K_M-style: Q4_K and Q6_K matrices, F32 norms', async () => {
    const f = await readGGUF(bytesSource(new Uint8Array(await (await import('node:fs/promises')).readFile(join(dir, 'a.gguf'))), 'a.gguf'));
    const types = new Set(f.tensors.map((t) => t.type));
    expect([...types].sort()).toEqual([GGMLType.F32, GGMLType.Q4_K, GGMLType.Q6_K]);
    for (const t of f.tensors) expect(t.type).toBe(q4KMType(t.name, MODEL.layers));
    expect(f.tensors.filter((t) => t.type === GGMLType.Q6_K).map((t) => t.name)).toEqual(['blk.2.attn_v.weight', 'blk.2.ffn_down.weight', 'output.weight']);
    expect(simdKernels()).not.toBeNull();
  });

  for (const [name, yaml] of Object.entries(CONFIGS)) {
    it(`${name}: the same types out, and the very bytes of the JavaScript codecs, on this thread and on kernel threads`, { timeout: 120_000 }, async () => {
      const js = await withoutSimd(() => merge(yaml));
      const calls = simdKernels()!.codecCalls;
      const simd = await merge(yaml);
      const quantised = simd.types.filter((t) => t !== GGMLType.F32).length;
      // Every quantised tensor: each input decoded and the output encoded by the SIMD codecs.
      const inputs = refs.filter((r) => yaml.includes(r)).length;
      expect(simdKernels()!.codecCalls - calls).toBe(quantised * (inputs + 1));
      expect(simd.types).toEqual(js.types);
      expect(simd.types.filter((t) => t === GGMLType.Q6_K).length).toBeGreaterThan(0);
      expect(simd.result.kernels.quantTensors).toBe(quantised);
      expect(js.result.kernels.quantTensors).toBe(0);
      expect(Buffer.from(simd.bytes).equals(Buffer.from(js.bytes))).toBe(true);
      const threaded = await merge(yaml, () => nodeKernelThreads(2));
      expect(threaded.result.kernels.threads).toBe(2);
      expect(Buffer.from(threaded.bytes).equals(Buffer.from(js.bytes))).toBe(true);
    });
  }

  it('a result that overflows f32 fails with the codec\'s error naming the value, SIMD or not', async () => {
    const yaml = 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1e41}\n  - model: b.gguf\n    parameters: {weight: 1}\nparameters: {normalize: false}\n';
    const js = await withoutSimd(() => merge(yaml).then(() => null, (e: unknown) => e as Error));
    const simd = await merge(yaml).then(() => null, (e: unknown) => e as Error);
    expect(js?.message).toMatch(/Q4_K: value \d+ is (-)?Infinity; quantised types need finite values/);
    expect(simd?.message).toBe(js?.message);
  });
});
