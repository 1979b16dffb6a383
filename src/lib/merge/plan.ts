/**
 * Plan, then stream (mergekit's `plan.py` / `graph.py`): from the inputs' GGUF headers and a
 * config, check compatibility — architecture, tensor names, shapes, vocabulary, decodable types,
 * parameters for every tensor — and build the list of per-tensor tasks with output types and byte
 * layout, the output size and an estimated time. Nothing is read beyond headers and nothing is
 * written here: an incompatible plan fails before any byte of output exists.
 */
import {
  GGMLType, GGML_TYPE_SIZE, GGUFValueType, GGUFWriter, PROVENANCE_PREFIX, getMeta, ggmlTypeName, layoutTensors, meta, removeMeta, setMeta, withProvenance,
  type ByteSource, type GGUFFile, type GGUFMetadataEntry, type GGUFScalar, type GGUFTensorInfo,
} from './gguf/index.ts';
import { hasDecoder, hasEncoder } from './stream.ts';
import { CHAT_TEMPLATES, inputRefs, layerIndex, layerT, resolveTensorParams, sliceRefs, MergeConfigError, type MergeConfig, type SliceSpec } from './config.ts';
import { getMethod, type MethodDescriptor, type ParamValue } from './methods/index.ts';

export interface MergeInput {
  /** The reference used in the config (path or model name). */
  ref: string;
  source: ByteSource;
  file: GGUFFile;
}

export interface TensorTask {
  /** The output tensor's name (renumbered blk.N when slices stack layers). */
  name: string;
  shape: number[];
  nElements: number;
  /** Which of `plan.inputs` this tensor is merged from, in the kernel's order (all of them, in order, without slices). */
  sources: number[];
  /** Tensor info of each source, aligned with `sources`. */
  inputs: GGUFTensorInfo[];
  /** Index of the base in `sources`, or null. */
  baseIndex: number | null;
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
   * Where the output's chat template comes from: an input's name (the base's own, else the first
   * input's that has one, or the one chat_template names or `auto` elects), "chatml", "the config"
   * (a Jinja template written in it), or null when there is none.
   */
  chatTemplateFrom: string | null;
  /** The input whose tokenizer metadata the output carries. */
  tokenizerFrom: string;
  /** Layers of the output (differs from the inputs' with slices). */
  blockCount: number;
  alignment: number;
  /** Size of the output file, header included. */
  outputSize: number;
  inputBytes: number;
  estimatedSeconds: number;
  /** Things the user should know (types changed, options ignored). */
  notes: string[];
}

export type PlanErrorCode = 'architecture' | 'tensor-names' | 'shape' | 'vocabulary' | 'type' | 'parameter' | 'inputs' | 'layer-range' | 'chat-template';

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

