// Multiagent feedback when calls fail: an agent whose first answer failed answers afresh in the next
// revision stage (no critique of it, nothing shown), and each stage where every call failed ends the
// run with its own words (answers, critiques, revisions, the judge).
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { agentsEach, ofType, starts } from './strategy-text.helpers.ts';
import { runCancelledAt } from './strategies.events.ts';
import { lastUser, words } from './strategies.scripted.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'feedback' };
type Stage = 'answer' | 'critique' | 'revision' | 'judge';
const stageOf = (req: ChatRequest): Stage => {
  const user = lastUser(req);
  if (user.startsWith("You are reviewing another assistant's answer")) return 'critique';
  if (user.startsWith('Other assistants reviewed your answer')) return 'revision';
  if (user.includes('Which answer is correct?')) return 'judge';
  return 'answer';
};

describe('feedback: failed calls', () => {
  it('scripted: an agent whose first answer failed is not critiqued, and answers afresh in the revision stage', async () => {
    let a2Answers = 0;
    const { agents } = agentsEach(3, (a, req) => {
      const stage = stageOf(req);
      if (a === 1 && stage === 'answer' && a2Answers++ === 0) return new Error('engine down');
      return words(stage === 'critique' ? 'Looks fine.' : `Answer: ${a === 1 ? 5 : 4}`);
    });
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const s = starts(events);
    // Critiques: a1's answer by a2, a3's by a1; a2's failed answer by nobody.
    expect(ofType(events, 'message-start').filter((m) => m.purpose === 'critique').map((m) => [m.msgId, m.sees])).toEqual([
      ['a2.r2.s0.critique', ['a1.r1.s0']],
      ['a1.r2.s0.critique', ['a3.r1.s0']],
    ]);
    // a2 answers afresh at stage 3: the question alone, nothing shown.
    const fresh = s.get('a2.r3.s0')!;
    expect(fresh.sees).toBeUndefined();
    expect(fresh.messages).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
    expect(s.get('a1.r3.s0')!.sees).toEqual(['a1.r1.s0', 'a2.r2.s0.critique']);
    // Its fresh answer is counted in the final vote.
    const vote = ofType(events, 'vote')[0]!;
    expect(vote.ballots.map((b) => [b.agent, b.answer])).toEqual([['a1', '4'], ['a2', '5'], ['a3', '4']]);
  });

  it('scripted: every first answer failing ends the run before any critique', async () => {
    const { agents, engines } = agentsEach(2, () => new Error('engine down'));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every agent failed to answer; see the errors above') });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1]);
  });

  it('scripted: every critique failing ends the run, naming the feedback round', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => (stageOf(req) === 'critique' ? new Error('engine down') : words('Answer: 4')));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every critique failed in feedback round 1; see the errors above') });
    expect(engines.flatMap((e) => e.calls.map((c) => stageOf(c.request)))).not.toContain('revision');
  });

  it('scripted: every revision failing ends the run, naming the feedback round', async () => {
    const { agents } = agentsEach(2, (_a, req) => (stageOf(req) === 'revision' ? new Error('engine down') : words('Answer: 4')));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every revision failed in feedback round 1; see the errors above') });
    expect(ofType(events, 'round').map((r) => r.round)).toEqual([1, 2, 3]);
  });

  it('scripted: one revision failing keeps that agent’s earlier answer', async () => {
    const { agents } = agentsEach(2, (a, req) => (a === 1 && stageOf(req) === 'revision' ? new Error('engine down') : words(`Answer: ${stageOf(req) === 'revision' ? 7 : a + 1}`)));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'vote')[0]!.ballots.map((b) => [b.agent, b.answer])).toEqual([['a1', '7'], ['a2', '2']]);
  });

  it('scripted: a failed judge ends the run, naming it', async () => {
    const { agents } = agentsEach(2, (_a, req) => (stageOf(req) === 'judge' ? new Error('engine down') : words('Answer: 4')));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, final: 'judge', judge: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the judge Agent 2 failed: .*engine down/) });
    expect(ofType(events, 'round').at(-1)).toMatchObject({ round: 4, label: 'Judge: Agent 2' });
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('feedback: cost and roles', () => {
  it('the token bound: each critique shows one answer, each revision its own and k critiques, the judge N answers', async () => {
    const { getStrategy } = await import('../../src/lib/strategies/registry.ts');
    const cost = getStrategy('feedback').meta.cost!;
    // N = 3, R = 2, k = 1, vote: 3 + 2 × (3 + 3) = 15 calls; shown 2 × (3 × 1 + 3 × 2) = 18.
    expect(cost.tokens!(3, { rounds: 2, critics: 1, final: 'vote' }, 10, 100)).toEqual({ prompt: 15 * 100 + 18 * 10, completion: 150 });
    // With a judge: 16 calls; shown 18 + 3.
    expect(cost.tokens!(3, { rounds: 2, critics: 1, final: 'judge' }, 10, 100)).toEqual({ prompt: 16 * 100 + 21 * 10, completion: 160 });
    // k = 2: shown per round 3 × 2 + 3 × 3 = 15.
    expect(cost.tokens!(3, { rounds: 1, critics: 2, final: 'vote' }, 10, 100)).toEqual({ prompt: (3 + 9) * 100 + 15 * 10, completion: 120 });
  });

  it('scripted: a judge number the setup lacks is refused, naming the role; a refusal names every knob that would help', async () => {
    const { agents, engines } = agentsEach(2, () => words('Answer: 4'));
    const events = await collectRun({ ...base, agents, knobs: { final: 'judge', judge: 3 } });
    expect(events.at(-1)).toMatchObject(expect.objectContaining({ status: 'error', message: expect.stringContaining('The judge is agent 3, but the setup has 2 agent(s)') }));
    expect(engines.map((e) => e.calls.length)).toEqual([0, 0]);
    const small = agentsEach(2, () => words('Answer: 4'), { contextLength: 120 });
    const refused = await collectRun({ ...base, agents: small.agents, knobs: { critics: 1 } });
    expect(refused.at(-1)).toMatchObject({ status: 'error', message: expect.stringContaining('use fewer critics per answer (now 1), fewer agents (now 2), a smaller max tokens (now 32), or a shorter prompt') });
  });
});

