// Blackboard (BBMAS): who posts in which round, which board entries each post is shown (`sees`
// and the prompt text), the stopping rule (consensus or max rounds), the vote and its rule, the
// cost model against a real scripted run, per-call seeds, refusal before any call, and cancel.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun, runStrategy } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { actorsOf, blackboard, votedConclusion } from '../../src/lib/strategies/blackboard.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const ofType = <T extends TraceEvent['type']>(events: TraceEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);
const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'blackboard' };

/** Each agent always answers its own number (a1 → 1, …), votes for `vote`, never agreeing. */
function stubborn(vote = 'I vote for Conclusion #2') {
  return new ScriptedEngine((req) => {
    const user = lastUser(req);
    if (user.includes('I vote for Conclusion #<n>')) return words(vote);
    const who = user.startsWith('Shared board') ? req.seed : 0;
    return words(`post ${who} Answer: ${who}`);
  });
}

describe('blackboard: who posts and what each post is shown', () => {
  it('is registered with a cost model and level text', () => {
    expect(getStrategy('blackboard').meta).toMatchObject({ level: 'text', needs: { minAgents: 2 } });
    expect(blackboard.meta.cost?.calls(3, { rounds: 3, actors: 2 })).toBe(9);
    expect(blackboard.meta.cost?.calls(2, { rounds: 2, actors: 5 })).toBe(6);
  });

  it('rotates the posting agents so each gets the same number of turns', () => {
    expect([1, 2, 3].map((r) => actorsOf(r, 2, 3))).toEqual([[0, 1], [2, 0], [1, 2]]);
    expect(actorsOf(1, 5, 2)).toEqual([0, 1]);
  });

  it('scripted: proposals in round 1 see an empty board; each critique sees every earlier entry; a vote follows max rounds', async () => {
    const engine = stubborn();
    const agents = agentsOn(engine, 3);
    const events = await collectRun({ ...base, agents, knobs: { rounds: 3, actors: 2, answerType: 'number' } });
    const starts = ofType(events, 'message-start');
    // Round 1: a1, a2 propose; round 2: a3, a1 critique; round 3: a2, a3 critique; round 4: all vote.
    expect(starts.map((s) => s.msgId)).toEqual([
      'a1.r1.s0.propose', 'a2.r1.s0.propose',
      'a3.r2.s0.critique', 'a1.r2.s0.critique',
      'a2.r3.s0.critique', 'a3.r3.s0.critique',
      'a1.r4.s0.vote', 'a2.r4.s0.vote', 'a3.r4.s0.vote',
    ]);
    expect(engine.calls).toHaveLength(blackboard.meta.cost!.calls(3, { rounds: 3, actors: 2 }));
    const sees = Object.fromEntries(starts.map((s) => [s.msgId, s.sees]));
    expect(sees['a1.r1.s0.propose']).toBeUndefined();
    expect(sees['a3.r2.s0.critique']).toEqual(['a1.r1.s0.propose', 'a2.r1.s0.propose']);
    expect(sees['a1.r2.s0.critique']).toEqual(['a1.r1.s0.propose', 'a2.r1.s0.propose']);
    expect(sees['a2.r3.s0.critique']).toEqual(['a1.r1.s0.propose', 'a2.r1.s0.propose', 'a3.r2.s0.critique', 'a1.r2.s0.critique']);
    // The prompt shows those entries, numbered, with their authors and text.
    const texts = new Map(ofType(events, 'message-end').map((m) => [m.msgId, m.text] as const));
    const round3 = engine.calls.find((c) => c.request.seed === callSeed(42, 1, 3, 0))!;
    const shown = lastUser(round3.request);
    expect(shown).toContain(`Entry #3 (Agent 3): \`\`\`${texts.get('a3.r2.s0.critique')}\`\`\``);
    expect(shown).toContain(`Entry #1 (Agent 1): `);
    expect(shown.endsWith('What is 2+2?')).toBe(true);
    expect(shown).not.toContain('Entry #5');
    // Conclusions: the distinct standing answers in setup order (a1's, a2's, a3's latest posts); the vote sees them.
    expect(sees['a1.r4.s0.vote']).toEqual(['a1.r2.s0.critique', 'a2.r3.s0.critique', 'a3.r3.s0.critique']);
    // The vote shows each conclusion as the answer it gives, numbered in that order.
    const answerOf = (id: string) => texts.get(id)!.split('Answer: ')[1]!;
    const voteCall = engine.calls.find((c) => c.request.seed === callSeed(42, 0, 4, 0))!;
    expect(lastUser(voteCall.request)).toContain(`Conclusion #1: ${answerOf('a1.r2.s0.critique')}\nConclusion #2: ${answerOf('a2.r3.s0.critique')}\nConclusion #3: ${answerOf('a3.r3.s0.critique')}`);
    const voteEvent = ofType(events, 'vote')[0]!;
    expect(voteEvent.round).toBe(4);
    expect(voteEvent.tally).toEqual([{ answer: texts.get('a2.r3.s0.critique')!.split('Answer: ')[1], count: 3, agents: ['a1', 'a2', 'a3'] }]);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: voteEvent.winner, agent: 'a2', text: texts.get('a2.r3.s0.critique') });
  });

  it('scripted: every call gets its own seed from (agent, round, sample 0)', async () => {
    const engine = stubborn();
    await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { rounds: 2, actors: 3 } });
    const expected = [0, 1, 2].flatMap((a) => [1, 2, 3].map((r) => callSeed(42, a, r, 0)));
    expect(engine.calls.map((c) => c.request.seed).sort()).toEqual(expected.sort());
    expect(new Set(expected).size).toBe(9);
  });
});

