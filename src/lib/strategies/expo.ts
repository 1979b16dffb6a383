/**
 * `expo`: ExPO, model extrapolation (Zheng et al. 2024, "Weak-to-Strong Extrapolation Expedites
 * Alignment", arXiv 2404.16792; MoCo's `weight_expo.py`, mode "worst_to_best" with
 * alpha_mode "optimized"). The agents' models are ranked by their dev scores (member cells; ties
 * keep setup order): the worst is the source, the best the target, and the merge is
 * θ = θ_best + α(θ_best − θ_worst) (the merge engine's `expo`). Each α of the grid (MoCo's
 * alpha_candidates 0.1 … 0.5) is really merged and scored on dev; the first α with the highest dev
 * score wins (MoCo's strict `>`). MoCo's default alpha_mode is "fixed" (α = 0.3, no search); here
 * the grid is searched, as the issue asks, and a one-value grid is MoCo's fixed mode.
 */
import type { Fitted, Knob, MergeRecipe, SearchContext, StrategyMeta } from './types.ts';
import { WEIGHT_KNOBS, checkAborted, rankByDev, recipeText, step, weightCost, weightStrategy } from './weight.ts';

const GRID: Knob = { id: 'alphas', label: 'α grid', help: 'The extrapolation strengths tried on dev, separated by commas (MoCo: 0.1, 0.2, 0.3, 0.4, 0.5); each from 0 to 2.', type: 'text', default: '0.1, 0.2, 0.3, 0.4, 0.5', maxLength: 200 };

const meta: StrategyMeta = {
  id: 'expo',
  name: 'ExPO (α searched on dev)',
  level: 'weight',
  description: 'Extrapolates from the model worst on the dev split past the best one: best + α(best − worst), with α chosen on the dev split. The extrapolated model answers alone.',
  paper: { title: 'Weak-to-Strong Extrapolation Expedites Alignment', url: 'https://arxiv.org/abs/2404.16792', year: 2024 },
  knobs: [GRID, ...WEIGHT_KNOBS],
  needs: { minAgents: 2, dev: true },
  cost: weightCost('one candidate per α of the grid'),
};

/** The α grid of the knob's text; a value that is not a number in [0, 2] is refused by name. */
export function parseAlphas(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new Error('expo: the α grid is empty; give values such as "0.1, 0.2, 0.3"');
  return parts.map((p) => {
    const a = Number(p);
    if (!Number.isFinite(a) || a < 0 || a > 2) throw new Error(`expo: α grid value "${p}" is not a number from 0 to 2; give values such as "0.1, 0.2, 0.3"`);
    return a;
  });
}

export function expoRecipe(source: number, target: number, alpha: number): MergeRecipe {
  return { method: 'expo', base: source, models: [{ agent: target, parameters: {} }], parameters: { alpha } };
}

export async function searchExpo(sctx: SearchContext): Promise<Fitted> {
  const alphas = parseAlphas(String(sctx.knobs.alphas ?? GRID.default));
  const ranked = rankByDev(sctx.dev.agentScores);
  const target = ranked[0]!;
  const source = ranked.at(-1)!;
  let best = -Infinity;
  let bestAlpha = alphas[0]!;
  for (const [i, alpha] of alphas.entries()) {
    checkAborted(sctx);
    const score = await sctx.evaluate(expoRecipe(source, target, alpha));
    if (score > best) {
      best = score;
      bestAlpha = alpha;
    }
    sctx.progress(step(i + 1, [score], best, expoRecipe(source, target, bestAlpha)));
  }
  const recipe = expoRecipe(source, target, bestAlpha);
  return { state: recipe, note: `ExPO ${recipeText(recipe)}: mean dev score ${best.toFixed(3)}; α grid ${alphas.join(', ')}; source a${source + 1} (worst on dev), target a${target + 1} (best on dev)` };
}

export const expoSearch = weightStrategy(meta, searchExpo);