describe('feedback: who revises, cut warnings, cancel', () => {
  it('scripted: an answer none of whose critiques came back is not revised; its first answer stands', async () => {
    // N = 3, k = 1: a1 is critiqued by a2 only, and a2's critiques fail.
    const { agents } = agentsEach(3, (a, req) => {
      const stage = stageOf(req);
      if (stage === 'critique') return a === 1 ? new Error('engine down') : words('Looks fine.');
      return words(`Answer: ${stage === 'revision' ? 7 : a + 1}`);
    });
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1 } });
    expect(events.every((e) => typeof e === 'object' && typeof e.type === 'string')).toBe(true);
    const revisions = ofType(events, 'message-start').filter((m) => m.round === 3).map((m) => m.agent);
    expect(revisions).toEqual(['a2', 'a3']);
    expect(ofType(events, 'vote')[0]!.ballots.map((b) => [b.agent, b.answer])).toEqual([['a1', '1'], ['a2', '7'], ['a3', '7']]);
  });

  it('scripted: long answers and critiques are cut to fit, with a warning naming the feedback round', async () => {
    const long = 'x'.repeat(400);
    const { agents } = agentsEach(2, (_a, req) => words(`${long} Answer: 4`), { contextLength: 400 });
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const warnings = ofType(events, 'error').filter((e) => !e.fatal);
    // Two critiques (stage 2), then two revisions (stage 3), each cut.
    expect(warnings).toHaveLength(4);
    for (const w of warnings) expect(w.message).toMatch(/^feedback round 1: /);
    const rounds = ofType(events, 'round');
    const index = (e: object) => events.indexOf(e as never);
    expect(warnings.slice(0, 2).every((w) => index(w) > index(rounds[1]!) && index(w) < index(rounds[2]!))).toBe(true);
    expect(warnings.slice(2).every((w) => index(w) > index(rounds[2]!))).toBe(true);
  });

  it('scripted: cancel during the first answers ends the run before any critique', async () => {
    const { agents } = agentsEach(2, () => words('word '.repeat(40)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents, knobs: { rounds: 1 } }, (e) => e.type === 'token');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'message-start').filter((m) => m.purpose === 'critique')).toHaveLength(0);
    expect(ofType(events, 'round')).toHaveLength(1);
  });

  it('scripted: cancel during the revisions ends the run with no vote', async () => {
    const { agents } = agentsEach(2, (_a, req) => words(stageOf(req) === 'revision' ? 'word '.repeat(40) : 'Answer: 4'), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents, knobs: { rounds: 2 } }, (e) => e.type === 'message-start' && e.round === 3);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'round').map((r) => r.round)).toEqual([1, 2, 3]);
    expect(ofType(events, 'vote')).toHaveLength(0);
  });
});

