/** `task_arithmetic` — Task arithmetic (Ilharco et al., Editing Models with Task Arithmetic, arXiv 2212.04089); a configuration of the task-arithmetic core. */
import { taskArithmeticMethod } from './task-arithmetic-core.ts';

export const taskArithmetic = taskArithmeticMethod({
  id: 'task_arithmetic',
  name: 'Task arithmetic',
  paper: 'Ilharco et al., Editing Models with Task Arithmetic, arXiv 2212.04089',
  summary: 'Adds the weighted task vectors (each model minus the base) to the base. Weight 1 applies a fine-tune fully; negative weights subtract a behaviour.',
  consensus: null,
  sparsify: null,
  defaultNormalize: false,
  defaultRescale: false,
});
