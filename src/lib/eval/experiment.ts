/**
 * The experiment file and its grid. Pure: text in, a checked experiment and its cells out, so the
 * tab and the CLI (tools/cli/experiment.ts) read the same files the same way.
 *
 *   { "models":   { "<id>": "<file.gguf>" | "<built-in id>" | {"baseUrl", "model", "apiKey"?}
 *                           | {"endpoints": [{"baseUrl", "model"}, …]} },
 *     "datasets": [{ "path", "split": "dev" | "test", "limit"?, "devLimit"?, "tasks"?, "name"?,
 *                    "mapping"?: {"input", "reference"?, …}, "taskType"?, "maxTokens"? }],
 *     "methods":  [{ "method": "<strategy id>", "agents": ["<model id>" | {"model", "temperature"?, "system"?}, …],
 *                    "knobs"?: {…}, "label"?, "members"?: [model ids], "baseline"?: [model ids] }],
 *     "seeds":    [1] }
 *
 * Paths are relative to the experiment file. A data set entry is what loadDataset (load.ts) reads:
 * the pool's folder (with `tasks`), a pool task folder or JSONL, a MoCo .json file, or a person's
 * JSONL/CSV/TSV/Parquet with its column `mapping` and MoCo `taskType`. `members` are the single models a collaboration's
 * emergence is measured against (default: its agents' models); `baseline` are the models among
 * which the best single model is chosen on dev for the gain (default: `members`). Every error is one
 * line naming the file, the field and the fix.
 *
 * The grid: every method entry × data set × seed is a cell on the data set's split. Each model of a
 * collaboration's members and baseline also gets a member cell (`single`, greedy) on that split and
 * on dev, which gives the best single model on dev, the gain, emergence, and the dev evidence the
 * methods' fit steps learn from. Equal cells (same method, agents, knobs, data set, split, seed)
 * are run once.
 */
import { getStrategy, strategyIds } from '../strategies/registry.ts';
import type { EvalSplit } from './task.ts';
import type { DatasetSpec as LoadSpec } from './load.ts';
import type { ColumnMapping } from './user.ts';
import { canonicalJson } from './cache.ts';

export type ModelSpec =
  | { kind: 'gguf'; path: string }
  | { kind: 'builtin'; id: string }
  | { kind: 'openai'; baseUrl: string; model: string; apiKey?: string }
  | { kind: 'fleet'; endpoints: Array<{ baseUrl: string; model: string; apiKey?: string; concurrency?: number }> };

export interface AgentSpec {
  model: string;
  temperature: number;
  system?: string;
}

/** One data set entry: what loadDataset reads, with its split required and an optional display name. */
export interface DatasetSpec extends LoadSpec {
  split: EvalSplit;
  name?: string;
  /** Generation budget per answer, instead of the data set's own (MoCo's 512 overflows a small model's context). */
  maxTokens?: number;
}

const MAPPING_KEYS = ['input', 'reference', 'aliases', 'choices', 'tests', 'category', 'id'] as const satisfies ReadonlyArray<keyof ColumnMapping>;

export interface MethodSpec {
  method: string;
  agents: AgentSpec[];
  knobs: Record<string, unknown>;
  label?: string;
  members: string[];
  baseline: string[];
}

export interface Experiment {
  models: Record<string, ModelSpec>;
  datasets: DatasetSpec[];
  methods: MethodSpec[];
  seeds: number[];
}

export class ExperimentError extends Error {
  override name = 'ExperimentError';
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** Parses and checks an experiment file's text; `file` names it in errors. */
export function parseExperiment(text: string, file = 'experiment.json'): Experiment {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ExperimentError(`${file} is not valid JSON (${(e as Error).message}): fix the syntax`);
  }
  const fail = (where: string, what: string): never => {
    throw new ExperimentError(`${file}: ${where} ${what}`);
  };
  if (!isObj(raw)) fail('the top level', 'must be an object with "models", "datasets", "methods" and "seeds"');
  const top = raw as Json;
  for (const k of Object.keys(top)) if (!['models', 'datasets', 'methods', 'seeds', 'description'].includes(k)) fail(`"${k}"`, 'is not a field of an experiment (models, datasets, methods, seeds, description): remove it');

