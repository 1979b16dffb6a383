/**
 * Merging MLC (web-llm) checkpoints: the same methods, parameters and statistics as GGUF merging
 * (methods/, config.ts), over tensor caches (format.ts). Parameter by parameter: read each input's
 * records, decode to f32, combine with the method's kernel, encode back to the base's storage kind,
 * append to the current output shard; shards are written as they fill, so memory stays at one
 * shard plus one parameter. The result is a tensor-cache.json + params_shard_*.bin that a web-llm
 * model record reusing the parents' model library (`model_lib`) can load.
 */
import { inputRefs, resolveTensorParams, type MergeConfig } from '../config.ts';
import { getMethod, type TensorStats } from '../methods/index.ts';
import { MergeAbortedError } from '../stream.ts';
import { MlcFormatError, decodeParam, encodeParam, listParams, type MlcParam, type ParamRecord, type ShardRecord, type TensorCache } from './format.ts';

export interface MlcInput {
  /** The config's reference for this input. */
  ref: string;
  name: string;
  cache: TensorCache;
  read(dataPath: string, offset: number, length: number): Promise<Uint8Array>;
}

export interface MlcOutput {
  /** Writes one whole file of the output (shards as they fill, tensor-cache.json last). */
  writeFile(name: string, bytes: Uint8Array): Promise<void>;
}

export interface MlcMergeOptions {
  /** Shard size limit in bytes (mlc-llm uses 32 MB). */
  shardBytes?: number;
  signal?: AbortSignal;
  onStats?(s: TensorStats): void;
  onProgress?(done: number, total: number): void;
}

/** MLC parameter names carry the layer as "layers.N." (mlc-llm's HF-style naming). */
function layerOf(name: string): number | null {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

export async function mergeMlc(config: MergeConfig, given: MlcInput[], out: MlcOutput, opts: MlcMergeOptions = {}): Promise<TensorCache> {
  const method = getMethod(config.mergeMethod);
  const { refs, baseIndex } = inputRefs(config);
  const inputs = refs.map((r) => {
    const i = given.find((g) => g.ref === r);
    if (!i) throw new MlcFormatError(`the config names ${r} but no such MLC input was given`);
    return i;
  });
  const ref = inputs[baseIndex ?? 0]!;
  const lists = inputs.map((i) => listParams(i.cache, `${i.name}/tensor-cache.json`));
  const refList = lists[baseIndex ?? 0]!;
  lists.forEach((l, k) => {
    const byName = new Map(l.map((p) => [p.name, p]));
    for (const p of refList) {
      const q = byName.get(p.name);
      if (!q) throw new MlcFormatError(`${inputs[k]!.name} has no parameter ${p.name}, which ${ref.name} has — these checkpoints cannot be merged`);
      if (q.shape.join(',') !== p.shape.join(',')) throw new MlcFormatError(`${inputs[k]!.name}: ${p.name} is [${q.shape.join(', ')}] here and [${p.shape.join(', ')}] in ${ref.name} — these checkpoints cannot be merged`);
    }
    if (l.length !== refList.length) throw new MlcFormatError(`${inputs[k]!.name} has ${l.length} parameters and ${ref.name} has ${refList.length} — these checkpoints cannot be merged`);
  });
  const numLayers = Math.max(0, ...refList.map((p) => (layerOf(p.name) ?? -1) + 1));
  const shardLimit = opts.shardBytes ?? 32 * 2 ** 20;

  const shards: ShardRecord[] = [];
  let chunks: Uint8Array[] = [];
  let records: ParamRecord[] = [];
  let size = 0;
  const flush = async () => {
    if (!records.length) return;
    const dataPath = `params_shard_${shards.length}.bin`;
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    await out.writeFile(dataPath, bytes);
    shards.push({ dataPath, format: 'raw-shard', nbytes: size, records });
    chunks = [];
    records = [];
    size = 0;
  };

  for (let k = 0; k < refList.length; k++) {
    if (opts.signal?.aborted) throw new MergeAbortedError();
    const p = refList[k]!;
    const params: MlcParam[] = lists.map((l) => l.find((q) => q.name === p.name)!);
    const tensors: Float32Array[] = [];
    for (const [i, inp] of inputs.entries()) {
      const q = params[i]!;
      const bytes = await Promise.all(q.parts.map((part) => inp.read(part.dataPath, part.record.byteOffset, part.record.nbytes)));
      tensors.push(decodeParam(q, bytes));
    }
    const layer = layerOf(p.name);
    const t = layer === null ? 0 : numLayers > 1 ? layer / (numLayers - 1) : 1;
    const resolved = resolveTensorParams(config, method, p.name, t);
    const n = tensors[0]!.length;
    const why = method.validate?.(resolved.params, resolved.modelParams, baseIndex, n);
    if (why) throw new MlcFormatError(`${method.id}, parameter ${p.name}: ${why}`);
    const { data, stats } = method.kernel({
      name: p.name, shape: [...p.shape].reverse(), tensors, baseIndex, params: resolved.params, modelParams: resolved.modelParams, seed: config.seed,
    });
    opts.onStats?.(stats);
    const encoded = encodeParam(p.kind, data);
    const total = encoded.reduce((a, b) => a + b.byteLength, 0);
    if (size > 0 && size + total > shardLimit) await flush();
    for (const [j, part] of p.parts.entries()) {
      const b = encoded[j]!;
      records.push({ ...part.record, shape: [...part.record.shape], byteOffset: size, nbytes: b.byteLength });
      chunks.push(b);
      size += b.byteLength;
    }
    opts.onProgress?.(k + 1, refList.length);
  }
  await flush();
  const cache: TensorCache = {
    metadata: {
      ...ref.cache.metadata,
      'chorus.merge': { method: method.id, inputs: inputs.map((i) => i.name), base_model: config.baseModel, models: config.models, parameters: config.parameters, seed: config.seed },
    },
    records: shards,
  };
  await out.writeFile('tensor-cache.json', new TextEncoder().encode(JSON.stringify(cache)));
  return cache;
}

/** The part of a web-llm `ModelRecord` (AppConfig.model_list entry) Chorus fills in. */
export interface WebLLMModelRecordLike {
  model: string;
  model_id: string;
  model_lib: string;
  overrides?: Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * A web-llm model record for merged weights served at `url`: same model library (compiled
 * kernels) as the parent — valid because a merge keeps every shape and quantisation — and a new id.
 */
export function mergedModelRecord(parent: WebLLMModelRecordLike, modelId: string, url: string): WebLLMModelRecordLike {
  return { ...parent, model: url, model_id: modelId, model_lib: parent.model_lib };
}
