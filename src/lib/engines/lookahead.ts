/**
 * Lookahead stepping: one call reads a model's next-token distributions along its own greedy path
 * for several positions, and the steps that follow that path are answered from it.
 *
 * Why: on wllama (and llama-server) a step is one completion call, and the call's fixed cost —
 * the request, the JSON of the alternatives, the worker round trips — is about twice the one-token
 * forward pass on the pool's models (`npm run bench -- stepping`). A completion of n greedy tokens
 * with `n_probs` returns, for each written token, the distribution it was chosen from: the same
 * distributions n single steps would read, for one call's fixed cost. Token-level methods mostly
 * follow one model's greedy path (nudging's base while it is confident, Co-LLM's generator,
 * speculative decoding's draft and the target on the tokens it accepts), so most of their steps
 * are answered without a call.
 *
 * Exactness: an answered step is a distribution llama.cpp computed for exactly that prefix of
 * token IDs (the model wrote those IDs itself, so it read them as given, never re-tokenised). The
 * one difference from single steps is batching: a single step on a fresh prefix evaluates the
 * prompt in one batch, generation evaluates one token at a time, and the two can differ in the
 * last bits of the logits — the same caveat as the KV cache (wllama-stepper.ts).
 *
 * How far to look: the first call asks for one token. When a method consumes every answered step
 * of a call and asks for the next, the next call asks for twice as many (up to `max`); when it
 * leaves the path, the next call asks for as many as it used (at least one). So a method that
 * never follows the path pays at most one extra token per call; one that always follows it reaches
 * `max` tokens per call in log2(max) calls.
 *
 * No DOM here: this file runs in workers, in the page and in Node.
 */
import { EngineError } from './engine.ts';
import type { NextToken, StepOptions, Stepper, VocabularyInfo } from './stepper.ts';

/** The distributions along a model's greedy continuation of a prefix. */
export interface Ahead {
  /** `steps[i]`: the distribution of the token after prefix + tokens[0 … i−1]. At least one. */
  steps: NextToken[];
  /** `tokens[i]`: the token the model wrote from `steps[i]` (greedy); as many as `steps`. */
  tokens: number[];
}

/** Reads up to `count` positions of the greedy continuation of `prefix`, `topK` candidates each. */
export type AheadFn = (prefix: readonly number[], topK: number, count: number) => Promise<Ahead>;

export const DEFAULT_LOOKAHEAD = 16;
const DEFAULT_TOP_K = 10;

interface Cached {
  prefix: number[];
  topK: number;
  ahead: Ahead;
  /** How many of its steps were answered. */
  used: number;
}

/** How many of `tokens` follow `base` in `prefix`, when `prefix` is `base` + the first ones of `tokens`; else −1. */
function along(prefix: readonly number[], base: readonly number[], tokens: readonly number[]): number {
  const i = prefix.length - base.length;
  if (i < 0 || i > tokens.length) return -1;
  for (let j = 0; j < base.length; j++) if (prefix[j] !== base[j]) return -1;
  for (let j = 0; j < i; j++) if (prefix[base.length + j] !== tokens[j]) return -1;
  return i;
}

/** The step `prefix` asks for, when `cached` holds it: its index in `cached.ahead.steps`, else −1. */
export function cachedIndex(cached: { prefix: readonly number[]; ahead: Ahead }, prefix: readonly number[]): number {
  const i = along(prefix, cached.prefix, cached.ahead.tokens);
  return i < cached.ahead.steps.length ? i : -1;
}

export class LookaheadStepper implements Stepper {
  readonly vocabulary: VocabularyInfo;
  readonly #inner: Pick<Stepper, 'tokenize' | 'detokenize' | 'close'>;
  readonly #ahead: AheadFn;
  readonly #max: number;
  #cached: Cached | null = null;
  #count = 1;
  /** Calls made and steps answered, for the bench and the tests. */
  readonly stats = { calls: 0, steps: 0 };

  /** `inner` gives tokenize/detokenize/close; `ahead` reads distributions; `max` caps the positions per call (1 = no lookahead). */
  constructor(vocabulary: VocabularyInfo, inner: Pick<Stepper, 'tokenize' | 'detokenize' | 'close'>, ahead: AheadFn, max = DEFAULT_LOOKAHEAD) {
    if (!Number.isInteger(max) || max < 1) throw new EngineError('bad-request', `lookahead must be a whole number ≥ 1 (1 turns it off), got ${max}.`);
    this.vocabulary = vocabulary;
    this.#inner = inner;
    this.#ahead = ahead;
    this.#max = max;
  }

  tokenize(text: string, options?: { addBos?: boolean }): Promise<number[]> {
    return this.#inner.tokenize(text, options);
  }

  detokenize(ids: readonly number[]): Promise<string> {
    return this.#inner.detokenize(ids);
  }

  async next(prefix: readonly number[], options: StepOptions = {}): Promise<NextToken> {
    if (options.signal?.aborted) throw new EngineError('aborted', 'the step was cancelled.');
    const topK = options.topK ?? DEFAULT_TOP_K;
    this.stats.steps++;
    const c = this.#cached;
    if (c && topK <= c.topK) {
      const i = cachedIndex(c, prefix);
      if (i >= 0) {
        c.used = Math.max(c.used, i + 1);
        const step = c.ahead.steps[i]!;
        return step.top.length > topK ? { ...step, top: step.top.slice(0, topK) } : step;
      }
    }
    if (c) {
      // Followed to its end and on along the path: look further; left it: look as far as it was followed.
      const followed = c.used === c.ahead.steps.length && along(prefix, c.prefix, c.ahead.tokens) === c.ahead.tokens.length;
      this.#count = followed ? Math.min(this.#max, this.#count * 2) : Math.max(1, Math.min(this.#max, c.used));
    }
    this.stats.calls++;
    const ahead = await this.#ahead(prefix, topK, this.#count);
    if (ahead.steps.length === 0 || ahead.tokens.length !== ahead.steps.length) {
      throw new EngineError('internal', `a lookahead call returned ${ahead.steps.length} steps and ${ahead.tokens.length} tokens — they must match and be at least one.`);
    }
    this.#cached = { prefix: [...prefix], topK, ahead, used: 1 };
    return ahead.steps[0]!;
  }

  close(): Promise<void> {
    this.#cached = null;
    return this.#inner.close();
  }
}
