/**
 * `arcee_fusion` — Arcee Fusion (arcee.ai; semantics of mergekit `arcee_fusion.py`): take the other
 * model's change only where it matters most. For the base a and the other model b, per row (GGUF
 * row, torch's last dimension; a vector is one row):
 *   KL_row = Σ p log(p/q) with p = softmax(b_row) + 1e-8, q = softmax(a_row) + 1e-8;
 *   importance_j = |b_j − a_j| · KL_row(j);
 *   sorted importances s (of the whole tensor; a seeded sample of 10^6 when larger, where mergekit
 *   samples unseeded), s_q = s[⌊q·(len(s) − 1)⌋], threshold = s_0.5 + 1.5 (s_0.75 − s_0.25);
 *   θ = a + (b − a)·[importance ≥ threshold].
 */
import { MergeMethodError, l2, type MethodDescriptor } from './types.ts';
import { tensorRng } from './sparsify.ts';

const SAMPLE = 1_000_000;

export const arceeFusion: MethodDescriptor = {
  id: 'arcee_fusion',
  name: 'Arcee Fusion',
  paper: 'Arcee AI, Arcee Fusion (arcee.ai); mergekit arcee_fusion',
  summary: 'Keeps the base and takes the other model\'s value only for entries whose change is unusually important (change × the KL divergence of the row\'s softmax), above median + 1.5 × interquartile range.',
  seeded: true,
  base: 'required',
  minInputs: 2,
  maxInputs: 2,
  parameters: [],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel({ name, shape, tensors, baseIndex, seed }) {
    if (baseIndex === null) throw new MergeMethodError('arcee_fusion needs a base_model');
    const a = tensors[baseIndex]!, b = tensors[1 - baseIndex]!;
    const n = a.length;
    const rowLen = shape.length >= 2 ? Math.max(1, shape[0]!) : Math.max(1, n);
    const imp = new Float64Array(n);
    for (let r0 = 0; r0 < n; r0 += rowLen) {
      const r1 = Math.min(n, r0 + rowLen);
      const kl = rowKl(b, a, r0, r1);
      for (let j = r0; j < r1; j++) imp[j] = Math.abs(b[j]! - a[j]!) * kl;
    }
    let pool: Float64Array = imp;
    if (n > SAMPLE) {
      // A seeded partial Fisher–Yates shuffle: SAMPLE distinct entries, the same for the same seed.
      const rng = tensorRng(seed, name, 0);
      const idx = Uint32Array.from({ length: n }, (_, j) => j);
      pool = new Float64Array(SAMPLE);
      for (let k = 0; k < SAMPLE; k++) {
        const r = k + Math.floor(rng() * (n - k));
        const tmp = idx[k]!;
        idx[k] = idx[r]!;
        idx[r] = tmp;
        pool[k] = imp[idx[k]!]!;
      }
    }
    const sorted = Float64Array.from(pool).sort();
    const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;
    const threshold = at(0.5) + 1.5 * (at(0.75) - at(0.25));
    const out = new Float32Array(n);
    const d = new Float32Array(n);
    let taken = 0;
    for (let j = 0; j < n; j++) {
      d[j] = b[j]! - a[j]!;
      const take = imp[j]! >= threshold;
      if (take) taken++;
      out[j] = take ? a[j]! + (b[j]! - a[j]!) : a[j]!;
    }
    return { data: out, stats: { name, taskVectorNorms: [l2(d)], kept: [n === 0 ? 1 : taken / n], signAgreement: null, extra: { threshold } } };
  },
};

/** KL(softmax(p) + 1e-8 ‖ softmax(q) + 1e-8) over entries [r0, r1), in double. */
function rowKl(p: Float32Array, q: Float32Array, r0: number, r1: number): number {
  const sp = softmax(p, r0, r1), sq = softmax(q, r0, r1);
  let kl = 0;
  for (let k = 0; k < sp.length; k++) {
    const x = sp[k]! + 1e-8, y = sq[k]! + 1e-8;
    kl += x * Math.log(x / y);
  }
  return kl;
}

function softmax(x: Float32Array, r0: number, r1: number): Float64Array {
  let max = -Infinity;
  for (let j = r0; j < r1; j++) max = Math.max(max, x[j]!);
  // Stryker disable next-line ArithmeticOperator: a longer array pads both softmaxes with zeros, whose KL terms are 1e-8 · log(1e-8/1e-8) = 0 exactly
  const e = new Float64Array(r1 - r0);
  let s = 0;
  for (let j = r0; j < r1; j++) s += e[j - r0] = Math.exp(x[j]! - max);
  for (let k = 0; k < e.length; k++) e[k] = e[k]! / s;
  return e;
}
