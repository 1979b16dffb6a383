// The context budget (budget.ts) at its edges: a text of exactly the byte limit is kept whole, the
// shares of unsorted lengths go by length (not input order), an unknown or non-positive context
// length checks nothing, and the refusal's exact words — its totals, and the "lower max tokens to
// N" advice only when some room is left for the answer.
import { describe, expect, it } from 'vitest';
import { cutToBytes, fitProblem, shareBytes } from '../../src/lib/strategies/budget.ts';
import type { ChatMessage } from '../../src/lib/engines/engine.ts';

const ADVICE = ['shorten the prompt'];
const TAIL = 'shorten the prompt (reloading the model does not help: its context size is fixed by the file)';
/** One user message of 100 bytes: 8 + 100 + 16 = 124 prompt tokens at most. */
const PROMPT: ChatMessage[] = [{ role: 'user', content: 'x'.repeat(100) }];

describe('budget: cutting and sharing bytes', () => {
  it('a text of exactly the limit is kept whole; one byte more is cut to the limit, "…" included', () => {
    expect(cutToBytes('abcde', 5)).toBe('abcde');
    expect(cutToBytes('abcdef', 5)).toBe('ab…');
  });

  it('shares go by length whatever the input order: the short text keeps all, the long ones split the rest', () => {
    expect(shareBytes([1000, 10], 310)).toEqual([300, 10]);
    expect(shareBytes([500, 10, 1000], 310)).toEqual([150, 10, 150]);
    expect(shareBytes([1000, 40, 20], 100)).toEqual([40, 40, 20]);
  });
});

describe('budget: fitProblem', () => {
  it('an unknown, zero, negative or NaN context length checks nothing', () => {
    for (const n of [undefined, 0, -5, Number.NaN]) expect(fitProblem(PROMPT, 32, n, 'm.gguf', 'the prompt', ADVICE)).toBeNull();
  });

  it('fits exactly at the context length; one token over is refused', () => {
    expect(fitProblem(PROMPT, 32, 156, 'm.gguf', 'the prompt', ADVICE)).toBeNull();
    expect(fitProblem(PROMPT, 32, 155, 'm.gguf', 'the prompt', ADVICE)).toBe(
      `the prompt needs up to 124 tokens and max tokens is 32: 156 in all, more than m.gguf's 155-token context — lower max tokens to 31 or less, or ${TAIL}`,
    );
  });

  it('with one token of room the advice is max tokens 1; with none, no max-tokens advice', () => {
    expect(fitProblem(PROMPT, 32, 125, 'm.gguf', 'the prompt', ADVICE)).toBe(
      `the prompt needs up to 124 tokens and max tokens is 32: 156 in all, more than m.gguf's 125-token context — lower max tokens to 1 or less, or ${TAIL}`,
    );
    expect(fitProblem(PROMPT, 32, 124, 'm.gguf', 'the prompt', ADVICE)).toBe(
      `the prompt needs up to 124 tokens and max tokens is 32: 156 in all, more than m.gguf's 124-token context — ${TAIL}`,
    );
    expect(fitProblem(PROMPT, 8, 100, 'm.gguf', 'the prompt', ADVICE)).toBe(
      `the prompt needs up to 124 tokens and max tokens is 8: 132 in all, more than m.gguf's 100-token context — ${TAIL}`,
    );
  });
});
