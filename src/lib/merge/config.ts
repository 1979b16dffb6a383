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
 * Top-level keys: merge_method, base_model, models[].model, models[].parameters, parameters,
 * dtype / out_dtype (float32, float16, bfloat16, q8_0; absent = keep each input type), out, seed
 * (DARE's drops), name; tokenizer_source / tokenizer / chat_template are accepted and ignored
 * with a note (the base's tokenizer is always kept; its chat template too, or the first input's
 * when the base has none — see plan.ts). No `slices:`.
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

export interface MergeConfig {
  mergeMethod: string;
  baseModel: string | null;
  models: ModelSpec[];
  parameters: Record<string, Setting>;
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
const IGNORED = ['tokenizer_source', 'tokenizer', 'chat_template'];

/**
 * Limits far above any real mergekit config (a few hundred bytes to a few KB, a handful of models,
 * gradients of one value per layer) and far below what exhausts memory: a 53 MB YAML of 900k
 * entries ran the CLI out of memory before these existed.
 */
export const MAX_CONFIG_BYTES = 1 << 20;
export const MAX_MODELS = 256;
/** Entries of one gradient or one list of conditions. */
export const MAX_LIST_ENTRIES = 4096;
const KNOWN = new Set(['merge_method', 'base_model', 'models', 'parameters', 'dtype', 'out_dtype', 'out', 'seed', 'name', ...IGNORED]);

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
  if ('slices' in doc) fail('"slices" is not supported; list the models under "models:" (every layer of each model is merged)');
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
  if (!Array.isArray(doc.models) || doc.models.length === 0) fail('models must be a non-empty list of { model: path, parameters: {…} }');
  if ((doc.models as unknown[]).length > MAX_MODELS) fail(`models lists ${(doc.models as unknown[]).length} models; at most ${MAX_MODELS} can be merged at once`);
  const allowed = new Set([...method.parameters, ...method.perModelParameters].map((p) => p.name));
  const models: ModelSpec[] = (doc.models as unknown[]).map((m, i) => {
    if (typeof m === 'string') return { model: m, parameters: {} };
    if (!isRecord(m) || typeof m.model !== 'string') return fail(`models[${i}] needs a "model:" path or name`);
    const params = m.parameters ?? {};
    if (!isRecord(params)) return fail(`models[${i}].parameters must be a mapping`);
    return { model: m.model, parameters: checkSettings(params, allowed, method, `models[${i}].parameters`, `for ${m.model}`, fail) };
  });
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
  const notes = IGNORED.filter((k) => k in doc).map((k) => `${k} is ignored: the output keeps the base model's tokenizer, and its chat template (or, when the base has none, the first input's that has one)`);

  const cfg: MergeConfig = {
    mergeMethod: method.id, baseModel: base as string | null, models, parameters,
    dtype: dtype!, out: out as string | null, seed: seed as number, name: name as string | null, notes,
  };
  const { refs } = inputRefs(cfg);
  if (method.base === 'required' && cfg.baseModel === null) fail(`${method.id} needs base_model`);
  if (refs.length < method.minInputs) fail(`${method.id} needs at least ${method.minInputs} models (base included), got ${refs.length}`);
  if (method.maxInputs !== undefined && refs.length > method.maxInputs) fail(`${method.id} takes at most ${method.maxInputs} models (base included), got ${refs.length}`);
  return cfg;
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

/** The inputs of a merge, as mergekit builds them: every model listed, then the base when it is not listed. */
export function inputRefs(cfg: Pick<MergeConfig, 'models' | 'baseModel'>): { refs: string[]; baseIndex: number | null } {
  const refs: string[] = [];
  for (const m of cfg.models) if (!refs.includes(m.model)) refs.push(m.model);
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
): ResolvedParams {
  const { refs, baseIndex } = inputRefs(cfg);
  const at = (p: ParameterDef, where: string, s: Setting | undefined): ParamValue | undefined => {
    const v = s === undefined ? undefined : evaluateSetting(s, tensorName, t);
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
    const v = at(p, 'the merge', cfg.parameters[p.name]);
    if (v !== undefined) params[p.name] = v;
  }
  const modelParams = refs.map((ref, i) => {
    const mp: Record<string, ParamValue> = {};
    if (i === baseIndex && !method.baseTakesModelParameters) return mp;
    const spec = cfg.models.find((m) => m.model === ref);
    for (const p of method.perModelParameters) {
      const v = at(p, ref, spec?.parameters[p.name] ?? cfg.parameters[p.name]);
      if (v !== undefined) mp[p.name] = v;
    }
    return mp;
  });
  return { params, modelParams };
}
