// Multiagent feedback (src/lib/strategies/feedback.ts) with scripted engines: who critiques whom,
// what each critique and revision sees, in which stage, how many calls (= meta.cost), the seeds, the
// final rule, the refusals before any call, and cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { criticsOf, critiquePrompt, feedbackRevisionMessages } from '../../src/lib/strategies/feedback.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { expectSeesIsWhatPromptShows, ofType, only, runCancelledAt, seesById, textsById, uniqueReply } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'feedback' };
const meta = getStrategy('feedback').meta;
const calls = (n: number, knobs: Record<string, number | string | boolean>) => meta.cost!.calls(n, resolveKnobs(meta, knobs).knobs);

describe('feedback: who critiques whom', () => {
  it('agent i is critiqued by the k agents after it in setup order, cyclically', () => {
    expect(criticsOf(0, 3, 2)).toEqual([1, 2]);
    expect(criticsOf(2, 3, 2)).toEqual([0, 1]);
    expect(criticsOf(3, 4, 1)).toEqual([0]);
  });

  it('scripted: N = 3, k = 2, R = 2 — N × k critiques per round, each seeing the answer it critiques; revisions see their own answer and its k critiques', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const knobs = { rounds: 2, critics: 2 };
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(3 + 2 * (3 * 2 + 3));
    expect(engine.calls).toHaveLength(calls(3, knobs));
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Round 1: answers'],
      [2, 'Feedback round 1: critiques'],
      [3, 'Feedback round 1: revisions'],
      [4, 'Feedback round 2: critiques'],
      [5, 'Feedback round 2: revisions'],
    ]);
    const starts = ofType(events, 'message-start');
    for (const stage of [2, 4]) expect(starts.filter((s) => s.round === stage && s.purpose === 'critique')).toHaveLength(6);
    const sees = seesById(events);
    // Stage 2: the critic d places after the author writes its sample d − 1 (a2 and a3 critique a1, …).
    expect(Object.fromEntries([...sees].filter(([id]) => id.includes('.r2.')))).toEqual({
      'a2.r2.s0.critique': ['a1.r1.s0'],
      'a3.r2.s1.critique': ['a1.r1.s0'],
      'a3.r2.s0.critique': ['a2.r1.s0'],
      'a1.r2.s1.critique': ['a2.r1.s0'],
      'a1.r2.s0.critique': ['a3.r1.s0'],
      'a2.r2.s1.critique': ['a3.r1.s0'],
    });
    expect(sees.get('a1.r3.s0')).toEqual(['a1.r1.s0', 'a2.r2.s0.critique', 'a3.r2.s1.critique']);
    expect(sees.get('a2.r3.s0')).toEqual(['a2.r1.s0', 'a3.r2.s0.critique', 'a1.r2.s1.critique']);
    // Round 2's critiques read round 1's revisions, and round 2's revisions build on them.
    expect(sees.get('a2.r4.s0.critique')).toEqual(['a1.r3.s0']);
    expect(sees.get('a1.r5.s0')).toEqual(['a1.r3.s0', 'a2.r4.s0.critique', 'a3.r4.s1.critique']);
    expectSeesIsWhatPromptShows(events);
    // The prompts themselves.
    const texts = textsById(events);
    const critique = starts.find((s) => s.msgId === 'a2.r2.s0.critique')!;
    expect(critique.messages).toEqual([{ role: 'user', content: critiquePrompt(base.prompt, texts.get('a1.r1.s0')!) }]);
    const revision = starts.find((s) => s.msgId === 'a1.r3.s0')!;
    expect(revision.purpose).toBe('revision');
    expect(revision.messages).toEqual(feedbackRevisionMessages(agentsOn(engine, 1)[0]!, base.prompt, texts.get('a1.r1.s0')!, [texts.get('a2.r2.s0.critique')!, texts.get('a3.r2.s1.critique')!]));
    // Every call its own seed, from (agent, stage, sample).
    const seeds = engine.calls.map((c) => c.request.seed);
    expect(new Set(seeds).size).toBe(engine.calls.length);
    expect(starts.map((s) => s.msgId)).toContain('a3.r2.s1.critique');
    const a3Stage2 = engine.calls.filter((c) => c.caller === 'a3' && [callSeed(42, 2, 2, 0), callSeed(42, 2, 2, 1)].includes(c.request.seed!));
    expect(a3Stage2).toHaveLength(2);
    // The vote is over the last revisions (stage 5).
    const vote = only(events, 'vote');
    expect(vote.round).toBe(5);
    expect(vote.ballots.map((b) => b.raw)).toEqual(['a1.r5.s0', 'a2.r5.s0', 'a3.r5.s0'].map((id) => texts.get(id)));
  });

  it('scripted: the final vote counts the last revisions’ answers', async () => {
    // Revisions (prompts that show critiques) say 4, except agent 3's; first answers say 5.
    const engine = new ScriptedEngine((req) => {
      const u = lastUser(req);
      if (u.startsWith('You are reviewing')) return words('Check the sum.');
      if (u.startsWith('Other assistants reviewed')) return words(req.messages[0]?.role === 'system' ? 'The answer is 3' : 'The answer is 4');
      return words('The answer is 5');
    });
    const agents = agentsOn(engine, 3);
    agents[2]!.system = 'Be contrary.';
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1, answerType: 'number' } });
    expect(only(events, 'vote').tally.map((t) => [t.answer, t.count])).toEqual([['4', 2], ['3', 1]]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1', text: 'The answer is 4' });
  });

  it('scripted: with a judge, the judge reads every last revision at stage 2R + 2 and decides', async () => {
    const engine = new ScriptedEngine((req, i) => (lastUser(req).includes('Which answer is correct?') ? words('The answer is 4') : uniqueReply(req, i)));
    const knobs = { rounds: 1, critics: 1, final: 'judge', judge: 2 };
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs });
    expect(engine.calls).toHaveLength(calls(3, knobs));
    expect(engine.calls).toHaveLength(3 + 3 + 3 + 1);
    const judge = ofType(events, 'message-start').at(-1)!;
    expect(judge).toMatchObject({ msgId: 'a2.r4.s0.judge', purpose: 'judge', sees: ['a1.r3.s0', 'a2.r3.s0', 'a3.r3.s0'] });
    expect(engine.calls.at(-1)!.request.seed).toBe(callSeed(42, 1, 4, 0));
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2' });
    expectSeesIsWhatPromptShows(events);
  });

  it('scripted: a revision round skips a failed critique and keeps the others', async () => {
    // The engine's call 3 is the first critique (a2 on a1): it fails.
    const engine = new ScriptedEngine((req, i) => (i === 3 ? new Error('boom') : uniqueReply(req, i)));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { rounds: 1, critics: 2 } });
    expect(events.at(-1)).toMatchObject({ status: 'done' });
    const failed = ofType(events, 'message-start').find((s) => s.purpose === 'critique')!.msgId;
    const revisionOfA1 = seesById(events).get('a1.r3.s0')!;
    expect(revisionOfA1).toHaveLength(2);
    expect(revisionOfA1).not.toContain(failed);
  });
});

describe('feedback: refusals before any call', () => {
  it('scripted: k > N − 1 is refused, naming the knob and the largest value that works', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { critics: 3 } });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    expect(only(events, 'error').message).toMatch(/3 critic\(s\), but with 3 agents each answer has only 2 other agent\(s\).*lower "Critics per answer" to 2 or fewer, or add agents/);
  });

  it('scripted: a revision that cannot fit the context with k critiques is refused before any call', async () => {
    // The first prompt fits (run.ts checks it) but a revision (own answer + 2 critiques, 32 bytes each, and the prompt twice) does not.
    const engine = new ScriptedEngine(uniqueReply, { contextLength: 300 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { critics: 2 } });
    expect(engine.calls).toHaveLength(0);
    expect(only(events, 'error').message).toMatch(/a revision \(3 text\(s\) shown, at least 32 bytes each\).*300-token context.*fewer critics per answer \(now 2\)/);
  });
});

describe('feedback: cancel', () => {
  it('scripted: cancelling during the first critiques ends the run without revisions or a final answer', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 3), knobs: { critics: 1 } }, (e) => e.type === 'message-start' && e.purpose === 'critique');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(6);
    expect(ofType(events, 'message-start').filter((s) => s.purpose === 'revision')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
