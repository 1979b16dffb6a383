/**
 * Merging MLC (web-llm) checkpoints: the same methods, parameters and statistics as GGUF merging
 * (methods/, config.ts), over tensor caches (format.ts). Parameter by parameter: read each input's
 * records, decode to f32, combine with the method's kernel, encode back to the base's storage kind,
 * append to the current output shard; shards are written as they fill, so memory stays at one
 * shard plus one parameter. The result is a tensor-cache.json + params_shard_*.bin that a web-llm
 * model record reusing the parents' model library (`model_lib`) can load.
 */
import type { MergeConfig } from '../config.ts';
import type { TensorStats } from '../methods/index.ts';
import { MergeAbortedError, progressReport, type MergeProgress } from '../stream.ts';
import { decodeParam, encodeParam, type ParamRecord, type ShardRecord, type TensorCache } from './format.ts';
import { planMlcMerge, type MlcCheckpoint, type MlcPlan } from './plan.ts';

export interface MlcInput extends MlcCheckpoint {
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
  onProgress?(p: MergeProgress): void;
  /** Minimum milliseconds between progress reports (the last parameter is always reported). */
  progressIntervalMs?: number;
}

/** Plans (every compatibility check first, nothing written on failure), then merges. */
export async function mergeMlc(config: MergeConfig, given: MlcInput[], out: MlcOutput, opts: MlcMergeOptions = {}): Promise<TensorCache> {
  return executeMlcMerge(planMlcMerge(config, given), out, opts);
}

/**
 * Runs a plan parameter by parameter: read each input's records, decode to f32, combine with the
 * method's kernel, encode back to the base's storage kind, append to the current output shard.
 */
export async function executeMlcMerge(plan: MlcPlan<MlcInput>, out: MlcOutput, opts: MlcMergeOptions = {}): Promise<TensorCache> {
  const { method, config, baseIndex } = plan;
  const inputs = plan.inputs;
  const ref = inputs[baseIndex ?? 0]!;
  const shardLimit = opts.shardBytes ?? 32 * 2 ** 20;
  const t0 = performance.now();
  let bytesRead = 0;
  let bytesWritten = 0;
  let lastReport = -Infinity;

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
    if (opts.signal?.aborted) throw new MergeAbortedError();
    await out.writeFile(dataPath, bytes);
    bytesWritten += size;
    shards.push({ dataPath, format: 'raw-shard', nbytes: size, records });
    chunks = [];
    records = [];
    size = 0;
  };

  for (const [k, task] of plan.tasks.entries()) {
    if (opts.signal?.aborted) throw new MergeAbortedError();
    const tensors: Float32Array[] = [];
    for (const [i, inp] of inputs.entries()) {
      const q = task.inputs[i]!;
      const bytes = await Promise.all(q.parts.map((part) => inp.read(part.dataPath, part.record.byteOffset, part.record.nbytes)));
      for (const b of bytes) bytesRead += b.byteLength;
      tensors.push(decodeParam(q, bytes));
    }
    const { data, stats } = method.kernel({
      name: task.name, shape: [...task.shape].reverse(), tensors, baseIndex, params: task.params, modelParams: task.modelParams, seed: config.seed,
    });
    opts.onStats?.(stats);
    const encoded = encodeParam(task.kind, data);
    const total = encoded.reduce((a, b) => a + b.byteLength, 0);
    if (size > 0 && size + total > shardLimit) await flush();
    for (const [j, part] of task.inputs[baseIndex ?? 0]!.parts.entries()) {
      const b = encoded[j]!;
      records.push({ ...part.record, shape: [...part.record.shape], byteOffset: size, nbytes: b.byteLength });
      chunks.push(b);
      size += b.byteLength;
    }
    const now = performance.now();
    const last = k === plan.tasks.length - 1;
    if (opts.onProgress && (last || now - lastReport >= (opts.progressIntervalMs ?? 0))) {
      lastReport = now;
      opts.onProgress(progressReport({
        tensorsDone: k + 1, tensorsTotal: plan.tasks.length, bytesRead, bytesTotal: plan.inputBytes, bytesWritten: bytesWritten + size,
        outputSize: plan.outputSize, elapsedMs: now - t0, tensor: task.name,
      }));
    }
  }
  await flush();
  const cache: TensorCache = {
    metadata: {
      ...ref.cache.metadata,
      'chorus.merge': { method: method.id, inputs: inputs.map((i) => i.name), base_model: config.baseModel, models: config.models, parameters: config.parameters, seed: config.seed },
    },
    records: shards,
  };
  if (opts.signal?.aborted) throw new MergeAbortedError();
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
