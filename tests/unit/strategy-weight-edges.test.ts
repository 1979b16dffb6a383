// What the weight-level methods share (src/lib/strategies/weight.ts) at its edges: which objects
// count as a merge recipe (each field's type checked on its own), a recipe in words (numbers rounded,
// flags as they are, parameters listed with commas), a softmax that stays finite for large
// inputs, the cancel error's name, and the run with the merged model reading the run's knobs.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { checkAborted, isRecipe, recipeText, softmax } from '../../src/lib/strategies/weight.ts';
import type { MergeRecipe, SearchContext } from '../../src/lib/strategies/types.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, only } from './strategy-text.helpers.ts';

const recipe: MergeRecipe = { method: 'linear', base: null, models: [{ agent: 0, parameters: { weight: 0.5 } }], parameters: {} };

describe('weight: isRecipe', () => {
  it('a recipe with no base or a numbered base', () => {
    expect(isRecipe(recipe)).toBe(true);
    expect(isRecipe({ ...recipe, base: 0 })).toBe(true);
  });

  it('not null, not a non-object', () => {
    expect(isRecipe(null)).toBe(false);
    expect(isRecipe(undefined)).toBe(false);
    expect(isRecipe('linear')).toBe(false);
  });

  it('each field is checked on its own: a method that is not a string fails even when the rest is fine', () => {
    expect(isRecipe({ ...recipe, method: 1 })).toBe(false);
    expect(isRecipe({ ...recipe, method: 1, base: 0 })).toBe(false);
  });

  it('a base that is neither null nor a number fails', () => {
    expect(isRecipe({ ...recipe, base: 'a1' })).toBe(false);
    expect(isRecipe({ method: 'linear', models: [], parameters: {} })).toBe(false);
  });

  it('models must be an array; parameters an object and not null', () => {
    expect(isRecipe({ ...recipe, models: 'a1' })).toBe(false);
    expect(isRecipe({ ...recipe, parameters: 'density 0.5' })).toBe(false);
    expect(isRecipe({ ...recipe, parameters: null })).toBe(false);
    expect(isRecipe({ ...recipe, parameters: undefined })).toBe(false);
  });
});

describe('weight: recipeText', () => {
  it('number parameters to 3 digits, flags as written, comma-separated; normalize left out', () => {
    const r: MergeRecipe = {
      method: 'dare_ties',
      base: 0,
      models: [{ agent: 1, parameters: { weight: 0.33333 } }, { agent: 2, parameters: {} }],
      parameters: { density: 0.56789, normalize: true, int8_mask: false },
    };
    expect(recipeText(r)).toBe('dare_ties of a2 × 0.333, a3 on base a1 (density 0.568, int8_mask false)');
  });
});

describe('weight: softmax', () => {
  it('hand values: (0, ln 3) → (1/4, 3/4)', () => {
    const [p, q] = softmax([0, Math.log(3)]);
    expect(p).toBeCloseTo(0.25, 12);
    expect(q).toBeCloseTo(0.75, 12);
  });

  it('stays finite for inputs far apart or large (the largest is subtracted first)', () => {
    expect(softmax([1000, 0])).toEqual([1, 0]);
    expect(softmax([0, 800])).toEqual([0, 1]);
    const [a, b] = softmax([1000, 999]);
    expect(a).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(b).toBeCloseTo(Math.exp(-1) / (1 + Math.exp(-1)), 12);
  });
});

describe('weight: cancel', () => {
  it('a cancelled search throws an AbortError saying so; a running one does not throw', () => {
    const controller = new AbortController();
    const sctx = { signal: controller.signal } as SearchContext;
    expect(() => checkAborted(sctx)).not.toThrow();
    controller.abort();
    let thrown: unknown;
    try {
      checkAborted(sctx);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(DOMException);
    expect((thrown as DOMException).name).toBe('AbortError');
    expect((thrown as DOMException).message).toBe('the search was cancelled');
  });
});

describe('weight: the run with the merged model', () => {
  it('scripted: the merged model (agent 1) answers, read with the run’s answer type', async () => {
    const { agents, engines } = agentsEach(1, () => words('Yes, 2 of them'));
    const asNumber = await collectRun({ ...base, strategy: 'greedy-soup', agents, knobs: { answerType: 'number' }, fitted: recipe });
    expect(only(asNumber, 'final')).toMatchObject({ answer: '2', agent: 'a1', text: 'Yes, 2 of them' });
    const auto = await collectRun({ ...base, strategy: 'greedy-soup', agents, knobs: {}, fitted: recipe });
    expect(only(auto, 'final')).toMatchObject({ answer: 'yes', agent: 'a1' });
    expect(engines[0]!.calls).toHaveLength(2);
  });
});