describe('blackboard: stopping rule and final answer', () => {
  it('scripted: stops at consensus — no further rounds and no vote call', async () => {
    const engine = new ScriptedEngine(() => words('We agree. Answer: 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 4, actors: 2, answerType: 'number' } });
    expect(engine.calls).toHaveLength(2);
    const v = ofType(events, 'vote')[0]!;
    expect(v).toMatchObject({ round: 1, winner: '4' });
    expect(v.rule).toMatch(/^consensus after round 1/);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '4', agent: 'a2' });
  });

  it('scripted: consensus needs every agent to have posted', async () => {
    const engine = new ScriptedEngine(() => words('Answer: 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { rounds: 4, actors: 2, answerType: 'number' } });
    // Round 1: a1, a2; a3 has not posted, so round 2 follows (a3, a1); then all agree.
    expect(engine.calls).toHaveLength(4);
    expect(ofType(events, 'vote')[0]).toMatchObject({ round: 2, winner: '4' });
  });

  it('scripted: a vote naming no listed conclusion abstains; all abstaining falls back to the standing answers', async () => {
    const engine = stubborn('I cannot decide.');
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 1, actors: 2, answerType: 'number' } });
    const v = ofType(events, 'vote')[0]!;
    expect(v.ballots.every((b) => b.answer !== '')).toBe(true);
    expect(v.rule).toMatch(/^no vote named a listed conclusion/);
    // The fallback tally: one standing answer each, tie → earliest in setup order (a1's).
    expect(ofType(events, 'final')[0]).toMatchObject({ agent: 'a1' });
  });

  it('reads the voted conclusion and rejects numbers outside the list', () => {
    expect(votedConclusion('Therefore, I vote for Conclusion #2.', 3)).toBe(2);
    expect(votedConclusion('conclusion 3 is right', 3)).toBe(3);
    expect(votedConclusion('I vote for Conclusion #4', 3)).toBeUndefined();
    expect(votedConclusion('no idea', 3)).toBeUndefined();
  });
});

describe('blackboard: context and cancel', () => {
  it('scripted: refuses before any call when a critique cannot show even one entry', async () => {
    const engine = new ScriptedEngine(() => words('Answer: 4'), { contextLength: 180 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), maxTokens: 60, knobs: { rounds: 2 } });
    expect(engine.calls).toHaveLength(0);
    const end = events.at(-1) as Of<'run-end'>;
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/a critique showing one board entry/);
    expect(end.message).toMatch(/fewer rounds \(now 2\)/);
  });

  it('scripted: fits the pool’s 256-token context with a pool prompt (3 agents, max tokens 16)', async () => {
    const engine = stubborn();
    const events = await collectRun({ ...base, prompt: 'Q: 79 - 36 = ?\nA:', agents: agentsOn(engine, 3), maxTokens: 16, knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(blackboard.meta.cost!.calls(3, { rounds: 2, actors: 2 }));
    // The critiques could show the latest entry only: the rest was left out, with a warning.
    expect(ofType(events, 'message-start').filter((s) => s.round === 2).every((s) => (s.sees?.length ?? 0) >= 1)).toBe(true);
  });

  it('scripted: a full board is shown from its latest entries, with a warning', async () => {
    const long = 'x'.repeat(200);
    const engine = new ScriptedEngine((req) => words(`${long} Answer: ${req.seed}`), { contextLength: 330 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), maxTokens: 60, knobs: { rounds: 3, actors: 2, answerType: 'number' } });
    const round3 = ofType(events, 'message-start').filter((s) => s.round === 3);
    expect(round3).toHaveLength(2);
    for (const s of round3) expect(s.sees?.length).toBeLessThan(4);
    expect(round3[0]!.sees?.at(-1)).toBe('a2.r2.s0.critique');
    expect(ofType(events, 'error').some((e) => /showed only its latest/.test(e.message))).toBe(true);
  });

  it('scripted: cancel during round 1 ends the run with no later round', async () => {
    const engine = new ScriptedEngine(() => words('one two three four five six'), { tokenDelayMs: 5 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, agents: agentsOn(engine, 2), signal: controller.signal })) {
      events.push(e);
      if (e.type === 'token') controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(2);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
