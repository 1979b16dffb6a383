/**
 * Planning an MLC (web-llm) merge, before a byte is read or written: the inputs must be one
 * architecture (mlc-chat-config.json `model_type`), one quantisation (`quantization`: a merged
 * q4f16_1 model must stay q4f16_1 so the parents' compiled model library can run it), one
 * vocabulary (`vocab_size` and byte-identical tokenizer files) and the same parameters with the
 * same logical shapes and storage kinds. Any mismatch fails with a message naming the parameter,
 * the shapes or kinds, and the checkpoints. The plan lists every parameter with its resolved
 * method parameters and sizes, as the GGUF planner (../plan.ts) does for tensors.
 */
import { inputRefs, resolveTensorParams, MergeConfigError, type MergeConfig } from '../config.ts';
import { getMethod, type MethodDescriptor, type ParamValue } from '../methods/index.ts';
import { listParams, type MlcKind, type MlcParam, type TensorCache } from './format.ts';

/** One MLC checkpoint as the planner sees it: its tensor cache and what web-llm cached beside it. */
export interface MlcCheckpoint {
  /** The config's reference for this input. */
  ref: string;
  /** Shown in messages (the web-llm model id). */
  name: string;
  cache: TensorCache;
  /** Parsed mlc-chat-config.json, when known (architecture, quantisation, vocabulary checks). */
  chatConfig?: Record<string, unknown>;
  /** A digest of the tokenizer files (same digest = same vocabulary), when known. */
  tokenizerDigest?: string;
  /** web-llm's model_lib of this checkpoint (the compiled kernels), when known. */
  modelLib?: string;
}

export type MlcPlanErrorCode = 'format' | 'inputs' | 'architecture' | 'quantisation' | 'vocabulary' | 'tensor-names' | 'shape' | 'parameter';

