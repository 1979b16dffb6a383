/** `breadcrumbs` — Model Breadcrumbs (Davari & Belilovsky, Model Breadcrumbs, arXiv 2312.06795); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const breadcrumbs = taskArithmeticMethod({
  id: 'breadcrumbs',
  name: 'Model Breadcrumbs',
  paper: 'Davari & Belilovsky, Model Breadcrumbs, arXiv 2312.06795',
  summary: 'Drops both the tiny entries and the largest outliers (gamma) of each task vector, keeping a band of medium-sized changes, then adds the weighted sum.',
  consensus: null,
  sparsify: 'magnitude_outliers',
  defaultNormalize: false,
  defaultRescale: false,
});
