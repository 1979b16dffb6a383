// LoraHub's (1+1) evolution strategy (src/lib/strategies/lorahub.ts) at its edges: the exact
// candidates it tries from its own seeded stream (a Box–Muller step of σ = bound / 3 around the
// best point, clipped to [−bound, bound]; σ × e^(1/3) after a success, × e^(−1/12) after a
// failure), a tie accepted, the progress steps, the regularisation knob and its default, and the
// note. The expected candidates come from a reference written out here with the paper's rules and
// the seeded generator (random.ts), not from the module.
import { describe, expect, it } from 'vitest';
import { searchLorahub } from '../../src/lib/strategies/lorahub.ts';
import { fnv1a, mulberry32 } from '../../src/lib/random.ts';
import type { MergeRecipe, SearchContext, SearchStep } from '../../src/lib/strategies/types.ts';

/** A search context whose dev score of a candidate is `score(weights)`; records what it tried and the steps. */
function scripted(agents: number, score: (w: number[]) => number, knobs: Record<string, number>, seed: number) {
  const tried: number[][] = [];
  const recipes: MergeRecipe[] = [];
  const steps: SearchStep[] = [];
  const sctx: SearchContext = {
    agents,
    knobs,
    seed,
    signal: new AbortController().signal,
    dev: { agentScores: [], items: [] },
    evaluate: (state) => {
      const r = state as MergeRecipe;
      recipes.push(r);
      const w = r.models.map((m) => m.parameters.weight!);
      tried.push(w);
      return Promise.resolve(score(w));
    },
    progress: (s) => steps.push(s),
  };
  return { sctx, tried, recipes, steps };
}

/** The (1+1)-ES written out: the candidates it tries (base first) and whether each was accepted. */
function reference(seed: number, k: number, budget: number, bound: number, reg: number, score: (w: number[]) => number) {
  const random = mulberry32((seed ^ fnv1a('lorahub')) >>> 0);
  const normal = () => {
    const u1 = random();
    const u2 = random();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  };
  const objective = (s: number, w: number[]) => -s + (reg * w.reduce((a, x) => a + Math.abs(x), 0)) / w.length;
  let best = new Array<number>(k).fill(0);
  let bestObjective = objective(score(best), best);
  const tried = [best];
  const accepted: boolean[] = [];
  let sigma = bound / 3;
  for (let t = 2; t <= budget; t++) {
    const trial = best.map((x) => Math.min(bound, Math.max(-bound, x + sigma * normal())));
    tried.push(trial);
    const o = objective(score(trial), trial);
    if (o <= bestObjective) {
      best = trial;
      bestObjective = o;
      sigma *= Math.exp(1 / 3);
      accepted.push(true);
    } else {
      sigma *= Math.exp(-1 / 12);
      accepted.push(false);
    }
  }
  return { tried, best, accepted };
}

describe('lorahub: the candidates the search tries', () => {
  it('the first step from the base is σ = bound / 3 times a Box–Muller normal from the stream seeded by seed ^ fnv1a("lorahub")', async () => {
    const { sctx, tried } = scripted(3, () => 0.5, { budget: 2, bound: 1.2, regularisation: 0.1 }, 5);
    await searchLorahub(sctx);
    const random = mulberry32((5 ^ fnv1a('lorahub')) >>> 0);
    const draw = () => {
      const u1 = random();
      const u2 = random();
      return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    };
    const n1 = draw();
    const n2 = draw();
    // Both draws are well inside ±3, so σ · n stays inside the bound: no clipping in this step.
    expect(Math.abs(n1)).toBeLessThan(3);
    expect(Math.abs(n2)).toBeLessThan(3);
    expect(tried).toEqual([
      [0, 0],
      [(1.2 / 3) * n1, (1.2 / 3) * n2],
    ]);
  });

  it('a peaked dev score: every candidate, successes and failures, is the written-out (1+1)-ES’s', async () => {
    const score = (w: number[]) => Math.max(0, 1 - Math.hypot(w[0]! - 0.7, w[1]! + 0.3, w[2]! - 0.1));
    const { sctx, tried, recipes } = scripted(4, score, { budget: 15, bound: 1, regularisation: 0.05 }, 11);
    const fitted = await searchLorahub(sctx);
    const ref = reference(11, 3, 15, 1, 0.05, score);
    // The case really has both kinds of step (so both σ updates are exercised).
    expect(ref.accepted.filter((a) => a).length).toBeGreaterThan(0);
    expect(ref.accepted.filter((a) => !a).length).toBeGreaterThan(0);
    expect(tried).toEqual(ref.tried);
    expect(recipes[0]).toEqual({ method: 'task_arithmetic', base: 0, models: [1, 2, 3].map((agent) => ({ agent, parameters: { weight: 0 } })), parameters: { normalize: false } });
    expect((fitted.state as MergeRecipe).models.map((m) => m.parameters.weight)).toEqual(ref.best);
  });

  it('a dev score that never changes (reg 0): every candidate ties and is accepted, σ grows, and the weights end up clipped at ±bound', async () => {
    const { sctx, tried } = scripted(3, () => 0.25, { budget: 14, bound: 0.5, regularisation: 0 }, 2);
    const fitted = await searchLorahub(sctx);
    const ref = reference(2, 2, 14, 0.5, 0, () => 0.25);
    expect(ref.accepted.every((a) => a)).toBe(true);
    expect(tried).toEqual(ref.tried);
    // Accepted ties: the last candidate is the result.
    expect((fitted.state as MergeRecipe).models.map((m) => m.parameters.weight)).toEqual(tried.at(-1));
    const flat = tried.flat();
    expect(flat.every((x) => Math.abs(x) <= 0.5)).toBe(true);
    expect(flat.filter((x) => Math.abs(x) === 0.5).length).toBeGreaterThan(0);
  });
});