  if (!isObj(top.models) || Object.keys(top.models).length === 0) fail('"models"', 'must be an object naming at least one model, e.g. {"base": "model.gguf"}');
  const models: Record<string, ModelSpec> = {};
  for (const [id, v] of Object.entries(top.models as Json)) {
    const where = `models.${id}`;
    if (typeof v === 'string') {
      if (v.trim() === '') fail(where, 'is empty: give a .gguf path or a built-in model id');
      models[id] = /\.gguf$/i.test(v) ? { kind: 'gguf', path: v } : { kind: 'builtin', id: v };
    } else if (isObj(v) && Array.isArray(v.endpoints)) {
      if (v.endpoints.length === 0) fail(where, 'has no endpoints: list at least one {"baseUrl", "model"}');
      models[id] = { kind: 'fleet', endpoints: v.endpoints.map((e, i) => fleetEndpoint(e, `${where}.endpoints[${i}]`, fail)) };
    } else if (isObj(v) && 'baseUrl' in v) {
      models[id] = { kind: 'openai', ...endpoint(v, where, fail) };
    } else fail(where, 'must be a .gguf path, a built-in model id, {"baseUrl", "model", "apiKey"?} or {"endpoints": [...]}');
  }

  if (!Array.isArray(top.datasets) || top.datasets.length === 0) fail('"datasets"', 'must be a non-empty array of {"path", "split"}');
  const datasets = (top.datasets as unknown[]).map((d, i): DatasetSpec => {
    const where = `datasets[${i}]`;
    if (!isObj(d)) return fail(where, 'must be an object {"path", "split", "limit"?}');
    for (const k of Object.keys(d)) if (!['path', 'split', 'limit', 'devLimit', 'tasks', 'name', 'mapping', 'taskType', 'maxTokens'].includes(k)) fail(`${where}.${k}`, 'is not a data set field (path, split, limit, devLimit, tasks, name, mapping, taskType, maxTokens): remove it');
    if (typeof d.path !== 'string' || d.path.trim() === '') fail(`${where}.path`, 'must be the data set file, relative to the experiment file');
    if (d.split !== 'dev' && d.split !== 'test') fail(`${where}.split`, `must be "dev" or "test" (got ${JSON.stringify(d.split)})`);
    const spec: DatasetSpec = { path: d.path as string, split: d.split as EvalSplit };
    for (const k of ['limit', 'devLimit', 'maxTokens'] as const) {
      if (d[k] === undefined) continue;
      if (typeof d[k] !== 'number' || !Number.isInteger(d[k]) || (d[k] as number) < 1) fail(`${where}.${k}`, `must be a whole number ≥ 1 (got ${JSON.stringify(d[k])})`);
      spec[k] = d[k] as number;
    }
    if (d.tasks !== undefined) {
      if (!Array.isArray(d.tasks) || d.tasks.some((t) => typeof t !== 'string')) fail(`${where}.tasks`, 'must be an array of task ids');
      spec.tasks = d.tasks as string[];
    }
    if (d.name !== undefined) {
      if (typeof d.name !== 'string') fail(`${where}.name`, 'must be a string');
      spec.name = d.name as string;
    }
    if (d.mapping !== undefined) {
      const m = d.mapping;
      if (!isObj(m)) return fail(`${where}.mapping`, 'must map fields to column names, e.g. {"input": "question", "reference": "answer"}');
      for (const [k, v] of Object.entries(m)) {
        if (!(MAPPING_KEYS as readonly string[]).includes(k)) fail(`${where}.mapping.${k}`, `is not a mapping field (${MAPPING_KEYS.join(', ')}): remove it`);
        const ok = typeof v === 'string' || (k === 'choices' && Array.isArray(v) && v.every((c) => typeof c === 'string'));
        if (!ok) fail(`${where}.mapping.${k}`, `must be a column name${k === 'choices' ? ' or a list of column names' : ''} (got ${JSON.stringify(v)})`);
      }
      if (typeof m.input !== 'string') fail(`${where}.mapping.input`, 'must name the column holding the question');
      spec.mapping = m as unknown as ColumnMapping;
    }
    if (d.taskType !== undefined) {
      if (typeof d.taskType !== 'string') fail(`${where}.taskType`, 'must be a MoCo task type, e.g. "exact_match"');
      spec.taskType = d.taskType as string;
    }
    return spec;
  });

