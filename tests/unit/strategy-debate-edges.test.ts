// Debate (src/lib/strategies/debate.ts) at its edges: fitAnswers on its own (answers trimmed, an
// unknown or zero context, one answer too long for its share while another fits whole, nothing cut
// → cap 0), the cost model's token bound by hand, the checks before any call (a revision's and the
// judge's prompt at exactly the limit and one token over, with the whole refusal), an agent whose
// peers all failed answering afresh, an agent failing every round left out of the vote and of the
// judge's view, the cut warning's agent and bytes, and a cancel during the judge's call. Engines
// are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { debate, fitAnswers } from '../../src/lib/strategies/debate.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { ChatMessage } from '../../src/lib/engines/engine.ts';
import { ScriptedEngine, words, type ScriptedToken } from './strategies.scripted.ts';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { runCancelledAt } from './strategies.events.ts';
import { base, expectRefused, ofType, only, starts } from './strategy-text.helpers.ts';

const bytes = (s: string) => new TextEncoder().encode(s).length;
const X = 'x'.repeat(32);
const RELOAD = '(reloading the model does not help: its context size is fixed by the file)';

/** Agents a1…an on their own engines, each with its own context length (undefined = unknown). */
function agentsWith(contexts: (number | undefined)[], script: (agent: number, req: ChatRequest) => ScriptedToken[] | Error, tokenDelayMs = 0) {
  const engines = contexts.map((contextLength, a) => new ScriptedEngine((req) => script(a, req), { ...(contextLength !== undefined && { contextLength }), tokenDelayMs }));
  const agents: Agent[] = engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 }));
  return { agents, engines };
}

/** One agent on an engine reporting `contextLength`. */
const agentWith = (contextLength?: number): Agent => agentsWith([contextLength], () => words('x')).agents[0]!;

/** A one-message conversation: the shown answers joined by "|". Its empty form is 8 + 16 + 1 = 25 tokens for two answers. */
const joined = (shown: string[]): ChatMessage[] => [{ role: 'user', content: shown.join('|') }];

describe('debate: fitAnswers on its own', () => {
  it('answers are trimmed before they are shown, with or without a known context', () => {
    for (const ctx of [undefined, 1000]) {
      const fit = fitAnswers(agentWith(ctx), ['  four  ', '\nfive\n'], 10, joined, 'w', []);
      expect(fit.messages).toEqual([{ role: 'user', content: 'four|five' }]);
      expect(fit.cut).toBe(false);
    }
  });

  it('a context of 0 counts as unknown: nothing is cut and the cap is unlimited', () => {
    const long = 'y'.repeat(500);
    expect(fitAnswers(agentWith(0), [long, long], 10, joined, 'w', [])).toEqual({ messages: [{ role: 'user', content: `${long}|${long}` }], cut: false, capBytes: Infinity });
    expect(fitAnswers(agentWith(-5), [long], 10, joined, 'w', [])).toEqual({ messages: [{ role: 'user', content: long }], cut: false, capBytes: Infinity });
  });

  it('everything fits whole: not cut, and the cap reported is 0 (no answer was capped)', () => {
    // Room: 75 − 10 − 25 = 40 bytes; 10 + 30 fit.
    const fit = fitAnswers(agentWith(75), ['a'.repeat(10), 'b'.repeat(30)], 10, joined, 'w', []);
    expect(fit).toEqual({ messages: [{ role: 'user', content: `${'a'.repeat(10)}|${'b'.repeat(30)}` }], cut: false, capBytes: 0 });
  });

  it('a long answer is cut to its share (its first bytes, then "…") while a short one stays whole; the cap is the long one’s', () => {
    // Room 90 − 10 − 25 = 55: the 10-byte answer keeps all, the 100-byte one gets 45 (42 bytes + "…").
    const fit = fitAnswers(agentWith(90), ['a'.repeat(10), 'b'.repeat(100)], 10, joined, 'w', []);
    expect(fit).toEqual({ messages: [{ role: 'user', content: `${'a'.repeat(10)}|${'b'.repeat(42)}…` }], cut: true, capBytes: 45 });
  });

  it('refused when one answer’s share is under 32 bytes, even though the short answer fits whole', () => {
    // Room 75 − 10 − 25 = 40: the 10-byte answer keeps 10, the 200-byte one gets 30 < 32.
    expect(() => fitAnswers(agentWith(75), ['a'.repeat(10), 'b'.repeat(200)], 10, joined, 'round 9', ['fewer agents', 'or less'])).toThrow(
      `round 9: Agent 1's 75-token context has room for only 40 bytes of the 2 answers it must be shown after max tokens (10) and the rest of the prompt — fewer agents, or less ${RELOAD}`,
    );
  });
});

