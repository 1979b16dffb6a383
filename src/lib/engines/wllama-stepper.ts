/**
 * The stepping seam on wllama (stepper.ts): one `max_tokens: 1` completion per step, its top-K
 * alternatives from llama.cpp's `n_probs` — exactness 'top-k'.
 *
 * What wllama 3.13 offers, checked in headless Chromium (tests/e2e/stepping.spec.ts):
 * - `n_probs: k` gives `logprobs.content[0].top_logprobs[] = {id, token, bytes, logprob}`: the
 *   token IDs come with the probabilities (pre-sampling, softmax at temperature 1).
 * - A prompt given as token IDs (or mixed, or nested arrays) fails inside the wasm; only text
 *   prompts work, and wllama has no tokenize call. So a step sends the prefix as text —
 *   detokenised with the GGUF vocabulary (gguf-vocab.ts) — and llama.cpp tokenises it again
 *   (adding BOS and the space prefix itself). When our tokenizer says that text tokenises to other
 *   IDs than the prefix (a model may write a non-canonical split), the step still runs on the
 *   text and `NextToken.note` says so: the model then saw its canonical tokenization.
 * - `cache_prompt: true` keeps the slot's KV cache for the longest shared token prefix, so a step
 *   computes only the new token (`timings.prompt_n` is 1 on a step that extends the previous one).
 *   Determinism: steps are greedy reads of the distribution (no sampling); a cached prefix can
 *   differ from a fresh one in the last bits of the logits (see wllama.ts on cache_prompt), so a
 *   method's choice could flip only between candidates tied to those bits.
 * - A byte token whose piece is not valid UTF-8 among the alternatives makes llama.cpp's JSON
 *   encoder throw (README, Known limits); the step is then retried with half as many alternatives.
 */
import type { Wllama } from '@wllama/wllama';
import { EngineError } from './engine.ts';
import type { GgufVocabulary } from './gguf-vocab.ts';
import type { Ahead } from './lookahead.ts';
import type { NextToken, StepOptions, Stepper, TokenCandidate, VocabularyInfo } from './stepper.ts';

interface RawTop {
  id?: number;
  token: string;
  logprob: number;
}
interface RawStep {
  choices?: { logprobs?: { content?: { id?: number; token: string; logprob: number; top_logprobs?: RawTop[] }[] } | null }[];
  usage?: { prompt_tokens?: number };
}

export const DEFAULT_TOP_K = 10;

export class WllamaStepper implements Stepper {
  readonly vocabulary: VocabularyInfo;
  readonly #wllama: () => Wllama;
  readonly #vocab: GgufVocabulary;
  readonly #name: string;

  /** `wllama` is a getter so that an unloaded engine fails the next step with its own error. */
  constructor(wllama: () => Wllama, vocab: GgufVocabulary, name: string) {
    this.#wllama = wllama;
    this.#vocab = vocab;
    this.vocabulary = vocab.info;
    this.#name = name;
  }

  async tokenize(text: string, options: { addBos?: boolean } = {}): Promise<number[]> {
    return this.#vocab.tokenize(text, options.addBos ?? false);
  }

  /**
   * A sequence that starts with BOS is a whole text: the space the tokenizer put before its first
   * word is dropped (llama.cpp's detokenize with remove_special). Any other sequence is a
   * continuation and keeps its leading space (" 115" after "A:").
   */
  async detokenize(ids: readonly number[]): Promise<string> {
    const bos = this.vocabulary.bos;
    return bos !== undefined && ids[0] === bos ? this.#vocab.detokenize(ids.slice(1), true) : this.#vocab.detokenize(ids);
  }

  async next(prefix: readonly number[], options: StepOptions = {}): Promise<NextToken> {
    return (await this.ahead(prefix, options.topK ?? DEFAULT_TOP_K, 1, options.signal)).steps[0]!;
  }

  /**
   * Up to `count` positions of the greedy continuation of `prefix` in one completion
   * (`max_tokens: count`): each written token's top-K distribution and ID (lookahead.ts). Fewer
   * when the model ends (EOS) first.
   */
  async ahead(prefix: readonly number[], topK: number, count: number, signal?: AbortSignal): Promise<Ahead> {
    const bos = this.vocabulary.bos;
    if (bos !== undefined && prefix[0] !== bos) {
      throw new EngineError('bad-request', `${this.#name}: a wllama step needs the prefix to start with BOS (${bos}), as llama.cpp always adds it — tokenize the prompt with addBos.`);
    }
    const rest = bos === undefined ? prefix : prefix.slice(1);
    const text = this.#vocab.detokenize(rest, true);
    if (text === '') throw new EngineError('bad-request', `${this.#name}: nothing to step from — give a non-empty prompt.`);
    const canonical = this.#vocab.tokenize(text, bos !== undefined);
    const same = canonical.length === prefix.length && canonical.every((t, i) => t === prefix[i]);
    let k = Math.max(1, Math.min(this.vocabulary.size, topK));
    for (;;) {
      if (signal?.aborted) throw new EngineError('aborted', 'the step was cancelled.');
      let raw: RawStep;
      try {
        raw = (await this.#wllama().createCompletion({
          prompt: text,
          stream: false,
          max_tokens: Math.max(1, count),
          temperature: 0,
          n_probs: k,
          cache_prompt: true,
        } as never)) as unknown as RawStep;
      } catch (err) {
        // llama.cpp's JSON encoder throws on an alternative that is not valid UTF-8: fewer alternatives.
        if (k > 1 && /Invalid typed array length/.test(String(err))) {
          k = Math.floor(k / 2);
          continue;
        }
        throw new EngineError('internal', `${this.#name}: the step failed (${err instanceof Error ? err.message : String(err)}). Try again; if it keeps failing, reload the model.`);
      }
      const content = raw.choices?.[0]?.logprobs?.content ?? [];
      const out: Ahead = { steps: [], tokens: [] };
      for (const [i, written] of content.entries()) {
        const tops = written.top_logprobs ?? [];
        if (tops.length === 0 || tops.some((t) => typeof t.id !== 'number') || typeof written.id !== 'number') {
          if (i === 0) throw new EngineError('internal', `${this.#name}: llama.cpp returned no token IDs with its probabilities — this wllama build cannot step.`);
          break;
        }
        const step: NextToken = { top: tops.map((t) => ({ id: t.id!, text: this.#vocab.piece(t.id!), logprob: t.logprob })), exactness: 'top-k' };
        // The model read the prefix's text re-tokenised, then its own IDs: the note carries over.
        if (!same) step.note = `the prefix's text tokenizes to ${canonical.length + i} tokens, not the ${prefix.length + i} given; the model read its own tokenization`;
        out.steps.push(step);
        out.tokens.push(written.id);
      }
      if (out.steps.length === 0) throw new EngineError('internal', `${this.#name}: llama.cpp returned no token IDs with its probabilities — this wllama build cannot step.`);
      return out;
    }
  }

  async close(): Promise<void> {
    // One slot, shared with the engine's other calls: nothing of its own to free.
  }
}
