/**
 * wllama engine: llama.cpp compiled to wasm (GGUF models), behind the Chorus Engine interface.
 *
 * This object lives inside Chorus's engine worker (workers/engine.worker.ts): one worker per
 * loaded model, nothing heavy on the page. wllama itself starts one more worker from a blob URL
 * for the wasm main loop (llama-server's server-context) and, when threads > 1, its pthreads;
 * our CSP allows that (worker-src 'self' blob:). The same class also runs directly on a page
 * (the bench's "bare" side uses plain Wllama instead, to measure our overhead).
 *
 * Facts this relies on (wllama 3.13, checked in headless Chromium):
 * - OpenAI's `logprobs: N` is ignored; llama.cpp's `n_probs: k` yields
 *   `choices[0].logprobs.content[i] = {token, logprob, top_logprobs[]}` per streamed chunk, the
 *   alternatives being pre-sampling probabilities.
 * - A request's `seed` is honoured unless a seed was given at load time (wllama then overrides
 *   it), so we never pass one at load.
 * - Models without `tokenizer.chat_template` would get llama-server's ChatML fallback, whose
 *   special tokens a template-less model has never seen; we render such chats with our own
 *   documented transcript format instead (prompt.ts).
 * - A file llama.cpp cannot really use may still "load": we check the vocabulary size against
 *   the GGUF header and fail loudly.
 */
import { softwareAdapterName, softwareAdapterNote } from './adapter.ts';
import { Wllama, WllamaAbortError, type LoadModelParams } from '@wllama/wllama';
import {
  EngineError,
  doneChunk as done,
  type CallOptions,
  type ChatChunk,
  type ChatRequest,
  type CompletionRequest,
  type Engine,
  type EngineInfo,
  type FinishReason,
  type GenerationParams,
  type TokenLogprob,
} from './engine.ts';
import { FALLBACK_STOP, renderFallbackChat } from './prompt.ts';
import { withFewerAlternatives, type Delta } from './alternatives.ts';
import { applyWllamaBuild, chooseWllamaBuild, wasmFeatures } from './wllama-build.ts';
import { blobSource } from '../merge/gguf/index.ts';
import { readGgufVocabulary } from './gguf-vocab.ts';
import type { Stepper } from './stepper.ts';
import { WllamaStepper } from './wllama-stepper.ts';

export type GpuPreference = 'auto' | 'off';

export interface WllamaLoadOptions {
  /** URL of wllama.wasm as the bundler emitted it. */
  wasmUrl: string;
  /** Name the UI shows (file name). */
  modelName: string;
  /** llama.cpp threads (see threads.ts for the rule that picks it). */
  nThreads: number;
  /** 'auto': offload all layers to WebGPU when a hardware adapter exists; 'off': CPU only. */
  gpu?: GpuPreference;
  /** Context size; default the model's training context, at most 4096. */
  nCtx?: number;
  /** Parallel sequences (llama-server slots); requests beyond it wait. Default 1. */
  nParallel?: number;
  /** Vocabulary size from the GGUF header; a mismatch after load means llama.cpp misread the file. */
  expectedVocab?: number;
  /** Context length from the GGUF header. */
  contextLength?: number;
}

interface RawLogprob {
  token: string;
  logprob: number;
  top_logprobs?: { token: string; logprob: number }[];
}
interface RawChoice {
  text?: string;
  delta?: { content?: string | null };
  /** A non-streamed chat reply (stream: false). */
  message?: { content?: string | null };
  logprobs?: { content?: RawLogprob[] } | null;
  finish_reason?: string | null;
}
interface RawChunk {
  choices?: RawChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  timings?: { prompt_n?: number; predicted_n?: number; predicted_per_second?: number };
}

/** The little of WebGPU we touch (the project does not pull in @webgpu/types). */
export interface MinimalGpu {
  requestAdapter(): Promise<{
    info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
    features: { has(name: string): boolean };
  } | null>;
}

export function webGpuOf(scope: unknown): MinimalGpu | undefined {
  return (scope as { navigator?: { gpu?: MinimalGpu } }).navigator?.gpu;
}

/** Picks WebGPU only for a real (non-software) adapter: SwiftShader is slower than wasm SIMD. */
export async function detectWebGpu(): Promise<{ ok: boolean; reason: string }> {
  const gpu = webGpuOf(globalThis);
  if (!gpu) return { ok: false, reason: 'no WebGPU in this browser' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { ok: false, reason: 'no WebGPU adapter' };
    const info = adapter.info;
    const soft = softwareAdapterName(info);
    if (soft !== null) return { ok: false, reason: softwareAdapterNote(soft) };
    return { ok: true, reason: `${info.vendor || 'GPU'} ${info.architecture || ''}`.trim() };
  } catch (err) {
    return { ok: false, reason: `WebGPU adapter request failed: ${String(err)}` };
  }
}

export class WllamaEngine implements Engine {
  readonly info: EngineInfo;
  #wllama: Wllama | null;
  readonly #hasTemplate: boolean;
  readonly #blob: Blob;
  #stepper: Promise<WllamaStepper> | null = null;