  const numLayers = blockCount(ref.file, arch);
  const byName = inputs.map((inp) => new Map(inp.file.tensors.map((t) => [t.name, t])));
  const jobs = config.slices ? sliceJobs(config, config.slices, inputs, byName, arch, label) : modelJobs(inputs, byName, baseIndex, numLayers, label);
  const notes = [...config.notes];
  const specs: { name: string; shape: number[]; type: GGMLType }[] = [];
  const pending: Omit<TensorTask, 'outOffset' | 'outBytes'>[] = [];
  const noEncoder = new Set<string>();
  for (const job of jobs) {
    // Shapes are compared with the base's tensor (the first source's without a base).
    const refK = job.baseIndex ?? 0;
    const rt = job.infos[refK]!;
    job.infos.forEach((t, k) => {
      const i = job.sources[k]!;
      if (t.shape.length !== rt.shape.length || t.shape.some((d, j) => d !== rt.shape[j])) {
        throw new MergePlanError('shape', `${label(i)}: tensor ${t.name} is [${t.shape.join(', ')}] here and [${rt.shape.join(', ')}] in ${label(job.sources[refK]!)}${t.name === rt.name ? '' : ` (${rt.name})`} — these checkpoints cannot be merged`);
      }
      if (!hasDecoder(t.type)) {
        throw new MergePlanError('type', `${label(i)}: tensor ${t.name} is stored as ${ggmlTypeName(t.type)}, which Chorus cannot decode — convert the model to F16, Q8_0 or a K-quant first`);
      }
    });
    // The output keeps the base's type (the first source's without a base).
    const outType = chooseOutType(config.dtype, rt, noEncoder);
    let resolved;
    try {
      resolved = resolveTensorParams(config, method, job.paramName, job.t, job.slice);
    } catch (e) {
      throw new MergePlanError('parameter', e instanceof MergeConfigError ? e.message : String(e));
    }
    const why = method.validate?.(resolved.params, resolved.modelParams, job.baseIndex, rt.nElements);
    if (why) throw new MergePlanError('parameter', `${method.id}, tensor ${job.name}: ${why}`);
    specs.push({ name: job.name, shape: [...rt.shape], type: outType });
    pending.push({
      name: job.name, shape: [...rt.shape], nElements: rt.nElements, sources: job.sources, inputs: job.infos, baseIndex: job.baseIndex, outType,
      inBytes: job.infos.reduce((s, t) => s + t.byteSize, 0), t: job.t, ...resolved,
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
    parameters: {
      base_model: config.baseModel, ...(config.slices ? { slices: config.slices } : { models: config.models }), parameters: config.parameters,
      dtype: config.dtype, seed: config.seed,
      ...(config.tokenizerSource !== null ? { tokenizer_source: config.tokenizerSource } : {}),
      ...(config.chatTemplate !== null ? { chat_template: config.chatTemplate } : {}),
    },
    tool: 'Chorus merge',
    ...(opts.created !== undefined ? { created: opts.created } : {}),
  });
  metadata = setMeta(metadata, meta.string('general.name', name));

  // Layer count and per-layer arrays: slices change the depth, so `<arch>.block_count` becomes the
  // output's and every `<arch>.*` array with one entry per layer (e.g. head counts of models whose
  // layers differ) is rebuilt from the source layer of each output layer.
  const outLayers = config.slices ? config.slices.reduce((n, sl) => n + (sl.sources[0]!.layerRange[1] - sl.sources[0]!.layerRange[0]), 0) : numLayers;
  if (config.slices) {
    const bcKey = `${arch}.block_count`;
    const bc = ref.file.metadata.find((e) => e.key === bcKey);
    metadata = setMeta(metadata, { key: bcKey, type: bc?.type ?? GGUFValueType.UINT32, value: bc && typeof bc.value === 'bigint' ? BigInt(outLayers) : outLayers });
    const origin: { input: number; layer: number }[] = [];
    for (const sl of config.slices) {
      const src = sl.sources[0]!;
      for (let l = src.layerRange[0]; l < src.layerRange[1]; l++) origin.push({ input: inputs.findIndex((x) => x.ref === src.model), layer: l });
    }
    for (const e of ref.file.metadata) {
      if (e.type !== GGUFValueType.ARRAY || !e.key.startsWith(`${arch}.`) || (e.value as unknown[]).length !== numLayers) continue;
      const value = origin.map(({ input, layer }) => {
        const own = inputs[input]!.file.metadata.find((x) => x.key === e.key);
        if (!own || own.type !== GGUFValueType.ARRAY) throw new MergePlanError('layer-range', `${label(input)} has no per-layer array ${e.key}, which ${ref.source.name} has — cannot say what its layer ${layer} needs`);
        return (own.value as GGUFScalar[])[layer]!;
      });
      metadata = setMeta(metadata, { ...e, value });
    }
    notes.push(`the output has ${outLayers} layers (blk.0 … blk.${outLayers - 1}), stacked from ${config.slices.length} slice${config.slices.length === 1 ? '' : 's'}`);
  }

  // Tokenizer: the base's (the first input's without one), or the one tokenizer_source names. The
  // vocabularies were checked to be identical above, so "union" is that same vocabulary.
  let tokenizerInput = ref;
  const ts = config.tokenizerSource;
  if (ts !== null && ts !== 'union' && ts !== 'base') tokenizerInput = inputs.find((x) => x.ref === ts)!;
  if (ts === 'union') notes.push('tokenizer_source union: the inputs share one vocabulary, so the union is that vocabulary; no embedding rows are permuted');
  const isTokenizerKey = (k: string) => k.startsWith('tokenizer.') && !k.startsWith(CHAT_TEMPLATE);
  if (tokenizerInput !== ref) {
    metadata = removeMeta(metadata, ...metadata.filter((e) => isTokenizerKey(e.key)).map((e) => e.key));
    metadata = setMeta(metadata, ...tokenizerInput.file.metadata.filter((e) => isTokenizerKey(e.key)));
    notes.push(`the output carries the tokenizer metadata of ${tokenizerInput.source.name} (tokenizer_source)`);
  }
  const tokenizerFrom = tokenizerInput.source.name;
  metadata = setMeta(metadata, meta.string(`${PROVENANCE_PREFIX}tokenizer`, tokenizerFrom));

  // The chat template. Without chat_template: the base's, else the first input's that has one
  // (taking the base's metadata alone dropped it when the base was a pretrained model without one,
  // such as stories260K, and the fine-tunes had one). With chat_template: as mergekit's
  // _set_chat_template — "auto" elects the template most inputs carry (ties: the earliest input),
  // a name gives that built-in template, a model of the merge gives its template, anything else is
  // the Jinja template itself.
  const templateOf = (f: GGUFFile) => {
    const v = f.metadata.find((e) => e.key === CHAT_TEMPLATE)?.value;
    return typeof v === 'string' ? v : null;
  };
  const hasTemplate = (f: GGUFFile) => f.metadata.some((e) => e.key.startsWith(CHAT_TEMPLATE));
  let chatTemplateFrom: string | null = null;
  const setTemplate = (text: string, from: string, why: string) => {
    metadata = removeMeta(metadata, ...metadata.filter((e) => e.key.startsWith(CHAT_TEMPLATE)).map((e) => e.key));
    metadata = setMeta(metadata, meta.string(CHAT_TEMPLATE, text));
    chatTemplateFrom = from;
    notes.push(why);
  };
  const ct = config.chatTemplate;
  if (ct === null) {
    const templateInput = hasTemplate(ref.file) ? ref : inputs.find((i) => hasTemplate(i.file));
    chatTemplateFrom = templateInput ? templateInput.source.name : null;
    if (templateInput && templateInput !== ref) {
      metadata = setMeta(metadata, ...templateInput.file.metadata.filter((e) => e.key.startsWith(CHAT_TEMPLATE)));
      notes.push(`${ref.source.name} (${baseIndex === null ? 'the first input' : 'the base'}) has no chat template; the output keeps the one of ${templateInput.source.name}`);
    }
  } else if (ct === 'auto') {
    const counts = new Map<string, { n: number; first: number }>();
    inputs.forEach((inp, i) => {
      const t = templateOf(inp.file)?.trim();
      if (t) counts.set(t, { n: (counts.get(t)?.n ?? 0) + 1, first: counts.get(t)?.first ?? i });
    });
    const best = [...counts.entries()].sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first)[0];
    if (best) setTemplate(best[0], inputs[best[1].first]!.source.name, `chat_template auto: ${best[1].n} of ${inputs.length} inputs carry the template of ${inputs[best[1].first]!.source.name}; the output takes it`);
    else notes.push('chat_template auto: no input has a chat template, so the output has none');
  } else if (Object.hasOwn(CHAT_TEMPLATES, ct)) {
    setTemplate(CHAT_TEMPLATES[ct]!, ct, `the output takes the built-in ${ct} chat template (chat_template: ${ct})`);
  } else if (inputs.some((x) => x.ref === ct)) {
    const inp = inputs.find((x) => x.ref === ct)!;
    const t = templateOf(inp.file);
    if (t === null) throw new MergePlanError('chat-template', `chat_template names ${inp.source.name}, which has no chat template (tokenizer.chat_template); name another input, use auto, or write the template`);
    setTemplate(t, inp.source.name, `the output takes the chat template of ${inp.source.name} (chat_template)`);
  } else {
    setTemplate(ct, 'the config', 'the output takes the chat template written in the config (chat_template)');
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
    method, config, inputs, baseIndex, tasks, metadata, chatTemplateFrom, tokenizerFrom, blockCount: outLayers, alignment, outputSize, inputBytes,
    estimatedSeconds: inputBytes / 1e6 / mbps, notes,
  };
}


