/**
 * Plan, then stream (mergekit's `plan.py` / `graph.py`): from the inputs' GGUF headers and a
 * config, check compatibility — architecture, tensor names, shapes, vocabulary, decodable types,
 * parameters for every tensor — and build the list of per-tensor tasks with output types and byte
 * layout, the output size and an estimated time. Nothing is read beyond headers and nothing is
 * written here: an incompatible plan fails before any byte of output exists.
 */
import {
  GGMLType, GGML_TYPE_SIZE, GGUFValueType, GGUFWriter, PROVENANCE_PREFIX, getMeta, ggmlTypeName, layoutTensors, meta, setMeta, withProvenance,
  type ByteSource, type GGUFFile, type GGUFMetadataEntry, type GGUFTensorInfo,
} from './gguf/index.ts';
import { hasDecoder, hasEncoder } from './stream.ts';
import { inputRefs, layerIndex, layerT, resolveTensorParams, MergeConfigError, type MergeConfig } from './config.ts';
import { getMethod, type MethodDescriptor, type ParamValue } from './methods/index.ts';

export interface MergeInput {
  /** The reference used in the config (path or model name). */
  ref: string;
  source: ByteSource;
  file: GGUFFile;
}

export interface TensorTask {
  name: string;
  shape: number[];
  nElements: number;
  /** Tensor info of each input, aligned with `plan.inputs`. */
  inputs: GGUFTensorInfo[];
  outType: GGMLType;
  /** Offset in the output's data section and byte size. */
  outOffset: number;
  outBytes: number;
  /** Bytes read from all inputs for this tensor. */
  inBytes: number;
  /** Gradient position (mergekit's t) and resolved parameters. */
  t: number;
  params: Record<string, ParamValue>;
  modelParams: Record<string, ParamValue>[];
}

export interface MergePlan {
  method: MethodDescriptor;
  config: MergeConfig;
  inputs: MergeInput[];
  baseIndex: number | null;
  tasks: TensorTask[];
  /** Output metadata: the base's (tokenizer, chat template kept) plus provenance. */
  metadata: GGUFMetadataEntry[];
  /**
   * The input whose chat template the output carries (the base's own, else the first input's that
   * has one), or null when no input has one.
   */
  chatTemplateFrom: string | null;
  alignment: number;
  /** Size of the output file, header included. */
  outputSize: number;
  inputBytes: number;
  estimatedSeconds: number;
  /** Things the user should know (types changed, options ignored). */
  notes: string[];
}

export type PlanErrorCode = 'architecture' | 'tensor-names' | 'shape' | 'vocabulary' | 'type' | 'parameter' | 'inputs';

/** An incompatible or invalid plan; the message names the tensor, the shapes and the files. */
export class MergePlanError extends Error {
  override name = 'MergePlanError';
  constructor(readonly code: PlanErrorCode, message: string) {
    super(message);
  }
}

export interface PlanOptions {
  /** Throughput used for the time estimate, MB of input per second (the bench measures it). */
  throughputMBps?: number;
  /** Name written to general.name; default "<method> merge of <inputs>". */
  outputName?: string;
  /** ISO time for the provenance (tests pin it). */
  created?: string;
}

/** `tokenizer.chat_template` and its named variants (`tokenizer.chat_template.<name>`, gguf-py constants). */
const CHAT_TEMPLATE = 'tokenizer.chat_template';

const LLAMA_FTYPE: Partial<Record<GGMLType, number>> = {
  // llama.h enum llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7, MOSTLY_BF16 = 32.
  [GGMLType.F32]: 0, [GGMLType.F16]: 1, [GGMLType.Q8_0]: 7, [GGMLType.BF16]: 32,
};

