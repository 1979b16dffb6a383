// Statistics against straightforward computations.
import { describe, expect, it } from 'vitest';
import { bootstrapCI, emergenceRate, gainOverBestMember, majorityVote, mean, pairedBootstrap, quantile, winRate } from '../../src/lib/eval/stats.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { trainRouter } from '../../src/lib/eval/router.ts';

describe('bootstrap confidence intervals', () => {
  it('is exact for a constant sample and contains the mean otherwise', () => {
    expect(bootstrapCI([1, 1, 1, 1])).toMatchObject({ estimate: 1, lo: 1, hi: 1, n: 4 });
    const xs = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // accuracy 0.25
    const ci = bootstrapCI(xs, { seed: 7 });
    expect(ci.estimate).toBe(0.25);
    expect(ci.lo).toBeLessThan(0.25);
    expect(ci.hi).toBeGreaterThan(0.25);
  });

  it('agrees with the normal approximation p ± 1.96·sqrt(p(1−p)/n) for a large sample', () => {
    const n = 1000;
    const xs = Array.from({ length: n }, (_, i) => (i % 10 < 3 ? 1 : 0)); // p = 0.3
    const ci = bootstrapCI(xs, { seed: 3, iterations: 4000 });
    const half = 1.96 * Math.sqrt((0.3 * 0.7) / n);
    expect(ci.lo).toBeCloseTo(0.3 - half, 2);
    expect(ci.hi).toBeCloseTo(0.3 + half, 2);
  });

  it('is reproducible with a seed and differs with another seed', () => {
    const xs = Array.from({ length: 37 }, (_, i) => ((i * 7) % 5) / 4);
    expect(bootstrapCI(xs, { seed: 5 })).toEqual(bootstrapCI(xs, { seed: 5 }));
    const a = bootstrapCI(xs, { seed: 5, iterations: 25 });
    const b = bootstrapCI(xs, { seed: 6, iterations: 25 });
    expect([a.lo, a.hi]).not.toEqual([b.lo, b.hi]);
  });

  it('resamples as a hand-written loop with the same PRNG does', () => {
    const xs = [1, 0, 0, 1, 1];
    const rnd = mulberry32(11);
    const stats: number[] = [];
    for (let b = 0; b < 50; b++) {
      let s = 0;
      for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rnd() * xs.length)]!;
      stats.push(s / xs.length);
    }
    stats.sort((a, b) => a - b);
    const ci = bootstrapCI(xs, { seed: 11, iterations: 50 });
    // Percentiles by hand (linear interpolation between order statistics, Hyndman & Fan type 7):
    // of 50 sorted values, the 2.5% point sits at position 49 · 0.025 = 1.225 and the 97.5% point
    // at 49 · 0.975 = 47.775 (0-based).
    expect(ci.lo).toBeCloseTo(stats[1]! + 0.225 * (stats[2]! - stats[1]!), 12);
    expect(ci.hi).toBeCloseTo(stats[47]! + 0.775 * (stats[48]! - stats[47]!), 12);
    expect(ci.estimate).toBe(0.6);
    expect(ci.n).toBe(5);
    expect(ci.level).toBe(0.95);
  });

  it('a 90% level moves the interval inward to the 5% and 95% points', () => {
    const xs = [1, 0, 0, 1, 1, 0, 1];
    const ci = bootstrapCI(xs, { seed: 4, iterations: 21, level: 0.9 });
    const rnd = mulberry32(4);
    const stats = Array.from({ length: 21 }, () => xs.reduce((s) => s + xs[Math.floor(rnd() * xs.length)]!, 0) / xs.length).sort((a, b) => a - b);
    // Positions 20 · 0.05 = 1 and 20 · 0.95 = 19: order statistics (up to rounding of 0.05).
    expect(ci.lo).toBeCloseTo(stats[1]!, 12);
    expect(ci.hi).toBeCloseTo(stats[19]!, 12);
    expect(stats[1]).not.toBe(stats[0]);
    expect(ci.level).toBe(0.9);
  });

  it('quantile interpolates between order statistics', () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([1, 2, 4, 8], 0.5)).toBe(3);
    expect(quantile([1, 2, 4, 8], 0)).toBe(1);
    expect(quantile([1, 2, 4, 8], 1)).toBe(8);
    expect(quantile([7], 0.3)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('defaults to 2000 resamples with seed 1 at the 95% level', () => {
    // Fractional scores, so that other settings give other percentiles.
    const xs = [0.13, 0.72, 0.05, 0.91, 0.44, 0.38, 0.67, 0.29];
    const ys = xs.map((x) => 1 - x * x);
    expect(bootstrapCI(xs)).toEqual(bootstrapCI(xs, { iterations: 2000, seed: 1, level: 0.95 }));
    expect(pairedBootstrap(xs, ys)).toEqual(pairedBootstrap(xs, ys, { iterations: 2000, seed: 1, level: 0.95 }));
    for (const other of [{ seed: 2 }, { iterations: 1999 }, { level: 0.9 }]) {
      expect(bootstrapCI(xs, other)).not.toEqual(bootstrapCI(xs));
      expect(pairedBootstrap(xs, ys, other)).not.toEqual(pairedBootstrap(xs, ys));
    }
  });

  it('throws on empty input', () => {
    expect(() => bootstrapCI([])).toThrow(/no scores/);
  });
});

