/** The one registry of merge methods, keyed by mergekit's `merge_method` name. */
import type { MethodDescriptor } from './types.ts';
import { linear } from './linear.ts';
import { slerp } from './slerp.ts';
import { taskArithmetic } from './task_arithmetic.ts';
import { ties } from './ties.ts';
import { dareLinear } from './dare_linear.ts';
import { dareTies } from './dare_ties.ts';
import { breadcrumbs } from './breadcrumbs.ts';
import { breadcrumbsTies } from './breadcrumbs_ties.ts';
import { modelStock } from './model_stock.ts';
import { expo } from './expo.ts';
import { della } from './della.ts';
import { dellaLinear } from './della_linear.ts';
import { sce } from './sce.ts';
import { nuslerp } from './nuslerp.ts';
import { multislerp } from './multislerp.ts';
import { karcher } from './karcher.ts';
import { nearswap } from './nearswap.ts';
import { arceeFusion } from './arcee_fusion.ts';
import { passthrough } from './passthrough.ts';
import { ram, ramplusTl } from './ram.ts';

export * from './types.ts';

export const METHODS: ReadonlyMap<string, MethodDescriptor> = new Map(
  [
    linear, slerp, taskArithmetic, ties, dareLinear, dareTies, breadcrumbs, breadcrumbsTies, modelStock, expo,
    della, dellaLinear, sce, nuslerp, multislerp, karcher, nearswap, arceeFusion, passthrough, ram, ramplusTl,
  ].map((m) => [m.id, m]),
);

export function getMethod(id: string): MethodDescriptor {
  const m = METHODS.get(id);
  if (!m) {
    throw new Error(`unknown merge_method "${id}"; use one of: ${[...METHODS.keys()].join(', ')}`);
  }
  return m;
}
