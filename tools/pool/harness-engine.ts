/**
 * An Engine (src/lib/engines/engine.ts) backed by real llama.cpp (wllama 3.13 wasm) in headless
 * Chromium, on the bare harness page (tools/pool/harness): how the CLI runs GGUF models with the
 * very engine the pool's results were produced with. Requests are built as the app's WllamaEngine
 * builds them: no prompt-cache reuse (a reused prefix changes the last bits of the logits, and the
 * answer could depend on the previous prompt), `n_probs` for logprobs, the request's own seed (no
 * seed is given at load, which would override it), up to 20 alternatives per token (fewer where wllama cannot report them: see #run), and for a model without a chat template the
 * app's own transcript format (src/lib/engines/prompt.ts). Calls are not streamed: the answer
 * arrives as one delta. An abort is honoured between calls.
 */
import type { Page } from 'playwright-core';
import { EngineError, type CallOptions, type ChatChunk, type ChatRequest, type CompletionRequest, type Engine, type EngineInfo, type FinishReason, type TokenLogprob } from '../../src/lib/engines/engine.ts';
import { FALLBACK_STOP, renderFallbackChat } from '../../src/lib/engines/prompt.ts';
import { withFewerAlternatives, type Delta } from '../../src/lib/engines/alternatives.ts';
import type { Stepper } from '../../src/lib/engines/stepper.ts';
import { WllamaStepper } from '../../src/lib/engines/wllama-stepper.ts';
import { LookaheadStepper } from '../../src/lib/engines/lookahead.ts';
import { readGgufVocabulary } from '../../src/lib/engines/gguf-vocab.ts';
import type { Wllama } from '@wllama/wllama';
import { fileSource } from '../lib/node-source.ts';

interface HarnessAnswer {
  text: string;
  finish: string | null;
  usage: { prompt_tokens?: number; completion_tokens?: number } | null;
  logprobs: Array<{ token: string; logprob: number; top_logprobs?: Array<{ token: string; logprob: number }> }> | null;
  ms: number;
}

/**
 * Loads on one page run one at a time: two wllama instances reading their model blobs at once in
 * one page failed inside wllama ("Invalid typed array length"), seen with the pool's seven models.
 */
let loading: Promise<unknown> = Promise.resolve();

type HarnessWindow = { harness: { load(id: string, url: string, opts: object): Promise<{ chatTemplate: string | null }>; generate(id: string, mode: string, body: object): Promise<HarnessAnswer>; completeRaw(id: string, body: object): Promise<unknown>; unload(id: string): Promise<void> } };

export class HarnessEngine implements Engine {
  readonly info: EngineInfo;
  #loaded: Promise<boolean> | undefined;

  /** `url`: the model's URL on the harness page (./models/<file>). */
  constructor(
    private readonly page: Page,
    private readonly id: string,
    private readonly url: string,
    /** The context llama.cpp is loaded with (n_ctx), in tokens. */
    private readonly contextLength = 256,
    /** The GGUF file on this machine, for the stepping seam's vocabulary; without it the engine cannot step. */
    private readonly file?: string,
  ) {
    this.info = { kind: 'wllama', model: id, backend: 'cpu', detail: 'CPU · wasm · 1 thread (headless Chromium)', supportsLogprobs: true, contextLength };
  }

