/**
 * ONNX engine: the pool's llama models exported to ONNX (tools/onnx/export.py: KV cache in and
 * out, opset 17, f32) run by onnxruntime-web on its WebGPU execution provider, or its wasm one.
 * It is the engine that runs on WebGPU here (wllama's WebGPU backend needs `shader-f16`, which
 * SwiftShader lacks) and the one with exact full logits: `stepper()` gives the whole next-token
 * distribution, where wllama gives top-K.
 *
 * This object lives in its own worker (workers/onnx.worker.ts), one per loaded model; the page
 * sees it through src/app/onnx-engine.ts. The tokenizer is Chorus's (tokenizer.ts, token for token
 * with llama.cpp), prompts are rendered as the wllama engine's are (prompt.ts), sampling is
 * sampling.ts.
 *
 * Determinism: every chat/completion starts a fresh sequence (the prompt in one forward pass, then
 * one token per pass), so a request gives the same tokens whatever ran before, as wllama's
 * `cache_prompt: false` does. A stepper keeps its own sequence and reuses its KV cache for the
 * longest prefix shared with its previous step, so a step costs the new tokens only; `forwards`
 * records every pass's length (tests check the reuse). Passes run one at a time (one lock per
 * model): ORT sessions are not reentrant.
 *
 * No DOM here: this file runs in workers and in Node (tests: onnxruntime-web's wasm build).
 */
import type * as Ort from 'onnxruntime-web';
import { getMeta, type GGUFFile } from '../merge/gguf/index.ts';
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
import { FALLBACK_STOP, renderFallbackChat, renderPoolChat } from './prompt.ts';
import { Sampler, logSoftmax, topIndices } from './sampling.ts';
import type { NextToken, StepOptions, Stepper, TokenCandidate, VocabularyInfo } from './stepper.ts';
import { SpmTokenizer, vocabularyFingerprint } from './tokenizer.ts';

export type OnnxProvider = 'webgpu' | 'wasm';

/** What the graph's inputs and outputs look like, from the GGUF header the ONNX file was exported from. */
export interface OnnxModelShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  contextLength: number;
}

export function shapeOfGGUF(file: GGUFFile, name: string): OnnxModelShape {
  const n = (key: string): number => {
    const v = getMeta(file, key);
    const x = typeof v === 'bigint' ? Number(v) : v;
    if (typeof x !== 'number' || !(x > 0)) throw new EngineError('invalid-model', `${name}: the GGUF header has no ${key}; the ONNX engine runs llama-architecture models only — use the wllama engine.`);
    return x;
  };
  if (getMeta(file, 'general.architecture') !== 'llama') {
    throw new EngineError('unsupported', `${name}: architecture ${JSON.stringify(getMeta(file, 'general.architecture'))}; the ONNX engine runs llama-architecture models only — use the wllama engine.`);
  }
  const heads = n('llama.attention.head_count');
  const tokens = getMeta(file, 'tokenizer.ggml.tokens');
  return {
    layers: n('llama.block_count'),
    kvHeads: getMeta(file, 'llama.attention.head_count_kv') === undefined ? heads : n('llama.attention.head_count_kv'),
    headDim: n('llama.embedding_length') / heads,
    vocab: Array.isArray(tokens) ? tokens.length : 0,
    contextLength: n('llama.context_length'),
  };
}

/** One ORT session and the lock that runs its passes one at a time. */
class OnnxModel {
  readonly #ort: typeof Ort;
  readonly #session: Ort.InferenceSession;
  readonly shape: OnnxModelShape;
  #tail: Promise<unknown> = Promise.resolve();
  /** Every forward pass's number of new tokens, in order (tests and the bench read it). */
  readonly forwards: number[] = [];
  /** Every forward pass's WebGPU compute dispatches (0 on wasm), aligned with `forwards`. */
  readonly dispatches: number[] = [];

  constructor(ort: typeof Ort, session: Ort.InferenceSession, shape: OnnxModelShape) {
    this.#ort = ort;
    this.#session = session;
    this.shape = shape;
  }

