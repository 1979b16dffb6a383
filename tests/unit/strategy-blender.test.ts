// LLM-Blender (src/lib/strategies/blender.ts) with scripted engines: every pair compared once (or in
// both orders), each comparison a one-token call read from the probabilities of "A" and "B" (or the
// written letter without them, said in the trace), the ranking rule, the fuser seeing the top K best
// first, the call count (= meta.cost), seeds, refusal before any call, and cancel.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { COMPARE_MAX_TOKENS, comparePrompt, fusionPrompt, letterOf, preferenceFromLogprobs, rankCandidates } from '../../src/lib/strategies/blender.ts';
import { promptTokenBound } from '../../src/lib/strategies/budget.ts';
import { ScriptedEngine, agentsOn, lastUser, words, type ScriptedOptions } from './strategies.scripted.ts';
import { expectSeesIsWhatPromptShows, ofType, only, runCancelledAt, seesById, textsById } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'blender' };
const strategy = getStrategy('blender');
const calls = (n: number, knobs: Record<string, number | string | boolean>) => strategy.meta.cost!.calls(n, resolveKnobs(strategy.meta, knobs).knobs);

/**
 * Agent i answers "<ans-i>"; the ranker's P(A) is q(A) / (q(A) + q(B)) with the answers' qualities
 * `quality`, reported as the top logprobs of " A" and " B" (it writes the likelier letter); the fuser
 * writes "fused: The answer is 4".
 */
function setup(quality: number[], opts: ScriptedOptions = {}) {
  let answers = 0;
  const engine = new ScriptedEngine((req: ChatRequest) => {
    const u = lastUser(req);
    if (u.endsWith('Reply with the letter only.')) {
      const q = (side: 'A' | 'B') => quality[Number(u.match(new RegExp(`Answer ${side}: \`\`\`<ans-(\\d+)>`))![1])]!;
      const pA = q('A') / (q('A') + q('B'));
      const top = [{ token: ' A', logprob: Math.log(pA) }, { token: ' B', logprob: Math.log(1 - pA) }];
      return [{ text: pA >= 0.5 ? ' A' : ' B', logprob: Math.log(Math.max(pA, 1 - pA)), top }];
    }
    if (u.startsWith('Here are candidate answers')) return words('fused: The answer is 4');
    return words(`<ans-${answers++}>`);
  }, opts);
  return { engine, agents: agentsOn(engine, quality.length) };
}

describe('blender: the reading of one comparison', () => {
  it('letterOf reads a lone A or B, case and punctuation ignored', () => {
    expect([' A', 'a', 'B.', '\nB\n', '(A)', 'Answer', 'AB', ''].map(letterOf)).toEqual(['A', 'A', 'B', 'B', 'A', '', '', '']);
  });

  it('P(A) normalises the probabilities of the tokens that read A and B among the top alternatives', () => {
    const lp = (token: string, p: number) => ({ token, logprob: Math.log(p) });
    expect(preferenceFromLogprobs([{ ...lp('A', 0.6), top_logprobs: [lp('A', 0.6), lp(' a', 0.1), lp('B', 0.2), lp('The', 0.1)] }])).toBeCloseTo(0.7 / 0.9);
    expect(preferenceFromLogprobs([{ ...lp('The', 0.9), top_logprobs: [lp('The', 0.9)] }])).toBeUndefined();
    expect(preferenceFromLogprobs([])).toBeUndefined();
  });

  it('ranking: most wins, then the highest summed preference, then setup order', () => {
    expect(rankCandidates([1, 2, 0], [1, 1, 1])).toEqual([1, 0, 2]);
    expect(rankCandidates([1, 1, 1], [1.2, 1.5, 0.3])).toEqual([1, 0, 2]);
    expect(rankCandidates([0.5, 0.5], [0.5, 0.5])).toEqual([0, 1]);
  });
});

