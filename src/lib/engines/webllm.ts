/**
 * web-llm engine (MLC-compiled models on WebGPU), behind the Chorus Engine interface.
 *
 * The model runs in its own worker (workers/webllm.worker.ts hosts web-llm's
 * WebWorkerMLCEngineHandler); the page talks to it through web-llm's WebWorkerMLCEngine, which
 * implements MLCEngineInterface. This file wraps any MLCEngineInterface, so it is the same code
 * for the worker proxy and for a direct engine, and holds the pure helpers the model manager
 * needs: the prebuilt model list with VRAM needs and size estimates, WebGPU/shader-f16
 * feature checks with messages that offer the q4f32 variant, and cache listing/deletion.
 *
 * Weights cannot be downloaded in the test environment; everything else is tested for real.
 */
import {
  deleteChatConfigInCache,
  deleteModelAllInfoInCache,
  deleteModelInCache,
  deleteModelWasmInCache,
  hasModelInCache,
  prebuiltAppConfig,
  type AppConfig,
  type ChatCompletionChunk,
  type Completion,
  type MLCEngineInterface,
  type ModelRecord,
} from '@mlc-ai/web-llm';
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
import { webGpuOf } from './wllama.ts';

export interface WebLLMModel {
  id: string;
  /** VRAM web-llm says the model needs, in MB. */
  vramMB: number;
  /** Whether web-llm marks it as fit for low-resource devices (phones, small GPUs). */
  lowResource: boolean;
  /** Needs the WebGPU `shader-f16` feature (f16 weights/activations: q4f16, q0f16 …). */
  needsF16: boolean;
  /** The q4f32 sibling to offer when shader-f16 is missing, if web-llm ships one. */
  f32Alternative?: string;
  /** Download size estimate in bytes from the parameter count and quantisation in the id. */
  approxBytes?: number;
  type: 'llm' | 'embedding' | 'vlm';
}

export interface WebGpuSupport {
  webgpu: boolean;
  shaderF16: boolean;
  /** Why not, in words, when webgpu is false. */
  reason?: string;
}

function needsF16(m: ModelRecord): boolean {
  return (m.required_features ?? []).includes('shader-f16') || /q\df16|q0f16/.test(m.model_id);
}

/**
 * Bytes per parameter by MLC quantisation code (mlc-llm quantization names: q4f16_1 = 4-bit
 * weights, q0f32 = unquantised f32 …), plus ~10% for embeddings kept in higher precision.
 */
function approxBytes(id: string): number | undefined {
  const p = /(\d+(?:\.\d+)?)([BM])(?![a-z])/i.exec(id);
  const q = /q(\d)f(16|32)/.exec(id);
  if (!p || !q) return undefined;
  const params = Number(p[1]) * (p[2]!.toUpperCase() === 'B' ? 1e9 : 1e6);
  const bits = q[1] === '0' ? Number(q[2]) : Number(q[1]);
  return Math.round(params * (bits / 8) * 1.1);
}

/**
 * The AppConfig web-llm is created with: its prebuilt list plus records of our own (merged models,
 * which reuse a parent's model_lib). Same cache backend as the prebuilt config (Cache API).
 */
export function appConfigWith(extra: readonly ModelRecord[] = []): AppConfig {
  const ids = new Set(extra.map((r) => r.model_id));
  return { ...prebuiltAppConfig, model_list: [...prebuiltAppConfig.model_list.filter((r) => !ids.has(r.model_id)), ...extra] };
}

/** web-llm's prebuilt model list (prebuiltAppConfig.model_list), as the model manager shows it. */
export function listPrebuiltModels(): WebLLMModel[] {
  return describeModels(prebuiltAppConfig.model_list);
}

/** Model records (prebuilt or our own) as the model manager shows them. */
export function describeModels(list: readonly ModelRecord[]): WebLLMModel[] {
  const ids = new Set(list.map((m) => m.model_id));
  return list.map((m) => {
    const f16 = needsF16(m);
    const alt = f16 ? m.model_id.replace(/q(\d)f16/, 'q$1f32') : undefined;
    const size = approxBytes(m.model_id);
    return {
      id: m.model_id,
      vramMB: m.vram_required_MB ?? 0,
      lowResource: m.low_resource_required ?? false,
      needsF16: f16,
      ...(alt && alt !== m.model_id && ids.has(alt) && { f32Alternative: alt }),
      ...(size !== undefined && { approxBytes: size }),
      type: m.model_type === 1 ? 'embedding' : m.model_type === 2 ? 'vlm' : 'llm',
    };
  });
}

