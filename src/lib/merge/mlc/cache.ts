/**
 * web-llm's cache layout, read and written with the Cache API (works in the page and in workers;
 * tests pass an in-memory CacheStorage). web-llm 0.2.86 (lib/index.js: `cleanModelUrl`,
 * `ArtifactCache`, `hasTensorInCache`, `asyncLoadTokenizer`, `reloadInternal`) keeps:
 *
 *   Cache "webllm/model"   <model url>/resolve/main/tensor-cache.json, params_shard_*.bin,
 *                          tokenizer.json or tokenizer.model   (keyed by full URL)
 *   Cache "webllm/config"  <model url>/resolve/main/mlc-chat-config.json (+ the record's
 *                          model_manifest, e.g. mlc-model-manifest.json, when it names one)
 *   Cache "webllm/wasm"    the record's model_lib URL (the compiled kernels)
 *
 * where <model url> is the ModelRecord's `model` and "/resolve/main/" is appended unless the URL
 * already has a "/resolve/<rev>/" part. A key that is present is never fetched (ArtifactCache
 * matches before it adds), so a merged model written here under a URL of our own loads with no
 * network at all. Older web-llm builds named the tensor cache ndarray-cache.json; parents cached by
 * them are read too, but a merged model is written as tensor-cache.json, which this build reads.
 */
import { MlcFormatError, parseTensorCache, type TensorCache } from './format.ts';
import { executeMlcMerge, type MlcInput, type MlcMergeOptions, type WebLLMModelRecordLike } from './merge.ts';
import type { MlcPlan } from './plan.ts';

export const WEBLLM_CACHES = { model: 'webllm/model', config: 'webllm/config', wasm: 'webllm/wasm' } as const;
export type WebLLMCacheScope = (typeof WEBLLM_CACHES)[keyof typeof WEBLLM_CACHES];

/** web-llm's `cleanModelUrl`: the base every file of a model is resolved against. */
export function modelBaseUrl(model: string): string {
  let url = model.endsWith('/') ? model : `${model}/`;
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}

/** Where Chorus keeps a merged model: under the app's own origin and path, never fetched. */
export function mergedModelBaseUrl(appBase: string, modelId: string): string {
  return new URL(`chorus-merged/${encodeURIComponent(modelId)}/resolve/main/`, appBase).href;
}

/**
 * A web-llm model id for a merge from its user-visible name: letters, digits, dot, dash and
 * underscore (it becomes a URL path segment and a key in web-llm's model list), plus a random
 * suffix so two merges of one name never share cache keys.
 */
export function mergedModelId(name: string, random = Math.random().toString(36).slice(2, 8)): string {
  const slug = name.replace(/[^\w.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 60) || 'merge';
  return `${slug}-${random}`;
}

/**
 * The Web Locks name every MLC merge holds, shared, in any tab of the app while it writes its keys and
 * registers the result; the sweep of leftovers takes it exclusively and only if it is free, so it never
 * deletes the keys of a merge running in another tab (a closed tab's locks are released: its leftovers
 * go at the next start).
 */
export const MLC_MERGE_LOCK = 'chorus-mlc-merges';

/** Runs `f` holding MLC_MERGE_LOCK shared (where the Web Locks API exists). */
export async function whileMerging<T>(f: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return f();
  return locks.request(MLC_MERGE_LOCK, { mode: 'shared' }, f);
}

/** Runs `f` if no MLC merge is running in any tab (MLC_MERGE_LOCK free), else resolves to null. */
export async function unlessMerging<T>(f: () => Promise<T>): Promise<T | null> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return f();
  return locks.request(MLC_MERGE_LOCK, { mode: 'exclusive', ifAvailable: true }, (lock) => (lock ? f() : null));
}

/** The path prefix of every merged model (for sweeping leftovers of an interrupted merge). */
export function mergedModelsPrefix(appBase: string): string {
  return new URL('chorus-merged/', appBase).href;
}

export class MlcCacheError extends Error {
  override name = 'MlcCacheError';
}

/** A file web-llm needs beside the weights, to be copied for a merged model. */
export interface CachedFile {
  scope: WebLLMCacheScope;
  /** Relative to the model's base URL. */
  file: string;
  bytes: Uint8Array;
  contentType: string;
}

