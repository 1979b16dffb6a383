/**
 * The experiment runner's answer cache: an Engine wrapper that answers a call it has seen before
 * from storage, so repeating an experiment (or resuming one) costs no model time.
 *
 * Key = SHA-256 of the canonical JSON of
 *   { model: <model content hash, or "openai:<baseUrl>|<model>">, kind: "chat" | "complete",
 *     request: the whole request — messages or prompt, temperature, top_p, top_k, seed, max_tokens,
 *     stop, logprobs, top_logprobs — with keys sorted }
 * so a different seed, sampling parameter, prompt or model file is a different entry — except that
 * a greedy call (temperature 0) is keyed without its seed, since greedy decoding draws no random
 * number (an absent temperature counts as sampling: servers default to 0.7–1).
 *
 * Stored value: the answer's text, logprobs, finish reason and the usage measured when it was
 * generated; a hit replays them as one delta and one done chunk. Aborted or failed calls are never
 * stored. Storage is the `AnswerStore` interface: IndexedDB in the tab
 * (src/lib/store/experiments-db.ts), a directory of files in the CLI (tools/lib/answer-cache-fs.ts),
 * memory in tests. A store writes an entry whole or not at all.
 */
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine, FinishReason, TokenLogprob, Usage } from '../engines/engine.ts';
import { collect } from '../engines/engine.ts';

export interface CachedAnswer {
  text: string;
  logprobs: TokenLogprob[];
  finish_reason: FinishReason;
  usage: Usage;
}

export interface AnswerStore {
  get(key: string): Promise<CachedAnswer | undefined>;
  put(key: string, value: CachedAnswer): Promise<void>;
}

export class MemoryAnswerStore implements AnswerStore {
  readonly map = new Map<string, CachedAnswer>();
  get(key: string): Promise<CachedAnswer | undefined> {
    return Promise.resolve(this.map.get(key));
  }
  put(key: string, value: CachedAnswer): Promise<void> {
    this.map.set(key, structuredClone(value));
    return Promise.resolve();
  }
}

/** JSON with object keys sorted at every level, so equal requests give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function answerKey(model: string, kind: 'chat' | 'complete', request: ChatRequest | CompletionRequest): Promise<string> {
  // Greedy decoding draws no random number (llama.cpp samples greedily at temperature ≤ 0), so a
  // greedy answer is the same whatever the seed: one entry serves every seed.
  const { seed, ...rest } = request;
  return sha256Hex(canonicalJson({ model, kind, request: (request.temperature ?? 1) > 0 && seed !== undefined ? { ...rest, seed } : rest }));
}

/** Counts of one wrapper's calls: hits were answered from the store, misses went to the engine. */
export interface CacheCounts {
  hits: number;
  misses: number;
}

/**
 * `engine` behind the cache. `model` identifies the weights (content hash) or the endpoint and
 * model name; callers must never reuse one model key for different weights.
 */
export function cachingEngine(engine: Engine, model: string, store: AnswerStore, counts: CacheCounts = { hits: 0, misses: 0 }): Engine {
  async function* run(kind: 'chat' | 'complete', request: ChatRequest | CompletionRequest, options: CallOptions): AsyncGenerator<ChatChunk> {
    const key = await answerKey(model, kind, request);
    const hit = await store.get(key);
    if (hit) {
      counts.hits += 1;
      yield hit.logprobs.length > 0 ? { type: 'delta', text: hit.text, logprobs: hit.logprobs } : { type: 'delta', text: hit.text };
      yield { type: 'done', finish_reason: hit.finish_reason, usage: hit.usage };
      return;
    }
    counts.misses += 1;
    const stream = kind === 'chat' ? engine.chat(request as ChatRequest, options) : engine.complete(request as CompletionRequest, options);
    const answer = await collect(stream);
    // Only whole answers are kept: an aborted call would replay a truncated text forever.
    if (answer.finish_reason !== 'abort' && !options.signal?.aborted) await store.put(key, answer);
    yield answer.logprobs.length > 0 ? { type: 'delta', text: answer.text, logprobs: answer.logprobs } : { type: 'delta', text: answer.text };
    yield { type: 'done', finish_reason: answer.finish_reason, usage: answer.usage };
  }
  return {
    info: engine.info,
    chat: (request, options = {}) => run('chat', request, options),
    complete: (request, options = {}) => run('complete', request, options),
    unload: () => engine.unload(),
    ...(engine.stepper && { stepper: () => engine.stepper!() }),
  };
}
