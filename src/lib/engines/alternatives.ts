/**
 * Fewer alternatives where wllama 3.13 cannot report them (README, Known limits).
 *
 * llama.cpp gives every top-k alternative's piece as text; a byte-fallback token such as <0xB6>
 * is a lone UTF-8 continuation byte, and llama-server's `validate_utf8` only trims an incomplete
 * sequence at the end of a piece, so the byte stays. llama-server itself serialises with
 * `error_handler_t::replace` (its `safe_json_to_str`), but wllama 3.13's `action_get_result`
 * calls plain `json::dump()` (cpp/wllama-context.h), which throws
 * `[json.exception.type_error.316] invalid UTF-8 byte`. wllama_action (cpp/wllama.cpp) catches
 * it, logs it (hidden by `suppressNativeLog`) and returns without writing the answer's length,
 * so the glue (src/workers-code/llama-cpp.js, runAction) reads the first four bytes of its own
 * request — the magic "GLUE" — as that length: "Invalid typed array length: 1163217991". The call
 * is lost; the model and the slot are not (wllama cancels the request).
 *
 * Generation does not depend on how many alternatives are asked for (they are pre-sampling
 * probabilities read from the logits), so the same request with fewer gives the same tokens:
 * we replay it, skip what was already delivered, check that it matches, and go on with the most
 * alternatives wllama can report for the failing token, stating it in a note on that delta.
 */
import { EngineError, type ChatChunk } from './engine.ts';

/** The request's own "GLUE" magic (bytes 47 4C 55 45) read as a little-endian length. */
export const GLUE_MAGIC_AS_LENGTH = 0x45554c47;

/** Whether `err` is wllama losing a call to a native exception (see above), not a real answer. */
export function isLostNativeCall(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return message.includes(`Invalid typed array length: ${GLUE_MAGIC_AS_LENGTH}`);
}

/** A delta chunk without its tag; `note` is set on the first one after fewer alternatives. */
export type Delta = Omit<Extract<ChatChunk, { type: 'delta' }>, 'type'>;

/** Tokens a delta stands for: one per logprob entry, or one for a delta without them. */
function tokensOf(d: Delta): number {
  return d.logprobs?.length || 1;
}

/**
 * Runs `attempt(k)`; when it loses the call (isLostNativeCall) with k > 1, runs it again with one
 * alternative fewer, skipping the tokens already yielded, until it passes the failing token or
 * k reaches 1 (then the error is thrown: the chosen token itself cannot be reported). `attempt`
 * must generate the same tokens whatever k is (same request, same seed).
 */
export async function* withFewerAlternatives(
  k: number,
  attempt: (k: number) => AsyncIterable<Delta>,
  model: string,
  /** 'call' when `attempt` yields the whole answer as one delta: the failing token is then unknown. */
  unit: 'token' | 'call' = 'token',
): AsyncGenerator<Delta> {
  let asked = k;
  let delivered = 0;
  let deliveredText = '';
  let pending: { from: number; token: number } | undefined;
  for (;;) {
    let seen = 0;
    let seenText = '';
    try {
      for await (const d of attempt(asked)) {
        if (seen < delivered) {
          seen += tokensOf(d);
          seenText += d.text;
          if (seen > delivered || (seen === delivered && seenText !== deliveredText)) throw replayDiffers(model, pending!.from, delivered);
          continue;
        }
        const out: Delta = { ...d };
        if (pending) {
          out.note =
            unit === 'token'
              ? `wllama could not report ${pending.from} alternatives for token ${pending.token} (one of them is not valid UTF-8 text); alternatives from this token on: ${asked}`
              : `wllama could not report ${pending.from} alternatives for a token of this answer (one of them is not valid UTF-8 text); alternatives for every token: ${asked}`;
          pending = undefined;
        }
        seen += tokensOf(d);
        delivered = seen;
        deliveredText += d.text;
        yield out;
      }
      if (seen < delivered) throw replayDiffers(model, pending!.from, delivered);
      return;
    } catch (err) {
      if (!isLostNativeCall(err) || asked <= 1) throw err;
      pending = { from: pending?.from ?? asked, token: delivered + 1 };
      asked -= 1;
    }
  }
}

function replayDiffers(model: string, k: number, delivered: number): EngineError {
  return new EngineError(
    'internal',
    `${model}: wllama could not report ${k} alternatives after token ${delivered}, and the call asked again with fewer generated other text — ask for fewer alternatives (top_logprobs) or give the request a seed.`,
  );
}