  private constructor(wllama: Wllama, info: EngineInfo, hasTemplate: boolean, blob: Blob) {
    this.#wllama = wllama;
    this.info = info;
    this.#hasTemplate = hasTemplate;
    this.#blob = blob;
  }

  /** Loads a GGUF blob (File, OPFS file, downloaded Blob). */
  static async load(blob: Blob, opts: WllamaLoadOptions): Promise<WllamaEngine> {
    const gpu = opts.gpu === 'off' ? { ok: false, reason: 'CPU chosen' } : await detectWebGpu();
    const wllama = new Wllama({ default: opts.wasmUrl }, { suppressNativeLog: true });
    const build = chooseWllamaBuild(wasmFeatures());
    applyWllamaBuild(wllama, build);
    const nCtx = opts.nCtx ?? Math.min(opts.contextLength ?? 2048, 4096);
    const nParallel = Math.max(1, opts.nParallel ?? 1);
    const params: LoadModelParams = {
      n_ctx: nCtx * nParallel,
      n_threads: Math.max(1, opts.nThreads),
      n_gpu_layers: gpu.ok ? 999 : 0,
      n_parallel: nParallel,
    };
    try {
      await wllama.loadModel([blob], params);
    } catch (err) {
      await wllama.exit().catch(() => undefined);
      throw new EngineError(
        'load-failed',
        `${opts.modelName}: llama.cpp could not load this file (${errorText(err)}). Check that it is a complete GGUF model of an architecture llama.cpp supports, or re-import it.`,
      );
    }
    const ctx = wllama.getLoadedContextInfo();
    if (!(ctx.n_vocab > 0) || (opts.expectedVocab !== undefined && ctx.n_vocab !== opts.expectedVocab)) {
      await wllama.exit().catch(() => undefined);
      throw new EngineError(
        'invalid-model',
        `${opts.modelName}: llama.cpp loaded a vocabulary of ${ctx.n_vocab} tokens but the file's header declares ${opts.expectedVocab ?? 'a non-empty one'} — the file is damaged or not supported; re-import it.`,
      );
    }
    const layers = ctx.n_layer;
    const threads = wllama.getNumThreads();
    const info: EngineInfo = {
      kind: 'wllama',
      model: opts.modelName,
      backend: gpu.ok ? 'webgpu' : 'cpu',
      detail: gpu.ok
        ? `WebGPU · ${layers}/${layers} layers (${gpu.reason}) · ${build.label}`
        : `CPU · wasm · ${threads} thread${threads === 1 ? '' : 's'}${opts.gpu === 'off' ? '' : ` (${gpu.reason})`} · ${build.label}`,
      supportsLogprobs: true,
      contextLength: ctx.n_ctx / nParallel,
    };
    return new WllamaEngine(wllama, info, !!wllama.getChatTemplate(), blob);
  }

