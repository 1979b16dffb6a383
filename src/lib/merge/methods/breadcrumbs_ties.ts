/** `breadcrumbs_ties` — Model Breadcrumbs + TIES (Davari & Belilovsky, arXiv 2312.06795, with TIES sign election (arXiv 2306.01708)); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const breadcrumbsTies = taskArithmeticMethod({
  id: 'breadcrumbs_ties',
  name: 'Model Breadcrumbs + TIES',
  paper: 'Davari & Belilovsky, arXiv 2312.06795, with TIES sign election (arXiv 2306.01708)',
  summary: 'Breadcrumbs\' band-pass sparsification followed by TIES\'s sign election.',
  consensus: 'sum',
  sparsify: 'magnitude_outliers',
  defaultNormalize: false,
  defaultRescale: false,
});