export function planMerge(config: MergeConfig, inputs: MergeInput[], opts: PlanOptions = {}): MergePlan {
  const method = getMethod(config.mergeMethod);
  const { refs, baseIndex } = inputRefs(config);
  // Inputs in mergekit's order (models as listed, then the base), whatever order they came in.
  const given = inputs;
  inputs = refs.map((r) => {
    const inp = given.find((g) => g.ref === r);
    if (!inp) throw new MergePlanError('inputs', `the config names ${r} but no such input was given (inputs: ${given.map((g) => g.ref).join(', ') || 'none'})`);
    return inp;
  });
  const ref = inputs[baseIndex ?? 0]!;
  const label = (i: number) => inputs[i]!.source.name;

  // Architecture.
  const arch = String(getMeta(ref.file, 'general.architecture') ?? '');
  inputs.forEach((inp, i) => {
    const a = String(getMeta(inp.file, 'general.architecture') ?? '');
    if (a !== arch) {
      throw new MergePlanError('architecture', `${label(i)} is a ${a || 'model without general.architecture'} model and ${ref.source.name} is ${arch || 'without general.architecture'} — only checkpoints of one architecture can be merged`);
    }
  });

  // Vocabulary: same tokens in the same order (the embedding rows must mean the same thing).
  const refTokens = getMeta(ref.file, 'tokenizer.ggml.tokens');
  inputs.forEach((inp, i) => {
    const toks = getMeta(inp.file, 'tokenizer.ggml.tokens');
    if (!Array.isArray(refTokens) || !Array.isArray(toks)) {
      if (Array.isArray(refTokens) !== Array.isArray(toks)) {
        throw new MergePlanError('vocabulary', `${Array.isArray(toks) ? ref.source.name : label(i)} has no tokenizer.ggml.tokens while ${Array.isArray(toks) ? label(i) : ref.source.name} has one — cannot check that their vocabularies agree`);
      }
      return;
    }
    if (toks.length !== refTokens.length) {
      throw new MergePlanError('vocabulary', `${label(i)} has a vocabulary of ${toks.length} tokens and ${ref.source.name} has ${refTokens.length} — these checkpoints cannot be merged (tokenizer_source is not supported)`);
    }
    const k = toks.findIndex((tok, j) => tok !== refTokens[j]);
    if (k >= 0) {
      throw new MergePlanError('vocabulary', `${label(i)} and ${ref.source.name} have different vocabularies: token ${k} is ${JSON.stringify(toks[k])} in one and ${JSON.stringify(refTokens[k])} in the other — these checkpoints cannot be merged`);
    }
  });

  // Tensor names and shapes.
  const byName = inputs.map((inp) => new Map(inp.file.tensors.map((t) => [t.name, t])));
  inputs.forEach((inp, i) => {
    for (const t of ref.file.tensors) {
      if (!byName[i]!.has(t.name)) throw new MergePlanError('tensor-names', `${label(i)} has no tensor ${t.name}, which ${ref.source.name} has — these checkpoints cannot be merged`);
    }
    for (const t of inp.file.tensors) {
      if (!byName[baseIndex ?? 0]!.has(t.name)) throw new MergePlanError('tensor-names', `${label(i)} has a tensor ${t.name} that ${ref.source.name} lacks — these checkpoints cannot be merged`);
    }
  });

  const numLayers = blockCount(ref.file, arch);
  const notes = [...config.notes];
  const specs: { name: string; shape: number[]; type: GGMLType }[] = [];
  const pending: Omit<TensorTask, 'outOffset' | 'outBytes'>[] = [];
  const noEncoder = new Set<string>();
  for (const rt of ref.file.tensors) {
    const infos = inputs.map((_, i) => byName[i]!.get(rt.name)!);
    infos.forEach((t, i) => {
      if (t.shape.length !== rt.shape.length || t.shape.some((d, j) => d !== rt.shape[j])) {
        throw new MergePlanError('shape', `${label(i)}: tensor ${rt.name} is [${t.shape.join(', ')}] here and [${rt.shape.join(', ')}] in ${ref.source.name} — these checkpoints cannot be merged`);
      }
      if (!hasDecoder(t.type)) {
        throw new MergePlanError('type', `${label(i)}: tensor ${rt.name} is stored as ${ggmlTypeName(t.type)}, which Chorus cannot decode — convert the model to F16, Q8_0 or a K-quant first`);
      }
    });
    const outType = chooseOutType(config.dtype, rt, noEncoder);
    let resolved;
    try {
      resolved = resolveTensorParams(config, method, rt.name, layerT(rt.name, numLayers));
    } catch (e) {
      throw new MergePlanError('parameter', e instanceof MergeConfigError ? e.message : String(e));
    }
    const why = method.validate?.(resolved.params, resolved.modelParams, baseIndex, rt.nElements);
    if (why) throw new MergePlanError('parameter', `${method.id}, tensor ${rt.name}: ${why}`);
    specs.push({ name: rt.name, shape: [...rt.shape], type: outType });
    pending.push({
      name: rt.name, shape: [...rt.shape], nElements: rt.nElements, inputs: infos, outType,
      inBytes: infos.reduce((s, t) => s + t.byteSize, 0), t: layerT(rt.name, numLayers), ...resolved,
    });
  }
  for (const ty of noEncoder) notes.push(`${ty} tensors are written as F16: Chorus decodes ${ty} but cannot encode it`);

  const alignment = ref.file.alignment;
  const layout = layoutTensors(specs, alignment);
  const tasks: TensorTask[] = pending.map((p, i) => ({ ...p, outOffset: layout[i]!.offset, outBytes: layout[i]!.byteSize }));

  const name = opts.outputName ?? config.name ?? `${method.id} merge of ${inputs.map((i) => i.source.name).join(' + ')}`;
  let metadata = withProvenance(ref.file.metadata, {
    method: method.id,
    inputs: inputs.map((i) => i.source.name),
    parameters: { base_model: config.baseModel, models: config.models, parameters: config.parameters, dtype: config.dtype, seed: config.seed },
    tool: 'Chorus merge',
    ...(opts.created !== undefined ? { created: opts.created } : {}),
  });
  metadata = setMeta(metadata, meta.string('general.name', name));
  // The chat template: the base's, else the first input's that has one. Taking the base's metadata
  // alone dropped it when the base was a pretrained model without one (stories260K) and the
  // fine-tunes had one; a merged chat model would then be prompted as a plain transcript.
  const hasTemplate = (f: GGUFFile) => f.metadata.some((e) => e.key.startsWith(CHAT_TEMPLATE));
  const templateInput = hasTemplate(ref.file) ? ref : inputs.find((i) => hasTemplate(i.file));
  const chatTemplateFrom = templateInput ? templateInput.source.name : null;
  if (templateInput && templateInput !== ref) {
    metadata = setMeta(metadata, ...templateInput.file.metadata.filter((e) => e.key.startsWith(CHAT_TEMPLATE)));
    notes.push(`${ref.source.name} (${baseIndex === null ? 'the first input' : 'the base'}) has no chat template; the output keeps the one of ${templateInput.source.name}`);
  }
  if (chatTemplateFrom !== null) metadata = setMeta(metadata, meta.string(`${PROVENANCE_PREFIX}chat_template`, chatTemplateFrom));
  const ft = config.dtype === 'keep' ? undefined : LLAMA_FTYPE[outTypeOf(config.dtype)];
  if (ft !== undefined && getMeta(ref.file, 'general.file_type') !== undefined) {
    metadata = setMeta(metadata, { key: 'general.file_type', type: GGUFValueType.UINT32, value: ft });
  }

  const outputSize = plannedSize(metadata, specs, alignment);
  const inputBytes = tasks.reduce((s, t) => s + t.inBytes, 0);
  const mbps = opts.throughputMBps ?? 60;
  return {
    method, config, inputs, baseIndex, tasks, metadata, chatTemplateFrom, alignment, outputSize, inputBytes,
    estimatedSeconds: inputBytes / 1e6 / mbps, notes,
  };
}

