// LLM-Blender at its edges: the prompts word for word, P(A) when the chosen token is not among its
// own alternatives, a full tie in the ranking, the token bound, the round labels, failed answers,
// comparisons and fuser, role numbers the setup lacks, the comparison's refusal, and cancel while
// the agents answer.
import { describe, expect, it } from 'vitest';
import type { ChatRequest, Engine } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { comparePrompt, fusionPrompt, preferenceFromLogprobs, rankCandidates } from '../../src/lib/strategies/blender.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { ScriptedEngine, agentsOn, lastUser, words, type ScriptedToken } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'blender' };
const isCompare = (req: ChatRequest) => lastUser(req).endsWith('Reply with the letter only.');
const isFusion = (req: ChatRequest) => lastUser(req).startsWith('Here are candidate answers');

/** Agent i answers "<ans-i>"; comparisons get `compare`; the fuser writes "fused: Answer: 4" (or fails). */
function engineOf(compare: (req: ChatRequest) => ScriptedToken[] | Error, opts: { fuserFails?: boolean; failAnswers?: number[]; supportsLogprobs?: boolean; contextLength?: number; tokenDelayMs?: number } = {}) {
  let answers = 0;
  return new ScriptedEngine((req) => {
    if (isCompare(req)) return compare(req);
    if (isFusion(req)) return opts.fuserFails ? new Error('engine down') : words('fused: Answer: 4');
    const i = answers++;
    return opts.failAnswers?.includes(i) ? new Error('engine down') : words(`<ans-${i}>`);
  }, opts);
}

describe('blender: prompts and reading', () => {
  it('the comparison and fusion prompts, word for word', () => {
    expect(comparePrompt('Q?', 'one', 'two')).toBe('Question: Q?\n\nAnswer A: ```one```\n\nAnswer B: ```two```\n\nWhich answer is better, A or B? Reply with the letter only.');
    expect(fusionPrompt('Q?', ['x', 'y'])).toBe(
      'Here are candidate answers to a question, best first according to a judge.\n\nQuestion: Q?\n\nCandidate 1: ```x```\n\nCandidate 2: ```y```\n\n' +
        'Combine their good parts, leave out their mistakes, and write one final answer to the question.',
    );
  });

  it('P(A): a chosen token missing from its own alternatives is counted with them; no alternatives = the chosen token alone', () => {
    expect(preferenceFromLogprobs([{ token: ' A', logprob: Math.log(0.6), top_logprobs: [{ token: ' B', logprob: Math.log(0.2) }] }])).toBeCloseTo(0.75, 12);
    expect(preferenceFromLogprobs([{ token: 'B', logprob: Math.log(0.9), top_logprobs: [] }])).toBe(0);
    // Listed among its alternatives, it is counted once.
    expect(preferenceFromLogprobs([{ token: 'A', logprob: Math.log(0.5), top_logprobs: [{ token: 'A', logprob: Math.log(0.5) }, { token: 'B', logprob: Math.log(0.5) }] }])).toBeCloseTo(0.5, 12);
  });

  it('ranking: a full tie keeps setup order', () => {
    expect(rankCandidates([1, 1, 1], [1.5, 1.5, 1.5])).toEqual([0, 1, 2]);
    expect(rankCandidates([0, 0, 0, 0], [0, 0, 0, 0])).toEqual([0, 1, 2, 3]);
  });

  it('the token bound: N answers, P one-token comparisons showing two answers each, a fusion showing the top K (at most N)', () => {
    const bound = (n: number, k: Record<string, unknown>) => getStrategy('blender').meta.cost!.tokens!(n, k as never, 10, 100);
    expect(bound(3, { topK: 2, bothOrders: false })).toEqual({ prompt: (3 + 3 + 1) * 100 + (2 * 3 + 2) * 10, completion: 4 * 10 + 3 });
    expect(bound(3, { topK: 2, bothOrders: true })).toEqual({ prompt: (3 + 6 + 1) * 100 + (2 * 6 + 2) * 10, completion: 4 * 10 + 6 });
    expect(bound(3, { topK: 5, bothOrders: false })).toEqual({ prompt: 700 + (6 + 3) * 10, completion: 43 });
  });
});

