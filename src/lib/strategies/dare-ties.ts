/**
 * `dare-ties`: DARE-TIES with its weights searched on dev (Yu et al. 2024, "Language Models are
 * Super Mario", arXiv 2311.03099, with TIES, Yadav et al. 2023; MoCo's `weight_dare_ties.py`,
 * mode "optimized"). Agent 1's model is the base; the other agents' task vectors are merged by the
 * merge engine's `dare_ties` with weights found by the shared particle swarm (swarm.ts: MoCo's
 * NumericSwarm and its defaults, 5 particles, at most 5 iterations), each particle turned into
 * weights by a softmax (positive, summing to 1) as MoCo does, really merged and scored on dev.
 * Density: mergekit's default 1 (MoCo's config sets none), so DARE drops nothing unless the knob
 * says so; the drops are seeded by the cell's seed.
 */
import { fnv1a } from '../random.ts';
import { ParticleSwarm } from './swarm.ts';
import type { Fitted, Knob, MergeRecipe, SearchContext, StrategyMeta } from './types.ts';
import { WEIGHT_KNOBS, checkAborted, recipeText, softmax, step, weightCost, weightStrategy } from './weight.ts';

const KNOBS: Knob[] = [
  { id: 'population', label: 'Swarm particles', help: 'Candidate weightings per iteration on dev (MoCo: 5).', type: 'integer', default: 5, min: 1, max: 20, step: 1 },
  { id: 'iterations', label: 'Search iterations', help: 'Most particle-swarm iterations on dev (MoCo: 5).', type: 'integer', default: 5, min: 1, max: 20, step: 1 },
  { id: 'density', label: 'Density', help: 'Share of each task vector DARE keeps (mergekit default 1: keep all).', type: 'number', default: 1, min: 0.05, max: 1, step: 0.05 },
];

const meta: StrategyMeta = {
  id: 'dare-ties',
  name: 'DARE-TIES (weights searched on dev)',
  level: 'weight',
  description: 'Merges the other models’ changes from agent 1’s model (the base) by DARE-TIES, with the weights found by a particle swarm on the dev split. The merged model answers alone.',
  paper: { title: 'Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch', url: 'https://arxiv.org/abs/2311.03099', year: 2024 },
  knobs: [...KNOBS, ...WEIGHT_KNOBS],
  needs: { minAgents: 2, dev: true },
  cost: weightCost('at most P particles × I iterations'),
};

/** DARE-TIES of agents 2 … N on base agent 1 with the softmax of `x` as weights. */
export function dareRecipe(x: readonly number[], density: number, seed: number): MergeRecipe {
  const w = softmax(x);
  return { method: 'dare_ties', base: 0, models: w.map((weight, i) => ({ agent: i + 1, parameters: { weight, density } })), parameters: {}, seed };
}

export async function searchDareTies(sctx: SearchContext): Promise<Fitted> {
  const n = sctx.agents;
  const population = Number(sctx.knobs.population ?? 5);
  const iterations = Number(sctx.knobs.iterations ?? 5);
  const density = Number(sctx.knobs.density ?? 1);
  const swarm = new ParticleSwarm({ dimension: n - 1, population, seed: (sctx.seed ^ fnv1a('dare-ties')) >>> 0 });
  let ran = 0;
  for (let iteration = 1; iteration <= iterations; iteration++) {
    const scores: number[] = [];
    for (const particle of swarm.particles) {
      checkAborted(sctx);
      scores.push(await sctx.evaluate(dareRecipe(particle, density, sctx.seed)));
    }
    ran = iteration;
    const stop = swarm.update(scores);
    sctx.progress(step(iteration, scores, swarm.globalBestScore, dareRecipe(swarm.globalBest, density, sctx.seed)));
    if (stop) break;
  }
  const best = dareRecipe(swarm.globalBest, density, sctx.seed);
  return { state: best, note: `DARE-TIES ${recipeText(best)}: mean dev score ${swarm.globalBestScore.toFixed(3)}; ${ran} iteration(s) of ${population} particles` };
}

export const dareTies = weightStrategy(meta, searchDareTies);
