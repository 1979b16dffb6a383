/**
 * The one engine interface of Chorus. OpenAI-shaped: a request carries `messages` (chat) or
 * `prompt` (completion) and the usual sampling fields; the answer is an async stream of deltas.
 * Every engine (wllama, web-llm, OpenAI-compatible HTTP) and every worker proxy implements it,
 * and strategies depend on nothing else.
 *
 * No DOM here: this file runs in workers, in the page and in Node.
 */

import type { Stepper } from './stepper.ts';

export type Role = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** Sampling and stopping fields shared by chat and completion (OpenAI names). */
export interface GenerationParams {
  /** 0 means greedy. */
  temperature?: number;
  top_p?: number;
  top_k?: number;
  /** Same seed, same request, same engine → same output. */
  seed?: number;
  max_tokens?: number;
  stop?: string[];
  /** Ask for the chosen token's log-probability on each delta. */
  logprobs?: boolean;
  /** How many alternatives (pre-sampling) to report per token, 0–20. Implies `logprobs`. */
  top_logprobs?: number;
  /**
   * `false`: the caller does not show tokens as they come, so the engine may deliver the whole
   * answer as one delta at the end (same text, same logprobs). wllama then asks llama.cpp for a
   * non-streamed reply, which saves its per-token messages between threads (the experiment runner
   * does this: README, Speed). Engines without such a mode stream as usual. Default: stream.
   */
  stream?: boolean;
}

export interface ChatRequest extends GenerationParams {
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationParams {
  prompt: string;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

/** One generated token with its log-probability (natural log) and the alternatives. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top_logprobs: TopLogprob[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Milliseconds from the request to the first token. */
  time_to_first_token_ms: number;
  /** Milliseconds from the request to the end of the stream. */
  total_ms: number;
  /** completion_tokens per second of decoding (after the first token). */
  tokens_per_second: number;
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** What an engine streams: text deltas (with logprobs when asked), then exactly one `done`. */
export type ChatChunk =
  | {
      type: 'delta';
      text: string;
      logprobs?: TokenLogprob[];
      /** Something the engine had to change from the request for this delta on, in words (a trace warning). */
      note?: string;
    }
  | { type: 'done'; finish_reason: FinishReason; usage: Usage };

export interface CallOptions {
  /** Aborting ends the stream promptly with finish_reason 'abort' (no error is thrown). */
  signal?: AbortSignal;
  /**
   * Who is asking (an agent id). Engines shared by several agents queue requests fairly:
   * round-robin between callers, FIFO within one (src/lib/engines/queue.ts). Default "default".
   */
  caller?: string;
}

export type EngineKind = 'wllama' | 'webllm' | 'openai' | 'onnx';

/** Where the work runs; the UI shows it ("WebGPU", "CPU · 1 thread", "HTTP"). */
export interface EngineInfo {
  kind: EngineKind;
  /** Model id as the engine knows it (file name, MLC model id, server model name). */
  model: string;
  backend: 'webgpu' | 'cpu' | 'http';
  /** Human-readable detail, e.g. "wasm · 1 thread" or "WebGPU · 5/5 layers". */
  detail: string;
  /** Whether `logprobs`/`top_logprobs` are honoured. */
  supportsLogprobs: boolean;
  contextLength?: number;
}

export interface Engine {
  readonly info: EngineInfo;
  chat(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk>;
  complete(request: CompletionRequest, options?: CallOptions): AsyncIterable<ChatChunk>;
  /** Frees the model; later calls fail with EngineError('unloaded'). */
  unload(): Promise<void>;
  /**
   * Token-by-token access for token- and logit-level methods (src/lib/engines/stepper.ts);
   * absent on engines that cannot step.
   */
  stepper?(): Promise<Stepper>;
}

export type EngineErrorCode =
  | 'load-failed'
  | 'invalid-model'
  | 'unsupported'
  | 'no-webgpu'
  | 'device-lost'
  | 'network'
  | 'unloaded'
  | 'crashed'
  | 'quota'
  | 'aborted'
  | 'bad-request'
  | 'internal';

/** Errors that cross worker boundaries as data and are rebuilt here; the message says what to do. */
export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** Collects a stream into its text, logprobs and usage: the non-streaming form of a call. */
export async function collect(stream: AsyncIterable<ChatChunk>): Promise<{
  text: string;
  logprobs: TokenLogprob[];
  finish_reason: FinishReason;
  usage: Usage;
}> {
  let text = '';
  const logprobs: TokenLogprob[] = [];
  for await (const chunk of stream) {
    if (chunk.type === 'delta') {
      text += chunk.text;
      if (chunk.logprobs) logprobs.push(...chunk.logprobs);
    } else {
      return { text, logprobs, finish_reason: chunk.finish_reason, usage: chunk.usage };
    }
  }
  throw new EngineError('internal', 'engine stream ended without a final "done" chunk');
}

/** The final chunk of a generation, with its usage timed from `t0` (request) and `tFirst` (first token; 0 = none). */
export function doneChunk(finish: FinishReason, promptTokens: number, completionTokens: number, t0: number, tFirst: number): ChatChunk {
  const end = performance.now();
  const first = tFirst || end;
  const decodeMs = end - first;
  return {
    type: 'done',
    finish_reason: finish,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      time_to_first_token_ms: first - t0,
      total_ms: end - t0,
      // Decoding rate after the first token (the first one also pays for the prompt).
      tokens_per_second: completionTokens > 1 && decodeMs > 0 ? ((completionTokens - 1) * 1000) / decodeMs : 0,
    },
  };
}

/** The one chunk of a request cancelled before it reached a model (it waited in a queue): no tokens, no time. */
export function abortedBeforeStart(): ChatChunk {
  return {
    type: 'done',
    finish_reason: 'abort',
    usage: { prompt_tokens: 0, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 },
  };
}
