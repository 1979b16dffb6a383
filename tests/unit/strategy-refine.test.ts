// MoCo's multiagent refine (src/lib/strategies/refine.ts) with scripted engines: refinements see the
// agent's own and every other previous answer, the synthesis sees every last answer, the call count
// (= meta.cost), seeds, the final answer's rule, the dev fit, refusal before any call, and cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { refinePrompt, synthesisPrompt } from '../../src/lib/strategies/refine.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { expectSeesIsWhatPromptShows, ofType, only, runCancelledAt, seesById, textsById, uniqueReply } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'refine' };
const strategy = getStrategy('refine');
const calls = (n: number, knobs: Record<string, number | string | boolean>) => strategy.meta.cost!.calls(n, resolveKnobs(strategy.meta, knobs).knobs);

describe('refine: who sees what', () => {
  it('scripted: N = 3, R = 3 — each refinement shows the agent its own and the others’ previous answers; the summariser reads the last ones', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const knobs = { rounds: 3, summariser: 3 };
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(3 * 3 + 1);
    expect(engine.calls).toHaveLength(calls(3, knobs));
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([[1, 'Round 1: answers'], [2, 'Round 2: refinements'], [3, 'Round 3: refinements'], [4, 'Synthesis: Agent 3']]);
    const sees = seesById(events);
    expect(sees.get('a1.r2.s0')).toEqual(['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0']);
    expect(sees.get('a2.r2.s0')).toEqual(['a2.r1.s0', 'a1.r1.s0', 'a3.r1.s0']);
    expect(sees.get('a3.r3.s0')).toEqual(['a3.r2.s0', 'a1.r2.s0', 'a2.r2.s0']);
    expect(sees.get('a3.r4.s0.synthesis')).toEqual(['a1.r3.s0', 'a2.r3.s0', 'a3.r3.s0']);
    expectSeesIsWhatPromptShows(events);
    const texts = textsById(events);
    const starts = ofType(events, 'message-start');
    expect(starts.find((s) => s.msgId === 'a2.r2.s0')!.messages).toEqual([{ role: 'user', content: refinePrompt(base.prompt, texts.get('a2.r1.s0')!, [texts.get('a1.r1.s0')!, texts.get('a3.r1.s0')!]) }]);
    expect(starts.at(-1)!.messages).toEqual([{ role: 'user', content: synthesisPrompt(base.prompt, ['a1.r3.s0', 'a2.r3.s0', 'a3.r3.s0'].map((id) => texts.get(id)!)) }]);
    expect(engine.calls.at(-1)!.request.seed).toBe(callSeed(42, 2, 4, 0));
    expect(new Set(engine.calls.map((c) => c.request.seed)).size).toBe(engine.calls.length);
    // The final answer is the synthesis, not a vote.
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(only(events, 'final')).toMatchObject({ agent: 'a3', text: texts.get('a3.r4.s0.synthesis') });
  });

  it('scripted: the final answer is read from the synthesis even when every agent said something else', async () => {
    const engine = new ScriptedEngine((req) => words(lastUser(req).startsWith('Several assistants') ? 'So the answer is 4.' : 'The answer is 5'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 2, answerType: 'number' } });
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
  });

  it('scripted: an agent whose round-1 call failed answers afresh in round 2 and is not shown to the others in round 2', async () => {
    // Call 1 is agent 2's first answer: it fails.
    const engine = new ScriptedEngine((req, i) => (i === 1 ? new Error('boom') : uniqueReply(req, i)));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ status: 'done' });
    const starts = ofType(events, 'message-start').filter((s) => s.round === 2);
    expect(starts.map((s) => [s.msgId, s.purpose])).toEqual([['a1.r2.s0', 'revision'], ['a2.r2.s0', 'answer'], ['a3.r2.s0', 'revision']]);
    expect(seesById(events).get('a1.r2.s0')).toEqual(['a1.r1.s0', 'a3.r1.s0']);
    expectSeesIsWhatPromptShows(events);
  });

  it('the dev fit makes the best member the summariser (MoCo’s rule)', () => {
    expect(strategy.fit!({ agentScores: [0.7, 0.7, 0.1], items: [] }, {}).knobs).toEqual({ summariser: 1 });
  });
});

describe('refine: refusals and cancel', () => {
  it('scripted: a refinement that cannot fit is refused before any call, naming the knobs', async () => {
    const engine = new ScriptedEngine(uniqueReply, { contextLength: 300 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { rounds: 2 } });
    expect(engine.calls).toHaveLength(0);
    expect(only(events, 'error').message).toMatch(/a refinement \(3 text\(s\) shown, at least 32 bytes each\).*300-token context — .*use fewer agents \(now 3\), fewer rounds \(now 2; 1 = no refinements\), a smaller max tokens \(now 32\)/);
  });

  it('scripted: cancelling during the refinements ends the run without a synthesis', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2) }, (e) => e.type === 'message-start' && e.purpose === 'revision');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(4);
    expect(ofType(events, 'message-start').filter((s) => s.purpose === 'synthesis')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
