// MoCo's weight-level methods' searches on dev (src/lib/strategies/{greedy-soup,model-swarms,expo,
// dare-ties}.ts) with scripted dev scores: which candidates each tries, in which order, what it
// keeps, and that the model swarm and DARE-TIES move exactly as the shared PSO (swarm.ts) moves.
import { describe, expect, it } from 'vitest';
import { ParticleSwarm } from '../../src/lib/strategies/swarm.ts';
import { searchGreedySoup, soupRecipe } from '../../src/lib/strategies/greedy-soup.ts';
import { searchModelSwarms, swarmRecipe, swarmStart } from '../../src/lib/strategies/model-swarms.ts';
import { expoRecipe, parseAlphas, searchExpo } from '../../src/lib/strategies/expo.ts';
import { dareRecipe, searchDareTies } from '../../src/lib/strategies/dare-ties.ts';
import { lorahubObjective, lorahubRecipe, searchLorahub } from '../../src/lib/strategies/lorahub.ts';
import { rankByDev, recipeText, softmax } from '../../src/lib/strategies/weight.ts';
import { fnv1a } from '../../src/lib/random.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { runStrategy } from '../../src/lib/run.ts';
import type { MergeRecipe, SearchContext, SearchStep } from '../../src/lib/strategies/types.ts';
import { ScriptedModel } from './runner.scripted.ts';

/** A search context whose dev score of a candidate is `score(recipe)`; records candidates and steps. */
function scripted(agentScores: number[], score: (r: MergeRecipe) => number, knobs: Record<string, number | string> = {}, seed = 3) {
  const tried: MergeRecipe[] = [];
  const steps: SearchStep[] = [];
  const controller = new AbortController();
  const sctx: SearchContext = {
    agents: agentScores.length,
    knobs,
    seed,
    signal: controller.signal,
    dev: { agentScores, items: [] },
    evaluate: (state) => {
      tried.push(state as MergeRecipe);
      return Promise.resolve(score(state as MergeRecipe));
    },
    progress: (s) => steps.push(s),
  };
  return { sctx, tried, steps, controller };
}

const members = (r: MergeRecipe) => r.models.map((m) => m.agent).join(',');

describe('greedy soup (MoCo weight_greedy_soup.py)', () => {
  it('ranks by dev score, tries each next model in the uniform average, keeps it when the dev score is at least the soup\'s (a tie keeps it)', async () => {
    // Ranking: a2 (0.5), a3 (0.4), a1 (0.2), a4 (0.1).
    const soups: Record<string, number> = { '1,2': 0.6, '1,2,0': 0.55, '1,2,3': 0.6 };
    const { sctx, tried, steps } = scripted([0.2, 0.5, 0.4, 0.1], (r) => soups[members(r)]!);
    const fitted = await searchGreedySoup(sctx);
    expect(tried.map(members)).toEqual(['1,2', '1,2,0', '1,2,3']);
    expect(tried[1]).toEqual({ method: 'linear', base: null, models: [1, 2, 0].map((agent) => ({ agent, parameters: { weight: 1 / 3 } })), parameters: { normalize: false } });
    expect(fitted.state).toEqual(soupRecipe([1, 2, 3]));
    expect(steps.map((s) => [s.iteration, s.scores, s.best])).toEqual([[0, [0.5], 0.5], [1, [0.6], 0.6], [2, [0.55], 0.6], [3, [0.6], 0.6]]);
    expect(steps[2]!.bestState).toEqual(soupRecipe([1, 2]));
    expect(fitted.note).toContain('2 model(s) added');
  });

  it('a soup no model improves stays the best model alone', async () => {
    const { sctx, tried } = scripted([0.9, 0.1], () => 0.5);
    expect((await searchGreedySoup(sctx)).state).toEqual(soupRecipe([0]));
    expect(tried).toHaveLength(1);
  });

  it('ties in dev score keep setup order (Python\'s stable sort)', () => {
    expect(rankByDev([0.5, 0.7, 0.5, 0.7])).toEqual([1, 3, 0, 2]);
  });
});

