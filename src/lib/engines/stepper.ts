/**
 * The stepping seam: token-level and logit-level methods (nudging, speculative decoding, logit
 * fusion, …) drive models one token at a time through this interface and nothing else, so they
 * do not depend on which engine runs the model.
 *
 * A stepper works on token IDs of its model's vocabulary. Between models, token IDs (never
 * re-tokenised text) are what passes; methods that combine distributions require the same
 * vocabulary, checked with `sameVocabulary` before a run.
 *
 * Routes (each engine states its exactness in `NextToken.exactness`):
 * - ONNX (onnxruntime-web, WebGPU or wasm) and web-llm: full logits → 'full'.
 * - wllama and OpenAI-compatible servers: top-K log-probabilities of a one-token call → 'top-k'
 *   (the mass outside the K candidates is unknown; methods state how they treat it).
 *
 * An engine keeps its KV cache for the longest prefix shared with its previous call, so a step
 * costs one token's forward pass, not the whole prompt again.
 *
 * No DOM here: this file runs in workers, in the page and in Node.
 */

/** One candidate for the next token. */
export interface TokenCandidate {
  /** Token ID in the model's vocabulary. */
  id: number;
  /** The token's text (as the model's detokeniser renders it alone). */
  text: string;
  /** Natural-log probability after softmax at temperature 1 (pre-sampling). */
  logprob: number;
}

export interface NextToken {
  /** The most probable candidates, most probable first (at least the `topK` asked, when the vocabulary has them). */
  top: TokenCandidate[];
  /** 'full': `full` holds log-probabilities for every token; 'top-k': only `top` is known. */
  exactness: 'full' | 'top-k';
  /** Natural-log probabilities over the whole vocabulary (length = vocabulary size), when exact. */
  full?: Float32Array;
  /** Something the route had to approximate for this step, in words (shown in the per-token view). */
  note?: string;
}

export interface VocabularyInfo {
  /** Number of tokens. */
  size: number;
  /** A hash of every token's text in ID order: equal fingerprints ⇒ token IDs mean the same text. */
  fingerprint: string;
  /** Beginning-of-sequence token, when the model adds one. */
  bos?: number;
  /** Tokens that end generation (EOS, EOT). */
  eos: number[];
}

export interface StepOptions {
  /** How many candidates to return in `top` (default 10). */
  topK?: number;
  signal?: AbortSignal;
}

export interface Stepper {
  readonly vocabulary: VocabularyInfo;
  /** Text → token IDs, the way the model's own tokenizer does it; `addBos` prepends BOS when the model has one. */
  tokenize(text: string, options?: { addBos?: boolean }): Promise<number[]>;
  /** Token IDs → text. */
  detokenize(ids: readonly number[]): Promise<string>;
  /** The distribution of the token after `prefix` (token IDs, BOS included when wanted). */
  next(prefix: readonly number[], options?: StepOptions): Promise<NextToken>;
  /** Frees the stepper's sequence/KV cache (the engine stays loaded). */
  close(): Promise<void>;
}

/** Whether two models share one vocabulary: the precondition of every logit-level method. */
export function sameVocabulary(a: VocabularyInfo, b: VocabularyInfo): boolean {
  return a.size === b.size && a.fingerprint === b.fingerprint;
}