  if (!Array.isArray(top.methods) || top.methods.length === 0) fail('"methods"', 'must be a non-empty array of {"method", "agents"}');
  const modelIds = Object.keys(models);
  const modelRef = (m: unknown, where: string): string => {
    if (typeof m !== 'string' || !Object.hasOwn(models, m)) return fail(where, `names model ${JSON.stringify(m)}, which "models" does not define (defined: ${modelIds.join(', ')})`);
    return m;
  };
  const methods = (top.methods as unknown[]).map((m, i): MethodSpec => {
    const where = `methods[${i}]`;
    if (!isObj(m)) return fail(where, 'must be an object {"method", "agents", "knobs"?}');
    for (const k of Object.keys(m)) if (!['method', 'agents', 'knobs', 'label', 'members', 'baseline'].includes(k)) fail(`${where}.${k}`, 'is not a method field (method, agents, knobs, label, members, baseline): remove it');
    if (typeof m.method !== 'string' || !strategyIds.includes(m.method)) fail(`${where}.method`, `is ${JSON.stringify(m.method)}; choose one of ${strategyIds.join(', ')} (npm run experiment -- --list)`);
    const strategy = getStrategy(m.method as string);
    if (!Array.isArray(m.agents) || m.agents.length === 0) fail(`${where}.agents`, 'must list at least one model id');
    const agents = (m.agents as unknown[]).map((a, j): AgentSpec => {
      const aw = `${where}.agents[${j}]`;
      if (typeof a === 'string') return { model: modelRef(a, aw), temperature: 0 };
      if (!isObj(a)) return fail(aw, 'must be a model id or {"model", "temperature"?, "system"?}');
      const agent: AgentSpec = { model: modelRef(a.model, `${aw}.model`), temperature: 0 };
      if (a.temperature !== undefined) {
        if (typeof a.temperature !== 'number' || !(a.temperature >= 0 && a.temperature <= 2)) fail(`${aw}.temperature`, `must be a number from 0 to 2 (got ${JSON.stringify(a.temperature)})`);
        agent.temperature = a.temperature as number;
      }
      if (a.system !== undefined) {
        if (typeof a.system !== 'string') fail(`${aw}.system`, 'must be a string');
        if ((a.system as string) !== '') agent.system = a.system as string;
      }
      return agent;
    });
    const { minAgents, maxAgents } = strategy.meta.needs;
    if (agents.length < minAgents) fail(`${where}.agents`, `has ${agents.length} agent(s); ${strategy.meta.name} needs at least ${minAgents}: add agents`);
    if (maxAgents !== undefined && agents.length > maxAgents) fail(`${where}.agents`, `has ${agents.length} agents; ${strategy.meta.name} takes at most ${maxAgents}: remove agents`);
    let knobs: Record<string, unknown> = {};
    if (m.knobs !== undefined) {
      if (!isObj(m.knobs)) fail(`${where}.knobs`, 'must be an object of knob values');
      knobs = m.knobs as Json;
      for (const k of Object.keys(knobs)) {
        if (!strategy.meta.knobs.some((kn) => kn.id === k)) fail(`${where}.knobs.${k}`, `is not a knob of ${strategy.meta.id} (knobs: ${strategy.meta.knobs.map((kn) => kn.id).join(', ')})`);
      }
    }
    const list = (v: unknown, w: string): string[] | undefined => {
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.length === 0) return fail(w, 'must be a non-empty array of model ids');
      return v.map((x, j) => modelRef(x, `${w}[${j}]`));
    };
    const members = list(m.members, `${where}.members`) ?? [...new Set(agents.map((a) => a.model))];
    const spec: MethodSpec = { method: m.method as string, agents, knobs, members, baseline: list(m.baseline, `${where}.baseline`) ?? members };
    if (m.label !== undefined) {
      if (typeof m.label !== 'string' || m.label.trim() === '') fail(`${where}.label`, 'must be a non-empty string');
      spec.label = m.label as string;
    }
    return spec;
  });

  let seeds = [1];
  if (top.seeds !== undefined) {
    if (!Array.isArray(top.seeds) || top.seeds.length === 0 || top.seeds.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 2 ** 31 - 1)) {
      fail('"seeds"', 'must be a non-empty array of whole numbers from 0 to 2147483647');
    }
    seeds = top.seeds as number[];
    if (new Set(seeds).size !== seeds.length) fail('"seeds"', 'lists a seed twice: remove the repeat');
  }
  return { models, datasets, methods, seeds };
}

