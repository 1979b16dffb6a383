/**
 * `multislerp` — barycentric interpolation on the hypersphere (Goddard, "Multi-SLERP",
 * goddard.blog/posts/multislerp-wow-what-a-cool-idea; semantics of mergekit `multislerp.py`). With
 * vectors x_i (the models' tensors, or their task vectors θ_i − θ_base with a base) and weights w_i
 * (÷ Σ w when normalize_weights):
 *   r_i = ‖x_i‖, û_i = x_i / (r_i + eps), m = Σ w_i û_i;
 *   ‖m‖ < eps → two inputs: w_1 x_1 + w_2 x_2; more: refused (antipodal inputs cancel out);
 *   m̂ = m/‖m‖, τ = Σ w_i (û_i − (û_i·m̂) m̂), a = ‖τ‖ + eps;
 *   θ = (Σ w_i r_i) · (m̂ cos a + τ sin(a)/a)  (+ θ_base).
 * One input alone is returned as it is.
 */
import { MergeMethodError, bool, num, type MethodDescriptor } from './types.ts';

export const multislerp: MethodDescriptor = {
  id: 'multislerp',
  name: 'Multi-SLERP',
  paper: 'Goddard, Multi-SLERP (goddard.blog); mergekit multislerp',
  summary: 'SLERP for any number of models: averages their directions on the sphere (through the tangent space at their weighted mean) and their sizes separately; with a base, of their task vectors.',
  base: 'optional',
  minInputs: 2,
  parameters: [
    { name: 'normalize_weights', type: 'boolean', default: true, help: 'Divide the weights by their sum, so weights 1 and 1 mean "half of each".' },
    { name: 'eps', type: 'number', default: 1e-8, min: 0, max: 1e-3, strict: true, help: 'Small constant that keeps zero vectors from dividing by zero.' },
  ],
  perModelParameters: [
    { name: 'weight', type: 'number', required: true, min: 0, max: 2, help: 'How much of this model\'s direction and size goes into the result.' },
  ],
  baseTakesModelParameters: false,
  validate(params, modelParams, baseIndex) {
    if (!bool(params, 'normalize_weights')) return null;
    let s = 0;
    modelParams.forEach((mp, i) => {
      // Stryker disable next-line AssignmentOperator: only s === 0 is read, and −Σw is 0 exactly when Σw is
      if (i !== baseIndex) s += num(mp, 'weight');
    });
    return s === 0 ? 'the weights sum to 0 and normalize_weights is true, so they cannot be normalised; change a weight or set normalize_weights: false' : null;
  },
  kernel({ name, tensors, baseIndex, params, modelParams }) {
    const idx = tensors.map((_, i) => i).filter((i) => i !== baseIndex);
    const n = tensors[0]!.length;
    const base = baseIndex === null ? null : tensors[baseIndex]!;
    const stats = (extra: Record<string, number>) => ({ name, taskVectorNorms: [], kept: [], signAgreement: null, extra });
    if (idx.length === 1) return { data: Float32Array.from(tensors[idx[0]!]!), stats: stats({}) };
    const eps = num(params, 'eps');
    let w = idx.map((i) => num(modelParams[i]!, 'weight'));
    if (bool(params, 'normalize_weights')) {
      const s = w.reduce((a, b) => a + b, 0);
      w = w.map((x) => x / s);
    }
    const xs = idx.map((i) => {
      const x = new Float64Array(n);
      const t = tensors[i]!;
      for (let j = 0; j < n; j++) x[j] = base ? t[j]! - base[j]! : t[j]!;
      return x;
    });
    const norms = xs.map(norm);
    const units = xs.map((x, k) => x.map((v) => v / (norms[k]! + eps)));
    const mean = new Float64Array(n);
    units.forEach((u, k) => u.forEach((v, j) => (mean[j] = mean[j]! + w[k]! * v)));
    const meanNorm = norm(mean);
    const out = new Float32Array(n);
    if (meanNorm < eps) {
      if (xs.length !== 2) {
        throw new MergeMethodError(`multislerp, tensor ${name}: the weighted directions of the inputs cancel out (antipodal tensors with balancing weights); change a weight`);
      }
      for (let j = 0; j < n; j++) out[j] = xs[0]![j]! * w[0]! + xs[1]![j]! * w[1]! + (base ? base[j]! : 0);
      return { data: out, stats: stats({ lerpFallback: 1 }) };
    }
    for (let j = 0; j < n; j++) mean[j] = mean[j]! / meanNorm;
    const tangent = new Float64Array(n);
    units.forEach((u, k) => {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += u[j]! * mean[j]!;
      for (let j = 0; j < n; j++) tangent[j] = tangent[j]! + w[k]! * (u[j]! - dot * mean[j]!);
    });
    const a = norm(tangent) + eps;
    const scale = norms.reduce((s, r, k) => s + r * w[k]!, 0);
    const c = Math.cos(a), sa = Math.sin(a) / a;
    for (let j = 0; j < n; j++) out[j] = (mean[j]! * c + tangent[j]! * sa) * scale + (base ? base[j]! : 0);
    return { data: out, stats: stats({ tangentNorm: a - eps, lerpFallback: 0 }) };
  },
};

function norm(x: Float64Array): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
  return Math.sqrt(s);
}