describe('paired bootstrap', () => {
  it('estimates the mean difference and finds a clear difference significant', () => {
    const a = Array.from({ length: 100 }, (_, i) => (i < 80 ? 1 : 0));
    const b = Array.from({ length: 100 }, (_, i) => (i < 40 ? 1 : 0));
    const d = pairedBootstrap(a, b, { seed: 1 });
    expect(d.estimate).toBeCloseTo(0.4, 10);
    expect(d.lo).toBeGreaterThan(0);
    expect(d.shareAbove).toBe(1);
  });

  it('is not significant for identical systems', () => {
    const a = [1, 0, 1, 0, 1];
    const d = pairedBootstrap(a, a);
    expect([d.estimate, d.lo, d.hi]).toEqual([0, 0, 0]);
    // A resample where a and b score the same is not "a above b".
    expect(d.shareAbove).toBe(0);
    expect(d.n).toBe(5);
  });

  it('shareAbove counts the resamples in which a scored higher, by hand', () => {
    const a = [1, 0, 1];
    const b = [0, 0, 1];
    const d = pairedBootstrap(a, b, { seed: 9, iterations: 40 });
    // The item differences are [1, 0, 0]: a resample is above 0 exactly when it draws item 0.
    const rnd = mulberry32(9);
    let above = 0;
    for (let k = 0; k < 40; k++) {
      let drew0 = false;
      for (let i = 0; i < 3; i++) if (Math.floor(rnd() * 3) === 0) drew0 = true;
      if (drew0) above++;
    }
    expect(d.shareAbove).toBe(above / 40);
    expect(d.estimate).toBeCloseTo(1 / 3, 12);
    expect(() => pairedBootstrap([], [])).toThrow(/no scores/);
  });

  it('refuses different item counts', () => {
    expect(() => pairedBootstrap([1], [1, 0])).toThrow(/different item counts/);
  });
});

describe('gain, win rate, emergence, vote', () => {
  it('gain over the best member', () => {
    const g = gainOverBestMember([1, 1, 0, 1], [[1, 0, 0, 0], [1, 1, 0, 0]]);
    expect(g).toMatchObject({ collaboration: 0.75, bestMember: 0.5, bestIndex: 1, absolute: 0.25, relative: 0.5 });
    // Equal members: the first is the best one; a best member at 0 has no relative gain.
    expect(gainOverBestMember([1, 0], [[0, 1], [1, 0]]).bestIndex).toBe(0);
    const zero = gainOverBestMember([1, 0], [[0, 0]]);
    expect(zero).toMatchObject({ bestMember: 0, absolute: 0.5 });
    expect(zero.relative).toBeNaN();
    expect(() => gainOverBestMember([1], [])).toThrow(/no members/);
  });

  it('win rate counts strict wins', () => {
    expect(winRate([{ collaboration: 0.6, bestMember: 0.5 }, { collaboration: 0.5, bestMember: 0.5 }, { collaboration: 0.2, bestMember: 0.4 }, { collaboration: 0.9, bestMember: 0.1 }])).toBe(0.5);
  });

  it('emergence = items no member solves that the collaboration solves, over items no member solves', () => {
    const members = [[1, 0, 0, 0, 1], [0, 0, 1, 0, 0]];
    const collab = [0, 1, 0, 0, 1];
    // items 1 and 3 are unsolved by all; the collaboration solves item 1.
    expect(emergenceRate(collab, members)).toEqual({ unsolvedByAll: 2, solvedByCollaboration: 1, rate: 0.5 });
    expect(Number.isNaN(emergenceRate([1], [[1]]).rate)).toBe(true);
    // Fractional scores count as solved at or above the threshold.
    expect(emergenceRate([0.5, 0.4], [[0.2, 0.1]], 0.5)).toEqual({ unsolvedByAll: 2, solvedByCollaboration: 1, rate: 0.5 });
    expect(emergenceRate([0.5], [[0.5]], 0.5).unsolvedByAll).toBe(0);
    expect(() => emergenceRate([1, 0], [[1]])).toThrow(/a member was scored on 1 items, the collaboration on 2/);
  });

  it('majority vote picks the most frequent answer, ties to the first voter, ignores empty answers', () => {
    expect(majorityVote(['a', 'b', 'b'])).toBe(1);
    expect(majorityVote(['a', 'b', 'c'])).toBe(0);
    expect(majorityVote(['', 'c', 'c'])).toBe(1);
    expect(majorityVote(['', ''])).toBe(-1);
    expect(majorityVote(['b', 'a', 'a', 'b'])).toBe(0);
    expect(majorityVote(['', 'x', 'y', 'y'])).toBe(2);
    expect(mean([1, 2, 3])).toBe(2);
    expect(mean([])).toBeNaN();
    expect(winRate([])).toBeNaN();
  });
});

describe('router trained on labelled prompts', () => {
  it('sends prompts to the label whose words they share', () => {
    const r = trainRouter([
      { prompt: 'Q: 12 + 4 = ?\nA:', label: 'arithmetic' },
      { prompt: 'Q: 3 - 9 = ?\nA:', label: 'arithmetic' },
      { prompt: 'Q: Reverse abcde\nA:', label: 'reverse' },
      { prompt: 'Q: Reverse kljhg\nA:', label: 'reverse' },
    ]);
    expect(r.route('Q: 77 + 31 = ?\nA:').label).toBe('arithmetic');
    expect(r.route('Q: Reverse zzzzz\nA:').label).toBe('reverse');
    expect(Object.keys(r.route('x').scores).sort()).toEqual(['arithmetic', 'reverse']);
  });
});