describe('lorahub: progress, knobs and the note', () => {
  it('each step reports that candidate’s own score and the best so far; a base no candidate beats stays the result', async () => {
    // The base scores 1, every other candidate 0: each is rejected.
    const score = (w: number[]) => (w.every((x) => x === 0) ? 1 : 0);
    const { sctx, steps } = scripted(3, score, { budget: 4, bound: 1.5, regularisation: 0.2 }, 1);
    const fitted = await searchLorahub(sctx);
    expect(steps.map((s) => [s.iteration, s.scores, s.best, s.bestLabel])).toEqual([
      [1, [1], 1, 'task_arithmetic of a2 × 0, a3 × 0 on base a1'],
      [2, [0], 1, 'task_arithmetic of a2 × 0, a3 × 0 on base a1'],
      [3, [0], 1, 'task_arithmetic of a2 × 0, a3 × 0 on base a1'],
      [4, [0], 1, 'task_arithmetic of a2 × 0, a3 × 0 on base a1'],
    ]);
    // Objective of the base: −1 + 0.2 · 0 = −1.
    expect(fitted.note).toBe('LoraHub task_arithmetic of a2 × 0, a3 × 0 on base a1: mean dev score 1.000, objective -1.0000 (reg 0.2); 4 candidates, weights in [−1.5, 1.5]');
  });

  it('without knobs: budget 20, bound 1.5 and regularisation 0.05 (MoCo’s)', async () => {
    const score = (w: number[]) => (w.every((x) => x === 0) ? 0.5 : 0);
    const { sctx, tried } = scripted(2, score, {}, 3);
    const fitted = await searchLorahub(sctx);
    expect(tried).toHaveLength(20);
    expect(tried).toEqual(reference(3, 1, 20, 1.5, 0.05, score).tried);
    expect(fitted.note).toBe('LoraHub task_arithmetic of a2 × 0 on base a1: mean dev score 0.500, objective -0.5000 (reg 0.05); 20 candidates, weights in [−1.5, 1.5]');
  });

  it('the regularisation knob weighs mean |w| against the score: a better score with large weights can lose', async () => {
    // Candidate 2's score beats the base's by 0.1; with reg 1 its mean |w| costs more than that when |w| > 0.1.
    const first = reference(8, 1, 2, 1, 1, () => 0).tried[1]![0]!;
    expect(Math.abs(first)).toBeGreaterThan(0.1);
    const score = (w: number[]) => (w[0] === 0 ? 0.5 : 0.6);
    const strict = scripted(2, score, { budget: 2, bound: 1, regularisation: 1 }, 8);
    const kept = await searchLorahub(strict.sctx);
    expect((kept.state as MergeRecipe).models[0]!.parameters.weight).toBe(0);
    expect(kept.note).toContain('objective -0.5000 (reg 1)');
    // No penalty: the better score wins.
    const free = scripted(2, score, { budget: 2, bound: 1, regularisation: 0 }, 8);
    const moved = await searchLorahub(free.sctx);
    expect((moved.state as MergeRecipe).models[0]!.parameters.weight).toBe(first);
    expect(moved.note).toContain('objective -0.6000 (reg 0)');
  });
});
