// The naive-Bayes prompt router against scores computed by hand from its stated model: log prior
// log(docs_c / docs) plus, per feature, log((count_c(f) + 1) / (tokens_c + V + 1)) — add-one
// smoothing over the training vocabulary V with one more slot for words never seen in training.
import { describe, expect, it } from 'vitest';
import { promptFeatures, trainRouter } from '../../src/lib/eval/router.ts';

describe('router features', () => {
  it('lower-cases words, folds every digit run to zeros, keeps punctuation as its own feature', () => {
    expect(promptFeatures('Q: 37 + 58 = ?')).toEqual(['q', ':', '00', '+', '00', '=', '?']);
    expect(promptFeatures('Reverse ABC!')).toEqual(['reverse', 'abc', '!']);
    expect(promptFeatures('   ')).toEqual([]);
  });
});

describe('router scores', () => {
  // Label a: two prompts "red" (2 tokens); label b: one prompt "blue" (1 token). V = 2.
  const router = trainRouter([
    { prompt: 'red', label: 'a' },
    { prompt: 'blue', label: 'b' },
    { prompt: 'red', label: 'a' },
  ]);

  it('an unseen word: the class prior decides (a has two of the three prompts)', () => {
    const d = router.route('green');
    expect(d.scores.a).toBeCloseTo(Math.log(2 / 3) + Math.log(1 / 5), 12);
    expect(d.scores.b).toBeCloseTo(Math.log(1 / 3) + Math.log(1 / 4), 12);
    expect(d.label).toBe('a');
  });

  it('a seen word: smoothed counts decide against the prior', () => {
    const d = router.route('blue');
    expect(d.scores.a).toBeCloseTo(Math.log(2 / 3) + Math.log(1 / 5), 12);
    expect(d.scores.b).toBeCloseTo(Math.log(1 / 3) + Math.log(2 / 4), 12);
    expect(d.label).toBe('b');
    const red = router.route('red red');
    expect(red.scores.a).toBeCloseTo(Math.log(2 / 3) + 2 * Math.log(3 / 5), 12);
    expect(red.scores.b).toBeCloseTo(Math.log(1 / 3) + 2 * Math.log(1 / 4), 12);
    expect(red.label).toBe('a');
  });

  it('labels are listed sorted; a tie goes to the first of them', () => {
    const tied = trainRouter([
      { prompt: 'x', label: 'zeta' },
      { prompt: 'y', label: 'alpha' },
    ]);
    expect(tied.labels).toEqual(['alpha', 'zeta']);
    const d = tied.route('w');
    expect(d.scores.alpha).toBe(d.scores.zeta);
    expect(d.label).toBe('alpha');
    expect(tied.route('x').label).toBe('zeta');
  });

  it('refuses to train on nothing, saying what to give it', () => {
    expect(() => trainRouter([])).toThrow(/no labelled prompts — give it the dev splits/);
  });
});