describe('debate: the cost model', () => {
  it('tokens by hand: 3 agents, 3 rounds, max tokens 10, prompt 100', () => {
    // A revision: 2 × 100 + 3 × 10 = 230. Vote: 3 × 100 + 3 × 2 × 230 = 1680; 9 calls.
    expect(debate.meta.cost!.tokens!(3, { rounds: 3, final: 'vote' }, 10, 100)).toEqual({ prompt: 1680, completion: 90 });
    // Judge: + 100 + 3 × 10 = 130; 10 calls.
    expect(debate.meta.cost!.tokens!(3, { rounds: 3, final: 'judge' }, 10, 100)).toEqual({ prompt: 1810, completion: 100 });
    expect(debate.meta.cost!.calls(3, { rounds: 3, final: 'vote' })).toBe(9);
  });
});

describe('debate: the checks before any call', () => {
  // Agent a's revision, checked with 32 bytes of each answer: the question, its own answer, the revision prompt.
  const revision = `These are the answers to the question from other agents:\n\nOne agent's answer: \`\`\`${X}\`\`\`\n\nUsing the other agents' answers as additional information, give your updated answer. The original question is: What is 2+2?`;
  const need = 8 + 3 * 16 + bytes('What is 2+2?') + 32 + bytes(revision);

  it('scripted: a revision that fits exactly runs', async () => {
    const { agents, engines } = agentsWith([need + 32, need + 32], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([2, 2]);
  });

  it('scripted: one token over, the default two rounds are refused before any call, with the whole message', async () => {
    const { agents, engines } = agentsWith([need + 31, need + 31], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: {} });
    expectRefused(events, engines, /^a revision round/);
    expect((events.at(-1) as { message: string }).message).toBe(
      `a revision round (1 other answers shown, at least 32 bytes each) needs up to ${need} tokens and max tokens is 32: ${need + 32} in all, more than scripted's ${need + 31}-token context — ` +
        `lower max tokens to 31 or less, or use fewer agents (now 2), fewer rounds (now 2; 1 = no revisions), a smaller max tokens (now 32), or a shorter prompt ${RELOAD}`,
    );
  });

  it('scripted: one round needs no revision check', async () => {
    const { agents } = agentsWith([need + 31, need + 31], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });

  const judgePrompt = `Question: What is 2+2?\n\nAfter a debate, the agents gave these final answers:\n\nAgent 1: \`\`\`${X}\`\`\`\n\nAgent 2: \`\`\`${X}\`\`\`\n\nWhich answer is correct? Reply with the correct answer only.`;
  const judgeNeed = 8 + 16 + bytes(judgePrompt);

  it('scripted: the judge’s prompt one token over its context is refused before any call (one round, so no revision check)', async () => {
    const { agents, engines } = agentsWith([undefined, judgeNeed + 31], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 1, final: 'judge', judge: 2 } });
    expectRefused(events, engines, /^the judge's prompt/);
    expect((events.at(-1) as { message: string }).message).toBe(
      `the judge's prompt (2 answers, at least 32 bytes each) needs up to ${judgeNeed} tokens and max tokens is 32: ${judgeNeed + 32} in all, more than scripted's ${judgeNeed + 31}-token context — ` +
        `lower max tokens to 31 or less, or use fewer agents (now 2), fewer rounds (now 1; 1 = no revisions), a smaller max tokens (now 32), or a shorter prompt ${RELOAD}`,
    );
  });

  it('scripted: the judge’s prompt at exactly its context runs', async () => {
    const { agents, engines } = agentsWith([undefined, judgeNeed + 32], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 1, final: 'judge', judge: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 2]);
  });
});

