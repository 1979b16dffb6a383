/**
 * A scripted engine for unit tests of the strategies' pure decision logic: it implements the real
 * Engine interface, but its "model" is a function from the request to a list of tokens. Tests that
 * use it say "scripted" in their names. The real wllama engine is exercised in the browser e2e.
 */
import type { ChatChunk, ChatRequest, CallOptions, CompletionRequest, Engine, EngineInfo, TokenLogprob } from '../../src/lib/engines/engine.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';

export interface ScriptedToken {
  text: string;
  /** Natural-log probability; omitted → the engine reports no logprobs for it. */
  logprob?: number;
  /** The alternatives the engine reports for this token (default: the token alone). */
  top?: { token: string; logprob: number }[];
}

export interface ScriptedCall {
  request: ChatRequest;
  caller: string | undefined;
  /** Time (ms, performance.now) the call started and ended. */
  started: number;
  ended?: number;
  finish?: string;
}

export type Script = (request: ChatRequest, callIndex: number) => ScriptedToken[] | Error;

export interface ScriptedOptions {
  /** Milliseconds between tokens (real timers). */
  tokenDelayMs?: number;
  supportsLogprobs?: boolean;
  /** When true the engine ignores aborts (to test runStrategy's own cancel deadline). */
  ignoreAbort?: boolean;
  /** The context length the engine reports (EngineInfo.contextLength); absent = unknown. */
  contextLength?: number;
}

/** Splits text into word tokens, each with the same logprob. */
export function words(text: string, logprob?: number): ScriptedToken[] {
  const parts = text.match(/\S+\s*|\s+/g) ?? [];
  return parts.map((p) => (logprob === undefined ? { text: p } : { text: p, logprob }));
}

export class ScriptedEngine implements Engine {
  readonly info: EngineInfo;
  readonly calls: ScriptedCall[] = [];
  private readonly delay: number;

  constructor(
    private readonly script: Script,
    private readonly opts: ScriptedOptions = {},
  ) {
    this.delay = opts.tokenDelayMs ?? 0;
    this.info = {
      kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted test engine', supportsLogprobs: opts.supportsLogprobs ?? true,
      ...(opts.contextLength !== undefined && { contextLength: opts.contextLength }),
    };
  }

  /** Calls in flight right now. */
  get active(): number {
    return this.calls.filter((c) => c.ended === undefined).length;
  }

  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const call: ScriptedCall = { request, caller: options.caller, started: performance.now() };
    const index = this.calls.length;
    this.calls.push(call);
    const out = this.script(request, index);
    try {
      if (out instanceof Error) {
        await sleep(this.delay);
        throw out;
      }
      let n = 0;
      for (const tok of out) {
        if (n >= (request.max_tokens ?? Infinity)) break;
        await sleep(this.delay);
        if (options.signal?.aborted && !this.opts.ignoreAbort) {
          call.finish = 'abort';
          yield { type: 'done', finish_reason: 'abort', usage: usage(10, n, call.started) };
          return;
        }
        const logprobs: TokenLogprob[] | undefined =
          request.logprobs && tok.logprob !== undefined ? [{ token: tok.text, logprob: tok.logprob, top_logprobs: tok.top ?? [{ token: tok.text, logprob: tok.logprob }] }] : undefined;
        yield logprobs ? { type: 'delta', text: tok.text, logprobs } : { type: 'delta', text: tok.text };
        n += 1;
      }
      call.finish = n < out.length ? 'length' : 'stop';
      yield { type: 'done', finish_reason: call.finish === 'length' ? 'length' : 'stop', usage: usage(10, n, call.started) };
    } finally {
      call.ended = performance.now();
    }
  }

  /** Completions, recorded apart (`completions`), scripted as a chat of one user message holding the raw prompt. */
  readonly completions: CompletionRequest[] = [];
  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    this.completions.push(request);
    const { prompt, ...params } = request;
    return this.chat({ ...params, messages: [{ role: 'user', content: prompt }] }, options);
  }

  async unload(): Promise<void> {}
}

function usage(prompt: number, completion: number, started: number) {
  const total = performance.now() - started;
  return { prompt_tokens: prompt, completion_tokens: completion, time_to_first_token_ms: 0, total_ms: total, tokens_per_second: total > 0 ? (completion * 1000) / total : 0 };
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** n agents a1…an sharing `engine`, like agents sharing one loaded model. */
export function agentsOn(engine: Engine, n: number, temperature = 0.7): Agent[] {
  return Array.from({ length: n }, (_, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature }));
}

/** The last user message of a request (what the agent was asked). */
export function lastUser(request: ChatRequest): string {
  return [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
}
