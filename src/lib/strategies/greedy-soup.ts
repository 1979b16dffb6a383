/**
 * `greedy-soup`: greedy model soup (Wortsman et al. 2022, "Model soups", arXiv 2203.05482; MoCo's
 * `weight_greedy_soup.py`). The agents' models are ranked by their dev scores (the member cells'
 * own dev runs, so no call is spent on them; ties keep setup order); the soup starts as the best
 * model alone; each next model is added on trial — the uniform average of the soup and it
 * (mergekit `linear`, weights 1/k), really merged and scored on the dev items — and kept when the
 * dev score is at least the soup's so far (MoCo's `>=`: a tie keeps the model). The final soup
 * answers the test items. Cost of the search: N − 1 merges, each run on every dev item.
 */
import type { Fitted, MergeRecipe, SearchContext, StrategyMeta } from './types.ts';
import { WEIGHT_KNOBS, checkAborted, rankByDev, recipeText, step, weightCost, weightStrategy } from './weight.ts';

const meta: StrategyMeta = {
  id: 'greedy-soup',
  name: 'Greedy soup',
  level: 'weight',
  description:
    'Averages the weights of the models, adding them best first and keeping each only if the averaged model does at least as well on the dev split. The soup answers alone.',
  paper: { title: 'Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing inference time', url: 'https://arxiv.org/abs/2203.05482', year: 2022 },
  knobs: WEIGHT_KNOBS,
  needs: { minAgents: 2, dev: true },
  cost: weightCost('N − 1 candidate soups'),
};

/** The uniform soup of `members` (agent indices): mergekit linear with weights 1/k, as MoCo's lora_merge. */
export function soupRecipe(members: readonly number[]): MergeRecipe {
  return { method: 'linear', base: null, models: members.map((agent) => ({ agent, parameters: { weight: 1 / members.length } })), parameters: { normalize: false } };
}

export async function searchGreedySoup(sctx: SearchContext): Promise<Fitted> {
  const scores = sctx.dev.agentScores;
  const ranked = rankByDev(scores);
  let soup = [ranked[0]!];
  let best = scores[ranked[0]!]!;
  // Iteration 0 is the best model alone, scored by its member cell on dev.
  sctx.progress(step(0, [best], best, soupRecipe(soup)));
  const kept: number[] = [];
  for (const [i, agent] of ranked.slice(1).entries()) {
    checkAborted(sctx);
    const trial = [...soup, agent];
    const score = await sctx.evaluate(soupRecipe(trial));
    if (score >= best) {
      soup = trial;
      best = score;
      kept.push(agent);
    }
    sctx.progress(step(i + 1, [score], best, soupRecipe(soup)));
  }
  const order = ranked.map((a) => `a${a + 1} ${(scores[a]! * 100).toFixed(1)}%`).join(', ');
  return {
    state: soupRecipe(soup),
    note: `greedy soup ${recipeText(soupRecipe(soup))}: mean dev score ${best.toFixed(3)}; members by dev score ${order}; ${ranked.length - 1} soups tried, ${kept.length} model(s) added`,
  };
}

export const greedySoup = weightStrategy(meta, searchGreedySoup);
