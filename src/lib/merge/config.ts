/**
 * mergekit-style YAML configs → a typed merge config, and the resolution of parameter values for
 * one tensor (mergekit `config.py`: `evaluate_setting`, `ConditionalParameter`; `plan.py` for t).
 *
 * A setting is a scalar, a gradient (a list of numbers interpolated over the layers: t = i/(L−1)
 * for layer i of L, t = 0 for tensors outside the layers, as mergekit's planner does), or a list
 * of `{filter, value}` conditions where the first whose filter is a substring of the tensor name
 * (or is absent / "*") wins. Filters written for Hugging Face names ("self_attn", "mlp") work on
 * GGUF names too: a tensor matches when the filter occurs in its GGUF name or its HF llama name.
 *
 * Top-level keys: merge_method, base_model, models[].model, models[].parameters — or, instead of
 * models, slices[].sources[].{model, layer_range, parameters} with slices[].{parameters,
 * base_model} (mergekit's OutputSliceDefinition: layer stacking, frankenmerges) — parameters,
 * dtype / out_dtype (float32, float16, bfloat16, q8_0; absent = keep each input type), out, seed
 * (DARE's and DELLA's drops), name, tokenizer_source or tokenizer.source (base, union, or a model
 * of the merge: whose tokenizer metadata the output carries; vocabularies must agree) and
 * chat_template (auto, chatml, a model of the merge, or a Jinja template; see plan.ts).
 */
import { parse as parseYaml } from 'yaml';
import { getMethod, type MethodDescriptor, type ParamValue, type ParameterDef } from './methods/index.ts';

export interface Condition {
  filter?: string;
  value: Setting;
}
export type Setting = ParamValue | ParamValue[] | Condition[];

export interface ModelSpec {
  model: string;
  parameters: Record<string, Setting>;
}

export type OutDtype = 'keep' | 'float32' | 'float16' | 'bfloat16' | 'q8_0';

/** One source of an output slice: layers [from, to) of a model (mergekit InputSliceDefinition). */
export interface SliceSource {
  model: string;
  layerRange: [number, number];
  parameters: Record<string, Setting>;
}

/** One output slice: its layers are merged from its sources, layer by layer (mergekit OutputSliceDefinition). */
export interface SliceSpec {
  sources: SliceSource[];
  /** The slice's own base_model, else the config's. */
  baseModel: string | null;
  parameters: Record<string, Setting>;
}

export interface MergeConfig {
  mergeMethod: string;
  baseModel: string | null;
  /** Empty when the config has slices. */
  models: ModelSpec[];
  /** mergekit's `slices:` (instead of models), or null. */
  slices: SliceSpec[] | null;
  parameters: Record<string, Setting>;
  /** Whose tokenizer metadata the output carries: "base", "union" or a model of the merge; null = the base's (or the first input's). */
  tokenizerSource: string | null;
  /** mergekit's chat_template: "auto", a built-in name, a model of the merge, or a Jinja template; null = keep the inputs'. */
  chatTemplate: string | null;
  dtype: OutDtype;
  out: string | null;
  seed: number;
  name: string | null;
  /** Things accepted but not acted on, said once to the user. */
  notes: string[];
}

export class MergeConfigError extends Error {
  override name = 'MergeConfigError';
}

const DTYPES: Record<string, OutDtype> = {
  keep: 'keep', float32: 'float32', f32: 'float32', float16: 'float16', f16: 'float16', half: 'float16',
  bfloat16: 'bfloat16', bf16: 'bfloat16', q8_0: 'q8_0',
};

/**
 * Limits far above any real mergekit config (a few hundred bytes to a few KB, a handful of models,
 * gradients of one value per layer) and far below what exhausts memory: a 53 MB YAML of 900k
 * entries ran the CLI out of memory before these existed.
 */