  /** Feeds `ids` after `cache` (per layer: key, value as [1, kvHeads, P, headDim]); returns the last position's logits and the extended cache. */
  forward(ids: readonly number[], cache: KvCache): Promise<{ logits: Float32Array; cache: KvCache }> {
    const run = this.#tail.then(() => this.#forward(ids, cache));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #forward(ids: readonly number[], cache: KvCache): Promise<{ logits: Float32Array; cache: KvCache }> {
    const { layers, kvHeads, headDim, vocab } = this.shape;
    const ort = this.#ort;
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]),
    };
    for (let l = 0; l < layers; l++) {
      feeds[`past_key_${l}`] = new ort.Tensor('float32', cache.data[2 * l]!, [1, kvHeads, cache.length, headDim]);
      feeds[`past_value_${l}`] = new ort.Tensor('float32', cache.data[2 * l + 1]!, [1, kvHeads, cache.length, headDim]);
    }
    this.forwards.push(ids.length);
    const before = gpuDispatches;
    const out = await this.#session.run(feeds);
    try {
      const all = (await out.logits!.getData()) as Float32Array;
      const logits = all.slice(all.length - vocab);
      const data: Float32Array[] = [];
      for (let l = 0; l < layers; l++) {
        data.push(((await out[`present_key_${l}`]!.getData()) as Float32Array).slice());
        data.push(((await out[`present_value_${l}`]!.getData()) as Float32Array).slice());
      }
      this.dispatches.push(gpuDispatches - before);
      return { logits, cache: { length: cache.length + ids.length, data } };
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  release(): Promise<void> {
    return this.#session.release();
  }
}

/** The keys and values of a sequence's first `length` tokens, per layer (key, value, key, …). */
interface KvCache {
  length: number;
  data: Float32Array[];
}

function emptyCache(shape: OnnxModelShape): KvCache {
  return { length: 0, data: Array.from({ length: 2 * shape.layers }, () => new Float32Array(0)) };
}

/** The cache of the first `keep` tokens: [1, H, P, D] → [1, H, keep, D]. */
function truncateCache(cache: KvCache, keep: number, shape: OnnxModelShape): KvCache {
  if (keep >= cache.length) return cache;
  const { kvHeads: h, headDim: d } = shape;
  const data = cache.data.map((src) => {
    const dst = new Float32Array(h * keep * d);
    for (let i = 0; i < h; i++) dst.set(src.subarray(i * cache.length * d, i * cache.length * d + keep * d), i * keep * d);
    return dst;
  });
  return { length: keep, data };
}

/** One token sequence with its KV cache: the logits after any prefix, reusing the longest shared start. */
export class OnnxSequence {
  readonly #model: OnnxModel;
  #ids: number[] = [];
  #cache: KvCache;
  #last: Float32Array | null = null;

  constructor(model: OnnxModel) {
    this.#model = model;
    this.#cache = emptyCache(model.shape);
  }

