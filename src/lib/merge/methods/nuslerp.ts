/**
 * `nuslerp` — SLERP by weights, per row or per column (mergekit `nuslerp.py`): two models with
 * per-model weights w_1, w_2 give t = w_2 / (w_1 + w_2) (0.5 when |w_1 + w_2| < 1e-6). With a
 * base model (then exactly two others), the task vectors θ_i − θ_base are interpolated and the
 * base added back. Each vector is split into the pieces the options name:
 *   nuslerp_flatten (default true): the whole tensor is one vector;
 *   else nuslerp_row_wise false: each GGUF row (torch's last dimension) is a vector;
 *   else: each column (torch's first dimension; a vector tensor is one vector either way).
 * For each pair of pieces: û = u/max(‖u‖, 1e-7), cos θ = clamp(û·v̂, −1, 1), and
 *   |sin θ| < 1e-8 → (1 − t)·u + t·v, else (sin((1 − t)θ)·u + sin(tθ)·v) / sin θ.
 */
import { MergeMethodError, bool, num, type MethodDescriptor } from './types.ts';

export const nuslerp: MethodDescriptor = {
  id: 'nuslerp',
  name: 'NuSLERP',
  paper: 'Shoemake 1985 (SLERP); mergekit nuslerp',
  summary: 'SLERP between two models with weights instead of t, optionally of their task vectors from a base, over the whole tensor or row by row or column by column.',
  base: 'optional',
  minInputs: 2,
  maxInputs: 3,
  parameters: [
    { name: 'nuslerp_flatten', type: 'boolean', default: true, help: 'Treat the whole tensor as one vector (as slerp does). Off: interpolate each row (or column) on its own arc.' },
    { name: 'nuslerp_row_wise', type: 'boolean', default: false, help: 'With flatten off: interpolate columns (torch\'s first dimension) instead of rows.' },
  ],
  perModelParameters: [
    { name: 'weight', type: 'number', required: true, min: 0, max: 2, help: 'Relative weight of this model: t = weight₂ / (weight₁ + weight₂).' },
  ],
  baseTakesModelParameters: false,
  validate(_params, modelParams, baseIndex) {
    const others = modelParams.length - (baseIndex === null ? 0 : 1);
    return others === 2 ? null : `nuslerp interpolates exactly two models${baseIndex === null ? '' : ' besides the base'} (got ${others}); list two`;
  },
  kernel({ name, shape, tensors, baseIndex, params, modelParams }) {
    const others = tensors.map((_, i) => i).filter((i) => i !== baseIndex);
    if (others.length !== 2) throw new MergeMethodError('nuslerp merges exactly two models (plus an optional base)');
    const [i0, i1] = others as [number, number];
    const w0 = num(modelParams[i0]!, 'weight'), w1 = num(modelParams[i1]!, 'weight');
    const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
    const n = tensors[i0]!.length;
    const base = baseIndex === null ? null : tensors[baseIndex]!;
    const u = new Float32Array(n), v = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      u[j] = base ? tensors[i0]![j]! - base[j]! : tensors[i0]![j]!;
      v[j] = base ? tensors[i1]![j]! - base[j]! : tensors[i1]![j]!;
    }
    // Pieces: `count` vectors of `len` entries, entry k of piece p at p·pieceStride + k·stride.
    const flatten = bool(params, 'nuslerp_flatten');
    const cols = shape.length >= 2 ? shape[0]! : n;
    let count: number, len: number, pieceStride: number, stride: number;
    if (flatten || shape.length < 2) [count, len, pieceStride, stride] = [1, n, 0, 1];
    else if (!bool(params, 'nuslerp_row_wise')) [count, len, pieceStride, stride] = [n / cols, cols, cols, 1];
    else [count, len, pieceStride, stride] = [cols, n / cols, 1, cols];
    const out = new Float32Array(n);
    let colinear = 0, angle = 0;
    for (let p = 0; p < count; p++) {
      const at = (k: number) => p * pieceStride + k * stride;
      let nu = 0, nv = 0;
      for (let k = 0; k < len; k++) {
        nu += u[at(k)]! ** 2;
        nv += v[at(k)]! ** 2;
      }
      const su = 1 / Math.max(Math.sqrt(nu), 1e-7), sv = 1 / Math.max(Math.sqrt(nv), 1e-7);
      let dot = 0;
      for (let k = 0; k < len; k++) dot += u[at(k)]! * su * (v[at(k)]! * sv);
      const theta = Math.acos(Math.max(-1, Math.min(1, dot)));
      const s = Math.sin(theta);
      angle += theta;
      let c0: number, c1: number;
      if (Math.abs(s) < 1e-8) {
        colinear++;
        [c0, c1] = [1 - t, t];
      } else [c0, c1] = [Math.sin((1 - t) * theta) / s, Math.sin(t * theta) / s];
      for (let k = 0; k < len; k++) {
        const j = at(k);
        out[j] = (base ? base[j]! : 0) + (c0 * u[j]! + c1 * v[j]!);
      }
    }
    return {
      data: out,
      stats: { name, taskVectorNorms: [], kept: [], signAgreement: null, extra: { t, angleDeg: (angle / count) * 180 / Math.PI, lerpFallback: colinear / count } },
    };
  },
};