/** What this browser's WebGPU can do (works in the page and in workers). */
export async function detectWebGpuSupport(scope: unknown = globalThis): Promise<WebGpuSupport> {
  const gpu = webGpuOf(scope);
  if (!gpu) return { webgpu: false, shaderF16: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { webgpu: false, shaderF16: false, reason: 'WebGPU is present but no GPU adapter is available (blocklisted GPU or disabled hardware acceleration)' };
    return { webgpu: true, shaderF16: adapter.features.has('shader-f16') };
  } catch (err) {
    return { webgpu: false, shaderF16: false, reason: `requesting a WebGPU adapter failed (${String(err)})` };
  }
}

/** Null when `modelId` can run here; otherwise the error to show, naming the way out. */
export function checkCompatible(modelId: string, support: WebGpuSupport, appConfig: AppConfig = prebuiltAppConfig): EngineError | null {
  const model = describeModels(appConfig.model_list).find((m) => m.id === modelId);
  if (!model) return new EngineError('bad-request', `${modelId} is not in web-llm's prebuilt model list; pick one from the list.`);
  if (!support.webgpu) {
    return new EngineError('no-webgpu', `${modelId} needs WebGPU, but ${support.reason ?? 'it is unavailable'}. Use a GGUF model (wllama runs on the CPU), or open Chorus in a browser with WebGPU (Chrome/Edge 113+).`);
  }
  if (model.needsF16 && !support.shaderF16) {
    return new EngineError(
      'unsupported',
      `${modelId} needs the WebGPU feature shader-f16, which this GPU does not offer. ${model.f32Alternative ? `Choose ${model.f32Alternative} instead (same model, f32 shaders).` : 'Choose a q4f32 model instead.'}`,
    );
  }
  return null;
}

/** Which of these models are already in web-llm's cache (Cache API), by web-llm's own check. */
export async function listCachedModels(ids: string[] = listPrebuiltModels().map((m) => m.id), appConfig: AppConfig = prebuiltAppConfig): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) if (await hasModelInCache(id, appConfig).catch(() => false)) out.push(id);
  return out;
}

/**
 * Deletes a prebuilt model's weights, config and model library (wasm) from web-llm's cache; with
 * `keepLibrary`, the library stays (another model the user keeps runs on it: a model merged here
 * from this one, or another prebuilt model built on the same library). web-llm deletes the shards
 * its tensor-cache.json lists but not that file: the caller removes what is left under the model's
 * URL (deleteCachedPrefix).
 */
export async function deleteCachedModel(id: string, appConfig: AppConfig = prebuiltAppConfig, keepLibrary = false): Promise<void> {
  await deleteModelInCache(id, appConfig);
  await deleteChatConfigInCache(id, appConfig);
  if (!keepLibrary) await deleteModelWasmInCache(id, appConfig);
}

/** The record of a model of this AppConfig (its weights' URL, its model library), if it is listed. */
export function modelRecordOf(id: string, appConfig: AppConfig = prebuiltAppConfig): ModelRecord | undefined {
  return appConfig.model_list.find((r) => r.model_id === id);
}

/** Rebuilds web-llm's errors as EngineErrors that say what to do. */
export function webllmError(modelId: string, err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const name = err instanceof Error ? err.name : '';
  const msg = err instanceof Error ? err.message : String(err);
  if (name === 'DeviceLostError' || /device (was )?lost/i.test(msg)) {
    return new EngineError('device-lost', `${modelId}: the GPU device was lost (often out of GPU memory). Reload the model; if it happens again, choose a smaller model or close other GPU tabs.`);
  }
  if (/fetch|network|Failed to fetch|NetworkError|load failed|404|ERR_/i.test(msg)) {
    return new EngineError('network', `${modelId}: downloading the model failed (${msg}). Check your connection — web-llm fetches weights from huggingface.co — and try again.`);
  }
  if (/shader-f16|f16/i.test(msg)) return new EngineError('unsupported', `${modelId}: ${msg} — choose the q4f32 variant.`);
  return new EngineError('load-failed', `${modelId}: ${msg}`);
}

