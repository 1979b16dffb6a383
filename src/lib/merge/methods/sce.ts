/**
 * `sce` — SCE, Select–Calculate–Erase (Wan et al., FuseChat, arXiv 2408.07990; semantics of
 * mergekit `sce.py`). With task vectors δ_i = θ_i − θ_base:
 *   Select: when select_topk < 1, keep the k = ⌊select_topk · #{j : var_j ≠ 0}⌋ entries j with the
 *     largest variance across the models (population variance of δ_1j … δ_Nj; ties → lower index)
 *     and zero every other entry of every task vector;
 *   Calculate: w_i = mean(δ_i²) / Σ_k mean(δ_k²) (all 1/N when that sum is below 1e-6);
 *   Erase: m_ij = [sign δ_ij = sign of Σ_i δ_ij] (≥ 0 elects +; a zero entry never agrees);
 *   θ = θ_base + Σ_i w_i m_ij δ_ij / max(Σ_i w_i m_ij, 1e-6).
 * No per-model weights: the weights come from the task vectors themselves.
 */
import { MergeMethodError, num, type MethodDescriptor } from './types.ts';

export const sce: MethodDescriptor = {
  id: 'sce',
  name: 'SCE',
  paper: 'Wan et al., FuseChat (Select, Calculate, Erase), arXiv 2408.07990',
  summary: 'Keeps the entries where the fine-tunes differ most from each other (select_topk), weights each task vector by its mean squared size, and drops entries whose sign disagrees with the elected one before averaging.',
  base: 'required',
  minInputs: 2,
  parameters: [
    { name: 'select_topk', type: 'number', default: 1, min: 0, max: 1, strict: true, help: 'Share of the entries kept: those whose task-vector values vary most across the models. 1 keeps all.' },
    { name: 'int8_mask', type: 'boolean', default: false, help: 'mergekit memory option; accepted and ignored here (masks are never materialised).' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel({ name, tensors, baseIndex, params }) {
    if (baseIndex === null) throw new MergeMethodError('sce needs a base_model');
    const base = tensors[baseIndex]!;
    const n = base.length;
    const deltas = tensors.filter((_, i) => i !== baseIndex).map((t) => {
      const d = new Float32Array(n);
      for (let j = 0; j < n; j++) d[j] = t[j]! - base[j]!;
      return d;
    });
    const N = deltas.length;
    const norms = deltas.map((d) => Math.sqrt(sumSquares(d)));
    const topk = num(params, 'select_topk');
    let keptShare = 1;
    if (topk < 1) {
      const keep = selectByVariance(deltas, topk);
      for (const d of deltas) for (let j = 0; j < n; j++) if (!keep[j]) d[j] = 0;
      keptShare = n === 0 ? 1 : keep.reduce((a, b) => a + b, 0) / n;
    }
    const ms = deltas.map((d) => (n === 0 ? 0 : sumSquares(d) / n));
    const msSum = ms.reduce((a, b) => a + b, 0);
    const w = Math.abs(msSum) < 1e-6 ? ms.map(() => 1 / N) : ms.map((m) => m / msSum);
    const out = new Float32Array(n);
    let agree = 0, nonzero = 0;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (const d of deltas) s += d[j]!;
      const elected = s >= 0 ? 1 : -1;
      let mixed = 0, div = 0;
      for (let i = 0; i < N; i++) {
        const x = deltas[i]![j]!;
        if (x === 0) continue;
        nonzero++;
        if (Math.sign(x) === elected) {
          agree++;
          mixed += w[i]! * x;
          div += w[i]!;
        }
      }
      out[j] = base[j]! + mixed / Math.max(div, 1e-6);
    }
    return {
      data: out,
      stats: { name, taskVectorNorms: norms, kept: deltas.map(() => keptShare), signAgreement: N >= 2 ? (nonzero === 0 ? 1 : agree / nonzero) : null, extra: Object.fromEntries(w.map((x, i) => [`w${i + 1}`, x])) },
    };
  },
};

function sumSquares(d: Float32Array): number {
  let s = 0;
  for (let j = 0; j < d.length; j++) s += d[j]! * d[j]!;
  return s;
}

/** 1 for the ⌊topk · #nonzero-variance⌋ entries of largest variance across the task vectors (ties → lower index), else 0. */
function selectByVariance(deltas: Float32Array[], topk: number): Uint8Array {
  const n = deltas[0]!.length;
  const N = deltas.length;
  const keep = new Uint8Array(n);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: an early exit only: with topk ≤ 0, k = ⌊nonzero · topk⌋ ≤ 0 and the selection below keeps nothing either
  if (topk <= 0) return keep;
  const v = new Float64Array(n);
  let nonzero = 0;
  for (let j = 0; j < n; j++) {
    let mean = 0;
    for (const d of deltas) mean += d[j]!;
    mean /= N;
    let s = 0;
    for (const d of deltas) s += (d[j]! - mean) ** 2;
    // Stryker disable next-line ArithmeticOperator: v is only ranked and compared with 0, which s / N and s · N do alike (no f32 square under- or overflows in double)
    v[j] = s / N;
    if (v[j] !== 0) nonzero++;
  }
  const k = Math.floor(nonzero * topk);
  // Stryker disable next-line ConditionalExpression: an early exit only: with k = 0 the threshold is undefined, no variance exceeds it and no tie is left to keep
  if (k === 0) return keep;
  // The k-th largest variance from a native numeric sort of a copy (no comparator calls), then
  // every larger entry and, among those equal to it, the lowest indices until k are kept.
  const threshold = Float64Array.from(v).sort()[n - k]!;
  let above = 0;
  for (let j = 0; j < n; j++) if (v[j]! > threshold) above++;
  let ties = k - above;
  for (let j = 0; j < n; j++) {
    if (v[j]! > threshold) keep[j] = 1;
    else if (v[j] === threshold && ties > 0) {
      keep[j] = 1;
      ties--;
    }
  }
  return keep;
}