describe('blender: who sees what', () => {
  it('scripted: N = 3 — all 3 pairs compared once in one-token calls, ranked by wins, the fuser sees the top 2 best first', async () => {
    const { engine, agents } = setup([2, 1, 3]);
    const knobs = { topK: 2, ranker: 2, fuser: 3 };
    const events = await collectRun({ ...base, agents, knobs });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(3 + 3 + 1);
    expect(engine.calls).toHaveLength(calls(3, knobs));
    const sees = seesById(events);
    expect([0, 1, 2].map((c) => sees.get(`a2.r2.s${c}.compare`))).toEqual([['a1.r1.s0', 'a2.r1.s0'], ['a1.r1.s0', 'a3.r1.s0'], ['a2.r1.s0', 'a3.r1.s0']]);
    const compares = engine.calls.filter((c) => lastUser(c.request).endsWith('Reply with the letter only.'));
    expect(compares.map((c) => c.request.max_tokens)).toEqual([COMPARE_MAX_TOKENS, COMPARE_MAX_TOKENS, COMPARE_MAX_TOKENS]);
    expect(COMPARE_MAX_TOKENS).toBe(1);
    expect(compares.every((c) => c.request.logprobs === true && (c.request.top_logprobs ?? 0) >= 2)).toBe(true);
    expect(compares.map((c) => c.request.seed)).toEqual([0, 1, 2].map((c) => callSeed(42, 1, 2, c)));
    expect(lastUser(compares[0]!.request)).toBe(comparePrompt(base.prompt, '<ans-0>', '<ans-1>'));
    const scores = ofType(events, 'score');
    const pA = scores.filter((s) => s.metric === 'P(A)');
    expect(pA.map((s) => s.target)).toEqual(['a2.r2.s0.compare', 'a2.r2.s1.compare', 'a2.r2.s2.compare']);
    expect(pA.map((s) => s.value)).toEqual([2 / 3, 2 / 5, 1 / 4].map((v) => expect.closeTo(v, 9)));
    expect(pA[0]!.detail).toBe('A = Agent 1, B = Agent 2: prefers Agent 1 (from the first token’s probabilities of "A" and "B")');
    expect(scores.filter((s) => s.metric === 'wins').map((s) => [s.target, s.value])).toEqual([['a3', 2], ['a1', 1], ['a2', 0]]);
    expect(scores.find((s) => s.metric === 'wins')!.detail).toBe('rank 1 of 3; summed preference 1.350; shown to the fuser');
    const fusion = ofType(events, 'message-start').at(-1)!;
    expect(fusion).toMatchObject({ msgId: 'a3.r3.s0.fusion', purpose: 'fusion', sees: ['a3.r1.s0', 'a1.r1.s0'] });
    expect(lastUser(engine.calls.at(-1)!.request)).toBe(fusionPrompt(base.prompt, ['<ans-2>', '<ans-0>']));
    expectSeesIsWhatPromptShows(events);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a3', text: textsById(events).get('a3.r3.s0.fusion') });
    expect(new Set(engine.calls.map((c) => c.request.seed)).size).toBe(engine.calls.length);
  });

  it('scripted: both orders — each pair is also asked with A and B swapped, and the swapped preference counts for the right answer', async () => {
    const { engine, agents } = setup([1, 3]);
    const knobs = { bothOrders: true };
    const events = await collectRun({ ...base, agents, knobs });
    expect(engine.calls).toHaveLength(2 + 2 + 1);
    expect(engine.calls).toHaveLength(calls(2, knobs));
    const sees = seesById(events);
    expect(sees.get('a1.r2.s0.compare')).toEqual(['a1.r1.s0', 'a2.r1.s0']);
    expect(sees.get('a1.r2.s1.compare')).toEqual(['a2.r1.s0', 'a1.r1.s0']);
    expect(ofType(events, 'score').filter((s) => s.metric === 'wins').map((s) => [s.target, s.value])).toEqual([['a2', 2], ['a1', 0]]);
    // Top K (3) is capped at the 2 answers there are.
    expect(ofType(events, 'message-start').at(-1)!.sees).toEqual(['a2.r1.s0', 'a1.r1.s0']);
  });

  it('scripted: a ranker without logprobs — the written letter decides, and the trace says so', async () => {
    const { engine, agents } = setup([1, 3, 2], { supportsLogprobs: false });
    const events = await collectRun({ ...base, agents, knobs: {} });
    expect(engine.calls.every((c) => c.request.logprobs === undefined)).toBe(true);
    expect(only(events, 'error')).toMatchObject({ fatal: false, agent: 'a1', message: expect.stringMatching(/gives no token probabilities: each comparison is decided by the letter it writes/) });
    const pA = ofType(events, 'score').filter((s) => s.metric === 'P(A)');
    expect(pA.map((s) => s.value)).toEqual([0, 0, 1]);
    expect(pA[0]!.detail).toBe('A = Agent 1, B = Agent 2: prefers Agent 2 (from the letter written (B); no probabilities for "A" or "B")');
    expect(ofType(events, 'score').filter((s) => s.metric === 'wins').map((s) => s.target)).toEqual(['a2', 'a3', 'a1']);
  });

  it('scripted: a reply with neither letter is a tie, half a win each', async () => {
    const engine = new ScriptedEngine((req, i) => (lastUser(req).endsWith('Reply with the letter only.') ? words('Hmm') : words(`<ans-${i}>`)), { supportsLogprobs: false });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: {} });
    expect(ofType(events, 'score').map((s) => [s.metric, s.value])).toEqual([['P(A)', 0.5], ['wins', 0.5], ['wins', 0.5]]);
    expect(ofType(events, 'score')[0]!.detail).toBe('A = Agent 1, B = Agent 2: a tie (no A or B read from "Hmm": a tie)');
    expect(ofType(events, 'message-start').at(-1)!.sees).toEqual(['a1.r1.s0', 'a2.r1.s0']);
  });
});

