/**
 * `passthrough` — copy one input's tensors, optionally scaled (mergekit `passthrough.py`): with
 * `slices:` it stacks layers of models into a new one (a "frankenmerge"); `scale` multiplies a
 * tensor (e.g. `{filter: o_proj, value: 0.5}` to damp duplicated layers). Exactly one input per
 * tensor.
 */
import { num, type MethodDescriptor } from './types.ts';

export const passthrough: MethodDescriptor = {
  id: 'passthrough',
  name: 'Passthrough (layer stacking)',
  paper: 'mergekit passthrough (frankenmerges: Goddard et al., Arcee\'s MergeKit, arXiv 2403.13257)',
  summary: 'Copies the tensors of one model, optionally scaled. With slices (in the YAML) it stacks layer ranges of models into a model of another depth.',
  base: 'unused',
  minInputs: 1,
  maxInputs: 1,
  parameters: [],
  perModelParameters: [
    { name: 'scale', type: 'number', default: 1, min: 0, max: 2, help: 'Multiplies every value of the tensor; 1 copies it unchanged.' },
  ],
  baseTakesModelParameters: true,
  kernel({ name, tensors, modelParams }) {
    const x = tensors[0]!;
    const s = num(modelParams[0]!, 'scale');
    const out = s === 1 ? Float32Array.from(x) : Float32Array.from(x, (v) => v * s);
    return { data: out, stats: { name, taskVectorNorms: [], kept: [], signAgreement: null, extra: { scale: s } } };
  },
};
