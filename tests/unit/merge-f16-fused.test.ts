/**
 * A method's fused F16 path (MethodDescriptor.kernelF16) must give the very bits that the general
 * path gives — decode each input with the F16 codec, run the f32 kernel, encode with the F16 codec —
 * since the executor picks the fused path whenever every input and the output are F16.
 */
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { METHODS, type MethodDescriptor, type TensorStats } from '../../src/lib/merge/methods/index.ts';
import { taskArithmeticMethod } from '../../src/lib/merge/methods/task-arithmetic-core.ts';
import { setSimdEnabled, simdKernels, tuning } from '../../src/lib/merge/wasm/index.ts';
import { getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType } from '../../src/lib/merge/gguf/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';

function randomHalves(rnd: () => number, n: number, anyBits: boolean): Uint16Array {
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    // Either any 16-bit pattern (subnormals, ±0, ±Inf, NaN included) or ordinary weights near 0.
    h[i] = anyBits ? Math.floor(rnd() * 65536) : (rnd() < 0.5 ? 0x8000 : 0) | (0x2000 + Math.floor(rnd() * 0x1c00));
  }
  return h;
}

/** Any finite half (every bit pattern but exponent 31): extremes the SIMD kernels must take themselves. */
function finiteHalves(rnd: () => number, n: number): Uint16Array {
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.floor(rnd() * 65536);
    while ((x & 0x7c00) === 0x7c00) x = Math.floor(rnd() * 65536);
    h[i] = x;
  }
  return h;
}

/** Subnormal and smallest normal halves (|x| < 2^-12), where products and sums leave the normal range of f32 scaled values. */
function tinyHalves(rnd: () => number, n: number): Uint16Array {
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = (rnd() < 0.5 ? 0x8000 : 0) | Math.floor(rnd() * 0x0c00);
  return h;
}

const bytesOf = (h: Uint16Array) => new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
/** NaN results may differ in sign and payload (JavaScript leaves them unspecified): compare NaN as one class. */
const canon = (h: Uint16Array) => Array.from(h, (x) => ((x & 0x7c00) === 0x7c00 && (x & 0x3ff) !== 0 ? 0x7e00 : x));

const fused = [...METHODS.values()].filter((m) => m.kernelF16);

/** A fine-tune of `base`: small changes (many exact ties and zeros after fp16 rounding), some large. */
function fineTune(rnd: () => number, base: Uint16Array, f16: ReturnType<typeof getCodec>): Uint16Array {
  const x = f16.decode(bytesOf(base), base.length);
  for (let i = 0; i < x.length; i++) {
    const r = rnd();
    if (r < 0.2) continue; // unchanged: a zero task-vector entry
    x[i] = x[i]! + (r < 0.95 ? (rnd() - 0.5) * 0.002 : (rnd() - 0.5) * 0.5);
  }
  const b = f16.encode!(x);
  return new Uint16Array(b.buffer, b.byteOffset, base.length);
}

function general(method: MethodDescriptor, common: Record<string, unknown>, halves: Uint16Array[]): { bits: Uint16Array; stats: TensorStats } {
  const f16 = getCodec(GGMLType.F16);
  const n = halves[0]!.length;
  const tensors = halves.map((h) => f16.decode(bytesOf(h), n));
  const r = method.kernel({ ...common, tensors } as never);
  const b = f16.encode!(r.data);
  return { bits: new Uint16Array(b.buffer, b.byteOffset, n), stats: r.stats };
}

/** Statistics equal, NaN equal to NaN. */
const sameStats = (a: TensorStats, b: TensorStats) => expect(JSON.stringify(a)).toEqual(JSON.stringify(b));