describe('blender: context', () => {
  it('scripted: long answers are cut per call (first bytes, then "…") so every comparison and the fusion fit, with a warning', async () => {
    const long = (i: number) => `<ans-${i}> ${'many words here '.repeat(12)}`;
    let answers = 0;
    const engine = new ScriptedEngine((req) => {
      const u = lastUser(req);
      if (u.endsWith('Reply with the letter only.')) return words('A');
      if (u.startsWith('Here are candidate answers')) return words('The answer is 4');
      return words(long(answers++));
    }, { contextLength: 400 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { topK: 2 } });
    expect(events.at(-1)).toMatchObject({ status: 'done' });
    for (const c of engine.calls) expect(promptTokenBound(c.request.messages) + c.request.max_tokens!).toBeLessThanOrEqual(400);
    const compare = lastUser(engine.calls[3]!.request);
    expect(compare).toMatch(/Answer A: ```<ans-0> many words[^`]*…```/);
    expect(compare).not.toContain(long(0).trim());
    const warnings = ofType(events, 'error').filter((e) => !e.fatal);
    expect(warnings.map((w) => w.message)).toEqual([
      ...[0, 1, 2].map(() => expect.stringMatching(/^a comparison: the texts shown were cut to \d+ bytes each .* max tokens 1$/)),
      expect.stringMatching(/^the fusion: the texts shown were cut to \d+ bytes each .* max tokens 32$/),
    ]);
  });
});

describe('blender: refusals and cancel', () => {
  it('scripted: a fusion that cannot fit the top K is refused before any call, naming top K', async () => {
    const { engine, agents } = setup([1, 2, 3], { contextLength: 300 });
    const events = await collectRun({ ...base, agents, knobs: { topK: 3 } });
    expect(engine.calls).toHaveLength(0);
    expect(only(events, 'error').message).toMatch(/the fusion \(3 text\(s\) shown, at least 32 bytes each\).*300-token context — .*a smaller top K \(now 3\)/);
  });

  it('scripted: cancelling during the comparisons ends the run without a fusion', async () => {
    const engine = new ScriptedEngine((req, i) => words(lastUser(req).endsWith('Reply with the letter only.') ? 'A' : `<ans-${i}> ${'word '.repeat(20)}`), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 3), knobs: {} }, (e) => e.type === 'message-start' && e.purpose === 'compare');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(6);
    expect(ofType(events, 'message-start').filter((s) => s.purpose === 'fusion')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
