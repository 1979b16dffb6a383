/**
 * `model_stock` — Jang et al., Model Stock: All we need is just a few fine-tuned models,
 * arXiv 2403.19522; semantics of mergekit `model_stock.py`:
 *   offsets δ_i = θ_i − θ_0 (θ_0 the base), cos θ = mean over pairs i<j of δ_i·δ_j / max(‖δ_i‖‖δ_j‖, 1e-6),
 *   clamped to [−1, 1]; t = N·cos θ / (1 + (N−1)·cos θ); θ = t·mean(θ_i) + (1 − t)·θ_0.
 * With `filter_wise`, cos θ and t are computed per row (GGUF's fastest dimension = torch's last).
 */
import { MergeMethodError, bool, l2, type MethodDescriptor } from './types.ts';

export const modelStock: MethodDescriptor = {
  id: 'model_stock',
  name: 'Model Stock',
  paper: 'Jang et al., Model Stock, arXiv 2403.19522',
  summary: 'Uses the angle between two or more fine-tunes (their differences from the base) to choose how far to move from the base toward their average: the more they agree, the further it goes.',
  base: 'required',
  minInputs: 3,
  parameters: [
    { name: 'filter_wise', type: 'boolean', default: false, help: 'Compute the angle and the interpolation ratio per row instead of once per tensor.' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel({ name, shape, tensors, baseIndex, params }) {
    if (baseIndex === null) throw new MergeMethodError('model_stock needs a base_model');
    const w0 = tensors[baseIndex]!;
    const ws = tensors.filter((_, i) => i !== baseIndex);
    const N = ws.length;
    if (N < 2) throw new MergeMethodError('model_stock needs at least two models besides the base');
    const n = w0.length;
    const rowLen = bool(params, 'filter_wise') ? Math.max(1, shape[0] ?? n) : n;
    const offsets = ws.map((w) => {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = w[i]! - w0[i]!;
      return d;
    });
    const out = new Float32Array(n);
    let tSum = 0;
    let rows = 0;
    for (let r0 = 0; r0 < n; r0 += rowLen) {
      const r1 = Math.min(n, r0 + rowLen);
      let cosSum = 0;
      let pairs = 0;
      for (let i = 0; i < N; i++) {
        for (let j = i + 1; j < N; j++) {
          const a = offsets[i]!, b = offsets[j]!;
          let dot = 0, na = 0, nb = 0;
          for (let k = r0; k < r1; k++) {
            dot += a[k]! * b[k]!;
            na += a[k]! * a[k]!;
            nb += b[k]! * b[k]!;
          }
          const c = dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-6);
          cosSum += Math.max(-1, Math.min(1, c));
          pairs++;
        }
      }
      const cos = cosSum / pairs;
      const t = (N * cos) / (1 + (N - 1) * cos);
      for (let k = r0; k < r1; k++) {
        let avg = 0;
        for (const w of ws) avg += w[k]!;
        avg /= N;
        out[k] = t * avg + (1 - t) * w0[k]!;
      }
      tSum += t;
      rows++;
    }
    return {
      data: out,
      stats: { name, taskVectorNorms: offsets.map(l2), kept: offsets.map(() => 1), signAgreement: null, extra: { t: rows ? tSum / rows : 0 } },
    };
  },
};