/** One output tensor before layout: its name, its sources (indices into the plan's inputs) and their tensors. */
interface Job {
  name: string;
  /** Name under which parameters (filters, HF aliases) are resolved: the output's. */
  paramName: string;
  sources: number[];
  infos: GGUFTensorInfo[];
  baseIndex: number | null;
  t: number;
  slice: SliceSpec | null;
}

/** Without slices: every tensor of the reference, from every input, under its own name. */
function modelJobs(inputs: MergeInput[], byName: Map<string, GGUFTensorInfo>[], baseIndex: number | null, numLayers: number, label: (i: number) => string): Job[] {
  const refIdx = baseIndex ?? 0;
  const ref = inputs[refIdx]!;
  inputs.forEach((inp, i) => {
    for (const t of ref.file.tensors) {
      if (!byName[i]!.has(t.name)) throw new MergePlanError('tensor-names', `${label(i)} has no tensor ${t.name}, which ${ref.source.name} has — these checkpoints cannot be merged`);
    }
    for (const t of inp.file.tensors) {
      if (!byName[refIdx]!.has(t.name)) throw new MergePlanError('tensor-names', `${label(i)} has a tensor ${t.name} that ${ref.source.name} lacks — these checkpoints cannot be merged`);
    }
  });
  return ref.file.tensors.map((rt) => {
    const infos = inputs.map((_, i) => byName[i]!.get(rt.name)!);
    return { name: rt.name, paramName: rt.name, sources: inputs.map((_, i) => i), infos, baseIndex, t: layerT(rt.name, numLayers), slice: null };
  });
}

