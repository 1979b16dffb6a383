/**
 * The executor's SIMD path end to end on real files: F16 tensors read straight into the kernels'
 * memory (ByteSource.readInto, two slots), computed there and written from there. It must give the
 * very bytes and statistics of the JavaScript path (SIMD off), with sources that can and cannot read
 * into a buffer, tails of every length, mixed F16/F32 tensors; and a cancel must give the slots back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import { bytesSource, memorySink, readGGUF, type ByteSource } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { MergeAbortedError, executeMerge } from '../../src/lib/merge/stream.ts';
import { METHODS, type TensorStats } from '../../src/lib/merge/methods/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { setSimdEnabled, simdKernels, type TaskArithmetic2Options } from '../../src/lib/merge/wasm/index.ts';
import { fileSink, fileSource } from '../../tools/lib/node-source.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';
import type { ThreadPort } from '../../src/lib/merge/wasm/thread.ts';
import { writeSyntheticModel } from '../../tools/bench/merge-model.ts';

let dir = '';
const refs = ['base.gguf', 'a.gguf', 'b.gguf'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chorus-simd-exec-'));
  // dim 62 × vocab 131 = 8122 values (a tail of 2), norms of 62 (F16 here: every tensor fused).
  for (const [i, name] of refs.entries()) {
    await writeSyntheticModel(await fileSink(join(dir, name)), { layers: 2, dim: 62, ffn: 93, vocab: 131, seed: i + 11 });
    // Tensors of several 65,536-entry blocks (256 × 1031 = 263,936), for the threaded runs.
    await writeSyntheticModel(await fileSink(join(dir, `big-${name}`)), { layers: 1, dim: 256, ffn: 300, vocab: 1031, seed: i + 21 });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIGS: Record<string, string> = {
  linear: 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 0.7}\n  - model: b.gguf\n    parameters: {weight: 0.3}\n',
  'linear (3 inputs)': 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1}\n  - model: b.gguf\n    parameters: {weight: 2}\n  - model: base.gguf\n    parameters: {weight: 0.5}\n',
  ties: 'merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1, density: 0.5}\n  - model: b.gguf\n    parameters: {weight: 0.6, density: 0.3}\nparameters: {normalize: true}\n',
  task_arithmetic: 'merge_method: task_arithmetic\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 0.5}\n  - model: b.gguf\n    parameters: {weight: -0.25}\nparameters: {lambda: 1.5}\n',
};

async function merge(yaml: string, kind: 'files' | 'bytes', signal?: AbortSignal, prefix = '', threads?: () => ThreadPort[]): Promise<{ bytes: Uint8Array; stats: TensorStats[] }> {
  const cfg = parseMergeConfig(yaml, 'test.yaml');
  const sources: ByteSource[] = [];
  for (const r of refs) sources.push(kind === 'files' ? await fileSource(join(dir, prefix + r)) : bytesSource(new Uint8Array(readFileSync(join(dir, prefix + r))), r));
  const inputs: MergeInput[] = [];
  for (const [i, s] of sources.entries()) inputs.push({ ref: refs[i]!, source: s, file: await readGGUF(s) });
  const plan = planMerge(cfg, inputs.filter((inp) => yaml.includes(inp.ref)), { created: '2026-01-01T00:00:00.000Z' });
  const sink = memorySink();
  const stats: TensorStats[] = [];
  try {
    await executeMerge(plan, { sink, signal, onStats: (s) => stats.push(s), threads });
  } finally {
    for (const s of sources) await (s as { close?(): Promise<void> }).close?.();
  }
  return { bytes: sink.bytes(), stats };
}

describe('merge executor with SIMD kernels and slots', () => {
  it('SIMD is available here (otherwise this file would compare the JavaScript path with itself)', () => {
    expect(simdKernels()).not.toBeNull();
  });
  for (const [name, yaml] of Object.entries(CONFIGS)) {
    it(`${name}: file reads into slots, byte reads into slots and the JavaScript path agree to the byte`, async () => {
      const viaFiles = await merge(yaml, 'files');
      const viaBytes = await merge(yaml, 'bytes');
      setSimdEnabled(false);
      let js;
      try {
        js = await merge(yaml, 'files');
      } finally {
        setSimdEnabled(true);
      }
      expect(viaFiles.bytes.byteLength).toBeGreaterThan(100_000);
      expect(Buffer.from(viaFiles.bytes).equals(Buffer.from(js.bytes))).toBe(true);
      expect(Buffer.from(viaBytes.bytes).equals(Buffer.from(js.bytes))).toBe(true);
      expect(JSON.stringify(viaFiles.stats)).toBe(JSON.stringify(js.stats));
    });
  }

  it('an fp16 Inf in one tensor of an input: the JavaScript kernels take that tensor, the SIMD kernels the rest, and the count says so', async () => {
    const cfg = parseMergeConfig(CONFIGS.ties!, 'test.yaml');
    const run = async () => {
      const inputs: MergeInput[] = [];
      for (const r of refs) {
        const bytes = new Uint8Array(readFileSync(join(dir, r)));
        const file = await readGGUF(bytesSource(bytes, r));
        if (r === 'a.gguf') {
          // One entry of one attention matrix becomes +Inf (0x7c00, little-endian).
          const t = file.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
          bytes.set([0x00, 0x7c], file.dataOffset + t.offset + 2 * 77);
        }
        inputs.push({ ref: r, source: bytesSource(bytes, r), file });
      }
      const plan = planMerge(cfg, inputs, { created: '2026-01-01T00:00:00.000Z' });
      const sink = memorySink();
      const result = await executeMerge(plan, { sink });
      return { bytes: sink.bytes(), tensors: plan.tasks.length, simd: result.kernels.simdTensors };
    };
    const viaSimd = await run();
    setSimdEnabled(false);
    let js;
    try {
      js = await run();
    } finally {
      setSimdEnabled(true);
    }
    expect(Buffer.from(viaSimd.bytes).equals(Buffer.from(js.bytes))).toBe(true);
    expect(viaSimd.simd).toBe(viaSimd.tensors - 1);
    expect(js.simd).toBe(0);
  });

  it('a cancel in the middle gives the slots back: the next merge runs and is right', async () => {
    const ctl = new AbortController();
    let seen = 0;
    const cfg = CONFIGS.ties!;
    const run = merge(cfg, 'files', ctl.signal);
    // Abort once a few tensors are done (stats arrive per tensor).
    const timer = setInterval(() => {
      if (++seen > 0) ctl.abort();
    }, 0);
    await expect(run).rejects.toBeInstanceOf(MergeAbortedError);
    clearInterval(timer);
    const again = await merge(cfg, 'files');
    setSimdEnabled(false);
    try {
      const js = await merge(cfg, 'files');
      expect(Buffer.from(again.bytes).equals(Buffer.from(js.bytes))).toBe(true);
    } finally {
      setSimdEnabled(true);
    }
  });
});

describe('merge executor on two kernel threads', () => {
  for (const [name, yaml] of Object.entries(CONFIGS)) {
    it(`${name}: tensors of several blocks split over two kernel threads give the bytes and statistics of the JavaScript path`, async () => {
      const threaded = await merge(yaml, 'files', undefined, 'big-', () => nodeKernelThreads(2));
      expect(simdKernels()!.threads).toBe(2);
      setSimdEnabled(false);
      let js;
      try {
        js = await merge(yaml, 'files', undefined, 'big-');
      } finally {
        setSimdEnabled(true);
      }
      expect(threaded.bytes.byteLength).toBeGreaterThan(1_000_000);
      expect(Buffer.from(threaded.bytes).equals(Buffer.from(js.bytes))).toBe(true);
      expect(JSON.stringify(threaded.stats)).toBe(JSON.stringify(js.stats));
    });
  }

  it('TIES samples each tensor while the one before is computed: every sampled tensor starts from prepared bands, with the same bytes', async () => {
    const simd = simdKernels()!;
    const before = simd.preparedCalls;
    const threaded = await merge(CONFIGS.ties!, 'files', undefined, 'big-', () => nodeKernelThreads(2));
    // The big model's tensors large enough to be sampled (≥ 2,048 sample values: about 10,300 entries).
    const file = await readGGUF(bytesSource(new Uint8Array(readFileSync(join(dir, 'big-a.gguf'))), 'a'));
    const sampled = file.tensors.filter((t) => t.shape.reduce((p, d) => p * Number(d), 1) >= 16384).length;
    expect(sampled).toBeGreaterThan(3);
    expect(simd.preparedCalls - before).toBe(sampled);
    setSimdEnabled(false);
    try {
      const js = await merge(CONFIGS.ties!, 'files', undefined, 'big-');
      expect(Buffer.from(threaded.bytes).equals(Buffer.from(js.bytes))).toBe(true);
    } finally {
      setSimdEnabled(true);
    }
  });

  it('prepared bands serve only the inputs they were sampled from: a slot read again drops them', async () => {
    const simd = simdKernels()!;
    const n = 5 * 65536 + 3;
    const rnd = mulberry32(9);
    const mk = () => Uint16Array.from({ length: n }, () => (rnd() < 0.5 ? 0x8000 : 0) | (0x2000 + Math.floor(rnd() * 0x1c00)));
    const abc = [mk(), mk(), mk()];
    const other = [mk(), mk(), mk()];
    const opts = (): TaskArithmetic2Options => ({ sparsify: [{ density: 0.4, rescale: false }, { density: 0.7, rescale: false }], weights: [1, 1], mode: 1, normalize: true, lambda: 1 });
    // Prepares from `prepareOn` (read into slot 0) when given, then computes `computeOn`, read into
    // slot 0 again unless it is the same data.
    const run = async (prepareOn: Uint16Array[] | null, computeOn: Uint16Array[]) => {
      simd.reserve(n, 3);
      try {
        const fill = (data: Uint16Array[]) => {
          const v = simd.slot(0, n);
          for (const [i, h] of data.entries()) v.inputs[i]!.set(h);
          return v;
        };
        let v = fill(prepareOn ?? computeOn);
        if (prepareOn) simd.prepareTaskArithmetic2(v.inputs[0]!, v.inputs[1]!, v.inputs[2]!, opts());
        if (prepareOn && prepareOn !== computeOn) v = fill(computeOn);
        const before = simd.preparedCalls;
        const r = await simd.taskArithmetic2(v.inputs[0]!, v.inputs[1]!, v.inputs[2]!, v.out, opts());
        return { out: Buffer.from(Uint16Array.from(v.out).buffer), r: JSON.stringify(r), used: simd.preparedCalls - before };
      } finally {
        simd.release();
      }
    };
    const own = await run(null, abc);
    const prepared = await run(abc, abc);
    const stale = await run(other, abc);
    expect([own.used, prepared.used, stale.used]).toEqual([0, 1, 0]);
    expect(prepared.out.equals(own.out)).toBe(true);
    expect(stale.out.equals(own.out)).toBe(true);
    expect(prepared.r).toBe(own.r);
    expect(stale.r).toBe(own.r);
  });

  it('a cancelled TIES kernel stops handing out chunks and leaves the kernels ready for the next call', async () => {
    const method = METHODS.get('ties')!;
    const n = 16 * 65536 + 5;
    const rnd = mulberry32(5);
    const mk = () => Uint16Array.from({ length: n }, () => (rnd() < 0.5 ? 0x8000 : 0) | (0x2000 + Math.floor(rnd() * 0x1c00)));
    const halves = [mk(), mk(), mk()];
    const common = { name: 'token_embd.weight', shape: [n], baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false, int8_mask: false }, modelParams: [{}, { weight: 1, density: 0.5 }, { weight: 1, density: 0.5 }], seed: 1 };
    const ctl = new AbortController();
    ctl.abort();
    const partial = new Uint16Array(n);
    await method.kernelF16!({ ...common, halves, out: partial, signal: ctl.signal } as never);
    // Nothing was computed: no chunk was handed out after the cancel.
    expect(partial.every((v) => v === 0)).toBe(true);
    const out = new Uint16Array(n);
    const stats = await method.kernelF16!({ ...common, halves, out } as never);
    setSimdEnabled(false);
    try {
      const js = new Uint16Array(n);
      const jsStats = await method.kernelF16!({ ...common, halves, out: js } as never);
      expect(Buffer.from(out.buffer).equals(Buffer.from(js.buffer))).toBe(true);
      expect(JSON.stringify(stats)).toBe(JSON.stringify(jsStats));
    } finally {
      setSimdEnabled(true);
    }
  });
});
