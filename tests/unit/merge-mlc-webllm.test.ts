/**
 * MLC merges inside web-llm's world, in Node: the planner's compatibility checks, reading parents
 * from and writing the merged model into web-llm's cache layout (an in-memory CacheStorage here;
 * the browser tests use the real one), web-llm's OWN hasModelInCache finding the result through
 * the AppConfig Chorus creates the engine with, and cleanup on failure, cancel and removal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasModelInCache, prebuiltAppConfig, type MLCEngineConfig, type MLCEngineInterface } from '@mlc-ai/web-llm';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import { decodeParam, listParams, type TensorCache } from '../../src/lib/merge/mlc/format.ts';
import { mergedModelRecord, type WebLLMModelRecordLike } from '../../src/lib/merge/mlc/merge.ts';
import { oneFormat, planMlcMerge, type MlcCheckpoint } from '../../src/lib/merge/mlc/plan.ts';
import {
  WEBLLM_CACHES, cachedModelBases, deleteCachedPrefix, mergeIntoWebLLMCache, mergedModelBaseUrl, mergedModelId, modelBaseUrl, openCachedCheckpoint,
} from '../../src/lib/merge/mlc/cache.ts';
import { MergeAbortedError } from '../../src/lib/merge/stream.ts';
import { appConfigWith } from '../../src/lib/engines/webllm.ts';
import { spawnWebLLM, type WebLLMDeps } from '../../src/app/webllm.ts';
import { MemoryCacheStorage } from '../support/memory-caches.ts';
import { Q4F32_LAYOUT, chatConfig, synthetic, tokenizerJson, webllmEntries, type Synthetic } from '../support/mlc-synthetic.ts';

// Two real prebuilt fine-tunes of one base that share one model library (Llama 3.2 3B, q4f32_1).
const byId = (id: string) => prebuiltAppConfig.model_list.find((r) => r.model_id === id)! as WebLLMModelRecordLike;
const LLAMA = byId('Llama-3.2-3B-Instruct-q4f32_1-MLC');
const HERMES = byId('Hermes-3-Llama-3.2-3B-q4f32_1-MLC');
const APP = 'http://127.0.0.1:4173/';

let mem: MemoryCacheStorage;
const g = globalThis as { caches?: CacheStorage };
beforeEach(() => {
  mem = new MemoryCacheStorage();
  // web-llm's own functions use the global Cache Storage.
  g.caches = mem as unknown as CacheStorage;
});
afterEach(() => {
  delete g.caches;
});

async function put(record: WebLLMModelRecordLike, s: Synthetic, opts: Parameters<typeof webllmEntries>[2] = {}) {
  for (const e of webllmEntries(record.model, s, opts)) {
    const c = await mem.open(e.scope);
    await c.put(e.url, new Response(e.bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': e.contentType } }));
  }
}
const cfg = (yaml: string) => parseMergeConfig(yaml, 'test');
const LINEAR = `merge_method: linear\nmodels:\n  - model: ${LLAMA.model_id}\n    parameters: {weight: 1}\n  - model: ${HERMES.model_id}\n    parameters: {weight: 1}\n`;

async function decodeFromCache(baseUrl: string): Promise<{ cache: TensorCache; values: Map<string, Float32Array> }> {
  const c = await mem.open(WEBLLM_CACHES.model);
  const cache = JSON.parse(await (await c.match(new URL('tensor-cache.json', baseUrl).href))!.text()) as TensorCache;
  const values = new Map<string, Float32Array>();
  for (const p of listParams(cache)) {
    const parts = await Promise.all(p.parts.map(async (part) => {
      const shard = new Uint8Array(await (await c.match(new URL(part.dataPath, baseUrl).href))!.arrayBuffer());
      return shard.slice(part.record.byteOffset, part.record.byteOffset + part.record.nbytes);
    }));
    values.set(p.name, decodeParam(p, parts));
  }
  return { cache, values };
}

describe('web-llm cache layout', () => {
  it("model URLs resolve as web-llm's cleanModelUrl does (\"/resolve/main/\" added unless a revision is named)", () => {
    expect(modelBaseUrl('https://huggingface.co/mlc-ai/X-MLC')).toBe('https://huggingface.co/mlc-ai/X-MLC/resolve/main/');
    expect(modelBaseUrl('https://huggingface.co/mlc-ai/X-MLC/')).toBe('https://huggingface.co/mlc-ai/X-MLC/resolve/main/');
    expect(modelBaseUrl('https://host/m/resolve/v2/')).toBe('https://host/m/resolve/v2/');
    expect(mergedModelBaseUrl('http://h/app/index.html', 'x-1')).toBe('http://h/app/chorus-merged/x-1/resolve/main/');
  });
  it('merged model ids are URL- and list-safe and unique per merge', () => {
    expect(mergedModelId('My merge: ties/dare', 'abc123')).toBe('My-merge-ties-dare-abc123');
    expect(mergedModelId('../..', 'r')).toBe('merge-r');
    expect(mergedModelId('a')).not.toBe(mergedModelId('a'));
  });
  it('opens a cached parent: tensor cache, chat config, tokenizer; falls back to the older ndarray-cache.json', async () => {
    await put(LLAMA, synthetic(1, Q4F32_LAYOUT));
    await put(HERMES, synthetic(2, Q4F32_LAYOUT), { cacheFile: 'ndarray-cache.json' });
    const a = await openCachedCheckpoint(caches, LLAMA, 'a');
    const b = await openCachedCheckpoint(caches, HERMES, 'b');
    expect(a.files.map((f) => `${f.scope} ${f.file}`)).toEqual(['webllm/config mlc-chat-config.json', 'webllm/model tokenizer.json']);
    expect(a.chatConfig?.quantization).toBe('q4f32_1');
    expect(a.modelLib).toBe(LLAMA.model_lib);
    expect(b.cache.records.length).toBe(2);
    expect(a.tokenizerDigest).toBe(b.tokenizerDigest);
    expect([...(await cachedModelBases(caches))].sort()).toEqual([modelBaseUrl(HERMES.model), modelBaseUrl(LLAMA.model)].sort());
  });
  it('a parent with a file missing from the cache is refused, naming the model, the file and what to do', async () => {
    await put(LLAMA, synthetic(1, Q4F32_LAYOUT));
    const model = await mem.open(WEBLLM_CACHES.model);
    await model.delete(new URL('params_shard_1.bin', modelBaseUrl(LLAMA.model)).href);
    await expect(openCachedCheckpoint(caches, LLAMA, 'a')).rejects.toThrow(
      `${LLAMA.model_id}: params_shard_1.bin is not in web-llm's cache (${modelBaseUrl(LLAMA.model)}) — load the model once in the model manager`,
    );
    await expect(openCachedCheckpoint(caches, HERMES, 'b')).rejects.toThrow(/Hermes-3-Llama-3\.2-3B-q4f32_1-MLC: tensor-cache\.json is not in web-llm's cache/);
  });
});

describe('MLC compatibility planner', () => {
  const ckpt = (ref: string, s: Synthetic, over: Partial<MlcCheckpoint> = {}): MlcCheckpoint => ({ ref, name: ref, cache: s.cache, chatConfig: chatConfig(), tokenizerDigest: 'same', ...over });
  const yaml = 'merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]\n';
  const a = synthetic(1, Q4F32_LAYOUT), b = synthetic(2, Q4F32_LAYOUT);

  it('plans every parameter with its sizes; the output is as large as the base weights', () => {
    const p = planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', b)]);
    expect(p.tasks.map((t) => t.name)).toEqual(Q4F32_LAYOUT.map((l) => l.name));
    const weights = (s: Synthetic) => s.cache.records.reduce((n, r) => n + r.nbytes, 0);
    expect(p.outputSize).toBe(weights(a));
    expect(p.inputBytes).toBe(weights(a) + weights(b));
    expect(p.tasks[0]).toMatchObject({ kind: 'q4f32_1', shape: [32, 64], inBytes: 2 * (32 * 8 * 4 + 32 * 2 * 4), outBytes: 32 * 8 * 4 + 32 * 2 * 4 });
  });
  it('refuses another architecture, quantisation, vocabulary or tokenizer, naming both checkpoints', () => {
    const bad = (over: Partial<MlcCheckpoint>) => () => planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', b, over)]);
    expect(bad({ chatConfig: chatConfig({ model_type: 'qwen2' }) })).toThrow('b is a qwen2 model and a is a llama model — only checkpoints of one architecture can be merged');
    expect(bad({ chatConfig: chatConfig({ quantization: 'q4f16_1' }) })).toThrow('b is quantised as q4f16_1 and a as q4f32_1');
    expect(bad({ chatConfig: chatConfig({ vocab_size: 33 }) })).toThrow('b has a vocabulary of 33 tokens and a has 32 — these checkpoints cannot be merged');
    expect(bad({ tokenizerDigest: 'other' })).toThrow('b and a have different tokenizer files');
  });
  it('refuses a parameter of another shape, storage kind, or one the base lacks', () => {
    const shape = synthetic(2, Q4F32_LAYOUT.map((l) => (l.name === 'model.layers.1.mlp.down_proj' ? { ...l, shape: [64, 96] } : l)));
    expect(() => planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', shape)])).toThrow('b: model.layers.1.mlp.down_proj is [64, 96] here and [64, 128] in a — these checkpoints cannot be merged');
    const kind = synthetic(2, Q4F32_LAYOUT.map((l) => (l.name === 'model.embed_tokens' ? { ...l, kind: 'q4f16_1' as const } : l)));
    expect(() => planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', kind)])).toThrow('b: model.embed_tokens is stored as q4f16_1 here and as q4f32_1 in a');
    const extra = synthetic(2, [...Q4F32_LAYOUT, { name: 'lm_head', kind: 'f32', shape: [32, 64] }]);
    expect(() => planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', extra)])).toThrow('b has a parameter lm_head that a lacks');
    expect(() => planMlcMerge(cfg(yaml), [ckpt('a', a), ckpt('b', shape)])).toThrow(expect.objectContaining({ name: 'MlcPlanError', code: 'shape' }));
  });
  it('refuses an output dtype (the storage must stay what the model library runs) and names the fix', () => {
    expect(() => planMlcMerge(cfg(`${yaml}dtype: float16\n`), [ckpt('a', a), ckpt('b', b)])).toThrow(/dtype float16 cannot apply to an MLC merge.*choose "keep each input type"/);
  });
  it('GGUF and MLC inputs cannot be mixed', () => {
    expect(oneFormat([{ name: 'x.gguf', format: 'gguf' }, { name: 'y.gguf', format: 'gguf' }])).toBe('gguf');
    expect(oneFormat([{ name: 'M', format: 'mlc' }])).toBe('mlc');
    expect(() => oneFormat([{ name: 'x.gguf', format: 'gguf' }, { name: 'M-MLC', format: 'mlc' }])).toThrow(
      'GGUF and MLC inputs cannot be mixed: x.gguf is a GGUF file (llama.cpp) and M-MLC is an MLC model (web-llm)',
    );
  });
});

describe('merging into web-llm\'s cache', () => {
  it("a linear merge lands where web-llm looks: its own hasModelInCache finds it through Chorus's AppConfig; the shards decode to the average; the record reuses the parent's model_lib", async () => {
    const sa = synthetic(1, Q4F32_LAYOUT), sb = synthetic(2, Q4F32_LAYOUT);
    await put(LLAMA, sa);
    await put(HERMES, sb);
    const inputs = [await openCachedCheckpoint(caches, LLAMA, LLAMA.model_id), await openCachedCheckpoint(caches, HERMES, HERMES.model_id)];
    const plan = planMlcMerge(cfg(LINEAR), inputs);
    const id = mergedModelId('llama-hermes', 'test01');
    const url = mergedModelBaseUrl(APP, id);
    const record = mergedModelRecord(LLAMA, id, url);
    const appConfig = appConfigWith([record]);
    const progress: number[] = [];
    const stats: string[] = [];
    await mergeIntoWebLLMCache(caches, plan, url, { onProgress: (p) => progress.push(p.tensorsDone), onStats: (s) => stats.push(s.name) });

    expect(await hasModelInCache(id, appConfig)).toBe(true);
    expect(record.model_lib).toBe(LLAMA.model_lib);
    expect(record.overrides).toEqual(LLAMA.overrides);
    expect(progress.at(-1)).toBe(Q4F32_LAYOUT.length);
    expect(stats).toEqual(Q4F32_LAYOUT.map((l) => l.name));
    // Everything web-llm's loader reads for it is cached under our URL: nothing would be fetched.
    expect(mem.urls('webllm/config')).toContain(`${url}mlc-chat-config.json`);
    expect(mem.urls('webllm/model')).toEqual(expect.arrayContaining([`${url}tensor-cache.json`, `${url}tokenizer.json`, `${url}params_shard_0.bin`]));

    const { values } = await decodeFromCache(url);
    const da = await decodeFromCache(modelBaseUrl(LLAMA.model)), db = await decodeFromCache(modelBaseUrl(HERMES.model));
    for (const l of Q4F32_LAYOUT) {
      const got = values.get(l.name)!, x = da.values.get(l.name)!, y = db.values.get(l.name)!;
      // The average, straight from the parents' decoded values, re-quantised: q4 error ≤ scale/2.
      let maxAbs = 0;
      for (let i = 0; i < x.length; i++) maxAbs = Math.max(maxAbs, Math.abs((x[i]! + y[i]!) / 2));
      const tol = l.kind === 'q4f32_1' ? (maxAbs / 7) * 0.5 + 1e-6 : 1e-7;
      for (let i = 0; i < x.length; i++) expect(Math.abs(got[i]! - (x[i]! + y[i]!) / 2), `${l.name}[${i}]`).toBeLessThanOrEqual(tol);
    }
  });

  it('a cancelled merge leaves no key under its URL, and web-llm does not see it', async () => {
    await put(LLAMA, synthetic(1, Q4F32_LAYOUT));
    await put(HERMES, synthetic(2, Q4F32_LAYOUT));
    const inputs = [await openCachedCheckpoint(caches, LLAMA, LLAMA.model_id), await openCachedCheckpoint(caches, HERMES, HERMES.model_id)];
    const url = mergedModelBaseUrl(APP, 'cancelled-1');
    const ctl = new AbortController();
    const run = mergeIntoWebLLMCache(caches, planMlcMerge(cfg(LINEAR), inputs), url, { shardBytes: 1024, signal: ctl.signal, onProgress: (p) => p.tensorsDone === 3 && ctl.abort() });
    await expect(run).rejects.toBeInstanceOf(MergeAbortedError);
    expect([...mem.urls('webllm/model'), ...mem.urls('webllm/config')].filter((u) => u.startsWith(url))).toEqual([]);
    expect(await hasModelInCache('cancelled-1', appConfigWith([mergedModelRecord(LLAMA, 'cancelled-1', url)]))).toBe(false);
  });

  it("a failed write (quota) leaves nothing; removal deletes the merged model's keys and keeps the parents and the shared model library", async () => {
    await put(LLAMA, synthetic(1, Q4F32_LAYOUT));
    await put(HERMES, synthetic(2, Q4F32_LAYOUT));
    await (await mem.open(WEBLLM_CACHES.wasm)).put(LLAMA.model_lib, new Response(new Uint8Array([0, 97, 115, 109])));
    const inputs = [await openCachedCheckpoint(caches, LLAMA, LLAMA.model_id), await openCachedCheckpoint(caches, HERMES, HERMES.model_id)];
    const plan = planMlcMerge(cfg(LINEAR), inputs);
    const failing = new MemoryCacheStorage();
    for (const scope of Object.values(WEBLLM_CACHES)) await failing.open(scope);
    let puts = 0;
    const model = await failing.open(WEBLLM_CACHES.model);
    const realPut = model.put.bind(model);
    model.put = async (req, res) => {
      if (++puts === 3) throw new DOMException('quota', 'QuotaExceededError');
      return realPut(req, res);
    };
    const url = mergedModelBaseUrl(APP, 'failed-1');
    await expect(mergeIntoWebLLMCache(failing as unknown as CacheStorage, plan, url, { shardBytes: 1024 })).rejects.toThrow('quota');
    expect([...failing.urls('webllm/model'), ...failing.urls('webllm/config')]).toEqual([]);

    const ok = mergedModelBaseUrl(APP, 'kept-1');
    await mergeIntoWebLLMCache(caches, plan, ok);
    const before = mem.urls('webllm/model').filter((u) => !u.startsWith(ok));
    expect(await deleteCachedPrefix(caches, ok)).toBeGreaterThan(3);
    expect(mem.urls('webllm/model')).toEqual(before);
    expect(mem.urls('webllm/config').some((u) => u.startsWith(ok))).toBe(false);
    expect(mem.urls('webllm/wasm')).toEqual([LLAMA.model_lib]);
    expect(await hasModelInCache(LLAMA.model_id)).toBe(true);
  });
});

describe('engine creation for a merged model', () => {
  const fakeDeps = (calls: { modelId: string; config: MLCEngineConfig }[], inCache = true): WebLLMDeps => ({
    detect: async () => ({ webgpu: true, shaderF16: false }),
    inCache: async () => inCache,
    startWorker: () => ({ terminate() {} }) as unknown as Worker,
    create: async (_w, modelId, config) => {
      calls.push({ modelId, config });
      return {
        unload: async () => undefined,
        interruptGenerate: () => undefined,
        completions: {
          create: async () => (async function* () {
            yield { choices: [{ text: 'hi', finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } };
          })(),
        },
      } as unknown as MLCEngineInterface;
    },
  });

  it("web-llm is created with an AppConfig holding the merged record on the parent's model_lib (fake MLC engine: no web-llm weights here)", async () => {
    const id = 'merged-fake1';
    const record = mergedModelRecord(LLAMA, id, mergedModelBaseUrl(APP, id));
    const calls: { modelId: string; config: MLCEngineConfig }[] = [];
    const engine = await spawnWebLLM(id, { appConfig: appConfigWith([record]), cacheOnly: true }, fakeDeps(calls));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.modelId).toBe(id);
    const listed = calls[0]!.config.appConfig!.model_list.find((r) => r.model_id === id)!;
    expect(listed.model_lib).toBe(LLAMA.model_lib);
    expect(listed.model).toBe(`${APP}chorus-merged/${id}/resolve/main/`);
    // The prebuilt models stay available beside it.
    expect(calls[0]!.config.appConfig!.model_list.length).toBe(prebuiltAppConfig.model_list.length + 1);
    let text = '';
    for await (const c of engine.complete({ prompt: 'x' })) if (c.type === 'delta') text += c.text;
    expect(text).toBe('hi');
  });

  it("a merged model whose model library cannot be fetched says so, not that weights failed to download (fake MLC engine: no web-llm weights here)", async () => {
    const id = 'merged-offline';
    const deps = { ...fakeDeps([]), create: async () => { throw new TypeError('Failed to fetch'); } };
    await expect(spawnWebLLM(id, { appConfig: appConfigWith([mergedModelRecord(LLAMA, id, mergedModelBaseUrl(APP, id))]), cacheOnly: true }, deps)).rejects.toThrow(
      `merged-offline: web-llm could not download the model library it shares with its parent (${LLAMA.model_lib}): Failed to fetch. The merged weights are in this browser`,
    );
  });

  it('a merged model whose weights left the cache is refused before web-llm starts, saying what to do (fake MLC engine: no web-llm weights here)', async () => {
    const id = 'merged-gone';
    const calls: { modelId: string; config: MLCEngineConfig }[] = [];
    await expect(spawnWebLLM(id, { appConfig: appConfigWith([mergedModelRecord(LLAMA, id, mergedModelBaseUrl(APP, id))]), cacheOnly: true }, fakeDeps(calls, false))).rejects.toThrow(
      "merged-gone: its weights are no longer in web-llm's cache (site data cleared?) and there is nowhere to download them from — merge it again, or remove it.",
    );
    expect(calls).toHaveLength(0);
  });
});
