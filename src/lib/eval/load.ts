/**
 * One entry point for every data set source, for the runner (tab) and the CLI:
 *
 *   const ds = await loadDataset({ path: 'data/gsm8k.json', split: 'test', limit: 50 }, readBytes);
 *
 * `read(path)` returns the file's bytes (fetch in the tab, readFile in Node); paths are passed
 * through as given, so the caller decides what they are relative to. The format is detected:
 * - a path without an extension is the built-in pool: its folder (`public/datasets`, holding
 *   `index.json`; `tasks` picks some of its tasks, which then make one mixed data set whose items keep
 *   their task as `group`) or one task folder (`public/datasets/arithmetic`: `../index.json` and
 *   `<task>/dev.jsonl`, `<task>/test.jsonl` are read) — pool-dataset.ts: completion prompts, the pool's
 *   metrics;
 * - `.json` is a MoCo data file (moco/dataset.ts: MoCo's prompts and scoring);
 * - `.jsonl` whose rows all have `prompt` and `answer` is a pool-format split (metric from the
 *   `index.json` two folders up when there is one, else from the fields: tests → code, refuse →
 *   refusal, choices → choice, else exact) — unless the spec gives a mapping;
 * - `.jsonl`, `.csv`, `.tsv`, `.parquet` otherwise are the person's own files (user.ts): the spec's
 *   `mapping` and `taskType`, or the ones suggestMapping finds from the column names.
 * `split` (default "test") must exist in the file; user files put all rows in it. `limit` keeps
 * the first N items of each split (of each task, for the pool), as MoCo's `ratio` keeps a prefix;
 * `devLimit` the first N of the dev split (default `limit`).
 */
import type { EvalDataset, EvalSplit } from './task.ts';
import { DatasetError, parseManifest, parseSplit, type TaskInfo } from './datasets.ts';
import type { MetricId } from './metrics.ts';
import { loadPoolDataset, poolDataset } from './pool-dataset.ts';
import { parseMocoFile } from './moco/dataset.ts';
import { readUserRows, suggestMapping, unreadableRows, userDataset, userFormat, type ColumnMapping } from './user.ts';
import { DatasetProblems } from './problems.ts';

export interface DatasetSpec {
  path: string;
  split?: EvalSplit;
  limit?: number;
  /** The first N dev items (of each task, for the pool); default `limit`. */
  devLimit?: number;
  /** Pool task ids, when `path` is the pool's folder (default: every task). */
  tasks?: string[];
  /** Column mapping for a user file (default: suggestMapping of its columns). */
  mapping?: ColumnMapping;
  /** MoCo task type for a user file (default: the one suggestMapping suggests). */
  taskType?: string;
}

export type ReadBytes = (path: string) => Promise<Uint8Array>;

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const dirname = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '.');
const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const join = (dir: string, f: string) => (dir === '.' ? f : `${dir}/${f}`);

async function readOrExplain(read: ReadBytes, path: string, why: string): Promise<Uint8Array> {
  try {
    return await read(path);
  } catch (e) {
    throw new DatasetError(`${path} could not be read (${(e as Error).message}) — ${why}`);
  }
}

function inferMetric(rows: Record<string, unknown>[]): MetricId {
  const has = (k: string) => rows.length > 0 && rows.every((r) => k in r);
  return has('tests') ? 'code' : has('refuse') ? 'refusal' : has('choices') ? 'choice' : 'exact';
}

async function loadPoolJsonl(path: string, bytes: Uint8Array, read: ReadBytes, split: EvalSplit): Promise<EvalDataset> {
  const taskDir = dirname(path);
  const taskId = basename(taskDir);
  const indexPath = join(dirname(taskDir), 'index.json');
  let index: Uint8Array | null;
  try {
    index = await read(indexPath);
  } catch {
    index = null; // no index.json: a loose pool-format file, its metric from its fields
  }
  let task: TaskInfo | undefined = index ? parseManifest(text(index), indexPath).tasks.find((t) => t.id === taskId) : undefined;
  const body = text(bytes);
  if (!task) {
    const rows = body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const id = basename(path).replace(/\.[^.]*$/, '');
    task = { id, name: id, skill: '', metric: inferMetric(rows), splits: { train: 0, dev: 0, test: 0 }, promptFormat: '{question}' };
  }
  return poolDataset([{ task, splits: { [split]: parseSplit(body, task, basename(path)) } }]);
}

