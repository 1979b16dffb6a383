/** `dare_ties` — DARE-TIES (Yu et al., DARE, arXiv 2311.03099, with TIES sign election (arXiv 2306.01708)); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const dareTies = taskArithmeticMethod({
  id: 'dare_ties',
  name: 'DARE-TIES',
  paper: 'Yu et al., DARE, arXiv 2311.03099, with TIES sign election (arXiv 2306.01708)',
  summary: 'DARE\'s random drop and rescale, then TIES\'s sign election: only entries agreeing with the elected sign are merged.',
  consensus: 'sum',
  sparsify: 'random',
  defaultNormalize: false,
  defaultRescale: true,
});
