/**
 * OpenAI-compatible HTTP engine: llama-server, Ollama, vLLM, LM Studio… — how a user who
 * outgrows the tab points Chorus at a real serving cluster.
 *
 * Streams Server-Sent Events from POST {base}/v1/chat/completions and {base}/v1/completions
 * (OpenAI API reference, "Create chat completion", stream: true). Logprobs come in two shapes:
 * chat's `logprobs.content[] = {token, logprob, top_logprobs[]}` (also what llama-server sends
 * for /v1/completions) and the legacy completions form `{tokens[], token_logprobs[],
 * top_logprobs: {token: logprob}[]}`; both map to TokenLogprob. Usage comes from the final
 * chunk (`stream_options.include_usage`) when the server sends it, else from counting.
 *
 * The API key is held by this object only (the registry keeps it in memory unless the user
 * chooses to save it). No DOM: runs in the page, in workers and in Node.
 */
import {
  EngineError,
  type CallOptions,
  type ChatChunk,
  type ChatRequest,
  type CompletionRequest,
  type Engine,
  type EngineInfo,
  type FinishReason,
  type TokenLogprob,
} from './engine.ts';
import { SSEParser } from './sse.ts';
import { OpenAIStepper } from './openai-stepper.ts';
import type { Stepper } from './stepper.ts';

export interface OpenAIEngineConfig {
  /** e.g. "http://127.0.0.1:8080" or "http://localhost:11434/v1" (a trailing /v1 is accepted). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Injected fetch (tests, proxies); default globalThis.fetch. */
  fetch?: typeof fetch;
}

