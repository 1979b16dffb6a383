/**
 * `expo` — ExPO, model extrapolation (Zheng et al., Weak-to-Strong Extrapolation Expedites
 * Alignment, arXiv 2404.16792): θ = θ_target + α(θ_target − θ_source). The base model is the
 * source (e.g. the SFT checkpoint), the one other model the target (e.g. the aligned one).
 * Not a mergekit method; it equals task arithmetic with weight 1 + α.
 */
import { MergeMethodError, l2, num, type MethodDescriptor } from './types.ts';

export const expo: MethodDescriptor = {
  id: 'expo',
  name: 'ExPO (extrapolation)',
  paper: 'Zheng et al., Weak-to-Strong Extrapolation Expedites Alignment, arXiv 2404.16792',
  summary: 'Moves past the target model, away from the source (base): if alignment went from source to target, go a little further in the same direction.',
  base: 'required',
  minInputs: 2,
  maxInputs: 2,
  parameters: [
    { name: 'alpha', type: 'number', default: 0.3, min: 0, max: 2, help: 'How far past the target to go, as a share of the target − source difference. 0 returns the target.' },
  ],
  perModelParameters: [],
  baseTakesModelParameters: false,
  kernel({ name, tensors, baseIndex, params }) {
    if (baseIndex === null) throw new MergeMethodError('expo needs a base_model (the source)');
    const src = tensors[baseIndex]!;
    const tgt = tensors[1 - baseIndex]!;
    const a = num(params, 'alpha');
    const out = new Float32Array(src.length);
    const d = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      d[i] = tgt[i]! - src[i]!;
      out[i] = tgt[i]! + a * (tgt[i]! - src[i]!);
    }
    return { data: out, stats: { name, taskVectorNorms: [l2(d)], kept: [1], signAgreement: null, extra: { alpha: a } } };
  },
};
