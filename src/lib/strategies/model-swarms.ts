/**
 * `model-swarms`: model swarms (Feng et al. 2024, "Model Swarms: Collaborative Search to Adapt LLM
 * Experts via Swarm Intelligence", arXiv 2410.11163; MoCo's `weight_model_swarms.py` and
 * `utils/swarm.py`). Each particle is a model; particle i starts as agent i's model, with velocity
 * (the model of a random other agent − its own) — MoCo's "random" starting velocity. Every update
 * MoCo makes is a weighted sum of models (lora_merge), so a particle is always Σ c_j θ_j with
 * Σ c_j = 1 (the velocity's coefficients sum to 0), and the swarm is the particle swarm over those
 * coefficients: the shared PSO of swarm.ts with MoCo's inertia 0.2, cognitive 0.3, social 0.4,
 * repel 0.05, step 0.5 × 0.95^t ≥ 0.1, patience 5, restart patience 3. A candidate is the linear
 * merge with its coefficients (normalize off; a coefficient may be negative: extrapolation), really
 * merged and scored on dev; a particle still at one model (a one-hot coefficient vector) takes
 * that model's own dev score from its member cell, which is the same model. The global best
 * answers the test items. Differences from MoCo: a restarted particle gets a fresh random velocity
 * (swarm.ts, shared with heterogeneous swarms) where MoCo zeroes it.
 */
import { mulberry32, fnv1a } from '../random.ts';
import { ParticleSwarm } from './swarm.ts';
import type { Fitted, Knob, MergeRecipe, SearchContext, StrategyMeta } from './types.ts';
import { WEIGHT_KNOBS, checkAborted, recipeText, step, weightCost, weightStrategy } from './weight.ts';

const ITERATIONS: Knob = { id: 'iterations', label: 'Search iterations', help: 'Most particle-swarm iterations on dev (MoCo: 10); the search stops earlier when the best stops improving for 5.', type: 'integer', default: 10, min: 1, max: 50, step: 1 };

const meta: StrategyMeta = {
  id: 'model-swarms',
  name: 'Model swarms',
  level: 'weight',
  description:
    'Each model is a particle that moves through weight space toward its own best, the swarm’s best and away from the worst, scored on the dev split; the best model found answers alone.',
  paper: { title: 'Model Swarms: Collaborative Search to Adapt LLM Experts via Swarm Intelligence', url: 'https://arxiv.org/abs/2410.11163', year: 2024 },
  knobs: [ITERATIONS, ...WEIGHT_KNOBS],
  needs: { minAgents: 2, dev: true },
  cost: weightCost('at most N particles × I iterations'),
};

/** The linear merge with coefficients `c` (one per agent; they sum to 1, so normalize is off). */
export function swarmRecipe(c: readonly number[]): MergeRecipe {
  return { method: 'linear', base: null, models: c.map((weight, agent) => ({ agent, parameters: { weight } })), parameters: { normalize: false } };
}

/** MoCo's start: particle i at agent i's model, velocity toward a uniformly drawn other agent's. */
export function swarmStart(n: number, seed: number): { positions: number[][]; velocities: number[][] } {
  const random = mulberry32(seed);
  const unit = (i: number) => Array.from({ length: n }, (_, j) => (j === i ? 1 : 0));
  const positions = Array.from({ length: n }, (_, i) => unit(i));
  const velocities = positions.map((x, i) => {
    let lover = Math.floor(random() * (n - 1));
    if (lover >= i) lover += 1;
    return unit(lover).map((v, j) => v - x[j]!);
  });
  return { positions, velocities };
}

/** The agent a coefficient vector is exactly (one 1, the rest 0), or -1. */
function oneModel(c: readonly number[]): number {
  const i = c.indexOf(1);
  return i >= 0 && c.every((v, j) => v === (j === i ? 1 : 0)) ? i : -1;
}

export async function searchModelSwarms(sctx: SearchContext): Promise<Fitted> {
  const n = sctx.agents;
  const iterations = Number(sctx.knobs.iterations ?? 10);
  const seed = (sctx.seed ^ fnv1a('model-swarms')) >>> 0;
  const swarm = new ParticleSwarm({ dimension: n, population: n, seed, start: swarmStart(n, seed ^ 1) });
  let merged = 0;
  let ran = 0;
  for (let iteration = 1; iteration <= iterations; iteration++) {
    const scores: number[] = [];
    for (const particle of swarm.particles) {
      checkAborted(sctx);
      const alone = oneModel(particle);
      if (alone >= 0) scores.push(sctx.dev.agentScores[alone]!);
      else {
        scores.push(await sctx.evaluate(swarmRecipe(particle)));
        merged += 1;
      }
    }
    ran = iteration;
    const stop = swarm.update(scores);
    sctx.progress(step(iteration, scores, swarm.globalBestScore, swarmRecipe(swarm.globalBest)));
    if (stop) break;
  }
  const best = swarmRecipe(swarm.globalBest);
  return { state: best, note: `model swarms' best ${recipeText(best)}: mean dev score ${swarm.globalBestScore.toFixed(3)}; ${ran} iteration(s) of ${n} particles, ${merged} merged candidates run on dev` };
}

export const modelSwarms = weightStrategy(meta, searchModelSwarms);