/**
 * With slices (mergekit plan.py plan_module): the tensors outside the layers come first — the
 * embeddings from the first slice's sources, the output norm and head ("output*", mergekit's
 * post-weights) from the last slice's — then each slice's layers in order, renumbered from 0: layer
 * k of a slice is merged from layer from_j + k of each source j, with gradient position
 * t = k/(len − 1) (1 for a one-layer slice) and the slice's parameters.
 */
function sliceJobs(config: MergeConfig, slices: SliceSpec[], inputs: MergeInput[], byName: Map<string, GGUFTensorInfo>[], arch: string, label: (i: number) => string): Job[] {
  const idx = (ref: string) => inputs.findIndex((x) => x.ref === ref);
  const layersOf = inputs.map((inp) => blockCount(inp.file, arch));
  slices.forEach((sl, i) => sl.sources.forEach((src, j) => {
    const k = idx(src.model);
    const [from, to] = src.layerRange;
    if (to > layersOf[k]!) {
      throw new MergePlanError('layer-range', `slices[${i}].sources[${j}].layer_range [${from}, ${to}] reaches past the ${layersOf[k]} layers of ${label(k)} (layers 0 … ${layersOf[k]! - 1}); use a range within [0, ${layersOf[k]}]`);
    }
  }));
  const jobs: Job[] = [];
  const outside = (sl: SliceSpec, post: boolean) => {
    const { baseIndex } = sliceRefs(config, sl);
    const srcs = sl.sources.map((x) => idx(x.model));
    const first = inputs[srcs[0]!]!;
    for (const t of first.file.tensors) {
      if (layerIndex(t.name) !== null || t.name.startsWith('output') !== post) continue;
      const infos = srcs.map((k) => {
        const info = byName[k]!.get(t.name);
        if (!info) throw new MergePlanError('tensor-names', `${label(k)} has no tensor ${t.name}, which ${first.source.name} has — these checkpoints cannot be merged`);
        return info;
      });
      jobs.push({ name: t.name, paramName: t.name, sources: srcs, infos, baseIndex, t: 0, slice: sl });
    }
  };
  outside(slices[0]!, false);
  outside(slices[slices.length - 1]!, true);
  let out = 0;
  for (const sl of slices) {
    const { baseIndex } = sliceRefs(config, sl);
    const srcs = sl.sources.map((x) => idx(x.model));
    const len = sl.sources[0]!.layerRange[1] - sl.sources[0]!.layerRange[0];
    for (let k = 0; k < len; k++) {
      const first = inputs[srcs[0]!]!;
      const prefix = (j: number) => `blk.${sl.sources[j]!.layerRange[0] + k}.`;
      const suffixes = first.file.tensors.filter((t) => t.name.startsWith(prefix(0))).map((t) => t.name.slice(prefix(0).length));
      for (const suffix of suffixes) {
        const infos = srcs.map((s, j) => {
          const info = byName[s]!.get(prefix(j) + suffix);
          if (!info) throw new MergePlanError('tensor-names', `${label(s)} has no tensor ${prefix(j)}${suffix}, which slice layer ${k} needs (${first.source.name} has ${prefix(0)}${suffix}) — these checkpoints cannot be merged`);
          return info;
        });
        const name = `blk.${out}.${suffix}`;
        jobs.push({ name, paramName: name, sources: srcs, infos, baseIndex, t: len > 1 ? k / (len - 1) : 1, slice: sl });
      }
      out++;
    }
  }
  return jobs;
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