function endpoint(v: unknown, where: string, fail: (w: string, what: string) => never): { baseUrl: string; model: string; apiKey?: string } {
  if (!isObj(v)) return fail(where, 'must be {"baseUrl", "model", "apiKey"?}');
  if (typeof v.baseUrl !== 'string' || !/^https?:\/\//.test(v.baseUrl)) fail(`${where}.baseUrl`, `must be an http(s) URL (got ${JSON.stringify(v.baseUrl)})`);
  if (typeof v.model !== 'string' || v.model === '') fail(`${where}.model`, 'must be the model name the server knows');
  if (v.apiKey !== undefined && typeof v.apiKey !== 'string') fail(`${where}.apiKey`, 'must be a string');
  return { baseUrl: v.baseUrl as string, model: v.model as string, ...(typeof v.apiKey === 'string' ? { apiKey: v.apiKey } : {}) };
}

/** A fleet's endpoint may also say how many requests it takes at once (src/lib/engines/fleet.ts). */
function fleetEndpoint(v: unknown, where: string, fail: (w: string, what: string) => never): { baseUrl: string; model: string; apiKey?: string; concurrency?: number } {
  const e = endpoint(v, where, fail);
  const c = (v as Json).concurrency;
  if (c === undefined) return e;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1) fail(`${where}.concurrency`, `must be a whole number ≥ 1, the requests this server takes at once (got ${JSON.stringify(c)})`);
  return { ...e, concurrency: c as number };
}

export type CellRole = 'member' | 'collaboration';

export interface Cell {
  /** Canonical JSON of what makes the cell: equal keys are the same cell. */
  key: string;
  method: string;
  agents: AgentSpec[];
  knobs: Record<string, unknown>;
  /** Index into experiment.datasets. */
  dataset: number;
  split: EvalSplit;
  seed: number;
  role: CellRole;
  /** Labels of the method entries this cell answers (a member cell may also be an entry). */
  labels: string[];
  members: string[];
  baseline: string[];
}

function cellKey(c: Pick<Cell, 'method' | 'agents' | 'knobs' | 'dataset' | 'split' | 'seed'>): string {
  return canonicalJson({ method: c.method, agents: c.agents, knobs: c.knobs, dataset: c.dataset, split: c.split, seed: c.seed });
}

const memberAgent = (model: string): AgentSpec => ({ model, temperature: 0 });

/**
 * A method entry that is just one model answering greedily, measured against itself, is that model's
 * member cell (a `single` entry with other members, e.g. a merged model against its parents, is a
 * collaboration).
 */
function isMemberEntry(m: MethodSpec): boolean {
  const a = m.agents[0]!;
  const self = (list: string[]) => list.length === 1 && list[0] === a.model;
  return m.method === 'single' && m.agents.length === 1 && a.temperature === 0 && a.system === undefined && Object.keys(m.knobs).length === 0 && self(m.members) && self(m.baseline);
}

/** Expands the grid in a stable order: method entries × data sets × seeds, then the member cells they need. */
export function expandGrid(exp: Experiment): Cell[] {
  const cells = new Map<string, Cell>();
  const add = (c: Omit<Cell, 'key' | 'labels'>, label?: string): void => {
    const key = cellKey(c);
    const found = cells.get(key);
    if (found) {
      if (label && !found.labels.includes(label)) found.labels.push(label);
      if (c.role === 'collaboration' && found.role === 'member') Object.assign(found, { role: c.role, members: c.members, baseline: c.baseline });
      return;
    }
    cells.set(key, { ...c, key, labels: label ? [label] : [] });
  };
  for (const m of exp.methods) {
    exp.datasets.forEach((d, di) => {
      for (const seed of exp.seeds) {
        const label = m.label ?? `${m.method}(${m.agents.map((a) => a.model).join(',')})`;
        if (isMemberEntry(m)) {
          add({ method: 'single', agents: [memberAgent(m.agents[0]!.model)], knobs: {}, dataset: di, split: d.split, seed, role: 'member', members: [], baseline: [] }, label);
        } else {
          add({ method: m.method, agents: m.agents, knobs: m.knobs, dataset: di, split: d.split, seed, role: 'collaboration', members: m.members, baseline: m.baseline }, label);
        }
      }
    });
  }
  for (const c of [...cells.values()]) {
    if (c.role !== 'collaboration') continue;
    const needDev = [...new Set([...c.baseline, ...(getStrategy(c.method).fit ? c.agents.map((a) => a.model) : [])])];
    for (const model of new Set([...c.members, ...c.baseline])) {
      add({ method: 'single', agents: [memberAgent(model)], knobs: {}, dataset: c.dataset, split: c.split, seed: c.seed, role: 'member', members: [], baseline: [] });
    }
    for (const model of needDev) {
      add({ method: 'single', agents: [memberAgent(model)], knobs: {}, dataset: c.dataset, split: 'dev', seed: c.seed, role: 'member', members: [], baseline: [] });
    }
  }
  return [...cells.values()];
}

/** The member cell (greedy single run) of `model` on a data set, split and seed. */
export function memberCellKey(model: string, dataset: number, split: EvalSplit, seed: number): string {
  return cellKey({ method: 'single', agents: [memberAgent(model)], knobs: {}, dataset, split, seed });
}