describe('model swarms (MoCo weight_model_swarms.py, utils/swarm.py)', () => {
  it('starts each particle at one model with velocity toward another, and moves as the shared PSO does with those scores', async () => {
    const agentScores = [0.3, 0.6, 0.1];
    // A scripted dev score of a coefficient vector: closeness to (0.2, 0.7, 0.1).
    const target = [0.2, 0.7, 0.1];
    const score = (r: MergeRecipe) => 1 - r.models.reduce((s, m, i) => s + Math.abs(m.parameters.weight! - target[i]!), 0) / 4;
    const { sctx, tried, steps } = scripted(agentScores, score, { iterations: 4 }, 11);
    const fitted = await searchModelSwarms(sctx);
    // Replay with the shared PSO: the same seed and start, fed the same scores.
    const seed = (11 ^ fnv1a('model-swarms')) >>> 0;
    const start = swarmStart(3, seed ^ 1);
    expect(start.positions).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    for (const [i, v] of start.velocities.entries()) {
      expect(v[i]).toBe(-1);
      expect(v.filter((x) => x === 1)).toHaveLength(1);
    }
    const replay = new ParticleSwarm({ dimension: 3, population: 3, seed, start });
    const expected: MergeRecipe[] = [];
    for (let it = 1; it <= steps.length; it++) {
      const scores = replay.particles.map((p, i) => {
        const alone = p.every((v, j) => v === (j === i ? 1 : 0)) && it === 1;
        if (!alone) expected.push(swarmRecipe(p));
        return alone ? agentScores[i]! : score(swarmRecipe(p));
      });
      expect(scores).toEqual(steps[it - 1]!.scores);
      replay.update(scores);
    }
    // Iteration 1's particles are the models themselves: scored by their member cells, never merged.
    expect(steps[0]!.scores).toEqual(agentScores);
    expect(tried).toEqual(expected);
    expect(tried.length).toBe(3 * (steps.length - 1));
    // Every candidate is an affine combination (coefficients sum to 1), as MoCo's lora_merge updates keep it.
    for (const r of tried) expect(r.models.reduce((s, m) => s + m.parameters.weight!, 0)).toBeCloseTo(1, 12);
    expect(fitted.state).toEqual(swarmRecipe(replay.globalBest));
    expect(steps.at(-1)!.best).toBe(replay.globalBestScore);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const score = (r: MergeRecipe) => r.models[0]!.parameters.weight! * 0.5 + 0.25;
    const a = scripted([0.3, 0.6, 0.2], score, { iterations: 3 }, 5);
    const b = scripted([0.3, 0.6, 0.2], score, { iterations: 3 }, 5);
    const c = scripted([0.3, 0.6, 0.2], score, { iterations: 3 }, 6);
    await Promise.all([searchModelSwarms(a.sctx), searchModelSwarms(b.sctx), searchModelSwarms(c.sctx)]);
    expect(a.tried).toEqual(b.tried);
    expect(a.tried).not.toEqual(c.tried);
  });
});

describe('ExPO with α searched on dev (MoCo weight_expo.py, worst_to_best, optimized)', () => {
  it('extrapolates from the worst model on dev past the best, over the α grid; the first α with the highest dev score wins', async () => {
    const byAlpha: Record<number, number> = { 0.1: 0.2, 0.2: 0.5, 0.3: 0.5, 0.4: 0.1, 0.5: 0.4 };
    const { sctx, tried, steps } = scripted([0.3, 0.6, 0.1], (r) => byAlpha[r.parameters.alpha as number]!);
    const fitted = await searchExpo(sctx);
    expect(tried).toEqual([0.1, 0.2, 0.3, 0.4, 0.5].map((a) => expoRecipe(2, 1, a)));
    expect(tried[0]).toEqual({ method: 'expo', base: 2, models: [{ agent: 1, parameters: {} }], parameters: { alpha: 0.1 } });
    expect(fitted.state).toEqual(expoRecipe(2, 1, 0.2));
    expect(steps.map((s) => s.best)).toEqual([0.2, 0.5, 0.5, 0.5, 0.5]);
  });

  it('a grid of one α is MoCo\'s fixed mode; a bad grid is refused by name', async () => {
    const { sctx, tried } = scripted([0.3, 0.6], () => 0.4, { alphas: '0.3' });
    await searchExpo(sctx);
    expect(tried).toEqual([expoRecipe(0, 1, 0.3)]);
    expect(() => parseAlphas('0.1, x')).toThrow('α grid value "x" is not a number from 0 to 2');
    expect(() => parseAlphas('3')).toThrow('from 0 to 2');
    expect(() => parseAlphas(' , ')).toThrow('the α grid is empty');
  });
});

