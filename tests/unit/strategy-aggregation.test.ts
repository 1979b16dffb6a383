// AggLM-style aggregation (src/lib/strategies/aggregation.ts) on scripted engines: the aggregator
// sees every solution, numbered; its text is final; solutions cut to fit by the documented rule;
// calls = meta.cost.calls; seeds; refusal; cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { aggregatePrompt, aggregation } from '../../src/lib/strategies/aggregation.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, cancelAtFirstToken, expectRefused, ofType, only, starts, texts } from './strategy-text.helpers.ts';

const isAggregator = (content: string) => content.startsWith('The problem:');

describe('aggregation', () => {
  it('scripted: 2 agents × 2 solutions — the aggregator (agent 2) sees all four in setup order and writes the final one', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => (isAggregator(req.messages.at(-1)!.content) ? words('Putting them together, the answer is 4.') : bySeed(req)));
    const knobs = { samples: 2, aggregator: 2, answerType: 'number' };
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs });
    const calls = engines.reduce((s, e) => s + e.calls.length, 0);
    expect(calls).toBe(5);
    expect(aggregation.meta.cost!.calls(2, resolveKnobs(aggregation.meta, knobs).knobs)).toBe(calls);
    // Tokens bound (max tokens 10, prompt 100): 5 prompts, the aggregator's showing 4 solutions.
    expect(aggregation.meta.cost!.tokens!(2, resolveKnobs(aggregation.meta, knobs).knobs, 10, 100)).toEqual({ prompt: 540, completion: 50 });
    const shown = ['a1.r1.s0', 'a1.r1.s1', 'a2.r1.s0', 'a2.r1.s1'];
    const agg = starts(events).get('a2.r2.s0.aggregate')!;
    expect(agg.sees).toEqual(shown);
    const text = texts(events);
    expect(agg.messages).toEqual([{ role: 'user', content: aggregatePrompt(base.prompt, shown.map((id) => text.get(id)!)) }]);
    expect(agg.messages[0]!.content).toContain(`Solution 4: \`\`\`${text.get('a2.r1.s1')}\`\`\``);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2', text: 'Putting them together, the answer is 4.' });
    const seeds = engines.flatMap((e) => e.calls.map((c) => c.request.seed)).sort();
    expect(seeds).toEqual([...[0, 1].flatMap((a) => [0, 1].map((s) => callSeed(42, a, 1, s))), callSeed(42, 1, 2, 0)].sort());
  });

  it('scripted: a failed solution is left out of what the aggregator sees', async () => {
    const { agents } = agentsEach(3, (a, req) => (a === 1 && !isAggregator(req.messages.at(-1)!.content) ? new Error('out of memory') : bySeed(req)));
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: {} });
    expect(starts(events).get('a1.r2.s0.aggregate')!.sees).toEqual(['a1.r1.s0', 'a3.r1.s0']);
    expect(ofType(events, 'error').some((e) => !e.fatal && e.agent === 'a2' && /out of memory/.test(e.message))).toBe(true);
    expect(only(events, 'final').agent).toBe('a1');
  });

  it('scripted: long solutions are cut to fit the aggregator’s context, with a warning', async () => {
    const long = 'step '.repeat(80);
    const { agents } = agentsEach(3, (_a, req) => (isAggregator(req.messages.at(-1)!.content) ? words('done') : words(long)), { contextLength: 900 });
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: {}, maxTokens: 100 });
    const warning = ofType(events, 'error').find((e) => /the aggregator: the texts shown were cut to \d+ bytes each/.test(e.message));
    expect(warning?.agent).toBe('a1');
    const content = starts(events).get('a1.r2.s0.aggregate')!.messages[0]!.content;
    expect(content).toMatch(/Solution 3: ```step step .*…```/);
    expect(content).not.toContain(long.trim());
  });

  it('fit: the aggregator is the best member on dev', () => {
    expect(aggregation.fit!({ agentScores: [0.9, 0.3], items: [] }, {}).knobs).toEqual({ aggregator: 1 });
  });

  it('scripted: refused before any call when the aggregator’s prompt cannot fit the context', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req), { contextLength: 300 });
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: { samples: 2 } });
    expectRefused(events, engines, /the aggregator's prompt \(6 text\(s\) shown.*fewer solutions per agent \(now 2\)/);
  });

  it('scripted: cancel while solving ends the run with no aggregator call and no final', async () => {
    const { agents, engines } = agentsEach(2, () => words('word '.repeat(100)), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('aggregation', agents, {});
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1]);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