export const MAX_CONFIG_BYTES = 1 << 20;
export const MAX_MODELS = 256;
/** Entries of one gradient or one list of conditions. */
export const MAX_LIST_ENTRIES = 4096;
const KNOWN = new Set(['merge_method', 'base_model', 'models', 'slices', 'parameters', 'dtype', 'out_dtype', 'out', 'seed', 'name', 'tokenizer_source', 'tokenizer', 'chat_template']);
/**
 * Chat templates known by name (mergekit's `chat_template: chatml`, …; see plan.ts). ChatML (OpenAI's
 * chat markup, as Qwen and many fine-tunes use it), written for Chorus: each message as
 * <|im_start|>role, newline, content, <|im_end|>, newline; then the assistant's turn opened.
 */
export const CHAT_TEMPLATES: Readonly<Record<string, string>> = {
  chatml: "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
};
const CHAT_TEMPLATE_NAMES = Object.keys(CHAT_TEMPLATES);

/** Parses and validates a mergekit YAML (or JSON) config. `origin` names it in errors. */
export function parseMergeConfig(text: string, origin = 'config'): MergeConfig {
  // Characters: at least one byte each, so a text of more characters is surely too many bytes.
  const size = text.length > MAX_CONFIG_BYTES ? text.length : new TextEncoder().encode(text).byteLength;
  if (size > MAX_CONFIG_BYTES) {
    throw new MergeConfigError(`${origin} is ${size} bytes; a merge config may have at most ${MAX_CONFIG_BYTES} bytes — is this the right file?`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new MergeConfigError(`${origin} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(doc)) throw new MergeConfigError(`${origin} must be a YAML mapping with merge_method and models`);
  const fail = (msg: string): never => {
    throw new MergeConfigError(`${origin}: ${msg}`);
  };
  for (const k of Object.keys(doc)) if (!KNOWN.has(k)) fail(`unknown key "${k}"; known keys: ${[...KNOWN].join(', ')}`);

  const methodId = doc.merge_method;
  if (typeof methodId !== 'string') return fail('merge_method is missing (e.g. merge_method: linear)');
  let method: MethodDescriptor;
  try {
    method = getMethod(methodId);
  } catch (e) {
    return fail((e as Error).message);
  }

  const base = doc.base_model ?? null;
  if (base !== null && typeof base !== 'string') fail('base_model must be a model path or name');
  const allowed = new Set([...method.parameters, ...method.perModelParameters].map((p) => p.name));
  // mergekit MergeConfiguration.validate_inputs: exactly one of models and slices.
  if ('models' in doc && 'slices' in doc) fail('give either "models:" (every layer of each model merged) or "slices:" (layer ranges), not both');
  let models: ModelSpec[] = [];
  let slices: SliceSpec[] | null = null;
  if ('slices' in doc) {
    slices = parseSlices(doc.slices, allowed, method, fail);
  } else {
    if (!Array.isArray(doc.models) || doc.models.length === 0) fail('models must be a non-empty list of { model: path, parameters: {…} } (or give slices:)');
    if ((doc.models as unknown[]).length > MAX_MODELS) fail(`models lists ${(doc.models as unknown[]).length} models; at most ${MAX_MODELS} can be merged at once`);
    models = (doc.models as unknown[]).map((m, i) => {
      if (typeof m === 'string') return { model: m, parameters: {} };
      if (!isRecord(m) || typeof m.model !== 'string') return fail(`models[${i}] needs a "model:" path or name`);
      const params = m.parameters ?? {};
      if (!isRecord(params)) return fail(`models[${i}].parameters must be a mapping`);
      return { model: m.model, parameters: checkSettings(params, allowed, method, `models[${i}].parameters`, `for ${m.model}`, fail) };
    });
  }
  const globals = doc.parameters ?? {};
  if (!isRecord(globals)) fail('parameters must be a mapping');
  const parameters = checkSettings(globals as Record<string, unknown>, allowed, method, 'parameters', 'in parameters', fail);

  const dtypeRaw = doc.out_dtype ?? doc.dtype ?? 'keep';
  const dtype = typeof dtypeRaw === 'string' ? DTYPES[dtypeRaw.toLowerCase()] : undefined;
  if (!dtype) fail(`dtype "${String(dtypeRaw)}" is not supported; use float32, float16, bfloat16, q8_0 or leave it out to keep each tensor's type`);
  const out = doc.out ?? null;
  if (out !== null && typeof out !== 'string') fail('out must be a file path');
  const seed = doc.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) fail('seed must be an integer');
  const name = doc.name ?? null;
  if (name !== null && typeof name !== 'string') fail('name must be a string');
  const tokenizerSource = parseTokenizerSource(doc, fail);
  const chatTemplate = doc.chat_template ?? null;
  if (chatTemplate !== null && (typeof chatTemplate !== 'string' || chatTemplate.trim() === '')) fail('chat_template must be "auto", a template name (chatml), a model of the merge, or a Jinja template');

  const cfg: MergeConfig = {
    mergeMethod: method.id, baseModel: base as string | null, models, slices, parameters, tokenizerSource, chatTemplate: chatTemplate as string | null,
    dtype: dtype!, out: out as string | null, seed: seed as number, name: name as string | null, notes: [],
  };
  const { refs } = inputRefs(cfg);
  if (tokenizerSource !== null && tokenizerSource !== 'base' && tokenizerSource !== 'union' && !refs.includes(tokenizerSource)) {
    fail(`tokenizer source "${tokenizerSource}" is not a model of this merge; use base, union or one of: ${refs.join(', ')}`);
  }
  if (tokenizerSource === 'base' && cfg.baseModel === null) fail('tokenizer source "base" needs base_model; name a model instead or add base_model');
  const chat = cfg.chatTemplate;
  if (chat !== null && chat !== 'auto' && !(CHAT_TEMPLATE_NAMES as readonly string[]).includes(chat) && !refs.includes(chat) && (chat.length < 20 || !chat.includes('{'))) {
    // mergekit _set_chat_template: "Invalid chat template".
    fail(`chat_template "${chat}" is not a template: use auto, ${CHAT_TEMPLATE_NAMES.join(', ')}, a model of this merge (${refs.join(', ')}) or a Jinja template (at least 20 characters, with {% … %} or {{ … }})`);
  }
  if (method.base === 'required' && cfg.baseModel === null && !(slices?.every((sl) => sl.baseModel !== null))) {
    fail(`${method.id} needs an explicit base_model (mergekit's rule for methods that measure task vectors from a base: none is picked for you); add base_model: <the model the others were fine-tuned from>`);
  }
  if (slices) {
    slices.forEach((sl, i) => {
      const b = sl.baseModel ?? cfg.baseModel;
      const srcs = sl.sources.map((x) => x.model);
      if (new Set(srcs).size !== srcs.length) fail(`slices[${i}] lists one model twice (${srcs.join(', ')}); a slice merges different models — stack layers of one model with separate slices`);
      if (method.base === 'required' && b !== null && !srcs.includes(b)) fail(`slices[${i}]: the base model ${b} is not one of the slice's sources (${srcs.join(', ')}); add it as a source with the same layer_range length`);
      if (srcs.length < method.minInputs) fail(`slices[${i}]: ${method.id} needs at least ${method.minInputs} sources per slice, got ${srcs.length}`);
      if (method.maxInputs !== undefined && srcs.length > method.maxInputs) fail(`slices[${i}]: ${method.id} takes at most ${method.maxInputs} source${method.maxInputs === 1 ? '' : 's'} per slice, got ${srcs.length}`);
    });
  } else {
    if (refs.length < method.minInputs) fail(`${method.id} needs at least ${method.minInputs} models (base included), got ${refs.length}`);
    if (method.maxInputs !== undefined && refs.length > method.maxInputs) fail(`${method.id} takes at most ${method.maxInputs} models (base included), got ${refs.length}`);
  }
  return cfg;
}

/** Most output slices and sources per slice: far above real frankenmerge configs (a few to a few dozen). */
export const MAX_SLICES = 1024;

function parseSlices(raw: unknown, allowed: Set<string>, method: MethodDescriptor, fail: (m: string) => never): SliceSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) fail('slices must be a non-empty list of { sources: [{ model, layer_range: [from, to] }] }');
  const list = raw as unknown[];
  if (list.length > MAX_SLICES) fail(`slices lists ${list.length} slices; at most ${MAX_SLICES}`);
  return list.map((sl, i) => {
    if (!isRecord(sl)) return fail(`slices[${i}] must be a mapping with sources:`);
    for (const k of Object.keys(sl)) if (!['sources', 'parameters', 'base_model'].includes(k)) fail(`slices[${i}]: unknown key "${k}"; a slice takes sources, parameters and base_model`);
    if (!Array.isArray(sl.sources) || sl.sources.length === 0) fail(`slices[${i}].sources must be a non-empty list of { model, layer_range: [from, to] }`);
    if ((sl.sources as unknown[]).length > MAX_MODELS) fail(`slices[${i}].sources lists ${(sl.sources as unknown[]).length} sources; at most ${MAX_MODELS}`);
    const b = sl.base_model ?? null;
    if (b !== null && typeof b !== 'string') fail(`slices[${i}].base_model must be a model path or name`);
    const sources = (sl.sources as unknown[]).map((src, j): SliceSource => {
      const at = `slices[${i}].sources[${j}]`;
      if (!isRecord(src) || typeof src.model !== 'string') return fail(`${at} needs a "model:" path or name`);
      for (const k of Object.keys(src)) if (!['model', 'layer_range', 'parameters'].includes(k)) fail(`${at}: unknown key "${k}"; a source takes model, layer_range and parameters`);
      const r = src.layer_range;
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && Number.isInteger(x))) {
        return fail(`${at}.layer_range must be two whole numbers [from, to] (layers from … to − 1), got ${JSON.stringify(r ?? null)}`);
      }
      const [from, to] = r as [number, number];
      if (from < 0 || to <= from) fail(`${at}.layer_range [${from}, ${to}] is empty or negative; write [from, to] with 0 ≤ from < to (layers from … to − 1)`);
      const params = src.parameters ?? {};
      if (!isRecord(params)) return fail(`${at}.parameters must be a mapping`);
      return { model: src.model, layerRange: [from, to], parameters: checkSettings(params, allowed, method, `${at}.parameters`, `for ${src.model}`, fail) };
    });
    const lens = sources.map((x) => x.layerRange[1] - x.layerRange[0]);
    if (lens.some((l) => l !== lens[0])) fail(`slices[${i}]: every source must span the same number of layers (mergekit's rule), got ${lens.join(', ')}`);
    const params = sl.parameters ?? {};
    if (!isRecord(params)) fail(`slices[${i}].parameters must be a mapping`);
    return { sources, baseModel: b as string | null, parameters: checkSettings(params as Record<string, unknown>, allowed, method, `slices[${i}].parameters`, `in slices[${i}]`, fail) };
  });
}