describe('debate: rounds with failures, cuts and cancels', () => {
  it('scripted: an agent whose peers all failed answers the question afresh in round 2 (no revision of nothing)', async () => {
    const { agents } = agentsWith([undefined, undefined], (a) => (a === 1 ? new Error('down') : words('It is 4')));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2 } });
    const r2 = starts(events).get('a1.r2.s0')!;
    expect(r2.purpose).toBe('answer');
    expect(r2.sees).toBeUndefined();
    expect(r2.messages).toEqual([{ role: 'user', content: 'What is 2+2?' }]);
    expect(only(events, 'final')).toMatchObject({ answer: '4' });
  });

  it('scripted: an agent failing every round is left out of the vote', async () => {
    const { agents } = agentsWith([undefined, undefined, undefined], (a) => (a === 2 ? new Error('down') : words(a === 0 ? 'It is 4' : 'It is 5')));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2, answerType: 'number' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(only(events, 'vote').ballots.map((b) => [b.agent, b.answer])).toEqual([
      ['a1', '4'],
      ['a2', '5'],
    ]);
  });

  it('scripted: … and out of the judge’s view', async () => {
    const { agents } = agentsWith([undefined, undefined, undefined], (a) => (a === 2 ? new Error('down') : words(a === 0 ? 'It is 4' : 'It is 5')));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2, final: 'judge', judge: 1, answerType: 'number' } });
    const judge = starts(events).get('a1.r3.s0.judge')!;
    expect(judge.sees).toEqual(['a1.r2.s0', 'a2.r2.s0']);
    expect(judge.messages.at(-1)!.content).toBe(
      'Question: What is 2+2?\n\nAfter a debate, the agents gave these final answers:\n\nAgent 1: ```It is 4```\n\nAgent 2: ```It is 5```\n\nWhich answer is correct? Reply with the correct answer only.',
    );
  });

  it('scripted: nothing cut, no warning (an unknown context cuts nothing)', async () => {
    const { agents } = agentsWith([undefined, undefined], () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 3 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'error')).toEqual([]);
  });

  it('scripted: answers cut to fit: one warning per agent, naming it and the bytes each answer kept', async () => {
    // The revision with empty answers: 8 + 3 × 16 + 12 + 0 + the prompt; give 80 bytes of room on top (40 each).
    const empty = `These are the answers to the question from other agents:\n\nOne agent's answer: \`\`\`\`\`\`\n\nUsing the other agents' answers as additional information, give your updated answer. The original question is: What is 2+2?`;
    const context = 32 + 8 + 3 * 16 + 12 + bytes(empty) + 80;
    const { agents } = agentsWith([context, context], (a) => words(`Agent ${a + 1} thinks ${'z'.repeat(60)} so 4`));
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const message = 'round 2: the answers shown were cut to 40 bytes each (their first bytes, then "…") to fit the context with max tokens 32';
    expect(ofType(events, 'error').map((e) => [e.agent, e.fatal, e.message])).toEqual([
      ['a1', false, message],
      ['a2', false, message],
    ]);
    // Agent 1's own answer (the assistant turn) keeps its first 37 bytes and "…".
    expect(starts(events).get('a1.r2.s0')!.messages[1]).toEqual({ role: 'assistant', content: `Agent 1 thinks ${'z'.repeat(22)}…` });
  });

  it('scripted: a cancel during the judge’s call ends the run with no final answer', async () => {
    const { agents } = agentsWith([undefined, undefined], () => words('word '.repeat(60)), 2);
    const events = await runCancelledAt({ ...base, strategy: 'debate', agents, knobs: { rounds: 1, final: 'judge' } }, (e) => e.type === 'token' && e.msgId.endsWith('.judge'));
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'message-start').map((m) => m.msgId)).toContain('a1.r2.s0.judge');
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