  /** Loads once; resolves to whether the model has a chat template. */
  #load(): Promise<boolean> {
    this.#loaded ??= (async () => {
      const mine = loading.then(() => this.page.evaluate(([id, url, nCtx]) => (window as unknown as HarnessWindow).harness.load(id, url, { n_ctx: nCtx, load: { seed: undefined } }), [this.id, this.url, this.contextLength] as const));
      loading = mine.catch(() => undefined);
      return !!(await mine).chatTemplate;
    })();
    return this.#loaded;
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run(request, options, true);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run(request, options, false);
  }

  async *#run(request: ChatRequest | CompletionRequest, options: CallOptions, isChat: boolean): AsyncGenerator<ChatChunk> {
    const zero = { prompt_tokens: 0, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 };
    if (options.signal?.aborted) {
      yield { type: 'done', finish_reason: 'abort', usage: zero };
      return;
    }
    const hasTemplate = await this.#load();
    const nProbs = request.top_logprobs ?? (request.logprobs ? 1 : 0);
    let mode: 'chat' | 'complete' = isChat ? 'chat' : 'complete';
    let stop = request.stop ?? [];
    const body: Record<string, unknown> = {};
    if (isChat && !hasTemplate) {
      mode = 'complete';
      body.prompt = renderFallbackChat((request as ChatRequest).messages);
      stop = [...stop, ...FALLBACK_STOP];
    } else if (isChat) body.messages = (request as ChatRequest).messages;
    else body.prompt = (request as CompletionRequest).prompt;
    Object.assign(body, {
      cache_prompt: false,
      max_tokens: request.max_tokens ?? 256,
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.top_p !== undefined && { top_p: request.top_p }),
      ...(request.top_k !== undefined && { top_k: request.top_k }),
      ...(request.seed !== undefined && { seed: request.seed }),
      ...(stop.length > 0 && { stop }),
    });
    // With more than one alternative wllama 3.13 loses some calls ("Invalid typed array length:
    // 1163217991"); the call is then asked again with fewer, as the app's engine does
    // (src/lib/engines/alternatives.ts). The text and the chosen tokens' logprobs do not depend on it.
    const k = nProbs > 0 ? Math.min(20, nProbs) : 0;
    let r: HarnessAnswer | undefined;
    const { page, id } = this;
    const attempt = async function* (n: number): AsyncGenerator<Delta> {
      r = await page.evaluate(([i, m, b]) => (window as unknown as HarnessWindow).harness.generate(i, m, b), [id, mode, { ...body, ...(n > 0 && { n_probs: n }) }] as const);
      const logprobs: TokenLogprob[] = (r.logprobs ?? []).map((lp) => ({ token: lp.token, logprob: lp.logprob, top_logprobs: (lp.top_logprobs ?? []).slice(0, n).map((t) => ({ token: t.token, logprob: t.logprob })) }));
      if (r.text !== '' || logprobs.length > 0) yield n > 0 ? { text: r.text, logprobs } : { text: r.text };
    };
    const deltas: Delta[] = [];
    try {
      for await (const d of withFewerAlternatives(k, attempt, this.id, 'call')) deltas.push(d);
    } catch (e) {
      throw new EngineError('internal', `${this.id}: generation in headless Chromium failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); run the command again`);
    }
    for (const d of deltas) yield { type: 'delta', ...d };
    const logprobs = deltas.flatMap((d) => d.logprobs ?? []);
    r = r!;
    const completion = r.usage?.completion_tokens ?? logprobs.length;
    const finish: FinishReason = options.signal?.aborted ? 'abort' : r.finish === 'length' ? 'length' : 'stop';
    yield { type: 'done', finish_reason: finish, usage: { prompt_tokens: r.usage?.prompt_tokens ?? 0, completion_tokens: completion, time_to_first_token_ms: 0, total_ms: r.ms, tokens_per_second: r.ms > 0 ? (completion * 1000) / r.ms : 0 } };
  }

  #stepper: Promise<Stepper> | undefined;

  /**
   * The stepping seam as the app's wllama engine offers it (src/lib/engines/wllama-stepper.ts with
   * lookahead, lookahead.ts): one non-streamed completion per call on the harness page, token IDs
   * from the GGUF vocabulary read here. Token- and logit-level methods run in experiments through it.
   */
  stepper(): Promise<Stepper> {
    const file = this.file;
    if (file === undefined) return Promise.reject(new EngineError('unsupported', `${this.id}: this harness engine was made without its GGUF path, so it cannot step.`));
    this.#stepper ??= (async () => {
      await this.#load();
      const src = await fileSource(file);
      let vocab;
      try {
        vocab = await readGgufVocabulary(src);
      } finally {
        await src.close();
      }
      const { page, id } = this;
      const facade = { createCompletion: (body: object) => page.evaluate(([i, b]) => (window as unknown as HarnessWindow).harness.completeRaw(i, b), [id, body] as const) };
      const inner = new WllamaStepper(() => facade as unknown as Wllama, vocab, id);
      return new LookaheadStepper(inner.vocabulary, inner, (prefix, topK, count) => inner.ahead(prefix, topK, count));
    })();
    return this.#stepper;
  }

  async unload(): Promise<void> {
    if (!this.#loaded) return;
    this.#loaded = undefined;
    await this.page.evaluate((id) => (window as unknown as HarnessWindow).harness.unload(id), this.id);
  }
}