type RawChoice = {
  delta?: { content?: string | null };
  text?: string;
  finish_reason?: string | null;
  logprobs?: { content?: { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[] | null } | null;
};

/** Engine over any MLCEngineInterface (web-llm's worker proxy in the app). */
export class WebLLMEngine implements Engine {
  readonly info: EngineInfo;
  #engine: MLCEngineInterface | null;
  #onDeviceLost: ((err: EngineError) => void) | undefined;

  constructor(engine: MLCEngineInterface, modelId: string, opts: { contextLength?: number; onDeviceLost?: (err: EngineError) => void } = {}) {
    this.#engine = engine;
    this.#onDeviceLost = opts.onDeviceLost;
    this.info = {
      kind: 'webllm',
      model: modelId,
      backend: 'webgpu',
      detail: `WebGPU · web-llm (${modelId})`,
      supportsLogprobs: true,
      ...(opts.contextLength !== undefined && { contextLength: opts.contextLength }),
    };
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { messages, ...p } = request;
    return this.#run((e, body) => e.chat.completions.create({ ...body, messages, stream: true, stream_options: { include_usage: true } } as never) as unknown as Promise<AsyncIterable<ChatCompletionChunk>>, p, options.signal);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const { prompt, ...p } = request;
    return this.#run((e, body) => e.completions.create({ ...body, prompt, stream: true, stream_options: { include_usage: true } } as never) as unknown as Promise<AsyncIterable<Completion>>, p, options.signal);
  }

  async unload(): Promise<void> {
    const e = this.#engine;
    this.#engine = null;
    await e?.unload();
  }

  async *#run(
    start: (e: MLCEngineInterface, body: Record<string, unknown>) => Promise<AsyncIterable<ChatCompletionChunk | Completion>>,
    p: Omit<ChatRequest, 'messages'>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ChatChunk> {
    const engine = this.#engine;
    if (!engine) throw new EngineError('unloaded', `${this.info.model} was unloaded — load it again.`);
    const k = p.top_logprobs ?? 0;
    const want = !!p.logprobs || k > 0;
    const body: Record<string, unknown> = {
      ...(p.temperature !== undefined && { temperature: p.temperature }),
      ...(p.top_p !== undefined && { top_p: p.top_p }),
      ...(p.seed !== undefined && { seed: p.seed }),
      ...(p.max_tokens !== undefined && { max_tokens: p.max_tokens }),
      ...(p.stop?.length && { stop: p.stop }),
      ...(want && { logprobs: true, top_logprobs: Math.min(5, k) }),
    };
    const t0 = performance.now();
    let tFirst = 0;
    let count = 0;
    let promptTokens = 0;
    let completionTokens: number | undefined;
    let finish: FinishReason = 'stop';
    const onAbort = (): void => engine.interruptGenerate();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!signal?.aborted) {
        const stream = await start(engine, body);
        for await (const raw of stream) {
          const choice = (raw.choices as RawChoice[])[0];
          if (raw.usage) {
            promptTokens = raw.usage.prompt_tokens;
            completionTokens = raw.usage.completion_tokens;
          }
          if (!choice) continue;
          const text = choice.delta?.content ?? choice.text ?? '';
          const lps: TokenLogprob[] = want
            ? (choice.logprobs?.content ?? []).map((c) => ({ token: c.token, logprob: c.logprob, top_logprobs: (c.top_logprobs ?? []).slice(0, k) }))
            : [];
          if (text || lps.length) {
            if (count === 0) tFirst = performance.now();
            count += lps.length || 1;
            yield lps.length ? { type: 'delta', text, logprobs: lps } : { type: 'delta', text };
          }
          if (choice.finish_reason) finish = choice.finish_reason === 'length' ? 'length' : choice.finish_reason === 'abort' ? 'abort' : 'stop';
        }
      }
    } catch (err) {
      const e = webllmError(this.info.model, err);
      if (e.code === 'device-lost') {
        this.#engine = null;
        this.#onDeviceLost?.(e);
      }
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const end = performance.now();
    const first = tFirst || end;
    const n = completionTokens ?? count;
    yield {
      type: 'done',
      finish_reason: signal?.aborted ? 'abort' : finish,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: n,
        time_to_first_token_ms: first - t0,
        total_ms: end - t0,
        tokens_per_second: n > 1 && end > first ? ((n - 1) * 1000) / (end - first) : 0,
      },
    };
  }
}