describe('feedback: the judge and agents that never answer', () => {
  it('scripted: an agent that fails every call is left out of the final vote', async () => {
    const { agents } = agentsEach(3, (a) => (a === 1 ? new Error('engine down') : words(`Answer: ${a + 1}`)));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'vote')[0]!.ballots.map((b) => b.agent)).toEqual(['a1', 'a3']);
  });

  it('scripted: the judge comes at stage 2R + 2 and reads each last answer under its agent’s name', async () => {
    const { agents, engines } = agentsEach(2, (a, req) => words(stageOf(req) === 'judge' ? 'Answer: 4' : `Answer: ${a + 1}`));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, critics: 1, final: 'judge', judge: 1 } });
    expect(ofType(events, 'round').at(-1)).toMatchObject({ round: 6, label: 'Judge: Agent 1' });
    const judged = lastUser(engines[0]!.calls.at(-1)!.request);
    expect(judged).toContain('Agent 1: ```Answer: 1```\n\nAgent 2: ```Answer: 2```');
  });

  it('scripted: long last answers are cut for the judge, with a warning; a judge that cannot fit N answers is refused before any call', async () => {
    const long = 'x'.repeat(300);
    const a = agentsEach(2, (_i, req) => words(stageOf(req) === 'judge' ? 'Answer: 4' : stageOf(req) === 'critique' ? 'ok' : `${long} Answer: 4`), { contextLength: 330 });
    const events = await collectRun({ ...base, agents: a.agents, knobs: { rounds: 1, critics: 1, final: 'judge' } });
    expect(ofType(events, 'error').filter((e) => /^the judge: /.test(e.message))).toHaveLength(1);
    // 6 agents: a critique and a revision fit 350 tokens, the judge's 6 answers of 32 bytes do not.
    const b = agentsEach(6, () => words('Answer: 4'), { contextLength: 350 });
    const refused = await collectRun({ ...base, agents: b.agents, knobs: { rounds: 1, critics: 1, final: 'judge' } });
    expect(refused.at(-1)).toMatchObject({ status: 'error', message: expect.stringMatching(/^the judge's prompt \(6 text\(s\) shown/) });
    expect(b.engines.every((e) => e.calls.length === 0)).toBe(true);
  });

  it('scripted: a critique that cannot fit is refused by name', async () => {
    const { agents, engines } = agentsEach(2, () => words('Answer: 4'), { contextLength: 150 });
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, critics: 1 } });
    expect(events.at(-1)).toMatchObject({ status: 'error', message: expect.stringMatching(/^a critique \(1 text\(s\) shown/) });
    expect(engines.every((e) => e.calls.length === 0)).toBe(true);
  });

  it('scripted: cancel during the judge’s call ends the run with no final answer', async () => {
    const { agents } = agentsEach(2, (_a, req) => words(stageOf(req) === 'judge' ? 'word '.repeat(30) : 'Answer: 4'), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents, knobs: { rounds: 1, final: 'judge' } }, (e) => e.type === 'message-start' && e.purpose === 'judge');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

