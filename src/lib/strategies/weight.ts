/**
 * What MoCo's weight-level methods (greedy soup, model swarms, ExPO, DARE-TIES, LoraHub; MoCo's
 * `model_collaboration/method/weight_*.py`) share here. Each searches merge weights on the dev
 * split: a candidate is a MergeRecipe (types.ts) of the agents' models, which the experiment
 * runner (src/lib/eval/runner.ts) really merges (src/lib/merge) and scores on the dev items through
 * `SearchContext.evaluate`. The method's `run` then answers with the merged model alone: the runner
 * gives a weight-level cell one agent, the merge of `ctx.fitted`. Without a dev search (the
 * playground) there is no merge to answer with, and the run says where to go instead.
 */
import type { CostModel, Fitted, Knob, MergeRecipe, SearchContext, SearchStep, Strategy, StrategyContext, StrategyMeta } from './types.ts';
import { ANSWER_KNOB } from './common.ts';
import { single } from './single.ts';

/** True when `x` is a MergeRecipe (what a weight-level search hands the run as ctx.fitted). */
export function isRecipe(x: unknown): x is MergeRecipe {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Partial<MergeRecipe>;
  return typeof r.method === 'string' && (r.base === null || typeof r.base === 'number') && Array.isArray(r.models) && typeof r.parameters === 'object' && r.parameters !== null;
}

/** A recipe in words: "linear of a2 × 0.5, a1 × 0.5" (agent numbers from 1, weights to 3 digits). */
export function recipeText(r: MergeRecipe): string {
  const params = Object.entries(r.parameters)
    .filter(([k]) => k !== 'normalize')
    .map(([k, v]) => `${k} ${typeof v === 'number' ? round3(v) : v}`);
  const models = r.models.map((m) => (m.parameters.weight === undefined ? `a${m.agent + 1}` : `a${m.agent + 1} × ${round3(m.parameters.weight)}`));
  return `${r.method} of ${models.join(', ')}${r.base === null ? '' : ` on base a${r.base + 1}`}${params.length ? ` (${params.join(', ')})` : ''}`;
}

const round3 = (v: number) => String(Math.round(v * 1000) / 1000);

/** Softmax (MoCo's weight_dare_ties normalises each particle this way, so weights are positive and sum to 1). */
export function softmax(xs: readonly number[]): number[] {
  const top = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * Agent indices by dev score, best first; ties keep setup order (Python's stable `sorted`, as MoCo
 * ranks in weight_greedy_soup.py and weight_expo.py).
 */
export function rankByDev(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Throws the AbortError a search stops with when the run is cancelled. */
export function checkAborted(sctx: SearchContext): void {
  if (sctx.signal.aborted) throw new DOMException('the search was cancelled', 'AbortError');
}

/** The cost every weight-level method states: one call per query (the merged model answers alone), plus the search. */
export function weightCost(search: string): CostModel {
  return {
    formula: `1 call per query (the merged model answers alone); the dev search: ${search}, each candidate merged and run on every dev item`,
    calls: () => 1,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: promptTokens, completion: maxTokens }),
  };
}

/** The knobs every weight-level method ends with. */
export const WEIGHT_KNOBS: Knob[] = [ANSWER_KNOB];

/**
 * A weight-level strategy: `meta`, a `run` that asks the merged model (agent 1 as the runner binds
 * it) the question as `single` does, and the method's `search`.
 */
export function weightStrategy(meta: StrategyMeta, search: (sctx: SearchContext) => Promise<Fitted>): Strategy {
  return {
    meta,
    async *run(ctx: StrategyContext) {
      if (!isRecipe(ctx.fitted)) {
        throw new Error(
          `${meta.name} is a weight-level method: it merges the agents' models with weights searched on a dev split, so it runs in the Experiments tab or with npm run experiment; to merge with weights you choose, use the Merge tab`,
        );
      }
      yield* single.run({ ...ctx, knobs: { ...ctx.knobs, agent: 1 } });
    },
    search,
  };
}

/** The SearchStep of a candidate search: each candidate's dev score and the best recipe so far. */
export function step(iteration: number, scores: number[], best: number, recipe: MergeRecipe): SearchStep {
  return { iteration, scores, best, bestLabel: recipeText(recipe), bestState: recipe };
}