/** `tokenizer_source: x` or `tokenizer: {source: x}` (mergekit: not both; `tokens:` is not supported). */
function parseTokenizerSource(doc: Record<string, unknown>, fail: (m: string) => never): string | null {
  if ('tokenizer_source' in doc && 'tokenizer' in doc) fail('give tokenizer_source or tokenizer, not both (mergekit\'s rule)');
  let src: unknown = doc.tokenizer_source ?? null;
  if ('tokenizer' in doc) {
    const t = doc.tokenizer;
    if (!isRecord(t)) return fail('tokenizer must be a mapping such as {source: base}');
    for (const k of Object.keys(t)) {
      if (k === 'tokens' || k === 'pad_to_multiple_of') fail(`tokenizer.${k} is not supported: Chorus merges checkpoints with one vocabulary and cannot add or pad tokens; remove it`);
      else if (k !== 'source') fail(`tokenizer: unknown key "${k}"; use source`);
    }
    src = t.source ?? 'union';
  }
  if (src !== null && typeof src !== 'string') fail('tokenizer source must be base, union or a model path');
  return src as string | null;
}

function checkSettings(
  obj: Record<string, unknown>,
  allowed: Set<string>,
  method: MethodDescriptor,
  where: string,
  owner: string,
  fail: (m: string) => never,
): Record<string, Setting> {
  const out: Record<string, Setting> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!allowed.has(k)) fail(`${where}: unknown parameter "${k}" for ${method.id}; it takes ${[...allowed].join(', ') || 'none'}`);
    if (!isSetting(v)) fail(`${where}.${k}: expected a value, a list of numbers (a gradient) or a list of {filter, value}`);
    const problem = settingProblem(v as Setting);
    if (problem) fail(`"${k}" ${owner} ${problem}`);
    out[k] = v as Setting;
  }
  return out;
}