function outTypeOf(d: Exclude<MergeConfig['dtype'], 'keep'>): GGMLType {
  return { float32: GGMLType.F32, float16: GGMLType.F16, bfloat16: GGMLType.BF16, q8_0: GGMLType.Q8_0 }[d];
}

/**
 * The output type of one tensor: the dtype asked for, else the base's own type. Q8_0 applies to
 * matrices whose rows are whole blocks; vectors (norms) stay F32 as llama.cpp's quantizer leaves
 * them. A type Chorus cannot encode (K-quants) becomes F16.
 */
function chooseOutType(dtype: MergeConfig['dtype'], t: GGUFTensorInfo, noEncoder: Set<string>): GGMLType {
  let want = dtype === 'keep' ? t.type : outTypeOf(dtype);
  const rowLen = t.shape[0] ?? 1;
  if (want !== GGMLType.F32 && want !== GGMLType.F16 && want !== GGMLType.BF16) {
    if (dtype !== 'keep' && t.shape.length < 2) return GGMLType.F32;
    if (rowLen % GGML_TYPE_SIZE[want].blockSize !== 0) want = GGMLType.F16;
  }
  if (!hasEncoder(want)) {
    noEncoder.add(ggmlTypeName(want));
    want = GGMLType.F16;
  }
  return want;
}

/** Layer count: `<arch>.block_count`, else one more than the largest blk.N. */
function blockCount(file: GGUFFile, arch: string): number {
  const bc = getMeta(file, `${arch}.block_count`);
  if (typeof bc === 'number' || typeof bc === 'bigint') return Number(bc);
  let max = -1;
  for (const t of file.tensors) max = Math.max(max, layerIndex(t.name) ?? -1);
  return max + 1;
}

/** Exact output size: the project's writer lays the file out (nothing is written to the sink). */
function plannedSize(metadata: GGUFMetadataEntry[], specs: { name: string; shape: number[]; type: GGMLType }[], alignment: number): number {
  const w = new GGUFWriter({ write: () => undefined }, { alignment });
  w.addMetadata(metadata);
  for (const s of specs) w.addTensorInfo(s);
  return w.plannedSize();
}
