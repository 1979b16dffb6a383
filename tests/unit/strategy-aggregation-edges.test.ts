// Aggregation (AggLM-style) at its edges: the aggregator's prompt word for word (the main file
// compares it with aggregatePrompt itself), the default of one solution per agent in the cost
// model, the round labels, the refusal's advice, a failed aggregator, every solution failing, and
// cancel during the aggregator's call.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun, runStrategy } from '../../src/lib/run.ts';
import { aggregateMessages, aggregatePrompt, aggregation } from '../../src/lib/strategies/aggregation.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, expectRefused, ofType } from './strategy-text.helpers.ts';

const isAggregator = (content: string) => content.startsWith('The problem:');

describe('aggregation: edges', () => {
  it('the aggregator’s prompt: the problem, the numbered attempts, then the instruction to correct and combine', () => {
    expect(aggregatePrompt('What is 2+2?', [' 4 ', 'five'])).toBe(
      'The problem:\nWhat is 2+2?\n\nSome attempts at solving it:\n\nSolution 1: ```4```\n\nSolution 2: ```five```\n\n' +
        'Any, all or none of these attempts may be correct or complete. Review them carefully and use them as starting points: ' +
        'correct their mistakes, fill their gaps and combine their useful ideas into one final, complete and correct solution. ' +
        'Give the final answer in the same form as the attempts.',
    );
    const agent = agentsEach(1, () => []).agents[0]!;
    expect(aggregateMessages({ ...agent, system: 'Be careful.' }, 'Q', ['a'])).toEqual([
      { role: 'system', content: 'Be careful.' },
      { role: 'user', content: aggregatePrompt('Q', ['a']) },
    ]);
  });

  it('cost: one solution per agent unless the knob says otherwise', () => {
    expect(aggregation.meta.cost!.calls(3, {})).toBe(4);
    expect(aggregation.meta.cost!.tokens!(3, {}, 10, 100)).toEqual({ prompt: 4 * 100 + 3 * 10, completion: 40 });
    expect(aggregation.meta.cost!.calls(3, { samples: 2 })).toBe(7);
  });

  it('scripted: round labels count the solutions and name the aggregator', async () => {
    const { agents } = agentsEach(2, (_a, req) => (isAggregator(req.messages.at(-1)!.content) ? words('Answer: 4') : bySeed(req)));
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: { samples: 2, aggregator: 2 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([[1, '4 solutions'], [2, 'Aggregator: Agent 2']]);
  });

  it('scripted: the refusal names every knob that would help', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req), { contextLength: 300 });
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: { samples: 2 } });
    expectRefused(events, engines, /use fewer agents \(now 3\), fewer solutions per agent \(now 2\), a smaller max tokens \(now 32\), or a shorter prompt/);
  });

  it('scripted: an aggregator number the setup lacks is refused, naming the role', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: { aggregator: 3 } });
    expectRefused(events, engines, /^The aggregator is agent 3, but the setup has 2 agent\(s\)/);
  });

  it('scripted: a failed aggregator ends the run, naming it', async () => {
    const { agents } = agentsEach(2, (_a, req) => (isAggregator(req.messages.at(-1)!.content) ? new Error('engine down') : bySeed(req)));
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: { aggregator: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the aggregator Agent 2 failed: .*engine down/) });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: every solution failing ends the run before the aggregator', async () => {
    const { agents, engines } = agentsEach(2, () => new Error('engine down'));
    const events = await collectRun({ ...base, strategy: 'aggregation', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every call failed in round 1; see the errors above') });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1]);
  });

  it('scripted: cancel during the aggregator’s call ends the run with no final answer', async () => {
    const { agents } = agentsEach(2, (_a, req) => (isAggregator(req.messages.at(-1)!.content) ? words('word '.repeat(50)) : words('Answer: 4')), { tokenDelayMs: 2 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, strategy: 'aggregation', agents, knobs: {}, signal: controller.signal })) {
      events.push(e);
      if (e.type === 'token' && e.msgId.endsWith('.aggregate') && !controller.signal.aborted) controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
