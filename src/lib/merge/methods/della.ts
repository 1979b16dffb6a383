/** `della` — DELLA-Merging (Deep et al., arXiv 2406.11617): MAGPRUNE's rank-based random drop, then TIES sign election; a configuration of the task-arithmetic core (mergekit registry.py). */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const della = taskArithmeticMethod({
  id: 'della',
  name: 'DELLA',
  paper: 'Deep et al., DELLA-Merging, arXiv 2406.11617',
  summary: 'Drops task-vector entries at random, larger ones less often (keep probability from density − epsilon for the smallest to density + epsilon for the largest in each row), rescales the survivors, then elects a sign per entry as TIES does. Seeded: the same seed drops the same entries.',
  consensus: 'sum',
  sparsify: 'della_magprune',
  defaultNormalize: true,
  defaultRescale: true,
});
