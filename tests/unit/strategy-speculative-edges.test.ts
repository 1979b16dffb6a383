// Greedy speculative decoding (src/lib/strategies/speculative.ts) at its edges, with scripted
// steppers: each step event (index, who writes, reason, the models shown, the rejected drafts), the
// draft's room near max tokens, what each model's step sees, a draft that ends its answer, an answer
// that ends inside an accepted draft (one-line stop), the acceptance rate and its counts, the round's
// label, the steppers closed, the cost model's steps, and the pure verification rule at its ends.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { NextToken, Stepper, VocabularyInfo } from '../../src/lib/engines/stepper.ts';
import { collectRun } from '../../src/lib/run.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { acceptedPrefix } from '../../src/lib/strategies/speculative.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ofType, only } from './strategies.events.ts';

// Token ids: 0 BOS, 1 EOS, 2 " a", 3 " b", 4 " c", 5 "\n". Every prompt tokenizes to [BOS, 2].
const PIECES = ['', '', ' a', ' b', ' c', '\n'];
const VOCAB: VocabularyInfo = { size: PIECES.length, fingerprint: 'toy', bos: 0, eos: [1] };
const A = 2;
const B = 3;
const C = 4;
const NL = 5;
const EOS = 1;

interface Model extends Engine {
  /** The answer part of every prefix the model was stepped on, in order. */
  seen: number[][];
  closed: number;
}

/**
 * A stepper whose greedy token after an answer of length L is `seq[L]` (EOS past the end), with
 * probability `p`; the runner-up (another token) gets 1 − p.
 */
function model(seq: readonly number[], p: number): Model {
  const m: Model = {
    info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true },
    chat: () => {
      throw new Error('no text generation here');
    },
    complete: () => {
      throw new Error('no text generation here');
    },
    unload: async () => undefined,
    seen: [],
    closed: 0,
    stepper: async (): Promise<Stepper> => ({
      vocabulary: VOCAB,
      tokenize: async (_text, o) => [...(o?.addBos ? [0] : []), 2],
      detokenize: async (ids) => ids.map((i) => PIECES[i]).join(''),
      next: async (prefix): Promise<NextToken> => {
        const answer = prefix.slice(2);
        m.seen.push([...answer]);
        const id = seq[answer.length] ?? EOS;
        const other = id === C ? B : C;
        return { top: [{ id, text: PIECES[id]!, logprob: Math.log(p) }, { id: other, text: PIECES[other]!, logprob: Math.log(1 - p) }], exactness: 'top-k' };
      },
      close: async () => {
        m.closed++;
      },
    }),
  };
  return m;
}

const agents = (draft: Engine, target: Engine): Agent[] => [
  { id: 'a1', name: 'Agent 1', model: 'm', engine: draft, temperature: 0 },
  { id: 'a2', name: 'Agent 2', model: 'm', engine: target, temperature: 0 },
];

const run = (draft: Engine, target: Engine, k: number, maxTokens: number, prompt = 'Q') =>
  collectRun({ strategy: 'speculative', prompt, seed: 1, maxTokens, agents: agents(draft, target), knobs: { draft: k } });

const score = (events: TraceEvent[]) => only(events, 'score');

describe('speculative: each step of a run with accepted and rejected drafts (k = 3, max tokens 5)', () => {
  // Target: a b c a b. Draft: a b a b b c c.
  // Round 1: draft a b a → a, b accepted; "a" rejected, the target writes c.
  // Round 2 (room 2): draft b b → the first "b" rejected with the one after it; the target writes a.
  // Round 3 (room 1): draft b → accepted; the answer is at max tokens.
  const draftSeq = [A, B, A, B, B, C, C];
  const targetSeq = [A, B, C, A, B];

  it('scripted: who writes each token, at which index, and why', async () => {
    const events = await run(model(draftSeq, 0.8), model(targetSeq, 0.9), 3, 5);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const steps = ofType(events, 'step');
    expect(steps.map((s) => [s.index, s.token, s.by, s.reason])).toEqual([
      [0, { id: A, text: ' a' }, 'a1', 'draft token 1 of 3 accepted: it is the target\u2019s greedy choice'],
      [1, { id: B, text: ' b' }, 'a1', 'draft token 2 of 3 accepted: it is the target\u2019s greedy choice'],
      [2, { id: C, text: ' c' }, 'a2', 'draft token 3 (" a") rejected with the 0 after it: the target writes its own choice'],
      [3, { id: A, text: ' a' }, 'a2', 'draft token 1 (" b") rejected with the 1 after it: the target writes its own choice'],
      [4, { id: B, text: ' b' }, 'a1', 'draft token 1 of 1 accepted: it is the target\u2019s greedy choice'],
    ]);
    expect(steps.map((s) => s.rejected)).toEqual([undefined, undefined, [{ id: A, text: ' a' }], [{ id: B, text: ' b' }, { id: B, text: ' b' }], undefined]);
    expect(only(events, 'final')).toMatchObject({ text: ' a b c a b', agent: 'a2' });
  });

  it('scripted: each step shows the draft’s step at that position and the target’s', async () => {
    const events = await run(model(draftSeq, 0.8), model(targetSeq, 0.9), 3, 5);
    const steps = ofType(events, 'step');
    for (const s of steps) expect(s.models.map((m) => m.agent)).toEqual(['a1', 'a2']);
    // Step 3: the draft proposed " a" (0.8) where the target wanted " c" (0.9).
    expect(steps[2]!.models).toEqual([
      { agent: 'a1', top: [{ id: A, text: ' a', p: expect.closeTo(0.8, 12) }, { id: C, text: ' c', p: expect.closeTo(0.2, 12) }], exactness: 'top-k' },
      { agent: 'a2', top: [{ id: C, text: ' c', p: expect.closeTo(0.9, 12) }, { id: B, text: ' b', p: expect.closeTo(0.1, 12) }], exactness: 'top-k' },
    ]);
    expect(steps[0]!.models[0]!.top[0]).toEqual({ id: A, text: ' a', p: expect.closeTo(0.8, 12) });
    expect(steps[0]!.models[1]!.top[0]).toEqual({ id: A, text: ' a', p: expect.closeTo(0.9, 12) });
  });

  it('scripted: the draft continues its own proposals; it proposes no more than the tokens left; the target steps on the answer', async () => {
    const draft = model(draftSeq, 0.8);
    const target = model(targetSeq, 0.9);
    const events = await run(draft, target, 3, 5);
    expect(draft.seen).toEqual([[], [A], [A, B], [A, B, C], [A, B, C, B], [A, B, C, A]]);
    expect(target.seen).toEqual([[], [A], [A, B], [A, B, C], [A, B, C, A]]);
    expect(only(events, 'usage').calls).toBe(11);
  });

  it('scripted: the acceptance rate and its counts', async () => {
    const events = await run(model(draftSeq, 0.8), model(targetSeq, 0.9), 3, 5);
    expect(score(events)).toMatchObject({ target: 'a1', metric: 'acceptance rate', value: 0.5, detail: '3 accepted + 3 rejected = 6 proposed draft tokens' });
  });

  it('scripted: the round says who drafts how many tokens and who verifies', async () => {
    const events = await run(model(draftSeq, 0.8), model(targetSeq, 0.9), 3, 5);
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([[1, 'Agent 1 drafts 3 tokens; Agent 2 verifies']]);
  });
});

