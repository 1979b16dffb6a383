/**
 * `karcher` — the Riemannian (Karcher) mean of the inputs on the unit sphere, scaled by their
 * mean norm (Karcher 1977; en.wikipedia.org/wiki/Karcher_mean; semantics of mergekit `karcher.py`).
 * Every input counts equally (α_i = 1/N; a base_model, when given, is one more input):
 *   r_i = ‖θ_i‖, û_i = θ_i / r_i (inputs with r_i ≤ tol are left out of the direction);
 *   u = normalised Σ α'_i û_i (α' renormalised over the kept inputs; û_1 when that sum is ≤ tol);
 *   repeat max_iter times: T = Σ α'_i · θ_i/sin θ_i · (û_i − cos θ_i · u) over the inputs with
 *   θ_i = acos(clamp(u·û_i)) ≥ tol; stop when ‖T‖ < tol; u ← cos‖T‖ · u + sin‖T‖ · T/‖T‖, renormalised;
 *   θ = (Σ α_i r_i) · u.
 */
import { MergeMethodError, num, type MethodDescriptor } from './types.ts';

export const karcher: MethodDescriptor = {
  id: 'karcher',
  name: 'Karcher mean',
  paper: 'Karcher, Riemannian center of mass (1977); mergekit karcher',
  summary: 'Averages the directions of the inputs on the sphere by iterating towards their geometric (Karcher) mean, then scales by their average size. Every input counts equally.',
  base: 'unused',
  minInputs: 2,
  parameters: [
    { name: 'max_iter', type: 'number', default: 10, min: 0, max: 1000, strict: true, help: 'Most iterations of the mean\'s refinement (a whole number).' },
    { name: 'tol', type: 'number', default: 1e-5, min: 0, max: 1, strict: true, help: 'Stop when a step is smaller than this; also the size below which an input counts as zero.' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  validate(params) {
    const it = num(params, 'max_iter');
    return Number.isInteger(it) ? null : `max_iter must be a whole number of iterations (got ${it})`;
  },
  kernel({ name, tensors, params }) {
    const maxIter = num(params, 'max_iter');
    const tol = num(params, 'tol');
    if (!Number.isInteger(maxIter)) throw new MergeMethodError(`karcher: max_iter must be a whole number (got ${maxIter})`);
    const n = tensors[0]!.length;
    const N = tensors.length;
    const alpha = 1 / N;
    const norms = tensors.map((t) => norm(t));
    const valid = tensors.map((_, i) => i).filter((i) => norms[i]! > tol);
    const out = new Float32Array(n);
    const stats = (iterations: number) => ({ name, taskVectorNorms: [], kept: [], signAgreement: null, extra: { iterations } });
    if (valid.length === 0) return { data: out, stats: stats(0) };
    const a = 1 / valid.length;
    const units = valid.map((i) => Float64Array.from(tensors[i]!, (x) => x / norms[i]!));
    let u = new Float64Array(n);
    for (const ui of units) for (let j = 0; j < n; j++) u[j] = u[j]! + a * ui[j]!;
    const nu = norm(u);
    if (nu < tol) u = Float64Array.from(units[0]!);
    else for (let j = 0; j < n; j++) u[j] = u[j]! / nu;
    let iterations = 0;
    for (let it = 0; it < maxIter; it++) {
      const T = new Float64Array(n);
      for (const ui of units) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += u[j]! * ui[j]!;
        dot = Math.max(-1, Math.min(1, dot));
        const theta = Math.acos(dot);
        if (theta < tol) continue;
        const c = (a * theta) / Math.sin(theta);
        for (let j = 0; j < n; j++) T[j] = T[j]! + c * (ui[j]! - dot * u[j]!);
      }
      const nT = norm(T);
      if (nT < tol) break;
      iterations++;
      const c = Math.cos(nT), s = Math.sin(nT) / nT;
      for (let j = 0; j < n; j++) u[j] = c * u[j]! + s * T[j]!;
      const nn = norm(u);
      if (nn > tol) for (let j = 0; j < n; j++) u[j] = u[j]! / nn;
    }
    let scale = 0;
    for (const r of norms) scale += alpha * r;
    for (let j = 0; j < n; j++) out[j] = scale * u[j]!;
    return { data: out, stats: stats(iterations) };
  },
};

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
  return Math.sqrt(s);
}
