/**
 * Context budget: does a conversation plus `max_tokens` fit an engine's context window (n_ctx)?
 * Checked before a run starts (every agent's first conversation, src/lib/run.ts) and before each
 * debate round and judge call (src/lib/strategies/debate.ts), so a run that cannot fit is refused
 * before it spends a token, with advice that works (fewer agents or rounds, smaller max tokens, a
 * shorter prompt) — reloading the model or "increasing the context" does not help: n_ctx is fixed
 * by the model's header when it loads.
 *
 * Counting. wllama has no tokenize call here, so the count is an upper bound, not an exact figure:
 * - text: its UTF-8 byte count. With a byte-fallback SentencePiece vocabulary (llama, stories260K,
 *   the pool) or a byte-level BPE one (GPT-2 style), every token stands for at least one byte of
 *   text, so tokens ≤ bytes; SentencePiece's dummy-prefix space adds at most one more per piece of
 *   text, counted in the per-message allowance;
 * - each message: MESSAGE_OVERHEAD_TOKENS for what the chat template wraps around it (ChatML's
 *   "<|im_start|>user\n … <|im_end|>\n" is 5 tokens, the pool's "Q: … \nA:" 4 bytes, the fallback
 *   transcript's "User: … \n" 7 bytes);
 * - each prompt: PROMPT_OVERHEAD_TOKENS (BOS, the assistant turn's opener).
 * Byte counts overestimate English text on large vocabularies (about 4 bytes per token), so a
 * prompt near the limit may be refused although it would fit; it never lets one through that
 * overflows, except under a chat template that injects long fixed text of its own.
 */
import type { ChatMessage } from '../engines/engine.ts';

export const MESSAGE_OVERHEAD_TOKENS = 16;
export const PROMPT_OVERHEAD_TOKENS = 8;
/** The least of each answer a debate shows another agent; below this the round is refused. */
export const MIN_SHOWN_ANSWER_BYTES = 32;
/** What marks an answer cut to fit: an ellipsis (3 bytes in UTF-8). */
export const CUT_MARK = '…';

const encoder = new TextEncoder();

export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Upper bound on the prompt tokens of a conversation (see the file comment for the rule). */
export function promptTokenBound(messages: readonly ChatMessage[]): number {
  let n = PROMPT_OVERHEAD_TOKENS;
  for (const m of messages) n += utf8Bytes(m.content) + MESSAGE_OVERHEAD_TOKENS;
  return n;
}

/** The first `maxBytes` bytes of `text` (whole characters only), with CUT_MARK when something was cut. */
export function cutToBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const room = maxBytes - utf8Bytes(CUT_MARK);
  let out = '';
  let used = 0;
  for (const ch of text) {
    const b = utf8Bytes(ch);
    if (used + b > room) break;
    out += ch;
    used += b;
  }
  return `${out}${CUT_MARK}`;
}

/**
 * Shares `budget` bytes among texts of the given byte lengths: short texts keep all of theirs and
 * what they leave goes to the longer ones, which get equal shares (max-min fair, "water filling").
 * Returns each text's cap, in input order.
 */
export function shareBytes(lengths: readonly number[], budget: number): number[] {
  const caps = lengths.map(() => 0);
  const order = lengths.map((len, i) => ({ len, i })).sort((a, b) => a.len - b.len);
  let left = Math.max(0, budget);
  order.forEach(({ len, i }, k) => {
    const share = Math.floor(left / (order.length - k));
    const cap = Math.min(len, share);
    caps[i] = cap;
    left -= cap;
  });
  return caps;
}

/** The advice every refusal ends with: the knobs that change what a run sends. */
export function fitAdvice(knobs: readonly string[]): string {
  return `${knobs.join(', ')} (reloading the model does not help: its context size is fixed by the file)`;
}

/**
 * Null when `messages` plus `maxTokens` fit `contextLength`; otherwise what does not fit and what to
 * change. `who` names the model ("stories260K.gguf"), `what` the call ("the prompt").
 */
export function fitProblem(
  messages: readonly ChatMessage[],
  maxTokens: number,
  contextLength: number | undefined,
  who: string,
  what: string,
  knobs: readonly string[],
): string | null {
  if (contextLength === undefined || !(contextLength > 0)) return null;
  const need = promptTokenBound(messages);
  if (need + maxTokens <= contextLength) return null;
  const room = contextLength - need;
  const lower = room >= 1 ? `lower max tokens to ${room} or less, or ` : '';
  return (
    `${what} needs up to ${need} tokens and max tokens is ${maxTokens}: ${need + maxTokens} in all, more than ${who}'s ` +
    `${contextLength}-token context — ${lower}${fitAdvice(knobs)}`
  );
}
