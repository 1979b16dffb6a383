// Mixture-of-Agents and Self-MoA (src/lib/strategies/moa.ts) on scripted engines: who sees what in
// which layer, how many calls (= meta.cost.calls), each call's seed, the aggregator's final answer,
// refusal before any call, cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { moa, selfMoa, synthesizePrompt } from '../../src/lib/strategies/moa.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, cancelAtFirstToken, expectRefused, ofType, only, shownIn, starts, texts } from './strategy-text.helpers.ts';

describe('moa', () => {
  it('scripted: 3 agents, 2 layers — layer 2 sees all of layer 1, the aggregator sees all of layer 2 only', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req));
    const knobs = { layers: 2, aggregator: 2, answerType: 'text' };
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs });
    const calls = engines.reduce((s, e) => s + e.calls.length, 0);
    expect(calls).toBe(7);
    expect(moa.meta.cost!.calls(3, resolveKnobs(moa.meta, knobs).knobs)).toBe(calls);
    // Tokens bound (max tokens 10, prompt 100): 7 prompts, and 3 layer-2 prompts plus the aggregator's each show 3 answers.
    expect(moa.meta.cost!.tokens!(3, resolveKnobs(moa.meta, knobs).knobs, 10, 100)).toEqual({ prompt: 820, completion: 70 });
    const byId = starts(events);
    const text = texts(events);
    const layer1 = ['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0'];
    const layer2 = ['a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0'];
    expect([...byId.keys()].sort()).toEqual([...layer1, ...layer2, 'a2.r3.s0.aggregate'].sort());
    for (const id of layer1) expect(byId.get(id)!.sees).toBeUndefined();
    for (const id of layer2) {
      const m = byId.get(id)!;
      expect(m.sees).toEqual(layer1);
      expect(m.purpose).toBe('revision');
      for (const seen of layer1) expect(shownIn(m)).toContain(text.get(seen)!);
    }
    const agg = byId.get('a2.r3.s0.aggregate')!;
    expect(agg.sees).toEqual(layer2);
    for (const seen of layer2) expect(shownIn(agg)).toContain(text.get(seen)!);
    for (const unseen of layer1) expect(shownIn(agg)).not.toContain(text.get(unseen)!);
    expect(agg.messages.at(-1)!.content).toBe(synthesizePrompt(base.prompt, layer2.map((id) => text.get(id)!)));
    // Each call its own seed: agent, layer (round) and sample enter it.
    const seeds = engines.flatMap((e) => e.calls.map((c) => c.request.seed));
    const expected = [0, 1, 2].flatMap((a) => [1, 2].map((l) => callSeed(42, a, l, 0))).concat(callSeed(42, 1, 3, 0));
    expect(seeds.sort()).toEqual(expected.sort());
    expect(new Set(seeds).size).toBe(7);
    expect(only(events, 'final')).toMatchObject({ agent: 'a2', text: text.get('a2.r3.s0.aggregate') });
  });

  it('scripted: the final answer is the aggregator’s, read by the answer type', async () => {
    const { agents } = agentsEach(2, (a, req) => (req.messages.at(-1)!.content.startsWith('You are shown') && a === 0 ? words('Combined: the answer is 4.') : words('I think 5')));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 1, answerType: 'number' } });
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1', text: 'Combined: the answer is 4.' });
  });

  it('fit: the aggregator is the best member on dev', () => {
    const fitted = moa.fit!({ agentScores: [0.2, 0.6, 0.4], items: [] }, {});
    expect(fitted.knobs).toEqual({ aggregator: 2 });
    expect(fitted.note).toMatch(/^aggregator = agent 2, the best on dev/);
  });

  it('scripted: refused before any call when the synthesis prompt cannot fit the context, naming the knobs', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req), { contextLength: 200 });
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: {} });
    expectRefused(events, engines, /synthesis prompt \(3 text\(s\) shown, at least 32 bytes each\).*use fewer agents \(now 3\)/);
  });

  it('scripted: an aggregator number beyond the setup is refused before any call', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { aggregator: 3 } });
    expectRefused(events, engines, /The aggregator is agent 3, but the setup has 2 agent\(s\)/);
  });

  it('scripted: cancel during layer 1 ends the run with no further layer and no final', async () => {
    const { agents, engines } = agentsEach(3, () => words('word '.repeat(100)), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('moa', agents, { layers: 2 });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1, 1]);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('self-moa', () => {
  it('scripted: one agent sampled S times per layer with distinct seeds, then it aggregates its own samples', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req));
    const knobs = { agent: 2, samples: 3, layers: 2 };
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs });
    expect(engines[0]!.calls).toHaveLength(0);
    expect(engines[1]!.calls).toHaveLength(7);
    expect(selfMoa.meta.cost!.calls(2, resolveKnobs(selfMoa.meta, knobs).knobs)).toBe(7);
    expect(selfMoa.meta.cost!.tokens!(2, resolveKnobs(selfMoa.meta, knobs).knobs, 10, 100)).toEqual({ prompt: 820, completion: 70 });
    const seeds = engines[1]!.calls.map((c) => c.request.seed).sort();
    expect(seeds).toEqual([...[1, 2].flatMap((l) => [0, 1, 2].map((s) => callSeed(42, 1, l, s))), callSeed(42, 1, 3, 0)].sort());
    const byId = starts(events);
    const layer1 = ['a2.r1.s0', 'a2.r1.s1', 'a2.r1.s2'];
    const layer2 = ['a2.r2.s0', 'a2.r2.s1', 'a2.r2.s2'];
    for (const id of layer2) expect(byId.get(id)!.sees).toEqual(layer1);
    expect(byId.get('a2.r3.s0.aggregate')!.sees).toEqual(layer2);
    expect(only(events, 'final').agent).toBe('a2');
  });

  it('scripted: with one layer (the default) the samples go straight to the aggregator', async () => {
    const { agents, engines } = agentsEach(1, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs: {} });
    expect(engines[0]!.calls).toHaveLength(5);
    expect(selfMoa.meta.cost!.calls(1, resolveKnobs(selfMoa.meta, {}).knobs)).toBe(5);
    expect(starts(events).get('a1.r2.s0.aggregate')!.sees).toEqual(['a1.r1.s0', 'a1.r1.s1', 'a1.r1.s2', 'a1.r1.s3']);
  });

  it('scripted: refused before any call when S answers cannot fit the aggregator’s context', async () => {
    const { agents, engines } = agentsEach(1, (_a, req) => bySeed(req), { contextLength: 250 });
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs: { samples: 6 } });
    expectRefused(events, engines, /6 text\(s\) shown.*fewer samples per layer \(now 6\)/);
  });
});
