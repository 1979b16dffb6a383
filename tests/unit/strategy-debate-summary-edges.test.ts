// Debate with a summariser (src/lib/strategies/debate-summary.ts) at its edges, with scripted
// engines: the stated token bound, the refusals' exact advice (the summary's and a revision's), no
// summary check with one round, the warnings when the summary's or a revision's shown texts are
// cut, an agent that fails every round (left out of the summary and the vote), and a cancelled
// run that ends quietly.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { debateSummary } from '../../src/lib/strategies/debate-summary.ts';
import type { StrategyContext } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only, seesById, uniqueReply } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'debate-summary' };
const strategy = getStrategy('debate-summary');
const bound = (n: number, rounds: number, maxTokens: number, promptTokens: number) => strategy.meta.cost!.tokens!(n, resolveKnobs(strategy.meta, { rounds }).knobs, maxTokens, promptTokens);
const TAIL = ' (reloading the model does not help: its context size is fixed by the file)';

describe('debate-summary: the token bound shown before a run', () => {
  it('every call shows the prompt; each later round shows N answers to the summariser and an answer + a summary to each reviser', () => {
    // N = 3, R = 3: 11 calls; 2 later rounds × 3 × 3 answers of max tokens.
    expect(bound(3, 3, 16, 20)).toEqual({ prompt: 11 * 20 + 2 * 3 * 3 * 16, completion: 11 * 16 });
    // N = 2, R = 2: 5 calls; one later round × 3 × 2 answers.
    expect(bound(2, 2, 10, 7)).toEqual({ prompt: 35 + 60, completion: 50 });
    // One round: N answers, nothing shown.
    expect(bound(4, 1, 16, 20)).toEqual({ prompt: 80, completion: 64 });
  });
});

describe('debate-summary: checks before any call', () => {
  it('scripted: the summary’s refusal gives every piece of advice, with the setup’s numbers', async () => {
    const engine = new ScriptedEngine(uniqueReply, { contextLength: 280 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 4), knobs: { rounds: 3 } });
    expect(engine.calls).toHaveLength(0);
    const message = only(events, 'error').message;
    expect(message).toMatch(/^the summary \(4 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens/);
    expect(message.endsWith(`use fewer agents (now 4), fewer rounds (now 3; 1 = no revisions), a smaller max tokens (now 32), or a shorter prompt${TAIL}`)).toBe(true);
  });

  it('scripted: with one round there is no summary, so a context too small for one is no reason to refuse', async () => {
    const engine = new ScriptedEngine(() => words('4'), { contextLength: 280 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 4), knobs: { rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(4);
    expect(only(events, 'final').answer).toBe('4');
  });

  it('scripted: a revision that cannot fit (a long system prompt) is refused before any call, saying so', async () => {
    const engine = new ScriptedEngine(uniqueReply, { contextLength: 400 });
    const agents = agentsOn(engine, 2);
    agents[1]!.system = 'Think step by step and check every claim. '.repeat(5);
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2 } });
    expect(engine.calls).toHaveLength(0);
    const message = only(events, 'error').message;
    expect(message).toMatch(/^a revision \(2 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens and max tokens is 32: \d+ in all, more than scripted's 400-token context — /);
    expect(message.endsWith(`use fewer agents (now 2), fewer rounds (now 2; 1 = no revisions), a smaller max tokens (now 32), or a shorter prompt${TAIL}`)).toBe(true);
  });
});

describe('debate-summary: shown texts cut to fit', () => {
  it('scripted: long answers are cut for the summary and for each revision, each with its own warning first', async () => {
    // Eight tokens of about 50 bytes each (max tokens counts tokens): about 420 bytes per answer.
    const long = (tag: string) => [{ text: `${tag} ` }, ...Array.from({ length: 7 }, () => ({ text: 'the answer is four because two and two make four. ' }))];
    const engine = new ScriptedEngine((req, i) => (lastUser(req).startsWith('Here are the answers') ? long(`<sum${i}>`) : long(`<m${i}>`)), { contextLength: 700 });
    const events = await collectRun({ ...base, maxTokens: 32, agents: agentsOn(engine, 2), knobs: { rounds: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const cut = / the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 32$/;
    const warnings = ofType(events, 'error').filter((e) => !e.fatal);
    expect(warnings.map((w) => [w.agent, w.message.split(':')[0]])).toEqual([['a1', "round 2's summary"], ['a1', 'round 2'], ['a2', 'round 2']]);
    for (const w of warnings) expect(w.message).toMatch(cut);
    // Each warning comes before the call it is about.
    const kinds = events.filter((e) => (e.type === 'error' && !e.fatal) || e.type === 'message-start').map((e) => (e.type === 'message-start' ? e.purpose : 'warning'));
    expect(kinds).toEqual(['answer', 'answer', 'warning', 'summary', 'warning', 'warning', 'revision', 'revision']);
    const summaryStart = ofType(events, 'message-start').find((m) => m.purpose === 'summary')!;
    expect(summaryStart.messages[0]!.content).toContain('…```');
  });
});

describe('debate-summary: an agent that fails every round', () => {
  it('scripted: is left out of the summary and of the vote; it answers afresh in the next round', async () => {
    const engine = new ScriptedEngine((req, i) => {
      if (lastUser(req).startsWith('Here are the answers')) return words('Both say 4.');
      return req.messages.some((m) => m.role === 'system') ? new Error('model crashed') : words(`The answer is 4 <m${i}>`);
    });
    const agents = agentsOn(engine, 3);
    agents[2]!.system = 'Fail.';
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, answerType: 'number' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(seesById(events).get('a1.r2.s1.summary')).toEqual(['a1.r1.s0', 'a2.r1.s0']);
    expect(ofType(events, 'message-start').filter((m) => m.round === 2).map((m) => [m.msgId, m.purpose])).toEqual([
      ['a1.r2.s1.summary', 'summary'],
      ['a1.r2.s0', 'revision'],
      ['a2.r2.s0', 'revision'],
      ['a3.r2.s0', 'answer'],
    ]);
    const vote = only(events, 'vote');
    expect(vote.ballots.map((b) => b.agent)).toEqual(['a1', 'a2']);
    expect(vote.tally.map((t) => [t.answer, t.count])).toEqual([['4', 2]]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
  });
});

describe('debate-summary: cancel', () => {
  it('scripted: cancelled during round 1, the method itself ends quietly, with no vote and no error', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const controller = new AbortController();
    const ctx: StrategyContext = { runId: 'r', prompt: base.prompt, agents: agentsOn(engine, 2), knobs: { rounds: 2 }, seed: 1, maxTokens: 32, signal: controller.signal, now: () => 0 };
    const events: TraceEvent[] = [];
    for await (const e of debateSummary.run(ctx)) {
      events.push(e);
      if (e.type === 'message-start') controller.abort();
    }
    expect(ofType(events, 'message-end').map((m) => m.finish_reason)).toEqual(['abort', 'abort']);
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(['answer', 'answer']);
  });
});
