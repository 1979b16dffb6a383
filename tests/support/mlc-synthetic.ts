/**
 * Tiny synthetic MLC (web-llm) checkpoints, encoded with Chorus's own MLC encoder (real MLC
 * weights cannot be downloaded here), and the Cache Storage entries web-llm would have made for
 * them: used by the unit tests (an in-memory CacheStorage) and the browser tests (the real one).
 */
import { encodeParam, type MlcKind, type ParamRecord, type TensorCache } from '../../src/lib/merge/mlc/format.ts';
import { modelBaseUrl, WEBLLM_CACHES, type WebLLMCacheScope } from '../../src/lib/merge/mlc/cache.ts';

export interface LayoutEntry {
  name: string;
  kind: MlcKind;
  shape: number[];
}

export const LAYOUT: LayoutEntry[] = [
  { name: 'model.embed_tokens', kind: 'q4f16_1', shape: [48, 64] },
  { name: 'model.layers.0.input_layernorm.weight', kind: 'f16', shape: [64] },
  { name: 'model.layers.0.self_attn.qkv_proj', kind: 'q4f32_1', shape: [96, 64] },
  { name: 'model.layers.1.mlp.down_proj', kind: 'q4f16_1', shape: [64, 128] },
  { name: 'model.norm.weight', kind: 'f32', shape: [64] },
  { name: 'lm_head', kind: 'bf16-f32', shape: [48, 64] },
];

/** A 4-bit q4f32_1 layout like a Llama's (what web-llm's q4f32_1 models hold), tiny. */
export const Q4F32_LAYOUT: LayoutEntry[] = [
  { name: 'model.embed_tokens', kind: 'q4f32_1', shape: [32, 64] },
  { name: 'model.layers.0.input_layernorm.weight', kind: 'f32', shape: [64] },
  { name: 'model.layers.0.self_attn.qkv_proj', kind: 'q4f32_1', shape: [96, 64] },
  { name: 'model.layers.1.input_layernorm.weight', kind: 'f32', shape: [64] },
  { name: 'model.layers.1.mlp.down_proj', kind: 'q4f32_1', shape: [64, 128] },
  { name: 'model.norm.weight', kind: 'f32', shape: [64] },
];

export function rand(seed: number, n: number, scale = 0.1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

export interface Synthetic {
  cache: TensorCache;
  files: Map<string, Uint8Array>;
  /** The values each parameter was encoded from. */
  values: Map<string, Float32Array>;
}

/** A synthetic MLC cache: values from `seed`, encoded with Chorus's encoder, in two shards. */
export function synthetic(seed: number, layout: LayoutEntry[] = LAYOUT): Synthetic {
  const files = new Map<string, Uint8Array>();
  const values = new Map<string, Float32Array>();
  const shards: TensorCache['records'] = [];
  const half = Math.ceil(layout.length / 2);
  for (const [si, group] of [layout.slice(0, half), layout.slice(half)].entries()) {
    const records: ParamRecord[] = [];
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const p of group) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const v = rand(seed * 100 + layout.indexOf(p), n);
      values.set(p.name, v);
      const enc = encodeParam(p.kind, v);
      const rows = p.shape.slice(0, -1), cols = p.shape.at(-1)!;
      const recs: Omit<ParamRecord, 'byteOffset' | 'nbytes'>[] =
        p.kind === 'q4f16_1' || p.kind === 'q4f32_1'
          ? [
              { name: `${p.name}.q_weight`, shape: [...rows, cols / 8], dtype: 'uint32', format: 'raw' },
              { name: `${p.name}.q_scale`, shape: [...rows, cols / 32], dtype: p.kind === 'q4f16_1' ? 'float16' : 'float32', format: 'raw' },
            ]
          : [{ name: p.name, shape: p.shape, dtype: p.kind === 'f16' ? 'float16' : 'float32', format: p.kind === 'bf16-f32' ? 'f32-to-bf16' : 'raw' }];
      recs.forEach((r, j) => {
        records.push({ ...r, byteOffset: at, nbytes: enc[j]!.byteLength });
        parts.push(enc[j]!);
        at += enc[j]!.byteLength;
      });
    }
    const bytes = new Uint8Array(at);
    let o = 0;
    for (const b of parts) { bytes.set(b, o); o += b.byteLength; }
    files.set(`params_shard_${si}.bin`, bytes);
    shards.push({ dataPath: `params_shard_${si}.bin`, format: 'raw-shard', nbytes: at, records });
  }
  return { cache: { metadata: { ParamSize: layout.length }, records: shards }, files, values };
}

export interface CacheEntry {
  scope: WebLLMCacheScope;
  url: string;
  bytes: Uint8Array;
  contentType: string;
}

/** A minimal mlc-chat-config.json (the fields the planner and web-llm's loader read). */
export function chatConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { model_type: 'llama', quantization: 'q4f32_1', vocab_size: 32, context_window_size: 4096, tokenizer_files: ['tokenizer.json'], conv_template: { name: 'llama-3' }, ...over };
}

/** A tiny tokenizer.json (its bytes stand for the vocabulary). */
export function tokenizerJson(words = ['<s>', '</s>', 'a', 'b']): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: Object.fromEntries(words.map((w, i) => [w, i])), merges: [] } }));
}

/**
 * The entries web-llm's ArtifactCache makes when it has downloaded `model` (a ModelRecord's URL):
 * weights and tokenizer in "webllm/model", the chat config in "webllm/config", all keyed by URL.
 */
export function webllmEntries(model: string, s: Synthetic, opts: { config?: Record<string, unknown>; tokenizer?: Uint8Array; cacheFile?: string } = {}): CacheEntry[] {
  const base = modelBaseUrl(model);
  const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  const out: CacheEntry[] = [
    { scope: WEBLLM_CACHES.config, url: new URL('mlc-chat-config.json', base).href, bytes: json(opts.config ?? chatConfig()), contentType: 'application/json' },
    { scope: WEBLLM_CACHES.model, url: new URL('tokenizer.json', base).href, bytes: opts.tokenizer ?? tokenizerJson(), contentType: 'application/json' },
    { scope: WEBLLM_CACHES.model, url: new URL(opts.cacheFile ?? 'tensor-cache.json', base).href, bytes: json(s.cache), contentType: 'application/json' },
  ];
  for (const [file, bytes] of s.files) out.push({ scope: WEBLLM_CACHES.model, url: new URL(file, base).href, bytes, contentType: 'application/octet-stream' });
  return out;
}