  /** The next-token logits after `prefix` (non-empty). */
  async logitsAfter(prefix: readonly number[]): Promise<Float32Array> {
    if (prefix.length === 0) throw new EngineError('bad-request', 'a step needs at least one token of prefix (BOS at least).');
    if (prefix.length > this.#model.shape.contextLength) {
      throw new EngineError('bad-request', `the prefix has ${prefix.length} tokens but the model's context holds ${this.#model.shape.contextLength} — shorten the prompt or lower max tokens.`);
    }
    let shared = 0;
    while (shared < this.#ids.length && shared < prefix.length && this.#ids[shared] === prefix[shared]) shared++;
    if (shared === prefix.length && shared === this.#ids.length && this.#last) return this.#last;
    // At least the last token is fed again, so that its logits are computed.
    const keep = Math.min(shared, prefix.length - 1);
    const cache = truncateCache(this.#cache, keep, this.#model.shape);
    const fresh = prefix.slice(keep);
    const { logits, cache: next } = await this.#model.forward(fresh, cache);
    this.#ids = prefix.slice();
    this.#cache = next;
    this.#last = logits;
    return logits;
  }
}

export interface OnnxLoadOptions {
  modelName: string;
  provider: OnnxProvider;
  /** What the header and card say about the provider choice (e.g. the adapter's name). */
  providerNote?: string;
}

export class OnnxEngine implements Engine {
  readonly info: EngineInfo;
  readonly tokenizer: SpmTokenizer;
  readonly vocabulary: VocabularyInfo;
  readonly #model: OnnxModel;
  readonly #template: string | undefined;
  #unloaded = false;

  private constructor(info: EngineInfo, model: OnnxModel, tokenizer: SpmTokenizer, vocabulary: VocabularyInfo, template: string | undefined) {
    this.info = info;
    this.#model = model;
    this.tokenizer = tokenizer;
    this.vocabulary = vocabulary;
    this.#template = template;
  }

  /**
   * Loads an exported model. `gguf` is the header of the GGUF it was exported from (vocabulary,
   * shape, chat template); `onnx` its ONNX bytes. The graph's inputs are checked against the header.
   */
  static async load(ort: typeof Ort, gguf: GGUFFile, onnx: Uint8Array, opts: OnnxLoadOptions): Promise<OnnxEngine> {
    const name = opts.modelName;
    const shape = shapeOfGGUF(gguf, name);
    const tokenizer = SpmTokenizer.fromGGUF(gguf, name);
    let session: Ort.InferenceSession;
    if (opts.provider === 'webgpu') countGpuDispatches();
    try {
      session = await ort.InferenceSession.create(onnx, {
        executionProviders: [opts.provider],
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new EngineError(
        opts.provider === 'webgpu' ? 'no-webgpu' : 'load-failed',
        `${name}: onnxruntime-web could not start the model on ${opts.provider === 'webgpu' ? 'WebGPU' : 'wasm'} (${err instanceof Error ? err.message : String(err)})${opts.provider === 'webgpu' ? ' — load it on the CPU (wasm) instead' : ' — re-download the ONNX file'}.`,
      );
    }
    const want = ['input_ids', ...Array.from({ length: shape.layers }, (_, l) => [`past_key_${l}`, `past_value_${l}`]).flat()];
    if (want.some((w) => !session.inputNames.includes(w)) || !session.outputNames.includes('logits')) {
      await session.release();
      throw new EngineError('invalid-model', `${name}: the ONNX graph's inputs (${session.inputNames.join(', ')}) are not those of a ${shape.layers}-layer export with a KV cache — export it again with tools/onnx/export.py.`);
    }
    const model = new OnnxModel(ort, session, shape);
    const eos = tokenizer.eos !== undefined ? [tokenizer.eos] : [];
    const vocabulary: VocabularyInfo = {
      size: tokenizer.size,
      fingerprint: await vocabularyFingerprint(tokenizer.tokens),
      ...(tokenizer.addBos && { bos: tokenizer.bos! }),
      eos,
    };
    const template = getMeta(gguf, 'tokenizer.chat_template');
    const info: EngineInfo = {
      kind: 'onnx',
      model: name,
      backend: opts.provider === 'webgpu' ? 'webgpu' : 'cpu',
      detail: `${opts.provider === 'webgpu' ? 'WebGPU' : 'CPU · wasm'} · onnxruntime-web${opts.providerNote ? ` (${opts.providerNote})` : ''}`,
      supportsLogprobs: true,
      contextLength: shape.contextLength,
    };
    return new OnnxEngine(info, model, tokenizer, vocabulary, typeof template === 'string' ? template : undefined);
  }

  /** Every forward pass's number of new tokens since load (for tests and the bench). */
  get forwards(): readonly number[] {
    return this.#model.forwards;
  }

  /** Every forward pass's WebGPU compute dispatches since load (0 per pass on wasm). */
  get dispatches(): readonly number[] {
    return this.#model.dispatches;
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { messages, ...params } = request;
    if (this.#template === undefined) return this.#run(renderFallbackChat(messages), params, [...(request.stop ?? []), ...FALLBACK_STOP], options.signal);
    const prompt = renderPoolChat(this.#template, messages);
    if (prompt === null) {
      throw new EngineError('unsupported', `${this.info.model}: its chat template is not one the ONNX engine renders (only the pool's "Q: … A:" template and template-less models) — send a completion, or load the model on the wllama engine.`);
    }
    return this.#run(prompt, params, request.stop ?? [], options.signal);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { prompt, ...params } = request;
    return this.#run(prompt, params, request.stop ?? [], options.signal);
  }

  async stepper(): Promise<Stepper> {
    this.#check();
    return new OnnxStepper(this, new OnnxSequence(this.#model));
  }

  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    await this.#model.release();
  }

  #check(): void {
    if (this.#unloaded) throw new EngineError('unloaded', `${this.info.model} is unloaded — load it again before generating.`);
  }

  async *#run(prompt: string, params: GenerationParams, stop: string[], signal: AbortSignal | undefined): AsyncGenerator<ChatChunk> {
    this.#check();
    const t0 = performance.now();
    const ids = this.tokenizer.tokenize(prompt);
    const maxTokens = params.max_tokens ?? 256;
    const ctx = this.#model.shape.contextLength;
    if (ids.length + maxTokens > ctx) {
      throw new EngineError(
        'bad-request',
        `${this.info.model}: the prompt (${ids.length} tokens) and max tokens (${maxTokens}) do not fit the ${ctx}-token context — lower max tokens, use fewer agents or rounds, or shorten the prompt; reloading does not help.`,
      );
    }
    if (signal?.aborted) {
      yield done('abort', ids.length, 0, t0, t0);
      return;
    }
    const k = Math.max(0, Math.min(20, params.top_logprobs ?? (params.logprobs ? 1 : 0)));
    const wantLogprobs = !!params.logprobs || k > 0;
    const sampler = new Sampler(params, params.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!);
    const sequence = new OnnxSequence(this.#model);
    const stream = new StopStream(stop);
    const decoder = new TextDecoder();
    const prefix = ids.slice();
    const pending: TokenLogprob[] = [];
    let count = 0;
    let tFirst = 0;
    let finish: FinishReason = 'length';
    while (count < maxTokens) {
      if (signal?.aborted) {
        finish = 'abort';
        break;
      }
      const logits = await sequence.logitsAfter(prefix);
      if (signal?.aborted) {
        finish = 'abort';
        break;
      }
      const token = sampler.pick(logits);
      if (count === 0) tFirst = performance.now();
      count++;
      if (token === this.tokenizer.eos) {
        finish = 'stop';
        break;
      }
      prefix.push(token);
      const piece = decoder.decode(this.tokenizer.bytesOf([token]), { stream: true });
      if (wantLogprobs) pending.push(this.#logprob(logits, token, k));
      const { text, stopped } = stream.push(piece);
      if (text) {
        yield { type: 'delta', text, ...(wantLogprobs && { logprobs: pending.splice(0) }) };
      }
      if (stopped) {
        finish = 'stop';
        break;
      }
    }
    if (!stream.stopped) {
      const rest = stream.flush(decoder.decode());
      if (rest) yield { type: 'delta', text: rest, ...(wantLogprobs && pending.length > 0 && { logprobs: pending.splice(0) }) };
    }
    yield done(finish, ids.length, count, t0, tFirst);
  }

  #logprob(logits: Float32Array, token: number, k: number): TokenLogprob {
    const lp = logSoftmax(logits);
    return {
      token: this.tokenizer.tokenText(token),
      logprob: lp[token]!,
      top_logprobs: topIndices(lp, k).map((i) => ({ token: this.tokenizer.tokenText(i), logprob: lp[i]! })),
    };
  }
}

/** The exact stepper: the full log-softmax of the model's logits for any prefix, with a KV cache kept between steps. */
class OnnxStepper implements Stepper {
  readonly vocabulary: VocabularyInfo;
  readonly #engine: OnnxEngine;
  #sequence: OnnxSequence | null;

  constructor(engine: OnnxEngine, sequence: OnnxSequence) {
    this.#engine = engine;
    this.#sequence = sequence;
    this.vocabulary = engine.vocabulary;
  }

  async tokenize(text: string, options: { addBos?: boolean } = {}): Promise<number[]> {
    return this.#engine.tokenizer.tokenize(text, { addBos: options.addBos ?? false });
  }

  async detokenize(ids: readonly number[]): Promise<string> {
    return this.#engine.tokenizer.decode(ids);
  }

  async next(prefix: readonly number[], options: StepOptions = {}): Promise<NextToken> {
    if (options.signal?.aborted) throw new EngineError('aborted', 'the step was cancelled.');
    const sequence = this.#sequence;
    if (!sequence) throw new EngineError('bad-request', 'this stepper was closed — open another with engine.stepper().');
    const full = logSoftmax(await sequence.logitsAfter(prefix));
    const tok = this.#engine.tokenizer;
    const top: TokenCandidate[] = topIndices(full, options.topK ?? 10).map((id) => ({ id, text: tok.tokenText(id), logprob: full[id]! }));
    return { top, exactness: 'full', full };
  }

  async close(): Promise<void> {
    this.#sequence = null;
  }
}

let gpuDispatches = 0;

/**
 * Counts WebGPU compute dispatches in this worker (GPUComputePassEncoder.dispatchWorkgroups), so
 * that each forward pass records how many kernels really ran on the GPU: the proof that the WebGPU
 * provider runs the model, not just that it was asked for (onnxruntime-web may place nodes on its
 * CPU provider silently). One increment per dispatch; installed once, when a WebGPU model loads.
 */
function countGpuDispatches(): void {
  const proto = (globalThis as { GPUComputePassEncoder?: { prototype: Record<string, unknown> } }).GPUComputePassEncoder?.prototype;
  if (!proto || proto.chorusCounted) return;
  const dispatch = proto.dispatchWorkgroups as (...args: unknown[]) => void;
  proto.dispatchWorkgroups = function (this: unknown, ...args: unknown[]) {
    gpuDispatches++;
    return dispatch.apply(this, args);
  };
  proto.chorusCounted = true;
}

/**
 * Stop strings on a text stream, as llama-server applies them: text that could be the start of a
 * stop string is held back until it is decided; a completed stop string ends the stream and is not
 * emitted, nor anything after it.
 */
export class StopStream {
  readonly #stops: string[];
  #held = '';
  stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  push(piece: string): { text: string; stopped: boolean } {
    if (this.stopped) return { text: '', stopped: true };
    const text = this.#held + piece;
    let cut = -1;
    for (const s of this.#stops) {
      const at = text.indexOf(s);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.stopped = true;
      this.#held = '';
      return { text: text.slice(0, cut), stopped: true };
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.#stops) {
      for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
        if (text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    this.#held = text.slice(text.length - hold);
    return { text: text.slice(0, text.length - hold), stopped: false };
  }

  /** The held-back text at the end of the stream (it completed no stop string). */
  flush(tail = ''): string {
    if (this.stopped) return '';
    const { text } = this.push(tail);
    const rest = this.#held;
    this.#held = '';
    return text + rest;
  }
}
