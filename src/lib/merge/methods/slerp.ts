/**
 * `slerp` — spherical linear interpolation between the base (t = 0) and one other model (t = 1),
 * treating each whole tensor as one vector (Shoemake 1985; mergekit `slerp.py`):
 *   v̂ = v/‖v‖ (left as is when ‖v‖ ≤ 1e-8), dot = v̂0·v̂1,
 *   |dot| > 0.9995 → lerp: (1−t)v0 + t·v1  (near-colinear: slerp is ill-conditioned),
 *   else θ0 = acos(dot), θt = θ0·t, out = sin(θ0−θt)/sin θ0 · v0 + sin θt/sin θ0 · v1
 * (the coefficients apply to the original, unnormalised tensors, as in mergekit).
 */
import { l2, num, type MethodDescriptor } from './types.ts';

export const DOT_THRESHOLD = 0.9995;
const EPS = 1e-8;

export const slerp: MethodDescriptor = {
  id: 'slerp',
  name: 'SLERP',
  paper: 'Shoemake, Animating Rotation with Quaternion Curves (SIGGRAPH 1985); mergekit slerp',
  summary: 'Walks along the arc between two models instead of the straight line, keeping the size of the weights; t = 0 is the base, t = 1 the other model. Per-layer lists of t blend the two differently at each depth.',
  base: 'required',
  minInputs: 2,
  maxInputs: 2,
  parameters: [
    { name: 't', type: 'number', required: true, min: 0, max: 1, help: 'Position on the arc: 0 gives the base model, 1 the other, 0.5 the middle. A list varies it across layers.' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel({ name, tensors, baseIndex, params }) {
    const b = baseIndex ?? 0;
    const v0 = tensors[b]!;
    const v1 = tensors[1 - b]!;
    const t = num(params, 't');
    const n0 = l2(v0);
    const n1 = l2(v1);
    const s0n = n0 > EPS ? 1 / n0 : 1;
    const s1n = n1 > EPS ? 1 / n1 : 1;
    let dot = 0;
    for (let i = 0; i < v0.length; i++) dot += v0[i]! * s0n * (v1[i]! * s1n);
    const out = new Float32Array(v0.length);
    let c0: number, c1: number, lerp: number, theta: number;
    if (Math.abs(dot) > DOT_THRESHOLD) {
      c0 = 1 - t;
      c1 = t;
      lerp = 1;
      theta = Math.acos(Math.max(-1, Math.min(1, dot)));
    } else {
      theta = Math.acos(dot);
      const sin0 = Math.sin(theta);
      c0 = Math.sin(theta - theta * t) / sin0;
      c1 = Math.sin(theta * t) / sin0;
      lerp = 0;
    }
    for (let i = 0; i < v0.length; i++) out[i] = c0 * v0[i]! + c1 * v1[i]!;
    const d = new Float32Array(v0.length);
    for (let i = 0; i < v0.length; i++) d[i] = v1[i]! - v0[i]!;
    return {
      data: out,
      stats: { name, taskVectorNorms: [l2(d)], kept: [1], signAgreement: null, extra: { angleDeg: (theta * 180) / Math.PI, lerpFallback: lerp, t } },
    };
  },
};