describe('fused F16 kernels equal decode → kernel → encode', () => {
  it('the fused paths exist (linear, task arithmetic, TIES) and WebAssembly SIMD is available here', () => {
    expect(fused.map((m) => m.id)).toEqual(expect.arrayContaining(['linear', 'task_arithmetic', 'ties']));
    expect(simdKernels()).not.toBeNull();
  });
  for (const simd of [true, false]) {
    describe(simd ? 'WebAssembly SIMD' : 'JavaScript fallback', () => {
      beforeAll(() => setSimdEnabled(simd));
      afterAll(() => setSimdEnabled(true));
      cases(5001, 4099);
    });
  }
  describe('WebAssembly SIMD on two kernel threads (tensors of several 65,536-entry blocks, in chunks)', () => {
    beforeAll(async () => {
      await simdKernels()!.attachThreads(nodeKernelThreads(2));
      expect(simdKernels()!.threads).toBe(2);
    });
    // 3 blocks + 3: every thread gets a block, the last one the tail.
    cases(3 * 65536 + 3, 4 * 65536 + 1);
  });
  describe('TIES bands from a sample that miss the threshold (forced): the exact band takes over', () => {
    // A negative margin turns each band inside out: from the sample's value a quarter of the sample
    // above the threshold's rank to the one a quarter below (far enough apart that ties cannot meet).
    beforeAll(() => void (tuning.sampleMargin = -4000));
    afterAll(() => void (tuning.sampleMargin = 3));
    it('the bands miss, and the bytes and statistics are still exact', async () => {
      const method = METHODS.get('ties')!;
      const rnd = mulberry32(99);
      const n = 4 * 65536 + 3;
      const f16 = getCodec(GGMLType.F16);
      const base = randomHalves(rnd, n, false);
      const halves = [base, fineTune(rnd, base, f16), fineTune(rnd, base, f16)];
      const modelParams = [{}, { weight: 1, density: 0.4 }, { weight: 0.7, density: 0.6 }];
      const common = { name: 'blk.0.attn_q.weight', shape: [n], baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false, int8_mask: false }, modelParams, seed: 3 };
      const want = general(method, common, halves);
      const out = new Uint16Array(n);
      const stats = await method.kernelF16!({ ...common, halves, out } as never);
      expect(simdKernels()!.bandMisses).toBe(1);
      expect(canon(out)).toEqual(canon(want.bits));
      sameStats(stats, want.stats);
      // With the usual margin the sampled bands hold both thresholds the first time.
      tuning.sampleMargin = 3;
      const again = new Uint16Array(n);
      await method.kernelF16!({ ...common, halves, out: again } as never);
      expect(simdKernels()!.bandMisses).toBe(0);
      expect(canon(again)).toEqual(canon(want.bits));
    });
  });
});