  get hasChatTemplate(): boolean {
    return this.#hasTemplate;
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    if (this.#hasTemplate) return this.#run('chat', request, request.stop ?? [], options.signal);
    const prompt = renderFallbackChat(request.messages);
    const { messages: _messages, ...params } = request;
    return this.#run('complete', { ...params, prompt }, [...(request.stop ?? []), ...FALLBACK_STOP], options.signal);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run('complete', request, request.stop ?? [], options.signal);
  }

  /** Token-by-token access (wllama-stepper.ts); the vocabulary is read from the GGUF header once. */
  stepper(): Promise<WllamaStepper> {
    this.#stepper ??= readGgufVocabulary(blobSource(this.#blob, this.info.model)).then(
      (vocab) =>
        new WllamaStepper(
          () => {
            if (!this.#wllama) throw new EngineError('unloaded', `${this.info.model} is unloaded — load it again before stepping.`);
            return this.#wllama;
          },
          vocab,
          this.info.model,
        ),
    );
    return this.#stepper;
  }

  async unload(): Promise<void> {
    const w = this.#wllama;
    this.#wllama = null;
    await w?.exit();
  }

  async *#run(
    mode: 'chat' | 'complete',
    request: (ChatRequest | CompletionRequest) & GenerationParams,
    stop: string[],
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ChatChunk> {
    const wllama = this.#wllama;
    if (!wllama) throw new EngineError('unloaded', `${this.info.model} is unloaded — load it again before generating.`);
    const t0 = performance.now();
    let tFirst = 0;
    let count = 0;
    let promptTokens = 0;
    let finish: FinishReason = 'stop';
    let timedCount: number | undefined;
    const nProbs = request.top_logprobs ?? (request.logprobs ? 1 : 0);
    const wantLogprobs = !!request.logprobs || nProbs > 0;
    const k = wantLogprobs ? Math.max(1, Math.min(20, nProbs)) : 0;
    // With more than one alternative the call may be replayed with fewer (alternatives.ts); a
    // sampled request without a seed gets one here, so that the replay draws the same tokens.
    const seed = request.seed ?? (k > 1 && request.temperature !== 0 ? randomSeed() : undefined);
    // stream: false — one non-streamed reply (the whole answer as one delta): no per-token messages
    // from llama.cpp's worker, for callers that show no tokens as they come (the runner).
    const whole = request.stream === false;
    const body: Record<string, unknown> = {
      stream: !whole,
      // llama-server reuses the KV cache of the slot's previous prompt by default. A reused
      // prefix is computed in other batch shapes than a fresh one, so its logits differ in the
      // last bits, and at temperature > 0 that can flip a sampled token: the same seed would not
      // give the same run. Prompts here are short; recomputing them keeps runs reproducible.
      cache_prompt: false,
      max_tokens: request.max_tokens ?? 256,
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.top_p !== undefined && { top_p: request.top_p }),
      ...(request.top_k !== undefined && { top_k: request.top_k }),
      ...(seed !== undefined && { seed }),
      ...(stop.length > 0 && { stop }),
      ...(signal && { abortSignal: signal }),
    };
    if (signal?.aborted) {
      yield done('abort', 0, 0, t0, t0);
      return;
    }
    // One call to wllama with `n` alternatives per token; what it learns of usage and finish goes
    // to the variables above (a replay overwrites them with the same values).
    const attempt = async function* (n: number): AsyncGenerator<Delta> {
      const req = { ...body, ...(n > 0 && { n_probs: n }) };
      const stream =
        mode === 'chat'
          ? await wllama.createChatCompletion({ ...req, messages: (request as ChatRequest).messages } as never)
          : await wllama.createCompletion({ ...req, prompt: (request as CompletionRequest).prompt } as never);
      const raws: AsyncIterable<RawChunk> | RawChunk[] = whole ? [stream as unknown as RawChunk] : (stream as unknown as AsyncIterable<RawChunk>);
      for await (const raw of raws) {
        const choice = raw.choices?.[0];
        const text = choice?.delta?.content ?? choice?.message?.content ?? choice?.text ?? '';
        // A whole answer gives what its stream gives. They differ in one place: a non-streamed *chat*
        // reply lists the end-of-generation token (token "", logprob 0), which the chat stream never
        // sends (a completion stream does, and so does its non-streamed reply; measured on wllama
        // 3.13, tests/e2e/nprobs.spec.ts). So a whole chat answer drops that entry.
        const lps = whole && mode === 'chat' ? withoutEmptyTail(choice?.logprobs?.content) : choice?.logprobs?.content;
        if (text || (lps && lps.length)) yield wantLogprobs && lps ? { text, logprobs: lps.map((lp) => mapLogprob(lp, Math.min(n, nProbs))) } : { text };
        if (choice?.finish_reason) finish = choice.finish_reason === 'length' ? 'length' : 'stop';
        if (raw.usage?.prompt_tokens !== undefined) promptTokens = raw.usage.prompt_tokens;
        if (raw.timings?.prompt_n !== undefined && promptTokens === 0) promptTokens = raw.timings.prompt_n;
        if (raw.timings?.predicted_n !== undefined) timedCount = raw.timings.predicted_n;
      }
    };
    try {
      for await (const d of withFewerAlternatives(k, attempt, this.info.model, whole ? 'call' : 'token')) {
        if (count === 0) tFirst = performance.now();
        count += d.logprobs?.length || 1;
        yield { type: 'delta', ...d };
      }
    } catch (err) {
      if (err instanceof WllamaAbortError || signal?.aborted) {
        yield done('abort', promptTokens, count, t0, tFirst);
        return;
      }
      if (err instanceof EngineError) throw err;
      const why = errorText(err);
      // llama-server's "the request exceeds the available context size, try increasing it": the
      // context is fixed at load (the header's length), so name what does shrink a request.
      if (/context size|context length|exceeds the (available )?context/i.test(why)) {
        throw new EngineError(
          'bad-request',
          `${this.info.model}: the prompt and max tokens do not fit the ${this.info.contextLength ?? ''}-token context (${why}) — lower max tokens, use fewer agents or rounds, or shorten the prompt; reloading does not help.`,
        );
      }
      throw new EngineError('internal', `${this.info.model}: generation failed (${why}). Try again; if it keeps failing, reload the model.`);
    }
    if (signal?.aborted) finish = 'abort';
    yield done(finish, promptTokens, timedCount ?? count, t0, tFirst);
  }
}

/** `lps` without trailing entries for tokens with no text (the end-of-generation token). */
export function withoutEmptyTail<T extends { token: string }>(lps: T[] | undefined): T[] | undefined {
  if (!lps) return lps;
  let end = lps.length;
  while (end > 0 && lps[end - 1]!.token === '') end--;
  return end === lps.length ? lps : lps.slice(0, end);
}

function mapLogprob(lp: RawLogprob, k: number): TokenLogprob {
  return {
    token: lp.token,
    logprob: lp.logprob,
    top_logprobs: (lp.top_logprobs ?? []).slice(0, k).map((t) => ({ token: t.token, logprob: t.logprob })),
  };
}

/** A 31-bit seed, never llama.cpp's "random seed" value 0xFFFFFFFF (as callSeed in strategies/common.ts). */
function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
