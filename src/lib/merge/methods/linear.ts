/**
 * `linear` — weighted average of the inputs (Wortsman et al., Model Soups, arXiv 2203.05482;
 * mergekit `linear.py`): θ = Σ w_i θ_i, divided by Σ w_i when `normalize` (default true).
 * A base model, when given, is one more input with its own weight (as in mergekit).
 */
import { f16Table, f32BitsToF16Array } from '../codecs/half.ts';
import { simdKernels } from '../wasm/index.ts';
import { MergeMethodError, NORM_BLOCK, NormSum, bool, num, type MethodDescriptor, type ParamValue, type TensorStats } from './types.ts';

export const linear: MethodDescriptor = {
  id: 'linear',
  name: 'Linear (model soup)',
  paper: 'Wortsman et al., Model Soups, arXiv 2203.05482',
  summary: 'Averages the weights of the inputs, entry by entry. Works when the models are fine-tunes of one base; equal weights give a uniform soup.',
  base: 'optional',
  minInputs: 1,
  parameters: [
    { name: 'normalize', type: 'boolean', default: true, help: 'Divide by the sum of the weights, so weights 1 and 1 mean "half of each".' },
  ],
  perModelParameters: [
    { name: 'weight', type: 'number', required: true, min: 0, max: 2, help: 'How much of this model goes into the average.' },
  ],
  baseTakesModelParameters: true,
  validate(params, modelParams) {
    if (!bool(params, 'normalize')) return null;
    let s = 0;
    // Stryker disable next-line AssignmentOperator: `s -= w` gives −Σw, which is 0 exactly when Σw is.
    for (const mp of modelParams) s += num(mp, 'weight');
    return s === 0 ? 'the weights sum to 0 and normalize is true, so the average is undefined; change a weight or set normalize: false' : null;
  },
  kernel({ name, tensors, baseIndex, params, modelParams, out: scratch }) {
    // Stryker disable next-line OptionalChaining: the plan refuses fewer inputs than minInputs (1), so tensors[0] exists.
    const n = tensors[0]?.length ?? 0;
    const { weights, divisor } = resolve(name, params, modelParams);
    const out = scratch?.length === n ? scratch : new Float32Array(n);
    const refIndex = baseIndex ?? 0;
    const norms: number[] = [];
    if (tensors.length === 2) {
      // The common case (two checkpoints) in one fused pass: average and task-vector norm.
      // (x − y)² = (y − x)², so the norm does not depend on which input is the reference.
      norms.push(Math.sqrt(average2(tensors[0]!, tensors[1]!, weights[0]!, weights[1]!, divisor, out)));
    } else {
      // Σ w_m θ_m accumulated model by model (sequential, vectorisable loops), then ÷ Σ w.
      if (out === scratch) out.fill(0);
      for (let m = 0; m < tensors.length; m++) axpy(tensors[m]!, weights[m]!, out);
      if (divisor !== 1) divide(out, divisor);
      // Task vectors relative to the base, or to the first input when there is none.
      const ref = tensors[refIndex]!;
      for (let m = 0; m < tensors.length; m++) if (m !== refIndex) norms.push(Math.sqrt(sqDistance(tensors[m]!, ref)));
    }
    return { data: out, stats: linearStats(name, norms) };
  },
  async kernelF16({ name, halves, baseIndex, params, modelParams, out, signal }) {
    const { weights, divisor } = resolve(name, params, modelParams);
    const refIndex = baseIndex ?? 0;
    const M = halves.length;
    const n = out.length;
    const simd = simdKernels();
    // Stryker disable next-line BlockStatement: an empty block falls through to the JavaScript loops below, which give the same bits (tests/unit/merge-f16-fused.test.ts).
    if (simd) {
      // The same loops in WebAssembly SIMD (wasm/assembly/kernels.ts), bit for bit.
      if (M === 2) return linearStats(name, [Math.sqrt(await simd.withSignal(signal, () => simd.linear2(halves[0]!, halves[1]!, out, weights[0]!, weights[1]!, divisor)))]);
      return linearStats(name, (await simd.withSignal(signal, () => simd.linearN(halves, weights, divisor, refIndex, out))).map(Math.sqrt));
    }
    const tab = f16Table();
    // Pieces of CHUNK values: decoded, combined and rounded to f32 in `acc` (L1-resident), then
    // encoded from its bits — the very steps of kernel() and the F16 codec, in the same order.
    const acc = new Float32Array(CHUNK);
    const accBits = new Uint32Array(acc.buffer);
    // Norm sums per input (NormSum); CHUNK divides NORM_BLOCK, so lanes and blocks follow the
    // whole tensor's index.
    const sq = halves.map(() => new NormSum());
    for (let at = 0; at < n; at += CHUNK) {
      const len = Math.min(CHUNK, n - at);
      for (const s of sq) s.boundary(at);
      if (M === 2) {
        average2F16(halves[0]!, halves[1]!, tab, at, len, weights[0]!, weights[1]!, divisor, acc, sq[0]!.q);
      } else {
        acc.fill(0, 0, len);
        for (let m = 0; m < M; m++) axpyF16(halves[m]!, tab, at, len, weights[m]!, acc);
        if (divisor !== 1) divide(acc.subarray(0, len), divisor);
        for (let m = 0; m < M; m++) if (m !== refIndex) sqDistanceF16(halves[m]!, halves[refIndex]!, tab, at, len, sq[m]!.q);
      }
      f32BitsToF16Array(accBits, len, out, at);
    }
    const norms: number[] = [];
    if (M === 2) norms.push(Math.sqrt(sq[0]!.total()));
    else for (let m = 0; m < M; m++) if (m !== refIndex) norms.push(Math.sqrt(sq[m]!.total()));
    return linearStats(name, norms);
  },
};