describe('speculative: where the answer ends', () => {
  it('scripted: every draft token accepted up to max tokens — the target adds nothing past it', async () => {
    const draft = model([A, B, C], 0.8);
    const target = model([A, B, C], 0.9);
    const events = await run(draft, target, 2, 2);
    expect(only(events, 'final')).toMatchObject({ text: ' a b' });
    expect(ofType(events, 'step').map((s) => s.by)).toEqual(['a1', 'a1']);
    expect(target.seen).toEqual([[], [A]]);
    expect(only(events, 'usage').calls).toBe(4);
    expect(score(events)).toMatchObject({ value: 1, detail: '2 accepted + 0 rejected = 2 proposed draft tokens' });
  });

  it('scripted: a draft that ends its answer proposes no more (its end is never proposed)', async () => {
    const draft = model([A], 0.8);
    const target = model([A], 0.9);
    const events = await run(draft, target, 3, 8);
    expect(ofType(events, 'step').map((s) => [s.index, s.by, s.reason])).toEqual([[0, 'a1', 'draft token 1 of 1 accepted: it is the target\u2019s greedy choice']]);
    expect(score(events)).toMatchObject({ value: 1, detail: '1 accepted + 0 rejected = 1 proposed draft tokens' });
    expect(draft.seen).toEqual([[], [A]]);
    expect(target.seen).toEqual([[], [A]]);
    expect(only(events, 'final')).toMatchObject({ text: ' a' });
  });

  it('scripted: a draft that proposes nothing: the target writes every token, rate 0 of 0', async () => {
    const draft = model([], 0.8);
    const target = model([A, B], 0.9);
    const events = await run(draft, target, 2, 8);
    const steps = ofType(events, 'step');
    expect(steps.map((s) => [s.index, s.token.id, s.by, s.reason, s.models.map((m) => m.agent), s.rejected])).toEqual([
      [0, A, 'a2', 'all 0 draft tokens accepted: the target adds its next token', ['a1', 'a2'], undefined],
      [1, B, 'a2', 'all 0 draft tokens accepted: the target adds its next token', ['a1', 'a2'], undefined],
    ]);
    expect(score(events)).toMatchObject({ value: 0, detail: '0 accepted + 0 rejected = 0 proposed draft tokens' });
    expect(only(events, 'final')).toMatchObject({ text: ' a b' });
  });

  it('scripted: an answer that ends at a line break inside an accepted draft (one-line prompt): the draft tokens after it count as rejected', async () => {
    // Draft: a \n b; the target agrees on a and \n. The line break ends the answer (not written),
    // so " b" is never verified.
    const draft = model([A, NL, B], 0.8);
    const target = model([A, NL, B], 0.9);
    const events = await run(draft, target, 3, 8, 'Q: x\nA:');
    expect(only(events, 'final')).toMatchObject({ text: ' a' });
    expect(ofType(events, 'step').map((s) => s.index)).toEqual([0]);
    expect(target.seen).toEqual([[], [A]]);
    expect(score(events)).toMatchObject({ value: 2 / 3, detail: '2 accepted + 1 rejected = 3 proposed draft tokens' });
  });

  it('scripted: both steppers are closed when the run ends', async () => {
    const draft = model([A], 0.8);
    const target = model([A], 0.9);
    const events = await run(draft, target, 2, 4);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect([draft.closed, target.closed]).toEqual([1, 1]);
  });
});

describe('speculative: the rule and the cost model', () => {
  it('the accepted prefix when draft and target agree on every position, and on none', () => {
    expect(acceptedPrefix([A, B], [A, B])).toBe(2);
    expect(acceptedPrefix([], [])).toBe(0);
    expect(acceptedPrefix([A, B, C], [A, B])).toBe(2);
    expect(acceptedPrefix([], [A])).toBe(0);
  });

  it('at most k + 1 steps per written token', () => {
    const meta = getStrategy('speculative').meta;
    expect(meta.cost!.calls(2, resolveKnobs(meta, { draft: 3 }).knobs)).toBe(4);
    expect(meta.cost!.calls(2, resolveKnobs(meta, {}).knobs)).toBe(5);
  });
});