describe('DARE-TIES with weights searched on dev (MoCo weight_dare_ties.py, optimized)', () => {
  it('merges agents 2 … N on base agent 1 with the softmax of each particle, moving as the shared PSO', async () => {
    const score = (r: MergeRecipe) => r.models[0]!.parameters.weight!;
    const { sctx, tried, steps } = scripted([0.3, 0.6, 0.2], score, { population: 4, iterations: 3, density: 0.5 }, 9);
    const fitted = await searchDareTies(sctx);
    const replay = new ParticleSwarm({ dimension: 2, population: 4, seed: (9 ^ fnv1a('dare-ties')) >>> 0 });
    const expected: MergeRecipe[] = [];
    for (const s of steps) {
      const scores = replay.particles.map((p) => {
        expected.push(dareRecipe(p, 0.5, 9));
        return score(dareRecipe(p, 0.5, 9));
      });
      expect(scores).toEqual(s.scores);
      replay.update(scores);
    }
    expect(tried).toEqual(expected);
    expect(tried).toHaveLength(12);
    expect(tried[0]!.base).toBe(0);
    expect(tried[0]!.seed).toBe(9);
    expect(tried[0]!.parameters).toEqual({});
    expect(tried[0]!.models.map((m) => [m.agent, m.parameters.density])).toEqual([[1, 0.5], [2, 0.5]]);
    for (const r of tried) expect(r.models.reduce((s, m) => s + m.parameters.weight!, 0)).toBeCloseTo(1, 12);
    expect(fitted.state).toEqual(dareRecipe(replay.globalBest, 0.5, 9));
    const w = softmax([0, Math.log(3)]);
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect(w[1]).toBeCloseTo(0.75, 12);
  });
});

describe('LoraHub-style search (MoCo weight_lorahub.py)', () => {
  it('starts at the base (all weights 0), stays within the bounds, spends the budget, and keeps the candidate of least −score + reg · mean |w|', async () => {
    // A scripted dev score peaked at w = (0.8, −0.4).
    const score = (r: MergeRecipe) => Math.max(0, 1 - Math.hypot(r.models[0]!.parameters.weight! - 0.8, r.models[1]!.parameters.weight! + 0.4));
    const { sctx, tried, steps } = scripted([0.3, 0.6, 0.2], score, { budget: 12, bound: 1, regularisation: 0.05 }, 4);
    const fitted = await searchLorahub(sctx);
    expect(tried).toHaveLength(12);
    expect(tried[0]).toEqual(lorahubRecipe([0, 0]));
    expect(tried[0]).toEqual({ method: 'task_arithmetic', base: 0, models: [{ agent: 1, parameters: { weight: 0 } }, { agent: 2, parameters: { weight: 0 } }], parameters: { normalize: false } });
    for (const r of tried) for (const m of r.models) expect(Math.abs(m.parameters.weight!)).toBeLessThanOrEqual(1);
    const objective = (r: MergeRecipe) => lorahubObjective(score(r), r.models.map((m) => m.parameters.weight!), 0.05);
    const least = Math.min(...tried.map(objective));
    // Ties go to the later candidate (accepted when no worse).
    const chosen = tried.findLast((r) => objective(r) === least)!;
    expect(fitted.state).toEqual(chosen);
    expect(steps.map((st) => st.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps.at(-1)!.best).toBe(score(chosen));
    expect(lorahubObjective(0.5, [1, -0.5], 0.1)).toBeCloseTo(-0.5 + 0.1 * 0.75, 15);
    const again = scripted([0.3, 0.6, 0.2], score, { budget: 12, bound: 1, regularisation: 0.05 }, 4);
    await searchLorahub(again.sctx);
    expect(again.tried).toEqual(tried);
  });
});

describe('weight-level runs', () => {
  it('say a recipe in words', () => {
    expect(recipeText(soupRecipe([1, 0]))).toBe('linear of a2 × 0.5, a1 × 0.5');
    expect(recipeText(expoRecipe(2, 0, 0.3))).toBe('expo of a1 on base a3 (alpha 0.3)');
  });

  it('are refused without a searched merge (the playground), naming where they run', async () => {
    const engine = new ScriptedModel('m', () => ({ text: '4', logprob: -0.1 }));
    const agents = ['a1', 'a2'].map((id) => ({ id, name: id, model: 'm', engine, temperature: 0 }));
    const events = [];
    for await (const e of runStrategy({ strategy: 'greedy-soup', prompt: '2+2?', agents, knobs: {}, seed: 1, maxTokens: 8, signal: new AbortController().signal, runId: 'r' })) events.push(e);
    const end = events.at(-1)!;
    expect(end.type === 'run-end' && end.status).toBe('error');
    expect(end.type === 'run-end' && end.message).toContain('Greedy soup is a weight-level method');
    expect(getStrategy('model-swarms').meta.level).toBe('weight');
  });

  it('stop when the run is cancelled', async () => {
    const { sctx, controller } = scripted([0.2, 0.5, 0.4], () => 0.5);
    controller.abort();
    await expect(searchGreedySoup(sctx)).rejects.toThrow('the search was cancelled');
  });
});