/**
 * Why a setting cannot be used, or null: a non-finite number anywhere in it (YAML's .nan, .inf
 * and -.inf are numbers to the parser; a NaN weight or t makes every merged value NaN, and a NaN
 * density compares false and kept everything), or a list longer than MAX_LIST_ENTRIES.
 */
function settingProblem(s: Setting): string | null {
  if (typeof s === 'number') {
    if (Number.isNaN(s)) return 'is .nan (not a number) — parameters must be finite numbers; write a number such as 0.5';
    if (!Number.isFinite(s)) return `is ${s > 0 ? '.inf' : '-.inf'} (infinite) — parameters must be finite numbers; write a number such as 0.5`;
    return null;
  }
  if (!Array.isArray(s)) return null;
  if (s.length > MAX_LIST_ENTRIES) return `has ${s.length} entries; at most ${MAX_LIST_ENTRIES} (one value per layer is enough)`;
  for (const e of s) {
    const p = isScalar(e) ? settingProblem(e) : settingProblem((e as Condition).value);
    if (p) return p;
  }
  return null;
}

function isScalar(v: unknown): v is ParamValue {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';
}
function isSetting(v: unknown): boolean {
  if (isScalar(v)) return true;
  if (!Array.isArray(v) || v.length === 0) return false;
  if (v.every(isScalar)) return true;
  return v.every((c) => isRecord(c) && 'value' in c && (c.filter === undefined || c.filter === null || typeof c.filter === 'string') && isSetting(c.value));
}
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The inputs of a merge, as mergekit builds them: every model listed (or every source of every
 * slice, in order), then the base when it is not listed.
 */
