// Lookahead stepping (src/lib/engines/lookahead.ts) on a scripted model: which steps are answered
// without a call, what each answered step holds, and how far each call looks.
import { describe, expect, it } from 'vitest';
import { LookaheadStepper, cachedIndex, type Ahead } from '../../src/lib/engines/lookahead.ts';
import type { NextToken, VocabularyInfo } from '../../src/lib/engines/stepper.ts';

const VOCAB: VocabularyInfo = { size: 50, fingerprint: 'scripted', bos: 1, eos: [2] };

/** The scripted model: after a prefix, candidates (sum + 3) % 50 first, then the next ones; EOS after `eosAt` tokens. */
function dist(prefix: readonly number[], topK: number, eosAt: number): NextToken {
  const first = prefix.length >= eosAt ? 2 : ((prefix.reduce((a, b) => a + b, 0) + 3) % 47) + 3;
  const top = Array.from({ length: topK }, (_, i) => ({ id: i === 0 ? first : ((first + i) % 47) + 3, text: `t${prefix.length}.${i}`, logprob: -0.1 * (i + 1) - prefix.length / 1000 }));
  return { top, exactness: 'top-k' };
}

function scripted(max?: number, eosAt = Infinity) {
  const asked: { prefix: number[]; topK: number; count: number }[] = [];
  const ahead = async (prefix: readonly number[], topK: number, count: number): Promise<Ahead> => {
    asked.push({ prefix: [...prefix], topK, count });
    const out: Ahead = { steps: [], tokens: [] };
    const p = [...prefix];
    for (let i = 0; i < count; i++) {
      const step = dist(p, topK, eosAt);
      out.steps.push(step);
      out.tokens.push(step.top[0]!.id);
      if (step.top[0]!.id === 2) break;
      p.push(step.top[0]!.id);
    }
    return out;
  };
  let closed = 0;
  const inner = { tokenize: async (t: string) => [...t].map((c) => c.charCodeAt(0)), detokenize: async (ids: readonly number[]) => ids.join(','), close: async () => void closed++ };
  const stepper = new LookaheadStepper(VOCAB, inner, ahead, max);
  return { stepper, asked, closed: () => closed };
}

/** Greedy generation of n tokens through `next`; returns the tokens. */
async function greedy(stepper: LookaheadStepper, prompt: number[], n: number, topK = 10): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = await stepper.next([...prompt, ...out], { topK });
    if (next.top[0]!.id === 2) break;
    out.push(next.top[0]!.id);
  }
  return out;
}