function isPoolJsonl(bytes: Uint8Array): boolean {
  const lines = text(bytes).split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return false;
  try {
    return lines.every((l) => {
      const v = JSON.parse(l) as unknown;
      return typeof v === 'object' && v !== null && 'prompt' in v && 'answer' in v;
    });
  } catch {
    return false;
  }
}

function applyLimit(ds: EvalDataset, limit: number | undefined, devLimit: number | undefined): EvalDataset {
  for (const s of ['dev', 'test'] as const) {
    const n = s === 'dev' ? (devLimit ?? limit) : limit;
    const items = ds.splits[s];
    if (items && n !== undefined) ds.splits[s] = items.slice(0, n);
  }
  return ds;
}

const wholeCount = (path: string, field: string, n: number | undefined): void => {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new DatasetError(`${path}: ${field} must be a whole number of items ≥ 1, got ${String(n)}`);
};

/** The pool's own folder (it holds index.json) rather than one of its task folders. */
async function isPoolRoot(path: string, read: ReadBytes): Promise<boolean> {
  try {
    await read(join(path, 'index.json'));
    return true;
  } catch {
    return false;
  }
}

/** Loads a data set from any source; see the module comment for the formats. */
export async function loadDataset(spec: DatasetSpec, read: ReadBytes): Promise<EvalDataset> {
  const split = spec.split ?? 'test';
  if (split !== 'dev' && split !== 'test') throw new DatasetError(`${spec.path}: split "${String(split)}" is not "dev" or "test"`);
  wholeCount(spec.path, 'limit', spec.limit);
  wholeCount(spec.path, 'devLimit', spec.devLimit);
  const name = basename(spec.path);
  const isPool = !/\.[a-z0-9]+$/i.test(name);
  if (spec.tasks !== undefined && !isPool) throw new DatasetError(`${spec.path}: "tasks" picks tasks of the built-in pool's folder (e.g. public/datasets); remove it for a data file`);
  let ds: EvalDataset;
  if (isPool) {
    const limits = { ...(spec.limit !== undefined ? { limit: spec.limit } : {}), ...(spec.devLimit !== undefined ? { devLimit: spec.devLimit } : {}) };
    if (await isPoolRoot(spec.path, read)) {
      ds = await loadPoolDataset(async (p) => text(await readOrExplain(read, join(spec.path, p), 'the pool folder lists its tasks in index.json')), { ...limits, ...(spec.tasks ? { tasks: spec.tasks } : {}) });
    } else {
      if (spec.tasks !== undefined) throw new DatasetError(`${spec.path}: "tasks" needs the pool's folder (the one holding index.json), not a task folder`);
      const root = dirname(spec.path);
      ds = await loadPoolDataset(async (p) => text(await readOrExplain(read, join(root, p), `a path without an extension names the built-in pool's folder or one of its task folders (${join(root, 'index.json')} and ${join(root, `${name}/test.jsonl`)})`)), { ...limits, tasks: [name] });
    }
  } else if (/\.json$/i.test(name)) {
    ds = parseMocoFile(text(await readOrExplain(read, spec.path, 'check the path')), spec.path);
  } else if (userFormat(name) !== null) {
    const bytes = await readOrExplain(read, spec.path, 'check the path');
    if (userFormat(name) === 'jsonl' && !spec.mapping && isPoolJsonl(bytes)) {
      ds = await loadPoolJsonl(spec.path, bytes, read, split);
    } else {
      const rows = await readUserRows(spec.path, bytes);
      const suggested = suggestMapping(rows.columns);
      const mapping = spec.mapping ?? suggested.mapping;
      if (!mapping.input) {
        throw new DatasetProblems([
          `${name}: no column looks like the question (columns: ${rows.columns.join(', ') || 'none'}) — give a mapping, e.g. {"input": "${rows.columns[0] ?? 'question'}", "reference": "…"}`,
          ...unreadableRows(rows),
        ]);
      }
      ds = userDataset(rows, mapping as ColumnMapping, spec.taskType ?? suggested.taskType, split);
    }
  } else {
    throw new DatasetError(`${name}: unknown file type — a data set is a MoCo .json file, a .jsonl, .csv, .tsv or .parquet file, or a built-in pool task folder`);
  }
  const items = ds.splits[split];
  if (!items || items.length === 0) {
    const has = (['dev', 'test'] as const).filter((s) => (ds.splits[s]?.length ?? 0) > 0);
    throw new DatasetError(`${name} has no items in split "${split}" — it has ${has.length > 0 ? has.join(' and ') : 'no items at all'}`);
  }
  return isPool ? ds : applyLimit(ds, spec.limit, spec.devLimit);
}
