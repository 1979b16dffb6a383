// Debate with a summariser (src/lib/strategies/debate-summary.ts) with scripted engines: each round
// the summariser sees every previous answer, the revisions see their own answer and the summary
// (never the raw peers' answers), the call count (= meta.cost), seeds, the final vote, the dev fit,
// refusal before any call, and cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { summaryPrompt, summaryRevisionMessages } from '../../src/lib/strategies/debate-summary.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { expectSeesIsWhatPromptShows, ofType, only, runCancelledAt, seesById, textsById, uniqueReply } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'debate-summary' };
const strategy = getStrategy('debate-summary');
const calls = (n: number, knobs: Record<string, number | string | boolean>) => strategy.meta.cost!.calls(n, resolveKnobs(strategy.meta, knobs).knobs);

describe('debate-summary: who sees what', () => {
  it('scripted: N = 3, R = 3, summariser 2 — one summary per round sees every previous answer; each revision sees its own answer and the summary only', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const agents = agentsOn(engine, 3);
    const knobs = { rounds: 3, summariser: 2 };
    const events = await collectRun({ ...base, agents, knobs });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(3 * 3 + 2);
    expect(engine.calls).toHaveLength(calls(3, knobs));
    expect(ofType(events, 'round').map((r) => r.label)).toEqual(['Round 1: answers', 'Round 2: summary, then revisions', 'Round 3: summary, then revisions']);
    const sees = seesById(events);
    expect(sees.get('a2.r2.s1.summary')).toEqual(['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0']);
    for (const a of ['a1', 'a2', 'a3']) expect(sees.get(`${a}.r2.s0`)).toEqual([`${a}.r1.s0`, 'a2.r2.s1.summary']);
    expect(sees.get('a2.r3.s1.summary')).toEqual(['a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0']);
    for (const a of ['a1', 'a2', 'a3']) expect(sees.get(`${a}.r3.s0`)).toEqual([`${a}.r2.s0`, 'a2.r3.s1.summary']);
    expectSeesIsWhatPromptShows(events);
    const texts = textsById(events);
    const starts = ofType(events, 'message-start');
    // The summary is asked before the round's revisions, and they wait for it.
    const order = starts.filter((s) => s.round === 2).map((s) => s.purpose);
    expect(order).toEqual(['summary', 'revision', 'revision', 'revision']);
    expect(starts.find((s) => s.msgId === 'a2.r2.s1.summary')!.messages).toEqual([{ role: 'user', content: summaryPrompt(base.prompt, ['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0'].map((id) => texts.get(id)!)) }]);
    expect(starts.find((s) => s.msgId === 'a3.r2.s0')!.messages).toEqual(summaryRevisionMessages(agents[2]!, base.prompt, texts.get('a3.r1.s0')!, texts.get('a2.r2.s1.summary')!));
    // The summariser's summary and its revision in one round get different seeds.
    expect(engine.calls.filter((c) => c.caller === 'a2').map((c) => c.request.seed)).toEqual([callSeed(42, 1, 1, 0), callSeed(42, 1, 2, 1), callSeed(42, 1, 2, 0), callSeed(42, 1, 3, 1), callSeed(42, 1, 3, 0)]);
    expect(new Set(engine.calls.map((c) => c.request.seed)).size).toBe(engine.calls.length);
  });

  it('scripted: the final vote is over the last round’s revisions', async () => {
    const engine = new ScriptedEngine((req) => {
      const u = lastUser(req);
      if (u.startsWith('Here are the answers')) return words('Two say 5, one says 4.');
      if (u.startsWith('Here is a summary')) return words(req.messages[0]?.role === 'system' ? 'The answer is 5' : 'The answer is 4');
      return words('The answer is 5');
    });
    const agents = agentsOn(engine, 3);
    agents[0]!.system = 'Stick to 5.';
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, answerType: 'number' } });
    const vote = only(events, 'vote');
    expect(vote.round).toBe(2);
    expect(vote.tally.map((t) => [t.answer, t.count])).toEqual([['4', 2], ['5', 1]]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2' });
  });

  it('with one round there is nothing to summarise: N answers and a vote', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 1 } });
    expect(engine.calls).toHaveLength(calls(2, { rounds: 1 }));
    expect(engine.calls).toHaveLength(2);
    expect(only(events, 'final').answer).toBe('4');
  });

  it('the dev fit makes the best member the summariser', () => {
    const fitted = strategy.fit!({ agentScores: [0.2, 0.5, 0.9], items: [] }, {});
    expect(fitted.knobs).toEqual({ summariser: 3 });
    expect(fitted.note).toMatch(/^summariser = agent 3, the best on dev/);
  });
});

describe('debate-summary: refusals and cancel', () => {
  it('scripted: a summary that cannot fit the context with every answer is refused before any call', async () => {
    const engine = new ScriptedEngine(uniqueReply, { contextLength: 280 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 4), knobs: { rounds: 2 } });
    expect(engine.calls).toHaveLength(0);
    expect(only(events, 'error').message).toMatch(/the summary \(4 text\(s\) shown, at least 32 bytes each\).*280-token context — .*use fewer agents \(now 4\), fewer rounds \(now 2; 1 = no revisions\)/);
  });

  it('scripted: a summariser numbered past the setup is refused before any call', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { summariser: 3 } });
    expect(engine.calls).toHaveLength(0);
    expect(only(events, 'error').message).toMatch(/The summariser is agent 3, but the setup has 2 agent\(s\)/);
  });

  it('scripted: cancelling during a summary ends the run before the revisions', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2) }, (e) => e.type === 'message-start' && e.purpose === 'summary');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(3);
    expect(ofType(events, 'message-start').filter((s) => s.purpose === 'revision')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
