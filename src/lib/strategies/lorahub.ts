/**
 * `lorahub`: LoraHub-style gradient-free composition (Huang et al. 2024, "LoraHub: Efficient
 * Cross-Task Generalization via Dynamic LoRA Composition", arXiv 2307.13269; MoCo's
 * `weight_lorahub.py`). Agent 1's model is the base; each other agent's task vector (its weights
 * minus the base's — MoCo composes LoRA modules, whose merge is the same sum of deltas) gets a
 * weight w_i in [−bound, bound]; the merge is base + Σ w_i δ_i (the merge engine's
 * `task_arithmetic`). The search minimises MoCo's objective, −(mean dev score) + reg · mean |w_i|,
 * from w = 0 (the base), within a budget of candidates (MoCo: 20, bound 1.5, reg 0.05), each really
 * merged and scored on dev. MoCo runs nevergrad's NGOpt; that optimiser is not available here, so
 * the gradient-free search is a seeded (1+1) evolution strategy: a Gaussian step of size σ (from
 * bound / 3) around the best point, clipped to the bounds, accepted when its objective is no worse,
 * σ × e^(1/3) after a success and × e^(−1/12) after a failure (the one-fifth success rule,
 * Kern et al. 2004). The best point answers the test items.
 */
import { fnv1a, mulberry32 } from '../random.ts';
import type { Fitted, Knob, MergeRecipe, SearchContext, StrategyMeta } from './types.ts';
import { WEIGHT_KNOBS, checkAborted, recipeText, step, weightCost, weightStrategy } from './weight.ts';

const KNOBS: Knob[] = [
  { id: 'budget', label: 'Candidates', help: 'Merges tried on dev, the base included (MoCo: 20).', type: 'integer', default: 20, min: 1, max: 100, step: 1 },
  { id: 'bound', label: 'Weight bound', help: 'Each task vector’s weight lies in [−bound, bound] (MoCo: 1.5).', type: 'number', default: 1.5, min: 0.1, max: 2, step: 0.1 },
  { id: 'regularisation', label: 'L1 regularisation', help: 'Penalty × mean |weight| subtracted from the dev score (MoCo: 0.05).', type: 'number', default: 0.05, min: 0, max: 1, step: 0.01 },
];

const meta: StrategyMeta = {
  id: 'lorahub',
  name: 'LoraHub (gradient-free)',
  level: 'weight',
  description: 'Adds the other models’ changes to agent 1’s model (the base) with weights found by a gradient-free search on the dev split, which prefers small weights. The composed model answers alone.',
  paper: { title: 'LoraHub: Efficient Cross-Task Generalization via Dynamic LoRA Composition', url: 'https://arxiv.org/abs/2307.13269', year: 2024 },
  knobs: [...KNOBS, ...WEIGHT_KNOBS],
  needs: { minAgents: 2, dev: true },
  cost: weightCost('a budget of B candidates'),
};

/** base (agent 1) + Σ w_i (agent i+2 − base). */
export function lorahubRecipe(w: readonly number[]): MergeRecipe {
  return { method: 'task_arithmetic', base: 0, models: w.map((weight, i) => ({ agent: i + 1, parameters: { weight } })), parameters: { normalize: false } };
}

/** MoCo's objective to minimise: −score + reg · mean |w|. */
export function lorahubObjective(score: number, w: readonly number[], reg: number): number {
  return -score + (reg * w.reduce((s, x) => s + Math.abs(x), 0)) / w.length;
}

export async function searchLorahub(sctx: SearchContext): Promise<Fitted> {
  const k = sctx.agents - 1;
  const budget = Number(sctx.knobs.budget ?? 20);
  const bound = Number(sctx.knobs.bound ?? 1.5);
  const reg = Number(sctx.knobs.regularisation ?? 0.05);
  const random = mulberry32((sctx.seed ^ fnv1a('lorahub')) >>> 0);
  // A standard normal draw (Box–Muller) from the seeded stream.
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const clip = (x: number) => Math.min(bound, Math.max(-bound, x));
  let best = new Array<number>(k).fill(0);
  let bestScore = await sctx.evaluate(lorahubRecipe(best));
  let bestObjective = lorahubObjective(bestScore, best, reg);
  sctx.progress(step(1, [bestScore], bestScore, lorahubRecipe(best)));
  let sigma = bound / 3;
  for (let t = 2; t <= budget; t++) {
    checkAborted(sctx);
    const trial = best.map((x) => clip(x + sigma * normal()));
    const score = await sctx.evaluate(lorahubRecipe(trial));
    const objective = lorahubObjective(score, trial, reg);
    if (objective <= bestObjective) {
      best = trial;
      bestScore = score;
      bestObjective = objective;
      sigma *= Math.exp(1 / 3);
    } else sigma *= Math.exp(-1 / 12);
    sctx.progress(step(t, [score], bestScore, lorahubRecipe(best)));
  }
  const recipe = lorahubRecipe(best);
  return { state: recipe, note: `LoraHub ${recipeText(recipe)}: mean dev score ${bestScore.toFixed(3)}, objective ${bestObjective.toFixed(4)} (reg ${reg}); ${budget} candidates, weights in [−${bound}, ${bound}]` };
}

export const lorahub = weightStrategy(meta, searchLorahub);
