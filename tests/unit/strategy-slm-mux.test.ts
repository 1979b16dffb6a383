// SLM-MUX (src/lib/strategies/slmmux.ts) on scripted engines: k samples per agent at the method's
// temperature, each agent's self-consistency, the most self-consistent agent's majority wins, ties by
// dev score then setup order; calls = meta.cost.calls; seeds; refusal; cancel.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { slmMux } from '../../src/lib/strategies/slmmux.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, cancelAtFirstToken, expectRefused, ofType, only } from './strategy-text.helpers.ts';

/** Agent a's answer to sample s is answers[a][s] (the sample is found from the call's seed). */
function scripted(answers: string[][]) {
  return (a: number, req: ChatRequest) => {
    const s = answers[a]!.findIndex((_, i) => callSeed(42, a, 1, i) === req.seed);
    if (s < 0) return new Error(`unexpected seed ${req.seed} for agent ${a + 1}`);
    return words(answers[a]![s]!);
  };
}

describe('slm-mux', () => {
  it('scripted: the most self-consistent agent’s majority answer wins; every sample at temperature 0.3', async () => {
    const answers = [
      ['It is 4', 'It is 4', 'It is 4', 'It is 5', 'It is 6'],
      ['It is 7', 'It is 7', 'It is 7', 'It is 7', 'It is 8'],
      ['', '', '', '', ''],
    ];
    const { agents, engines } = agentsEach(3, scripted(answers));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' } });
    const calls = engines.reduce((s, e) => s + e.calls.length, 0);
    expect(calls).toBe(15);
    expect(slmMux.meta.cost!.calls(3, resolveKnobs(slmMux.meta, {}).knobs)).toBe(calls);
    expect(slmMux.meta.cost!.tokens!(3, resolveKnobs(slmMux.meta, {}).knobs, 10, 100)).toEqual({ prompt: 1500, completion: 150 });
    expect(engines.flatMap((e) => e.calls.map((c) => c.request.temperature))).toEqual(Array(15).fill(0.3));
    expect(new Set(engines.flatMap((e) => e.calls.map((c) => c.request.seed))).size).toBe(15);
    expect(ofType(events, 'score').map((s) => [s.target, s.metric, s.value])).toEqual([
      ['a1', 'self-consistency', 0.6],
      ['a2', 'self-consistency', 0.8],
      ['a3', 'self-consistency', 0],
    ]);
    expect(ofType(events, 'vote').map((v) => [v.round, v.winner, v.ballots.length])).toEqual([
      [1, '4', 5],
      [2, '7', 5],
      [3, '', 5],
    ]);
    expect(only(events, 'route')).toMatchObject({ to: 'a2', confidence: 0.8, reason: 'most self-consistent: 80% of its answers agree' });
    expect(only(events, 'final')).toMatchObject({ answer: '7', agent: 'a2', text: 'It is 7' });
  });

  it('scripted: self-consistency counts only non-empty answers (MoCo’s rule)', async () => {
    const { agents } = agentsEach(2, scripted([['It is 4', 'It is 4', '', '', ''], ['It is 7', 'It is 7', 'It is 7', 'It is 8', 'It is 9']]));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' } });
    expect(ofType(events, 'score').map((s) => s.value)).toEqual([1, 0.6]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
  });

  const tied = [
    ['It is 4', 'It is 4', 'It is 4', 'It is 5', 'It is 6'],
    ['It is 7', 'It is 7', 'It is 7', 'It is 8', 'It is 9'],
  ];

  it('scripted: a tie without a dev split goes to setup order, and the route says so', async () => {
    const { agents } = agentsEach(2, scripted(tied));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' } });
    expect(only(events, 'route')).toMatchObject({ to: 'a1', reason: expect.stringMatching(/2 agents tied at 60% self-consistency and there is no dev split: the first in setup order wins/) });
    expect(only(events, 'final').answer).toBe('4');
  });

  it('scripted: a tie goes to the agent better on dev (fit keeps each agent’s dev score)', async () => {
    const { agents } = agentsEach(2, scripted(tied));
    const fitted = slmMux.fit!({ agentScores: [0.2, 0.5], items: [] }, {});
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' }, fitted: fitted.state });
    expect(only(events, 'route')).toMatchObject({ to: 'a2', reason: expect.stringMatching(/the best on dev wins \(a1 0\.200, a2 0\.500\)/) });
    expect(only(events, 'final')).toMatchObject({ answer: '7', agent: 'a2' });
  });

  it('scripted: the temperature and k knobs reach every call', async () => {
    const { agents, engines } = agentsEach(2, () => words('It is 4'));
    await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { samples: 3, temperature: 0.9 } });
    expect(engines.map((e) => e.calls.map((c) => c.request.temperature))).toEqual([[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]]);
    expect(engines[1]!.calls.map((c) => c.request.seed).sort()).toEqual([0, 1, 2].map((s) => callSeed(42, 1, 1, s)).sort());
  });

  it('scripted: refused before any call when the prompt cannot fit the context', async () => {
    const { agents, engines } = agentsEach(2, () => words('4'), { contextLength: 40 });
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: {} });
    expectRefused(events, engines, /context/);
  });

  it('scripted: cancel while sampling ends the run with no route and no final', async () => {
    const { agents } = agentsEach(2, () => words('word '.repeat(100)), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('slm-mux', agents, {});
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'route')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
