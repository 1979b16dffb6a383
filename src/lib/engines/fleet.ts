/**
 * A serving fleet: one model served by several OpenAI-compatible endpoints (llama-server, vLLM,
 * Ollama), behind the one Engine interface. Each endpoint is an OpenAIEngine (./openai.ts).
 *
 * Rules (README "Serving fleets"):
 * - Limit: each endpoint takes at most `concurrency` requests at once (default 1, llama-server's
 *   one slot). `FleetEngine.concurrency` is the sum, what a caller may keep in flight.
 * - Spreading: a request goes to the least busy endpoint that is up and has a free slot (fewest in
 *   flight, then fewest served, then list order). When every such endpoint is full, it waits (FIFO).
 * - Failure: a network failure (cannot connect, 5xx, the stream broke off or sent an error) marks
 *   the endpoint down and the request is retried on another endpoint it has not tried. A 4xx
 *   ("bad-request": the key, the model name, the request) is the caller's problem and is thrown.
 * - Retry after partial output: when text was already passed on, the request is sent again whole
 *   and the new stream's first characters are checked against what was passed on and skipped (the
 *   same model with the same seed gives the same tokens); if they differ the call fails, since the
 *   caller already holds text that no endpoint will finish.
 * - Down: a down endpoint gets no requests for `retryAfterMs` (default 5 s, doubled on each failure
 *   in a row, at most 60 s); after that, the next request may go there again (the re-probe), and a
 *   success marks it up.
 * - All down: a request fails once it has tried every endpoint, or when all it has not tried are
 *   down, with an error naming each endpoint and its last failure.
 */
import { EngineError, type CallOptions, type ChatChunk, type ChatRequest, type CompletionRequest, type Engine, type EngineInfo } from './engine.ts';
import { normaliseBaseUrl, OpenAIEngine } from './openai.ts';

export interface FleetEndpoint {
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Requests at once on this endpoint (default 1). */
  concurrency?: number;
}

export interface FleetOptions {
  /** How long a failed endpoint is left alone before it is tried again (ms, default 5000). */
  retryAfterMs?: number;
  /** Injected fetch (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Clock (tests); default performance.now. */
  now?: () => number;
}

export interface EndpointStats {
  url: string;
  model: string;
  inFlight: number;
  /** Requests that ended well here. */
  served: number;
  /** Requests that failed here and were retried elsewhere (or failed the call). */
  failed: number;
  down: boolean;
  lastError?: string;
}

interface Slot {
  engine: OpenAIEngine;
  url: string;
  model: string;
  limit: number;
  inFlight: number;
  served: number;
  failed: number;
  failuresInRow: number;
  downUntil: number;
  lastError?: string;
}

const MAX_BACKOFF_MS = 60_000;

export class FleetEngine implements Engine {
  readonly info: EngineInfo;
  readonly #slots: Slot[];
  readonly #retryAfter: number;
  readonly #now: () => number;
  /** Requests waiting for a free slot, FIFO; each returns true once it has taken one. */
  #waiting: Array<() => boolean> = [];