export class MlcPlanError extends Error {
  override name = 'MlcPlanError';
  constructor(
    readonly code: MlcPlanErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MlcParamTask {
  name: string;
  /** Logical (dequantised) shape, rows first as MLC stores it. */
  shape: number[];
  kind: MlcKind;
  /** The parameter in each input, aligned with `plan.inputs`. */
  inputs: MlcParam[];
  /** Bytes read from all inputs, and written, for this parameter. */
  inBytes: number;
  outBytes: number;
  /** Gradient position (mergekit's t) and resolved parameters. */
  t: number;
  params: Record<string, ParamValue>;
  modelParams: Record<string, ParamValue>[];
}

export interface MlcPlan<T extends MlcCheckpoint = MlcCheckpoint> {
  method: MethodDescriptor;
  config: MergeConfig;
  inputs: T[];
  baseIndex: number | null;
  tasks: MlcParamTask[];
  inputBytes: number;
  /** Bytes of the merged shards (the same storage as the base's). */
  outputSize: number;
  estimatedSeconds: number;
  notes: string[];
}

/** MLC parameter names carry the layer as "layers.N." (mlc-llm's HF-style naming). */
export function layerOf(name: string): number | null {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

const bytesOf = (p: MlcParam): number => p.parts.reduce((s, part) => s + part.record.nbytes, 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

export function planMlcMerge<T extends MlcCheckpoint>(config: MergeConfig, given: T[], opts: { throughputMBps?: number } = {}): MlcPlan<T> {
  const method = getMethod(config.mergeMethod);
  if (config.slices) throw new MlcPlanError('parameter', 'slices (layer stacking) apply to GGUF merges only: an MLC merge keeps the parents\' model library, which is compiled for their number of layers — list the models under models: instead');
  if (config.tokenizerSource !== null || config.chatTemplate !== null) {
    throw new MlcPlanError('parameter', 'tokenizer_source and chat_template apply to GGUF merges only: an MLC merge keeps the base parent\'s tokenizer and mlc-chat-config.json — remove them');
  }
  const { refs, baseIndex } = inputRefs(config);
  const inputs = refs.map((r) => {
    const i = given.find((g) => g.ref === r);
    if (!i) throw new MlcPlanError('inputs', `the config names ${r} but no such MLC input was given (inputs: ${given.map((g) => g.ref).join(', ') || 'none'})`);
    return i;
  });
  const ref = inputs[baseIndex ?? 0]!;
  const label = (i: number) => inputs[i]!.name;
  const lists = inputs.map((i) => listParams(i.cache, `${i.name}/tensor-cache.json`));
  const refList = lists[baseIndex ?? 0]!;
  const kinds = [...new Set(refList.map((p) => p.kind))].join(', ');

  if (config.dtype !== 'keep') {
    throw new MlcPlanError('parameter', `dtype ${config.dtype} cannot apply to an MLC merge: the merged weights keep the parents' storage (${kinds}) so that the parents' model library can run them — choose "keep each input type"`);
  }

  // Architecture, quantisation, vocabulary: from mlc-chat-config.json and the tokenizer files.
  const cc = (i: number, key: string) => str(inputs[i]!.chatConfig?.[key]);
  const refIndex = baseIndex ?? 0;
  inputs.forEach((_, i) => {
    const a = cc(i, 'model_type'), b = cc(refIndex, 'model_type');
    if (a !== undefined && b !== undefined && a !== b) {
      throw new MlcPlanError('architecture', `${label(i)} is a ${a} model and ${ref.name} is a ${b} model — only checkpoints of one architecture can be merged`);
    }
    const qa = cc(i, 'quantization'), qb = cc(refIndex, 'quantization');
    if (qa !== undefined && qb !== undefined && qa !== qb) {
      throw new MlcPlanError('quantisation', `${label(i)} is quantised as ${qa} and ${ref.name} as ${qb} — an MLC merge keeps the parents' storage so their model library can run it; pick checkpoints with the same quantisation`);
    }
    const va = cc(i, 'vocab_size'), vb = cc(refIndex, 'vocab_size');
    if (va !== undefined && vb !== undefined && va !== vb) {
      throw new MlcPlanError('vocabulary', `${label(i)} has a vocabulary of ${va} tokens and ${ref.name} has ${vb} — these checkpoints cannot be merged`);
    }
    const ta = inputs[i]!.tokenizerDigest, tb = ref.tokenizerDigest;
    if (ta !== undefined && tb !== undefined && ta !== tb) {
      throw new MlcPlanError('vocabulary', `${label(i)} and ${ref.name} have different tokenizer files — their token ids mean different things, so these checkpoints cannot be merged`);
    }
  });

  // Parameter names, shapes and storage kinds.
  const byName = lists.map((l) => new Map(l.map((p) => [p.name, p])));
  const refNames = byName[refIndex]!;
  lists.forEach((l, i) => {
    for (const p of refList) {
      const q = byName[i]!.get(p.name);
      if (!q) throw new MlcPlanError('tensor-names', `${label(i)} has no parameter ${p.name}, which ${ref.name} has — these checkpoints cannot be merged`);
      if (q.shape.join(',') !== p.shape.join(',')) {
        throw new MlcPlanError('shape', `${label(i)}: ${p.name} is [${q.shape.join(', ')}] here and [${p.shape.join(', ')}] in ${ref.name} — these checkpoints cannot be merged`);
      }
      if (q.kind !== p.kind) {
        throw new MlcPlanError('quantisation', `${label(i)}: ${p.name} is stored as ${q.kind} here and as ${p.kind} in ${ref.name} — an MLC merge keeps the parents' storage; pick checkpoints with the same quantisation`);
      }
    }
    for (const q of l) {
      if (!refNames.has(q.name)) throw new MlcPlanError('tensor-names', `${label(i)} has a parameter ${q.name} that ${ref.name} lacks — these checkpoints cannot be merged`);
    }
  });

  const numLayers = Math.max(0, ...refList.map((p) => (layerOf(p.name) ?? -1) + 1));
  const tasks: MlcParamTask[] = refList.map((p) => {
    const layer = layerOf(p.name);
    const t = layer === null ? 0 : numLayers > 1 ? layer / (numLayers - 1) : 1;
    let resolved;
    try {
      resolved = resolveTensorParams(config, method, p.name, t);
    } catch (e) {
      throw new MlcPlanError('parameter', e instanceof MergeConfigError ? e.message : String(e));
    }
    const n = p.shape.reduce((a, b) => a * b, 1);
    const why = method.validate?.(resolved.params, resolved.modelParams, baseIndex, n);
    if (why) throw new MlcPlanError('parameter', `${method.id}, parameter ${p.name}: ${why}`);
    const params = byName.map((m) => m.get(p.name)!);
    return { name: p.name, shape: [...p.shape], kind: p.kind, inputs: params, inBytes: params.reduce((s, q) => s + bytesOf(q), 0), outBytes: bytesOf(p), t, ...resolved };
  });

  const notes = [...config.notes];
  const libs = new Set(inputs.map((i) => i.modelLib).filter((x): x is string => x !== undefined));
  if (libs.size > 1 && ref.modelLib) {
    notes.push(`the inputs use ${libs.size} different model libraries; the merged model runs on ${ref.name}'s (${ref.modelLib.split('/').pop()}), which fits its shapes and quantisation`);
  }
  const inputBytes = tasks.reduce((s, t) => s + t.inBytes, 0);
  const outputSize = tasks.reduce((s, t) => s + t.outBytes, 0);
  return {
    method, config, inputs, baseIndex, tasks, inputBytes, outputSize,
    estimatedSeconds: inputBytes / 1e6 / (opts.throughputMBps ?? 40), notes,
  };
}

/**
 * GGUF (llama.cpp) and MLC (web-llm) checkpoints store different tensors (names, layouts,
 * quantisations) and run on different engines, so one merge takes inputs of one format. Returns
 * the format, or throws naming an input of each.
 */
export function oneFormat(inputs: { name: string; format: 'gguf' | 'mlc' }[]): 'gguf' | 'mlc' {
  const g = inputs.find((i) => i.format === 'gguf');
  const m = inputs.find((i) => i.format === 'mlc');
  if (g && m) {
    throw new MlcPlanError(
      'format',
      `GGUF and MLC inputs cannot be mixed: ${g.name} is a GGUF file (llama.cpp) and ${m.name} is an MLC model (web-llm), which store their weights differently — pick inputs of one format`,
    );
  }
  return m ? 'mlc' : 'gguf';
}
