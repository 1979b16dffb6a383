// The whole-answer path of WllamaEngine (stream: false) drops the end-of-generation entry that a
// non-streamed chat reply lists and its stream does not (token "", logprob 0; measured in
// tests/e2e/nprobs.spec.ts on wllama 3.13): only trailing entries without text, nothing else.
import { describe, expect, it } from 'vitest';
import { withoutEmptyTail } from '../../src/lib/engines/wllama.ts';

describe('withoutEmptyTail', () => {
  const t = (token: string) => ({ token, logprob: token ? -1 : 0 });
  it('drops trailing entries with no text, and only those', () => {
    expect(withoutEmptyTail([t(' C'), t('')])).toEqual([t(' C')]);
    expect(withoutEmptyTail([t(' C'), t(''), t('')])).toEqual([t(' C')]);
    expect(withoutEmptyTail([t(''), t(' C')])).toEqual([t(''), t(' C')]);
    expect(withoutEmptyTail([t(''), t('')])).toEqual([]);
  });
  it('returns the same list when nothing is dropped, and undefined for none', () => {
    const lps = [t(' a'), t('b')];
    expect(withoutEmptyTail(lps)).toBe(lps);
    expect(withoutEmptyTail(undefined)).toBeUndefined();
    expect(withoutEmptyTail([])).toEqual([]);
  });
});