/** A parent checkpoint read from web-llm's cache: the merge input plus its side files. */
export interface CachedCheckpoint extends MlcInput {
  baseUrl: string;
  /** mlc-chat-config.json, tokenizer files and the model manifest, as web-llm cached them. */
  files: CachedFile[];
  /** Bytes of the weight shards. */
  weightBytes: number;
}

const CONTENT_TYPE: Record<string, string> = { json: 'application/json', model: 'application/octet-stream', bin: 'application/octet-stream' };
const typeOf = (file: string) => CONTENT_TYPE[file.split('.').pop() ?? ''] ?? 'application/octet-stream';

async function digest(bytes: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Opens a web-llm model as a merge input, from web-llm's cache only. Fails, naming the model and
 * the missing file, when anything web-llm would need to run it (and so anything the merged model
 * would copy) is not cached.
 */
export async function openCachedCheckpoint(caches: CacheStorage, record: WebLLMModelRecordLike, ref: string): Promise<CachedCheckpoint> {
  const id = record.model_id;
  const baseUrl = modelBaseUrl(record.model);
  const [model, config] = await Promise.all([caches.open(WEBLLM_CACHES.model), caches.open(WEBLLM_CACHES.config)]);
  const missing = (file: string) =>
    new MlcCacheError(`${id}: ${file} is not in web-llm's cache (${baseUrl}) — load the model once in the model manager so web-llm downloads and caches all of it, then merge`);
  const bytesOf = async (cache: Cache, file: string): Promise<Uint8Array | null> => {
    const r = await cache.match(new URL(file, baseUrl).href);
    return r ? new Uint8Array(await r.arrayBuffer()) : null;
  };

  let cacheFile = 'tensor-cache.json';
  let json = await bytesOf(model, cacheFile);
  if (!json) {
    cacheFile = 'ndarray-cache.json';
    json = await bytesOf(model, cacheFile);
  }
  if (!json) throw missing('tensor-cache.json');
  const cache = parseTensorCache(new TextDecoder().decode(json), `${id}/${cacheFile}`);

  const chatBytes = await bytesOf(config, 'mlc-chat-config.json');
  if (!chatBytes) throw missing('mlc-chat-config.json');
  let chatConfig: Record<string, unknown>;
  try {
    chatConfig = JSON.parse(new TextDecoder().decode(chatBytes)) as Record<string, unknown>;
  } catch (e) {
    throw new MlcCacheError(`${id}: the cached mlc-chat-config.json is not valid JSON (${(e as Error).message}) — remove the model in the model manager and download it again`);
  }
  const files: CachedFile[] = [{ scope: WEBLLM_CACHES.config, file: 'mlc-chat-config.json', bytes: chatBytes, contentType: 'application/json' }];
  if (typeof record.model_manifest === 'string') {
    const m = await bytesOf(config, record.model_manifest);
    if (!m) throw missing(record.model_manifest);
    files.push({ scope: WEBLLM_CACHES.config, file: record.model_manifest, bytes: m, contentType: 'application/json' });
  }

  // web-llm loads tokenizer.json when the config lists it, else tokenizer.model (asyncLoadTokenizer).
  const listed = Array.isArray(chatConfig.tokenizer_files) ? (chatConfig.tokenizer_files as unknown[]).filter((f): f is string => typeof f === 'string') : [];
  const used = listed.includes('tokenizer.json') ? 'tokenizer.json' : listed.includes('tokenizer.model') ? 'tokenizer.model' : null;
  if (!used) throw new MlcCacheError(`${id}: mlc-chat-config.json lists neither tokenizer.json nor tokenizer.model in tokenizer_files, so web-llm could not run it either`);
  let tokenizerDigest = '';
  for (const file of ['tokenizer.json', 'tokenizer.model']) {
    const b = await bytesOf(model, file);
    if (!b) {
      if (file === used) throw missing(file);
      continue;
    }
    files.push({ scope: WEBLLM_CACHES.model, file, bytes: b, contentType: typeOf(file) });
    if (file === used) tokenizerDigest = await digest(b);
  }

  // Shards: present (web-llm's hasTensorInCache asks the same) and as long as the cache says.
  const blobs = new Map<string, Blob>();
  for (const s of cache.records) {
    const r = await model.match(new URL(s.dataPath, baseUrl).href);
    if (!r) throw missing(s.dataPath);
    const blob = await r.blob();
    if (blob.size < s.nbytes) throw new MlcFormatError(`${id}/${s.dataPath} is ${blob.size} bytes but ${cacheFile} says ${s.nbytes} — the cached copy is truncated; remove the model and download it again`);
    blobs.set(s.dataPath, blob);
  }
  return {
    ref,
    name: id,
    cache,
    chatConfig,
    tokenizerDigest,
    modelLib: record.model_lib,
    baseUrl,
    files,
    weightBytes: cache.records.reduce((s, r) => s + r.nbytes, 0),
    // Cache API blobs are disk-backed: a slice reads only the bytes of one record.
    read: async (dataPath, offset, length) => new Uint8Array(await blobs.get(dataPath)!.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Writes a file of a model under its base URL, as web-llm's ArtifactCache would have cached it. */
export async function putCachedFile(caches: CacheStorage, baseUrl: string, file: Omit<CachedFile, 'contentType'> & { contentType?: string }): Promise<void> {
  const cache = await caches.open(file.scope);
  const body = file.bytes as Uint8Array<ArrayBuffer>;
  await cache.put(new URL(file.file, baseUrl).href, new Response(body, { headers: { 'content-type': file.contentType ?? typeOf(file.file), 'content-length': String(body.byteLength) } }));
}

/** Deletes the entries of web-llm's model and config caches whose URL `pick` accepts; returns how many. */
export async function deleteCachedWhere(caches: CacheStorage, pick: (url: string) => boolean): Promise<number> {
  let n = 0;
  // Not "webllm/wasm": a merged model shares its parent's model library, which stays.
  for (const scope of [WEBLLM_CACHES.model, WEBLLM_CACHES.config]) {
    if (!(await caches.has(scope))) continue;
    const cache = await caches.open(scope);
    for (const req of await cache.keys()) {
      if (pick(req.url) && (await cache.delete(req))) n++;
    }
  }
  return n;
}

/** Deletes every entry under `prefix` in web-llm's model and config caches; returns how many. */
export function deleteCachedPrefix(caches: CacheStorage, prefix: string): Promise<number> {
  return deleteCachedWhere(caches, (url) => url.startsWith(prefix));
}

/** Base URLs of every model whose tensor cache is in web-llm's model cache (one listing). */
export async function cachedModelBases(caches: CacheStorage): Promise<Set<string>> {
  const cache = await caches.open(WEBLLM_CACHES.model);
  const out = new Set<string>();
  for (const req of await cache.keys()) {
    const m = /^(.*\/)(?:tensor|ndarray)-cache\.json$/.exec(req.url);
    if (m) out.add(m[1]!);
  }
  return out;
}

/**
 * Runs a planned MLC merge into web-llm's caches under `baseUrl`, as web-llm itself would have
 * cached a downloaded model: the base parent's side files (mlc-chat-config.json, tokenizer, model
 * manifest) first, then the weight shards as they fill, tensor-cache.json last — so web-llm's
 * hasModelInCache sees no model until the end. On failure or cancel every key under `baseUrl` is
 * deleted before the error is rethrown.
 */
export async function mergeIntoWebLLMCache(
  caches: CacheStorage,
  plan: MlcPlan<CachedCheckpoint>,
  baseUrl: string,
  opts: MlcMergeOptions = {},
): Promise<TensorCache> {
  const base = plan.inputs[plan.baseIndex ?? 0]!;
  try {
    for (const f of base.files) await putCachedFile(caches, baseUrl, f);
    return await executeMlcMerge(plan, { writeFile: (file, bytes) => putCachedFile(caches, baseUrl, { scope: WEBLLM_CACHES.model, file, bytes }) }, opts);
  } catch (err) {
    await deleteCachedPrefix(caches, baseUrl).catch(() => 0);
    throw err;
  }
}