  constructor(endpoints: FleetEndpoint[], opts: FleetOptions = {}) {
    if (endpoints.length === 0) throw new EngineError('bad-request', 'a fleet needs at least one endpoint {"baseUrl", "model"}');
    this.#slots = endpoints.map((e) => {
      const limit = e.concurrency ?? 1;
      if (!Number.isInteger(limit) || limit < 1) throw new EngineError('bad-request', `${e.baseUrl}: concurrency must be a whole number ≥ 1 (got ${limit})`);
      return {
        engine: new OpenAIEngine({ baseUrl: e.baseUrl, model: e.model, ...(e.apiKey ? { apiKey: e.apiKey } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
        url: normaliseBaseUrl(e.baseUrl),
        model: e.model,
        limit,
        inFlight: 0,
        served: 0,
        failed: 0,
        failuresInRow: 0,
        downUntil: 0,
      };
    });
    this.#retryAfter = opts.retryAfterMs ?? 5000;
    this.#now = opts.now ?? (() => performance.now());
    const models = [...new Set(endpoints.map((e) => e.model))];
    this.info = { kind: 'openai', model: models.join(' | '), backend: 'http', detail: `HTTP fleet · ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}`, supportsLogprobs: true };
  }

  /** Requests the fleet serves at once: the sum of its endpoints' limits. */
  get concurrency(): number {
    return this.#slots.reduce((s, e) => s + e.limit, 0);
  }

  stats(): EndpointStats[] {
    const now = this.#now();
    return this.#slots.map((s) => ({ url: s.url, model: s.model, inFlight: s.inFlight, served: s.served, failed: s.failed, down: s.downUntil > now, ...(s.lastError !== undefined ? { lastError: s.lastError } : {}) }));
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run((e) => e.chat(request, options), options.signal);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run((e) => e.complete(request, options), options.signal);
  }

  async unload(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.engine.unload()));
  }

  /** The least busy endpoint that is up, has a free slot and is not in `tried`; null if none. */
  #pick(tried: Set<Slot>): Slot | null {
    const now = this.#now();
    let best: Slot | null = null;
    for (const s of this.#slots) {
      if (tried.has(s) || s.downUntil > now || s.inFlight >= s.limit) continue;
      if (!best || s.inFlight < best.inFlight || (s.inFlight === best.inFlight && s.served < best.served)) best = s;
    }
    return best;
  }

  /** Takes a slot for a request: at once, after a wait, or null when no untried endpoint is up. */
  async #acquire(tried: Set<Slot>, signal: AbortSignal | undefined): Promise<Slot | null> {
    const take = (s: Slot): Slot => {
      s.inFlight += 1;
      return s;
    };
    const now = this.#now();
    const live = () => this.#slots.some((s) => !tried.has(s) && s.downUntil <= now);
    const first = this.#waiting.length === 0 ? this.#pick(tried) : null;
    if (first) return take(first);
    if (!live()) return null;
    return new Promise<Slot | null>((resolve) => {
      const onAbort = (): void => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        resolve(null);
      };
      const waiter = (): boolean => {
        const s = this.#pick(tried);
        if (s) {
          signal?.removeEventListener('abort', onAbort);
          resolve(take(s));
          return true;
        }
        // Every endpoint it could use went down while it waited.
        if (!this.#slots.some((x) => !tried.has(x) && x.downUntil <= this.#now())) {
          signal?.removeEventListener('abort', onAbort);
          resolve(null);
          return true;
        }
        return false;
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Frees a slot; 'ok' marks the endpoint up, 'failed' marks it down, 'none' (aborted, abandoned) neither. */
  #release(s: Slot, outcome: 'ok' | 'failed' | 'none', error?: string): void {
    s.inFlight -= 1;
    if (outcome === 'ok') {
      s.served += 1;
      s.failuresInRow = 0;
      s.downUntil = 0;
    } else if (outcome === 'failed') {
      s.failed += 1;
      s.failuresInRow += 1;
      s.lastError = error;
      s.downUntil = this.#now() + Math.min(MAX_BACKOFF_MS, this.#retryAfter * 2 ** (s.failuresInRow - 1));
    }
    this.#waiting = this.#waiting.filter((w) => !w());
  }

  async *#run(open: (e: OpenAIEngine) => AsyncIterable<ChatChunk>, signal: AbortSignal | undefined): AsyncGenerator<ChatChunk> {
    const tried = new Set<Slot>();
    /** Text already passed to the caller; a retry must start with it. */
    let given = '';
    for (;;) {
      const slot = await this.#acquire(tried, signal);
      if (signal?.aborted) {
        if (slot) this.#release(slot, 'none');
        yield { type: 'done', finish_reason: 'abort', usage: { prompt_tokens: 0, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 } };
        return;
      }
      if (!slot) throw this.#allDown(tried);
      tried.add(slot);
      let replayed = 0;
      let released = false;
      let diverged = false;
      try {
        for await (const chunk of open(slot.engine)) {
          if (chunk.type === 'delta' && replayed < given.length) {
            // A retry: skip what the caller already has, and make sure it is the same text.
            const n = Math.min(chunk.text.length, given.length - replayed);
            if (chunk.text.slice(0, n) !== given.slice(replayed, replayed + n)) {
              diverged = true;
              throw new EngineError('internal', `${slot.url} answered differently from the endpoint that broke off after ${given.length} characters — the partial answer cannot be finished; run the request again`);
            }
            replayed += n;
            if (n === chunk.text.length) continue;
            const rest = { ...chunk, text: chunk.text.slice(n) };
            delete rest.logprobs;
            given += rest.text;
            replayed = given.length;
            yield rest;
            continue;
          }
          if (chunk.type === 'delta') {
            given += chunk.text;
            replayed = given.length;
          } else {
            released = true;
            this.#release(slot, chunk.finish_reason === 'abort' ? 'none' : 'ok');
          }
          yield chunk;
        }
        return;
      } catch (e) {
        if (released) throw e;
        released = true;
        const retriable = !diverged && e instanceof EngineError && (e.code === 'network' || e.code === 'internal');
        this.#release(slot, retriable ? 'failed' : 'none', e instanceof Error ? e.message : String(e));
        if (!retriable) throw e;
      } finally {
        // The caller stopped reading (break, return), or the stream ended without "done".
        if (!released) this.#release(slot, 'none');
      }
    }
  }

  #allDown(tried: Set<Slot>): EngineError {
    const lines = this.#slots.map((s) => `${s.url} (${s.model}): ${tried.has(s) ? 'failed' : 'down'}${s.lastError ? ` — ${s.lastError}` : ''}`);
    return new EngineError('network', `every endpoint of this fleet is down or failed: ${lines.join('; ')} — start the servers or fix the URLs, then run again`);
  }
}