function cases(nPlain: number, nTask: number): void {
      for (const method of fused.filter((m) => m.base !== 'required')) {
        for (const [inputs, anyBits, normalize] of [[2, false, true], [3, false, false], [1, true, true], [4, true, false], [2, true, true]] as const) {
          it(`${method.id}: ${inputs} input(s), ${anyBits ? 'any bit patterns' : 'ordinary weights'}, normalize ${normalize}`, async () => {
            const rnd = mulberry32(inputs * 31 + (anyBits ? 7 : 0));
            const n = nPlain;
            const halves = Array.from({ length: inputs }, () => randomHalves(rnd, n, anyBits));
            const modelParams = halves.map((_, i) => ({ weight: 0.25 + 0.5 * i }));
            const common = { name: 'blk.0.ffn_up.weight', shape: [n], baseIndex: null, params: { normalize }, modelParams, seed: 1 };
            const want = general(method, common, halves);
            const out = new Uint16Array(n);
            const stats = await method.kernelF16!({ ...common, halves, out } as never);
            expect(canon(out)).toEqual(canon(want.bits));
            sameStats(stats, want.stats);
          });
        }
      }
      const count = taskArithmeticMethod({ id: 'ties_count', name: 'TIES (count)', paper: '', summary: '', consensus: 'count', sparsify: 'magnitude', defaultNormalize: true, defaultRescale: false });
      for (const method of [...fused.filter((m) => m.base === 'required'), count]) {
        const densities = method.perModelParameters.some((p) => p.name === 'density');
        const cases: [string, number, boolean, number, Record<string, number | boolean>, number[], number[]][] = [
          // [data, inputs, any bits, base index, globals, weights, densities]
          ['fine-tunes', 3, false, 0, { normalize: true, lambda: 1, rescale: false }, [1, 1], [0.5, 0.5]],
          ['fine-tunes', 3, false, 2, { normalize: true, lambda: 0.8, rescale: true }, [0.6, 1.3], [0.3, 0.9]],
          ['fine-tunes', 3, false, 1, { normalize: false, lambda: 1.5, rescale: false }, [-0.7, 1], [1, 0.05]],
          ['fine-tunes', 3, false, 0, { normalize: true, lambda: 1, rescale: true }, [1, -1], [0.999, 0.0005]],
          ['any bits', 3, true, 0, { normalize: true, lambda: 1, rescale: false }, [1, 1], [1, 1]],
          ['any bits', 3, true, 1, { normalize: true, lambda: 1, rescale: false }, [1, 0.5], [0.5, 0.5]],
          ['fine-tunes', 4, false, 0, { normalize: true, lambda: 1, rescale: false }, [1, 0.5, 0.25], [0.5, 0.4, 0.3]],
          ['fine-tunes', 2, false, 1, { normalize: true, lambda: 1, rescale: false }, [0.8], [0.5]],
          // Powers of two as divisors (the SIMD kernel's f32 shortcut), on values near the subnormal range.
          ['tiny values', 3, false, 0, { normalize: true, lambda: 1, rescale: false }, [4, 4], [0.5, 0.7]],
          ['tiny values', 3, false, 2, { normalize: true, lambda: 1, rescale: false }, [2, -4], [0.9, 0.3]],
          ['fine-tunes', 3, false, 0, { normalize: true, lambda: 1, rescale: false }, [0.25, 0.25], [0.5, 0.5]],
          // Any finite values: sums of 1 and more, overflow of f32 under a weight of 2^120 (an f32:
          // scaled in f32), no ranking at density 1.
          ['finite bits', 3, false, 0, { normalize: true, lambda: 1, rescale: false }, [1, 1], [0.5, 0.5]],
          ['finite bits', 3, false, 1, { normalize: true, lambda: 1, rescale: true }, [0.5, 2 ** 120], [0.5, 0.25]],
          ['finite bits', 3, false, 2, { normalize: false, lambda: 1, rescale: false }, [1, 1], [1, 1]],
          // Task vectors of one magnitude (every entry ties at the threshold: the SIMD band lists
          // overflow and the histogram route takes over).
          ['one magnitude', 3, false, 0, { normalize: true, lambda: 1, rescale: false }, [1, 0.5], [0.5, 0.3]],
        ];
        for (const [data, inputs, anyBits, baseIndex, globals, weights, dens] of cases) {
          it(`${method.id}: ${data}, base ${baseIndex} + ${inputs - 1}, ${JSON.stringify(globals)}, weights ${weights}${densities ? `, densities ${dens}` : ''}`, async () => {
            const rnd = mulberry32(inputs * 131 + baseIndex * 17 + weights.length);
            const n = nTask;
            const f16 = getCodec(GGMLType.F16);
            const tiny = data === 'tiny values';
            const finite = data === 'finite bits';
            const base = tiny ? tinyHalves(rnd, n) : finite ? finiteHalves(rnd, n) : data === 'one magnitude' ? new Uint16Array(n).fill(0x3c00) : randomHalves(rnd, n, anyBits);
            // One magnitude: 1 ± 2^-10 everywhere (signs at random), so |δ| is the same for every entry.
            const oneMagnitude = () => Uint16Array.from({ length: n }, () => (rnd() < 0.5 ? 0x3c01 : 0x3bff));
            const halves = Array.from({ length: inputs }, (_, i) => (i === baseIndex ? base : tiny ? tinyHalves(rnd, n) : finite ? finiteHalves(rnd, n) : data === 'one magnitude' ? oneMagnitude() : anyBits ? randomHalves(rnd, n, true) : fineTune(rnd, base, f16)));
            let t = 0;
            const modelParams = halves.map((_, i) => (i === baseIndex ? {} : { weight: weights[t]!, density: dens[t++]! }));
            const common = { name: 'blk.0.attn_q.weight', shape: [n], baseIndex, params: { ...globals, int8_mask: false }, modelParams, seed: 3 };
            const want = general(method, common, halves);
            const out = new Uint16Array(n);
            const declinedBefore = simdKernels()?.declinedTensors ?? 0;
            const stats = await method.kernelF16!({ ...common, halves, out } as never);
            expect(canon(out)).toEqual(canon(want.bits));
            sameStats(stats, want.stats);
            // The SIMD kernels take every tensor of three inputs themselves, but one with an Inf or
            // NaN input (any bit patterns), which they hand to the general path.
            if (simdKernels() && inputs === 3) expect(simdKernels()!.declinedTensors - declinedBefore).toBe(anyBits ? 1 : 0);
          });
        }
      }

}
