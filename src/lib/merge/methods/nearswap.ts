/**
 * `nearswap` — take the other model's value where it is near the base's (alchemonaut,
 * huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001; semantics of mergekit `nearswap.py`):
 *   w = clamp(t / max(|θ_base − θ_1|, 1e-6), 0, 1),  θ = w·θ_1 + (1 − w)·θ_base.
 * Entries that differ by at most t become the other model's; larger differences keep a share
 * t/|difference| of it.
 */
import { MergeMethodError, l2, num, type MethodDescriptor } from './types.ts';

export const nearswap: MethodDescriptor = {
  id: 'nearswap',
  name: 'NearSwap',
  paper: 'alchemonaut, QuartetAnemoi (huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001); mergekit nearswap',
  summary: 'Interpolates entry by entry: where the two models are close (|difference| ≤ t) the other model\'s value is taken, where they are far apart the base is mostly kept.',
  base: 'required',
  minInputs: 2,
  maxInputs: 2,
  parameters: [
    { name: 't', type: 'number', required: true, min: 0, max: 1, help: 'Distance below which the other model\'s value replaces the base\'s; larger t takes more of the other model.' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  validate(params) {
    const t = num(params, 't');
    return t < 0 ? `t must be 0 or more (got ${t}); it is a distance between weights` : null;
  },
  kernel({ name, tensors, baseIndex, params }) {
    if (baseIndex === null) throw new MergeMethodError('nearswap needs a base_model');
    const a = tensors[baseIndex]!, b = tensors[1 - baseIndex]!;
    const t = num(params, 't');
    const n = a.length;
    const out = new Float32Array(n);
    const d = new Float32Array(n);
    let swapped = 0;
    for (let j = 0; j < n; j++) {
      d[j] = b[j]! - a[j]!;
      const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(a[j]! - b[j]!), 1e-6)));
      if (w === 1) swapped++;
      out[j] = w * b[j]! + (1 - w) * a[j]!;
    }
    return { data: out, stats: { name, taskVectorNorms: [l2(d)], kept: [1], signAgreement: null, extra: { t, swapped: n === 0 ? 0 : swapped / n } } };
  },
};
