/** `dare_linear` — DARE (linear) (Yu et al., Language Models are Super Mario (DARE), arXiv 2311.03099); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const dareLinear = taskArithmeticMethod({
  id: 'dare_linear',
  name: 'DARE (linear)',
  paper: 'Yu et al., Language Models are Super Mario (DARE), arXiv 2311.03099',
  summary: 'Randomly drops task-vector entries (keeping a share equal to density, seeded), rescales the survivors by 1/density and adds the weighted sum to the base.',
  consensus: null,
  sparsify: 'random',
  defaultNormalize: false,
  defaultRescale: true,
});
