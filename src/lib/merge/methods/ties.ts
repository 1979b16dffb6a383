/** `ties` — TIES (Yadav et al., TIES-Merging, arXiv 2306.01708); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const ties = taskArithmeticMethod({
  id: 'ties',
  name: 'TIES',
  paper: 'Yadav et al., TIES-Merging, arXiv 2306.01708',
  summary: 'Trims each task vector to its largest entries (density), elects a sign per entry from the summed vectors, and averages only the entries that agree with it — so fine-tunes stop cancelling each other out.',
  consensus: 'sum',
  sparsify: 'magnitude',
  defaultNormalize: true,
  defaultRescale: false,
});
