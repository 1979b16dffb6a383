/** `della_linear` — DELLA's MAGPRUNE drop without sign election (Deep et al., arXiv 2406.11617; mergekit registry.py); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const dellaLinear = taskArithmeticMethod({
  id: 'della_linear',
  name: 'DELLA (linear)',
  paper: 'Deep et al., DELLA-Merging, arXiv 2406.11617',
  summary: 'DELLA\'s magnitude-ranked random drop and rescale, then a plain weighted sum of the task vectors (no sign election). Seeded: the same seed drops the same entries.',
  consensus: null,
  sparsify: 'della_magprune',
  defaultNormalize: false,
  defaultRescale: true,
});