describe('lookahead stepping', () => {
  it('along the greedy path, each call looks twice as far as the last, up to the cap: 31 steps in 5 calls', async () => {
    const { stepper, asked } = scripted(16);
    await greedy(stepper, [1, 7], 31);
    expect(asked.map((a) => a.count)).toEqual([1, 2, 4, 8, 16]);
    expect(stepper.stats).toEqual({ calls: 5, steps: 31 });
    await greedy(stepper, [1, 7], 47);
    // Starting again from the prompt leaves the cached path after it was followed for all 16 of its
    // steps: the next call looks 16 ahead, and so do the rest.
    expect(asked.slice(5).map((a) => a.count)).toEqual([16, 16, 16]);
    expect(asked[5]!.prefix).toEqual([1, 7]);
  });

  it('every answered step is exactly the distribution the model gives for that prefix, and calls start at the asked prefix', async () => {
    const { stepper, asked } = scripted(8);
    const prompt = [1, 9, 4];
    const out: number[] = [];
    for (let i = 0; i < 20; i++) {
      const prefix = [...prompt, ...out];
      const got = await stepper.next(prefix, { topK: 4 });
      expect(got).toEqual(dist(prefix, 4, Infinity));
      out.push(got.top[0]!.id);
    }
    expect(asked.map((a) => a.prefix.length - prompt.length)).toEqual([0, 1, 3, 7, 15]);
    for (const a of asked) expect(a.prefix).toEqual([...prompt, ...out.slice(0, a.prefix.length - prompt.length)]);
  });

  it('leaving the path costs a call, and the next call looks only as far as the path was followed', async () => {
    const { stepper, asked } = scripted(16);
    const prompt = [1, 5];
    const path = await greedy(stepper, prompt, 7); // calls of 1, 2, 4: the last one answered 4 of 4
    expect(asked.map((a) => a.count)).toEqual([1, 2, 4]);
    // The next call looks 8; take 3 of them and then write a token the model would not.
    for (let i = 0; i < 3; i++) path.push((await stepper.next([...prompt, ...path])).top[0]!.id);
    expect(asked.map((a) => a.count)).toEqual([1, 2, 4, 8]);
    const other = (await stepper.next([...prompt, ...path])).top[1]!.id;
    expect(asked).toHaveLength(4); // the 4th of 8 was answered from the cache
    const got = await stepper.next([...prompt, ...path, other]);
    expect(asked).toHaveLength(5);
    expect(asked[4]).toEqual({ prefix: [...prompt, ...path, other], topK: 10, count: 4 });
    expect(got).toEqual(dist([...prompt, ...path, other], 10, Infinity));
    // A method that never follows the path (always the second candidate) calls once per step, one position each.
    const { stepper: s2, asked: a2 } = scripted(16);
    const out: number[] = [];
    for (let i = 0; i < 6; i++) out.push((await s2.next([1, 5, ...out])).top[1]!.id);
    expect(a2.map((a) => a.count)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('a prefix that only shares the cache’s length, or asks for more candidates than cached, is a call; fewer are a slice', async () => {
    const { stepper, asked } = scripted(16);
    await greedy(stepper, [1, 5], 3); // counts 1, 2: cache holds prefix [1,5,x] and two steps
    expect(asked).toHaveLength(2);
    const cachedPrefix = asked[1]!.prefix;
    const fewer = await stepper.next(cachedPrefix, { topK: 3 });
    expect(asked).toHaveLength(2);
    expect(fewer.top).toEqual(dist(cachedPrefix, 3, Infinity).top);
    const changed = [...cachedPrefix];
    changed[1] = 6;
    await stepper.next(changed, { topK: 3 });
    expect(asked).toHaveLength(3);
    await stepper.next(changed, { topK: 4 });
    expect(asked).toHaveLength(4);
    expect(asked[3]!.topK).toBe(4);
  });

  it('a call that ends at EOS answers only its steps; the step after it is a new call', async () => {
    const { stepper, asked } = scripted(16, 6);
    const out = await greedy(stepper, [1, 3], 20);
    expect(out).toHaveLength(4); // the prompt is 2 tokens; EOS comes as the 7th token
    const last = asked.at(-1)!;
    expect(last.prefix.length + 0).toBeLessThanOrEqual(6);
    expect(cachedIndex({ prefix: last.prefix, ahead: { steps: [dist([], 1, 9)], tokens: [5] } }, [...last.prefix, 5])).toBe(-1);
    expect(cachedIndex({ prefix: [1, 2], ahead: { steps: [dist([], 1, 9), dist([], 1, 9)], tokens: [5, 6] } }, [1, 2, 5])).toBe(1);
    expect(cachedIndex({ prefix: [1, 2], ahead: { steps: [dist([], 1, 9), dist([], 1, 9)], tokens: [5, 6] } }, [1, 2])).toBe(0);
    expect(cachedIndex({ prefix: [1, 2], ahead: { steps: [dist([], 1, 9), dist([], 1, 9)], tokens: [5, 6] } }, [1])).toBe(-1);
    expect(cachedIndex({ prefix: [1, 2], ahead: { steps: [dist([], 1, 9), dist([], 1, 9)], tokens: [5, 6] } }, [1, 2, 6])).toBe(-1);
  });

  it('lookahead 1 is one call per step, each for one position', async () => {
    const { stepper, asked } = scripted(1);
    await greedy(stepper, [1, 4], 9);
    expect(asked.map((a) => a.count)).toEqual(Array(9).fill(1));
    expect(() => scripted(0)).toThrow(/lookahead must be a whole number ≥ 1/);
  });

  it('a cancelled step makes no call; a malformed call result is refused by name; close forgets the cache', async () => {
    const { stepper, asked, closed } = scripted(16);
    const ac = new AbortController();
    ac.abort();
    await expect(stepper.next([1, 2], { signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
    expect(asked).toHaveLength(0);
    await greedy(stepper, [1, 2], 3);
    const n = asked.length;
    await stepper.close();
    expect(closed()).toBe(1);
    await stepper.next(asked[n - 1]!.prefix);
    expect(asked).toHaveLength(n + 1);
    const bad = new LookaheadStepper(VOCAB, { tokenize: async () => [], detokenize: async () => '', close: async () => undefined }, async () => ({ steps: [dist([], 2, 9)], tokens: [] }));
    await expect(bad.next([1])).rejects.toThrow(/returned 1 steps and 0 tokens/);
  });
});