/** Values per piece of the fused F16 path: 16 KB of f32, small enough to stay in L1 with its inputs. */
const CHUNK = 4096;

function resolve(
  name: string,
  params: Readonly<Record<string, ParamValue>>,
  modelParams: readonly Readonly<Record<string, ParamValue>>[],
): { weights: number[]; divisor: number } {
  const weights = modelParams.map((mp) => num(mp, 'weight'));
  let divisor = 1;
  if (bool(params, 'normalize')) {
    divisor = weights.reduce((a, b) => a + b, 0);
    if (divisor === 0) throw new MergeMethodError(`linear: weights sum to 0 for ${name}`);
  }
  return { weights, divisor };
}

function linearStats(name: string, norms: number[]): TensorStats {
  return { name, taskVectorNorms: norms, kept: norms.map(() => 1), signAgreement: null, extra: {} };
}

// The loops live in small functions of typed arrays and numbers only: V8 optimises these far
// better than the same loop inside the kernel (measured 3–5 vs 15 ns per element).

/** out = (wa·a + wb·b) / divisor, in double then rounded to f32; returns Σ (b − a)² (NormSum order). */
function average2(a: Float32Array, b: Float32Array, wa: number, wb: number, divisor: number, out: Float32Array): number {
  const s = new NormSum();
  const q = s.q;
  const n = out.length;
  for (let start = 0; start < n; start += NORM_BLOCK) {
    s.boundary(start);
    const end = Math.min(n, start + NORM_BLOCK);
    for (let i = start; i < end; i++) {
      const x = a[i]!, y = b[i]!;
      out[i] = (wa * x + wb * y) / divisor;
      const d = Math.fround(y - x);
      q[i & 3]! += Math.fround(d * d);
    }
  }
  return s.total();
}

function axpy(x: Float32Array, w: number, out: Float32Array): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = out[i]! + w * x[i]!;
}

function divide(out: Float32Array, divisor: number): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = out[i]! / divisor;
}

function sqDistance(x: Float32Array, ref: Float32Array): number {
  const s = new NormSum();
  const q = s.q;
  const n = x.length;
  for (let start = 0; start < n; start += NORM_BLOCK) {
    s.boundary(start);
    const end = Math.min(n, start + NORM_BLOCK);
    for (let i = start; i < end; i++) {
      const d = Math.fround(x[i]! - ref[i]!);
      q[i & 3]! += Math.fround(d * d);
    }
  }
  return s.total();
}

// The same loops over fp16 bit patterns (decoded through the exact 65,536-entry table), writing
// acc[0, len) for input positions [at, at + len) (`at` a multiple of 4). Sums of squares continue in
// the lane sums `q`, so they add up in exactly the order of the whole-tensor loops.

function average2F16(a: Uint16Array, b: Uint16Array, tab: Float32Array, at: number, len: number, wa: number, wb: number, divisor: number, acc: Float32Array, q: Float32Array): void {
  for (let j = 0; j < len; j++) {
    const x = tab[a[at + j]!]!, y = tab[b[at + j]!]!;
    acc[j] = (wa * x + wb * y) / divisor;
    const d = Math.fround(y - x);
    q[j & 3]! += Math.fround(d * d);
  }
}

function axpyF16(x: Uint16Array, tab: Float32Array, at: number, len: number, w: number, acc: Float32Array): void {
  for (let j = 0; j < len; j++) acc[j] = acc[j]! + w * tab[x[at + j]!]!;
}

function sqDistanceF16(x: Uint16Array, ref: Uint16Array, tab: Float32Array, at: number, len: number, q: Float32Array): void {
  for (let j = 0; j < len; j++) {
    const d = Math.fround(tab[x[at + j]!]! - tab[ref[at + j]!]!);
    q[j & 3]! += Math.fround(d * d);
  }
}