describe('blender: runs', () => {
  const sayA = (): ScriptedToken[] => [{ text: 'A', logprob: Math.log(0.9), top: [{ token: 'A', logprob: Math.log(0.9) }, { token: 'B', logprob: Math.log(0.1) }] }];

  it('scripted: labels each stage with its size and its agent', async () => {
    const engine = engineOf(sayA);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { topK: 2, ranker: 2, fuser: 3 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Round 1: answers'],
      [2, 'Round 2: 3 comparisons by Agent 2'],
      [3, 'Fusion: Agent 3 reads the top 2'],
    ]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a3' });
  });

  it('scripted: a failed answer is not compared; with one answer left there is nothing to compare and no warning about probabilities', async () => {
    const three = engineOf(sayA, { failAnswers: [1] });
    const a = await collectRun({ ...base, agents: agentsOn(three, 3), knobs: {} });
    const compares = ofType(a, 'message-start').filter((s) => s.purpose === 'compare');
    expect(compares.map((s) => s.sees)).toEqual([['a1.r1.s0', 'a3.r1.s0']]);
    const two = engineOf(sayA, { failAnswers: [1], supportsLogprobs: false });
    const b = await collectRun({ ...base, agents: agentsOn(two, 2), knobs: {} });
    expect(ofType(b, 'round')[1]!.label).toBe('Round 2: 0 comparisons by Agent 1');
    expect(ofType(b, 'error').filter((e) => /gives no token probabilities/.test(e.message))).toEqual([]);
    expect(only(b, 'final')).toMatchObject({ answer: '4' });
  });

  it('scripted: every answer failing ends the run before any comparison', async () => {
    const engine = engineOf(sayA, { failAnswers: [0, 1] });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every agent failed to answer; see the errors above') });
    expect(engine.calls).toHaveLength(2);
  });

  it('scripted: a failed comparison is a tie, and the trace says why', async () => {
    const engine = engineOf(() => new Error('engine down'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: {} });
    const score = ofType(events, 'score')[0]!;
    expect(score).toMatchObject({ metric: 'P(A)', value: 0.5, detail: 'A = Agent 1, B = Agent 2: a tie (the comparison failed: a tie)' });
  });

  it('scripted: each answer’s rank, wins and summed preference, and whether the fuser is shown it', async () => {
    const engine = engineOf(sayA);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { topK: 2 } });
    // P(A) = 0.9 in every comparison: a1 wins both, a2 one, a3 none.
    expect(ofType(events, 'score').filter((s) => s.metric === 'wins').map((s) => [s.target, s.value, s.detail])).toEqual([
      ['a1', 2, 'rank 1 of 3; summed preference 1.800; shown to the fuser'],
      ['a2', 1, 'rank 2 of 3; summed preference 1.000; shown to the fuser'],
      ['a3', 0, 'rank 3 of 3; summed preference 0.200'],
    ]);
  });

  // Was a bug: a comparison whose call failed after streaming "A" was reported as "the comparison failed:
  // a tie" but counted as P(A) = 1 (the letter read from the partial text was not gated on the error).
  it('scripted: a comparison that fails part-way is a tie, whatever it had streamed', async () => {
    const base2 = engineOf(sayA);
    const chat: Engine['chat'] = (req, opts) => {
      if (!isCompare(req)) return base2.chat(req, opts);
      return (async function* () {
        yield { type: 'delta' as const, text: 'A', logprobs: [{ token: 'A', logprob: Math.log(0.9), top_logprobs: [{ token: 'A', logprob: Math.log(0.9) }, { token: 'B', logprob: Math.log(0.1) }] }] };
        throw new Error('engine down');
      })();
    };
    const engine: Engine = { info: base2.info, chat, complete: base2.complete.bind(base2), unload: async () => undefined };
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: {} });
    expect(ofType(events, 'score')[0]).toMatchObject({ metric: 'P(A)', value: 0.5, detail: 'A = Agent 1, B = Agent 2: a tie (the comparison failed: a tie)' });
  });

  it('scripted: cancelling during the fusion ends the run with no final answer', async () => {
    const slow = new ScriptedEngine((req) => (isCompare(req) ? sayA() : isFusion(req) ? words('fused '.repeat(20)) : words('Answer: 4')), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(slow, 2), knobs: {} }, (e) => e.type === 'token' && e.msgId.endsWith('.fusion'));
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: the unreadable reply is quoted trimmed', async () => {
    const engine = engineOf(() => [{ text: ' maybe\n' }], { supportsLogprobs: false });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: {} });
    expect(ofType(events, 'score')[0]!.detail).toBe('A = Agent 1, B = Agent 2: a tie (no A or B read from "maybe": a tie)');
  });

  it('scripted: a failed fuser ends the run, naming it', async () => {
    const engine = engineOf(sayA, { fuserFails: true });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { fuser: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the fuser Agent 2 failed: .*engine down/) });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: a ranker or fuser number the setup lacks is refused, naming the role', async () => {
    const engine = engineOf(sayA);
    const r = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { ranker: 3 } });
    expect(r.at(-1)).toMatchObject({ status: 'error', message: expect.stringContaining('The ranker is agent 3, but the setup has 2 agent(s)') });
    const f = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { fuser: 4 } });
    expect(f.at(-1)).toMatchObject({ status: 'error', message: expect.stringContaining('The fuser is agent 4, but the setup has 2 agent(s)') });
    expect(engine.calls).toHaveLength(0);
  });

  it('scripted: a comparison that cannot fit two answers is refused first, with every knob that would help', async () => {
    const engine = engineOf(sayA, { contextLength: 150 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { topK: 2 } });
    expect(engine.calls).toHaveLength(0);
    const end = events.at(-1) as Extract<(typeof events)[number], { type: 'run-end' }>;
    expect(end.message).toMatch(/^a comparison \(2 text\(s\) shown/);
    expect(end.message).toContain('use fewer agents (now 3), a smaller top K (now 2), a smaller max tokens (now 32), or a shorter prompt');
  });

  it('scripted: cancelling while the agents answer ends the run before any comparison', async () => {
    const slow = new ScriptedEngine((req) => (isCompare(req) ? sayA() : words(`answer ${'word '.repeat(30)}`)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(slow, 2), knobs: {} }, (e) => e.type === 'token');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(slow.calls).toHaveLength(2);
    expect(ofType(events, 'message-start').filter((s) => s.purpose === 'compare')).toHaveLength(0);
  });
});
