/**
 * Strategy id → strategy. The playground lists `strategies`, draws knobs from each `meta.knobs`
 * and runs one with `runStrategy` (src/lib/run.ts); adding a method is one file plus one line here.
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { single } from './single.ts';
import { vote } from './vote.ts';
import { cascade } from './cascade.ts';
import { debate } from './debate.ts';
import { router } from './router.ts';
import { graphRouter } from './graph-router.ts';
import { promptRouter } from './prompt-router.ts';
import { feedback } from './feedback.ts';
import { debateSummary } from './debate-summary.ts';
import { refine } from './refine.ts';
import { knowledgeCards } from './knowledge-cards.ts';
import { blender } from './blender.ts';
import { moa, selfMoa } from './moa.ts';
import { structure } from './structure.ts';
import { usc } from './usc.ts';
import { slmMux } from './slmmux.ts';
import { aggregation } from './aggregation.ts';
import { blackboard } from './blackboard.ts';
import { hswarm } from './hswarm.ts';
import { nudging } from './nudging.ts';
import { coLlm } from './co-llm.ts';
import { switchGeneration } from './switch.ts';
import { speculative } from './speculative.ts';
import { fusion } from './fusion.ts';
import { contrastive } from './contrastive.ts';
import { proxyTuning } from './proxy-tuning.ts';
import { greedySoup } from './greedy-soup.ts';
import { modelSwarms } from './model-swarms.ts';
import { expoSearch } from './expo.ts';
import { dareTies } from './dare-ties.ts';
import { lorahub } from './lorahub.ts';

/** In the order the UI lists them: the baseline first, then by increasing interaction. */
export const strategies: readonly Strategy[] = [
  single, vote, cascade, debate, router, graphRouter, promptRouter,
  feedback, debateSummary, refine, knowledgeCards, blender,
  moa, selfMoa, structure, usc, slmMux, aggregation,
  blackboard, hswarm,
  nudging, coLlm, switchGeneration, speculative, fusion, contrastive, proxyTuning,
  greedySoup, modelSwarms, expoSearch, dareTies, lorahub,
];

export const strategyById: ReadonlyMap<string, Strategy> = new Map(strategies.map((s) => [s.meta.id, s]));

export const strategyIds: readonly string[] = strategies.map((s) => s.meta.id);

/** The strategy with this id, or an error that lists the ones that exist. */
export function getStrategy(id: string): Strategy {
  const s = strategyById.get(id);
  if (!s) throw new Error(`unknown method "${id}": choose one of ${strategyIds.join(', ')}`);
  return s;
}

export function strategyMetas(): StrategyMeta[] {
  return strategies.map((s) => s.meta);
}
