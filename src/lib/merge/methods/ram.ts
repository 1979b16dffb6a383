/**
 * `ram` and `ramplus_tl` — Reinforced Agent Merging (Yuan et al., Behavior Knowledge Merge in
 * Reinforced Agentic Models, arXiv 2601.13572; the exact rule is mergekit's `ram.py`, which these
 * follow): with task vectors δ_i = θ_i − θ_base, an entry is "changed" by model i when
 * |δ_ij| > epsilon; c_j counts the models that change entry j.
 *   ram:        θ_j = θ_base,j + Σ_i [changed_ij] · δ_ij · (c_j = 1 ? 1 : 1/c_j)
 *               (unique updates kept whole, shared ones averaged over the models that made them);
 *   ramplus_tl: unique updates of model i are also scaled by λ_i = 1 + r · clamp(ρ_i, 0, alpha),
 *               ρ_i = (#entries model i changes that others change too) / max(#entries only
 *               model i changes, epsilon), counted over the tensor (tensor-local).
 */
import { MergeMethodError, num, type KernelInput, type KernelResult, type MethodDescriptor, type ParameterDef } from './types.ts';

const EPSILON: ParameterDef = { name: 'epsilon', type: 'number', default: 1e-5, min: 0, max: 1, strict: true, help: 'A task-vector entry larger than this in magnitude counts as changed by that model.' };
const SUMMARY = 'Splits each task vector into entries only this model changed (kept whole) and entries several models changed (averaged over them), so sparse, non-overlapping fine-tunes are not diluted by averaging.';
const PAPER = 'Yuan et al., Behavior Knowledge Merge in Reinforced Agentic Models (RAM), arXiv 2601.13572; mergekit ram';

export const ram: MethodDescriptor = {
  id: 'ram',
  name: 'RAM (Reinforced Agent Merging)',
  paper: PAPER,
  summary: SUMMARY,
  base: 'required',
  minInputs: 2,
  parameters: [EPSILON],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel: (input) => ramKernel(input, false),
};

export const ramplusTl: MethodDescriptor = {
  id: 'ramplus_tl',
  name: 'RAM+ (tensor-local)',
  paper: PAPER,
  summary: `${SUMMARY} RAM+ also scales up a model's unique entries by how much it shares with the others, per tensor.`,
  base: 'required',
  minInputs: 2,
  parameters: [
    { name: 'r', type: 'number', default: 0.1, min: 0, max: 1, help: 'Strength of the rescaling of unique entries: λ = 1 + r · clamp(shared/unique, 0, alpha).' },
    { name: 'alpha', type: 'number', default: 0.2, min: 0, max: 1, help: 'Upper bound of the shared/unique ratio used in the rescaling.' },
    EPSILON,
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel: (input) => ramKernel(input, true),
};

function ramKernel({ name, tensors, baseIndex, params }: KernelInput, plus: boolean): KernelResult {
  if (baseIndex === null) throw new MergeMethodError(`${plus ? 'ramplus_tl' : 'ram'} needs a base_model`);
  const base = tensors[baseIndex]!;
  const n = base.length;
  const eps = num(params, 'epsilon');
  const deltas = tensors.filter((_, i) => i !== baseIndex).map((t) => Float32Array.from(t, (x, j) => x - base[j]!));
  const count = new Uint16Array(n);
  for (const d of deltas) for (let j = 0; j < n; j++) if (Math.abs(d[j]!) > eps) count[j]!++;
  const lambda = deltas.map((d) => {
    if (!plus) return 1;
    let shared = 0, unique = 0;
    for (let j = 0; j < n; j++) {
      if (!(Math.abs(d[j]!) > eps)) continue;
      if (count[j]! > 1) shared++;
      else unique++;
    }
    const rho = shared / Math.max(unique, eps);
    return 1 + num(params, 'r') * Math.min(num(params, 'alpha'), Math.max(0, rho));
  });
  const out = new Float32Array(n);
  let unique = 0, shared = 0;
  for (let j = 0; j < n; j++) {
    const c = count[j]!;
    if (c === 1) unique++;
    else if (c > 1) shared++;
    let m = 0;
    deltas.forEach((d, i) => {
      if (!(Math.abs(d[j]!) > eps)) return;
      m += c === 1 ? d[j]! * lambda[i]! : d[j]! / c;
    });
    out[j] = base[j]! + m;
  }
  return {
    data: out,
    stats: {
      name, taskVectorNorms: deltas.map(norm), kept: deltas.map(() => 1), signAgreement: null,
      extra: { unique: n ? unique / n : 0, shared: n ? shared / n : 0, ...Object.fromEntries(lambda.map((l, i) => [`lambda${i + 1}`, l])) },
    },
  };
}

function norm(d: Float32Array): number {
  let s = 0;
  for (let j = 0; j < d.length; j++) s += d[j]! * d[j]!;
  return Math.sqrt(s);
}
