/** The ONNX engine's next-token choice (src/lib/engines/sampling.ts) on scripted logits. */
import { describe, expect, it } from 'vitest';
import { Sampler, argmax, logSoftmax, topIndices } from '../../src/lib/engines/sampling.ts';

const logits = Float32Array.from([1, 3, 3, 0.5, 2]);

describe('sampling', () => {
  it('greedy takes the first highest logit (as llama.cpp), at temperature 0', () => {
    expect(argmax(logits)).toBe(1);
    expect(new Sampler({ temperature: 0 }, 1).pick(logits)).toBe(1);
  });

  it('log-softmax sums to one and keeps the order; top indices are highest first, ties by lower index', () => {
    const lp = logSoftmax(logits);
    expect(Array.from(lp).reduce((a, x) => a + Math.exp(x), 0)).toBeCloseTo(1, 6);
    expect(lp[1]! - lp[0]!).toBeCloseTo(2, 6);
    expect(topIndices(logits, 3)).toEqual([1, 2, 4]);
  });

  it('the same seed draws the same tokens; top-k 1 is greedy; top-p keeps only the smallest set reaching p', () => {
    const draw = (seed: number, params = { temperature: 1 }) => {
      const s = new Sampler(params, seed);
      return Array.from({ length: 50 }, () => s.pick(logits));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(new Set(draw(7, { temperature: 1, top_k: 1 } as never))).toEqual(new Set([1]));
    // Probabilities ∝ e^1, e^3, e^3, e^0.5, e^2: tokens 1 and 2 hold 0.78 of the mass, so p = 0.7 keeps only them.
    expect(new Set(draw(3, { temperature: 1, top_p: 0.7 } as never))).toEqual(new Set([1, 2]));
    // Every token can come up at a high temperature with no truncation.
    expect(new Set(draw(5, { temperature: 5 })).size).toBe(5);
  });
});