export function inputRefs(cfg: Pick<MergeConfig, 'models' | 'baseModel'> & { slices?: SliceSpec[] | null }): { refs: string[]; baseIndex: number | null } {
  const refs: string[] = [];
  for (const m of cfg.models) if (!refs.includes(m.model)) refs.push(m.model);
  for (const sl of cfg.slices ?? []) {
    for (const x of sl.sources) if (!refs.includes(x.model)) refs.push(x.model);
    if (sl.baseModel !== null && !refs.includes(sl.baseModel)) refs.push(sl.baseModel);
  }
  if (cfg.baseModel !== null && !refs.includes(cfg.baseModel)) refs.push(cfg.baseModel);
  return { refs, baseIndex: cfg.baseModel === null ? null : refs.indexOf(cfg.baseModel) };
}

/** mergekit's `evaluate_setting`: the value of a setting for one tensor at layer position t ∈ [0, 1]. */
export function evaluateSetting(setting: Setting, tensorName: string, t: number): ParamValue | undefined {
  if (isScalar(setting)) return setting;
  if (setting.every((e) => typeof e === 'number')) {
    const xs = setting as number[];
    const scaled = t * (xs.length - 1);
    const i0 = Math.floor(scaled);
    const i1 = Math.min(xs.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * xs[i0]! + frac * xs[i1]!;
  }
  if (setting.every(isScalar)) return (setting as ParamValue[])[Math.floor(t * (setting.length - 1))];
  const alias = hfName(tensorName);
  for (const c of setting as Condition[]) {
    const f = c.filter;
    if (f === undefined || f === null || f === '*' || tensorName.includes(f) || (alias !== null && alias.includes(f))) {
      return evaluateSetting(c.value, tensorName, t);
    }
  }
  return undefined;
}

/** Layer index of a GGUF tensor ("blk.3.attn_q.weight" → 3), or null outside the layers. */
export function layerIndex(tensorName: string): number | null {
  const m = /^blk\.(\d+)\./.exec(tensorName);
  return m ? Number(m[1]) : null;
}

/** mergekit's gradient position: i/(L−1) for layer i of L (1 when L = 1), 0 outside the layers. */
export function layerT(tensorName: string, numLayers: number): number {
  const i = layerIndex(tensorName);
  if (i === null) return 0;
  return numLayers > 1 ? i / (numLayers - 1) : 1;
}

const HF_LAYER: Record<string, string> = {
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj',
  attn_norm: 'input_layernorm', ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};
/**
 * The Hugging Face llama name of a GGUF tensor (llama.cpp's convert_hf_to_gguf tensor map), so
 * mergekit filters such as "self_attn" or "mlp" select the same tensors; null when unknown.
 */
export function hfName(gguf: string): string | null {
  if (gguf === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (gguf === 'output_norm.weight') return 'model.norm.weight';
  if (gguf === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(gguf);
  const part = m ? HF_LAYER[m[2]!] : undefined;
  return m && part ? `model.layers.${m[1]}.${part}.${m[3]}` : null;
}

export interface ResolvedParams {
  params: Record<string, ParamValue>;
  modelParams: Record<string, ParamValue>[];
}

/**
 * Resolves every parameter for one tensor: per-model values fall back to the global `parameters`
 * of the same name and then to the method's default (mergekit's ConfigReader order). Throws a
 * MergeConfigError naming the parameter, model and tensor when a value is missing or wrong.
 */
export function resolveTensorParams(
  cfg: MergeConfig,
  method: MethodDescriptor,
  tensorName: string,
  t: number,
  slice: SliceSpec | null = null,
): ResolvedParams {
  const { refs, baseIndex } = slice ? sliceRefs(cfg, slice) : inputRefs(cfg);
  // mergekit ConfigReader.parameter: the model's own setting, then the slice's, then the config's;
  // a setting that gives no value for this tensor (no condition matches) falls through.
  const at = (p: ParameterDef, where: string, chain: (Setting | undefined)[]): ParamValue | undefined => {
    let v: ParamValue | undefined;
    for (const s of chain) {
      v = s === undefined ? undefined : evaluateSetting(s, tensorName, t);
      if (v !== undefined) break;
    }
    const val = v ?? p.default;
    if (val === undefined) {
      if (p.required) throw new MergeConfigError(`${method.id}: parameter "${p.name}" is required for ${where} (tensor ${tensorName}); add it under ${where === 'the merge' ? 'parameters' : `the model's parameters`}`);
      return undefined;
    }
    if (p.type === 'number' && typeof val !== 'number') throw new MergeConfigError(`${method.id}: "${p.name}" for ${where} must be a number, got ${JSON.stringify(val)}`);
    if (p.type === 'boolean' && typeof val !== 'boolean') throw new MergeConfigError(`${method.id}: "${p.name}" for ${where} must be true or false, got ${JSON.stringify(val)}`);
    if (p.strict && typeof val === 'number' && ((p.min !== undefined && val < p.min) || (p.max !== undefined && val > p.max))) {
      throw new MergeConfigError(`${method.id}: "${p.name}" for ${where} must lie in [${p.min}, ${p.max}], got ${val}`);
    }
    return val;
  };
  const params: Record<string, ParamValue> = {};
  for (const p of method.parameters) {
    const v = at(p, 'the merge', [slice?.parameters[p.name], cfg.parameters[p.name]]);
    if (v !== undefined) params[p.name] = v;
  }
  const modelParams = refs.map((ref, i) => {
    const mp: Record<string, ParamValue> = {};
    if (i === baseIndex && !method.baseTakesModelParameters) return mp;
    const own = slice ? slice.sources.find((x) => x.model === ref)?.parameters : cfg.models.find((m) => m.model === ref)?.parameters;
    for (const p of method.perModelParameters) {
      const v = at(p, ref, [own?.[p.name], slice?.parameters[p.name], cfg.parameters[p.name]]);
      if (v !== undefined) mp[p.name] = v;
    }
    return mp;
  });
  return { params, modelParams };
}

/** The inputs of one slice's tensors: its sources in order; the base is the slice's (or the config's) when it is one of them. */
export function sliceRefs(cfg: Pick<MergeConfig, 'baseModel'>, slice: SliceSpec): { refs: string[]; baseIndex: number | null } {
  const refs = slice.sources.map((x) => x.model);
  const b = slice.baseModel ?? cfg.baseModel;
  const i = b === null ? -1 : refs.indexOf(b);
  return { refs, baseIndex: i < 0 ? null : i };
}