interface ChatLogprob {
  token: string;
  logprob: number;
  top_logprobs?: { token: string; logprob: number }[];
}
interface StreamChoice {
  delta?: { content?: string | null };
  text?: string;
  finish_reason?: string | null;
  logprobs?: {
    content?: ChatLogprob[] | null;
    tokens?: string[];
    token_logprobs?: number[];
    top_logprobs?: (Record<string, number> | null)[];
  } | null;
}
interface StreamChunk {
  choices?: StreamChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

export function normaliseBaseUrl(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new EngineError('bad-request', `"${baseUrl}" is not a URL; give the server's address, e.g. http://127.0.0.1:8080.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new EngineError('bad-request', `${baseUrl}: only http and https servers are supported.`);
  }
  return u.href.replace(/\/+$/, '').replace(/\/v1$/, '');
}

export class OpenAIEngine implements Engine {
  readonly info: EngineInfo;
  readonly #base: string;
  readonly #model: string;
  #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  #unloaded = false;

  constructor(cfg: OpenAIEngineConfig) {
    this.#base = normaliseBaseUrl(cfg.baseUrl);
    this.#model = cfg.model;
    this.#apiKey = cfg.apiKey;
    this.#fetch = cfg.fetch ?? globalThis.fetch.bind(globalThis);
    this.info = { kind: 'openai', model: cfg.model, backend: 'http', detail: `HTTP · ${new URL(this.#base).host}`, supportsLogprobs: true };
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { messages, logprobs, top_logprobs, ...rest } = request;
    const body: Record<string, unknown> = { ...this.#common(rest), messages };
    if (logprobs || top_logprobs) {
      body.logprobs = true;
      body.top_logprobs = top_logprobs ?? 0;
    }
    return this.#stream('/v1/chat/completions', body, top_logprobs ?? 0, !!(logprobs || top_logprobs), options.signal);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { prompt, logprobs, top_logprobs, ...rest } = request;
    const body: Record<string, unknown> = { ...this.#common(rest), prompt };
    // Legacy completions take an integer: how many alternatives (the chosen token is always given).
    if (logprobs || top_logprobs) body.logprobs = Math.max(1, top_logprobs ?? 1);
    return this.#stream('/v1/completions', body, top_logprobs ?? 0, !!(logprobs || top_logprobs), options.signal);
  }

  #stepper: Promise<Stepper> | null = null;

  /** Token-by-token access over llama-server's shapes (openai-stepper.ts); opened once. */
  stepper(): Promise<Stepper> {
    if (this.#unloaded) return Promise.reject(new EngineError('unloaded', `${this.#model} was unloaded — add the server again to use it.`));
    this.#stepper ??= OpenAIStepper.open({ base: this.#base, model: this.#model, fetch: this.#fetch, headers: this.#apiKey ? { authorization: `Bearer ${this.#apiKey}` } : {} });
    // A failed open is not kept: the next call tries again (the server may have been down).
    this.#stepper.catch(() => (this.#stepper = null));
    return this.#stepper;
  }

  async unload(): Promise<void> {
    this.#unloaded = true;
    this.#apiKey = undefined;
  }

  #common(p: Omit<ChatRequest, 'messages' | 'logprobs' | 'top_logprobs'>): Record<string, unknown> {
    return {
      model: this.#model,
      stream: true,
      stream_options: { include_usage: true },
      ...(p.temperature !== undefined && { temperature: p.temperature }),
      ...(p.top_p !== undefined && { top_p: p.top_p }),
      ...(p.top_k !== undefined && { top_k: p.top_k }),
      ...(p.seed !== undefined && { seed: p.seed }),
      ...(p.max_tokens !== undefined && { max_tokens: p.max_tokens }),
      ...(p.stop?.length && { stop: p.stop }),
    };
  }

  async *#stream(path: string, body: Record<string, unknown>, k: number, wantLogprobs: boolean, signal: AbortSignal | undefined): AsyncGenerator<ChatChunk> {
    if (this.#unloaded) throw new EngineError('unloaded', `${this.#model} was unloaded — add the server again to use it.`);
    const url = this.#base + path;
    const t0 = performance.now();
    let tFirst = 0;
    let count = 0;
    let promptTokens = 0;
    let completionTokens: number | undefined;
    let finish: FinishReason = 'stop';
    const end = (f: FinishReason): ChatChunk => {
      const t = performance.now();
      const first = tFirst || t;
      const n = completionTokens ?? count;
      return {
        type: 'done',
        finish_reason: f,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: n,
          time_to_first_token_ms: first - t0,
          total_ms: t - t0,
          tokens_per_second: n > 1 && t > first ? ((n - 1) * 1000) / (t - first) : 0,
        },
      };
    };
    if (signal?.aborted) {
      yield end('abort');
      return;
    }
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(this.#apiKey && { authorization: `Bearer ${this.#apiKey}` }) },
        body: JSON.stringify(body),
        ...(signal && { signal }),
      });
    } catch (err) {
      if (signal?.aborted) {
        yield end('abort');
        return;
      }
      throw new EngineError('network', `could not reach ${url} (${err instanceof Error ? err.message : String(err)}) — is the server running, and does it allow cross-origin requests from this page (CORS)?`);
    }
    if (!res.ok || !res.body) {
      const detail = await res.text().then((t) => serverMessage(t), () => '');
      if (res.status === 401 || res.status === 403) throw new EngineError('bad-request', `${url} refused the request (${res.status}${detail}) — check the API key.`);
      if (res.status === 404) throw new EngineError('bad-request', `${url} was not found (404${detail}) — check the base URL and that the server speaks the OpenAI API.`);
      throw new EngineError(res.status >= 500 ? 'network' : 'bad-request', `${url} answered ${res.status}${detail} — check the model name "${this.#model}" and the request.`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const sse = new SSEParser();
    const onAbort = (): void => void reader.cancel().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let finished = false;
      while (!finished) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          if (signal?.aborted) break;
          throw new EngineError('network', `the stream from ${url} broke off (${err instanceof Error ? err.message : String(err)}) — try again.`);
        }
        if (signal?.aborted) break;
        const events = r.done ? sse.end() : sse.push(decoder.decode(r.value, { stream: true }));
        for (const data of events) {
          if (data.trim() === '[DONE]') {
            finished = true;
            break;
          }
          let chunk: StreamChunk;
          try {
            chunk = JSON.parse(data) as StreamChunk;
          } catch {
            throw new EngineError('internal', `${url} sent an event that is not JSON: ${data.slice(0, 80)}`);
          }
          if (chunk.error) throw new EngineError('internal', `${url}: ${chunk.error.message ?? 'server error'} — see the server's log.`);
          if (chunk.usage) {
            promptTokens = chunk.usage.prompt_tokens ?? promptTokens;
            completionTokens = chunk.usage.completion_tokens ?? completionTokens;
          }
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const text = choice.delta?.content ?? choice.text ?? '';
          const lps = wantLogprobs ? mapLogprobs(choice.logprobs, k) : [];
          if (text || lps.length) {
            if (count === 0) tFirst = performance.now();
            count += lps.length || 1;
            yield lps.length ? { type: 'delta', text, logprobs: lps } : { type: 'delta', text };
          }
          if (choice.finish_reason) finish = choice.finish_reason === 'length' ? 'length' : 'stop';
        }
        if (r.done) break;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      void reader.cancel().catch(() => undefined);
    }
    yield end(signal?.aborted ? 'abort' : finish);
  }
}

function mapLogprobs(lp: StreamChoice['logprobs'], k: number): TokenLogprob[] {
  if (!lp) return [];
  if (lp.content) {
    return lp.content.map((c) => ({ token: c.token, logprob: c.logprob, top_logprobs: (c.top_logprobs ?? []).slice(0, k).map((t) => ({ token: t.token, logprob: t.logprob })) }));
  }
  if (lp.tokens && lp.token_logprobs) {
    return lp.tokens.map((token, i) => ({
      token,
      logprob: lp.token_logprobs![i] ?? Number.NEGATIVE_INFINITY,
      top_logprobs: Object.entries(lp.top_logprobs?.[i] ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([t, l]) => ({ token: t, logprob: l })),
    }));
  }
  return [];
}

function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    return m ? `: ${m}` : '';
  } catch {
    return text ? `: ${text.slice(0, 120)}` : '';
  }
}
