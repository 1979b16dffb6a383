// Shared pieces of the strategies that no method test reaches on its own: the swarm module's
// refusals and its DAG in words, the dev-split fit of the best member, the registry's list of
// method descriptions, and the token bound every weight-level method states.
import { describe, expect, it } from 'vitest';
import { ParticleSwarm, dagText, decodeDag, fixedDag, topologicalOrder } from '../../src/lib/strategies/swarm.ts';
import { bestAgentIndex, bestMemberAs, bestMemberJudge } from '../../src/lib/strategies/fits.ts';
import { getStrategy, strategies, strategyMetas } from '../../src/lib/strategies/registry.ts';
import { weightCost } from '../../src/lib/strategies/weight.ts';

describe('swarm: refusals and words', () => {
  it('a DAG of n nodes needs n² weights', () => {
    expect(() => decodeDag([1, 2, 3], 2)).toThrow('a 2-node graph needs 4 weights, got 3');
    expect(decodeDag([0, 1, 0, 0], 2)).toMatchObject({ n: 2 });
  });

  it('a cycle has no topological order', () => {
    expect(() => topologicalOrder({ n: 2, edges: [[0, 1], [1, 0]], end: 1 })).toThrow('the graph has a cycle');
    expect(topologicalOrder(fixedDag('chain', 3))).toEqual([0, 1, 2]);
  });

  it('a DAG in words: its edges, or "no edges", and its end', () => {
    expect(dagText(fixedDag('fan-in', 3))).toBe('a1 → a3, a2 → a3 (end a3)');
    expect(dagText({ n: 1, edges: [], end: 0 })).toBe('no edges (end a1)');
  });

  it('a swarm’s start needs one velocity per position, each of the dimension', () => {
    const message = "the swarm's start needs as many velocities as positions, each of 2 numbers";
    expect(() => new ParticleSwarm({ dimension: 2, population: 2, seed: 1, start: { positions: [[0, 0], [1, 1]], velocities: [[0, 0]] } })).toThrow(message);
    expect(() => new ParticleSwarm({ dimension: 2, population: 1, seed: 1, start: { positions: [[0, 0, 0]], velocities: [[0, 0, 0]] } })).toThrow(message);
    expect(() => new ParticleSwarm({ dimension: 2, population: 1, seed: 1, start: { positions: [[0, 0]], velocities: [[0]] } })).toThrow(message);
    expect(new ParticleSwarm({ dimension: 2, population: 1, seed: 1, start: { positions: [[0.5, -0.5]], velocities: [[0, 0]] } }).particles).toEqual([[0.5, -0.5]]);
  });

  it('an update takes one score per particle', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 3, seed: 1 });
    expect(() => swarm.update([1, 2])).toThrow('the swarm has 3 particles, got 2 scores');
  });
});

describe('fits: the best member on dev', () => {
  const dev = (agentScores: number[]) => ({ agentScores, items: [] });

  it('the agent with the best dev score; ties go to the earlier; no agents is refused', () => {
    expect(bestAgentIndex(dev([0.5, 0.75, 0.75]))).toBe(1);
    expect(() => bestAgentIndex(dev([]))).toThrow('no agents were scored on dev');
  });

  it('fills the judge knob (or the knobs named) with its 1-based number, and says why', () => {
    expect(bestMemberJudge(dev([0.5, 0.75]))).toEqual({ knobs: { judge: 2 }, note: 'judge = agent 2, the best on dev (a1 0.500, a2 0.750)' });
    expect(bestMemberAs(dev([0.9, 0.1]), ['summariser', 'judge'])).toEqual({ knobs: { summariser: 1, judge: 1 }, note: 'summariser, judge = agent 1, the best on dev (a1 0.900, a2 0.100)' });
  });
});

describe('registry and weight-level cost', () => {
  it('strategyMetas lists every registered method’s description, in registry order', () => {
    const metas = strategyMetas();
    expect(metas.map((m) => m.id)).toEqual(strategies.map((s) => s.meta.id));
    expect(metas.map((m) => m.id)).toContain('blackboard');
    expect(new Set(metas.map((m) => m.id)).size).toBe(metas.length);
  });

  it('a weight-level method costs one call per query: the merged model reads the prompt once and writes max tokens', () => {
    const cost = weightCost('greedy');
    expect(cost.calls(4, {})).toBe(1);
    expect(cost.tokens!(4, {}, 16, 20)).toEqual({ prompt: 20, completion: 16 });
    expect(cost.formula).toBe('1 call per query (the merged model answers alone); the dev search: greedy, each candidate merged and run on every dev item');
    for (const s of strategies.filter((x) => x.meta.level === 'weight')) expect(s.meta.cost!.tokens!(3, {}, 16, 20), s.meta.id).toEqual({ prompt: 20, completion: 16 });
  });
});

describe('structure: the cost shown before a run', () => {
  const cost = () => getStrategy('structure').meta.cost!;

  it('defaults: a chain and 3 rounds; every agent of a chain has an in-neighbour', () => {
    // Chain of 4: 4 answers, then 2 rounds of 4 updates; 6 directed edges.
    expect(cost().calls(4, {})).toBe(4 + 2 * 4);
    expect(cost().tokens!(4, {}, 10, 100)).toEqual({ prompt: 12 * 100 + 2 * (4 + 6) * 10, completion: 12 * 10 });
  });

  it('an unknown topology counts as a chain; an invalid custom matrix as complete (the most it could cost)', () => {
    expect(cost().tokens!(3, { rounds: 2, topology: 'pentagon' }, 10, 100)).toEqual({ prompt: 6 * 100 + (3 + 4) * 10, completion: 60 });
    expect(cost().tokens!(3, { rounds: 2, topology: 'custom', matrix: '1 1' }, 10, 100)).toEqual({ prompt: 6 * 100 + (3 + 6) * 10, completion: 60 });
  });

  it('a custom matrix: only agents with an in-neighbour update', () => {
    // a1 → a2 → a3: a2 and a3 update, along 2 edges.
    const knobs = { rounds: 3, topology: 'custom', matrix: '0 1 0; 0 0 1; 0 0 0' };
    expect(cost().calls(3, knobs)).toBe(3 + 2 * 2);
    expect(cost().tokens!(3, knobs, 10, 100)).toEqual({ prompt: 7 * 100 + 2 * (2 + 2) * 10, completion: 70 });
  });
});

