/**
 * Loading and validating the pool's data sets (public/datasets/index.json + <task>/<split>.jsonl)
 * and any JSONL file of the same shape. Pure: callers pass text (fetched in the browser, read from
 * disk in Node), so this runs in workers, the page and tests alike. Every error names the file,
 * the line and what to fix.
 */
import type { MetricId } from './metrics.ts';
import type { CodeTest } from './code.ts';

export type SplitName = 'train' | 'dev' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'dev', 'test'];

export interface TaskInfo {
  id: string;
  name: string;
  skill: string;
  metric: MetricId;
  description?: string;
  splits: Record<SplitName, number>;
  /** Completion-mode prompt format; "{question}" is where the question goes. */
  promptFormat: string;
  /** Generation budget that fits every reference answer. */
  maxTokens?: number;
  /** The refusal reply of safety tasks. */
  refusal?: string;
}

export interface DatasetManifest {
  version: number;
  seed?: number;
  generator?: string;
  promptFormat?: string;
  tasks: TaskInfo[];
}

export interface DatasetItem {
  id: string;
  /** The full completion-mode prompt, e.g. "Q: 3 + 4 = ?\nA:". */
  prompt: string;
  /** The reference answer (what follows "A: "). */
  answer: string;
  /** choice tasks: the options in letter order. */
  choices?: string[];
  /** refusal tasks: whether the request must be refused. */
  refuse?: boolean;
  /** code tasks: input/output pairs the function must satisfy. */
  tests?: CodeTest[];
  [extra: string]: unknown;
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

const METRICS: readonly MetricId[] = ['exact', 'choice', 'refusal', 'code'];

/** Parses and checks index.json. */
export function parseManifest(text: string, file = 'index.json'): DatasetManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(`${file} is not valid JSON (${(e as Error).message}) — regenerate it with tools/train/make_data.py`);
  }
  const m = raw as Partial<DatasetManifest>;
  if (!m || typeof m !== 'object' || !Array.isArray(m.tasks) || m.tasks.length === 0) {
    throw new DatasetError(`${file} must be an object with a non-empty "tasks" array`);
  }
  const ids = new Set<string>();
  for (const [i, t] of m.tasks.entries()) {
    const where = `${file}: tasks[${i}]`;
    if (!t || typeof t.id !== 'string' || !/^[a-z0-9-]+$/.test(t.id)) throw new DatasetError(`${where} needs an "id" of lower-case letters, digits and dashes`);
    if (ids.has(t.id)) throw new DatasetError(`${where}: task id "${t.id}" appears twice`);
    ids.add(t.id);
    if (!METRICS.includes(t.metric)) throw new DatasetError(`${where} (${t.id}): metric "${String(t.metric)}" is not one of ${METRICS.join(', ')}`);
    if (typeof t.promptFormat !== 'string' || !t.promptFormat.includes('{question}')) {
      throw new DatasetError(`${where} (${t.id}): promptFormat must be a string containing "{question}"`);
    }
    for (const s of SPLITS) {
      const n = t.splits?.[s];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new DatasetError(`${where} (${t.id}): splits.${s} must be a count`);
    }
  }
  return m as DatasetManifest;
}

/** Parses one JSONL split and checks each item against the task's metric. */
export function parseSplit(text: string, task: Pick<TaskInfo, 'id' | 'metric'>, file: string): DatasetItem[] {
  const items: DatasetItem[] = [];
  const ids = new Set<string>();
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(`${where} is not valid JSON (${(e as Error).message}) — each line must be one JSON object`);
    }
    const it = raw as Partial<DatasetItem>;
    if (!it || typeof it !== 'object') throw new DatasetError(`${where} must be a JSON object`);
    if (typeof it.id !== 'string' || it.id === '') throw new DatasetError(`${where} needs a string "id"`);
    if (ids.has(it.id)) throw new DatasetError(`${where}: id "${it.id}" appears twice`);
    ids.add(it.id);
    if (typeof it.prompt !== 'string' || it.prompt.trim() === '') throw new DatasetError(`${where} (${it.id}) needs a non-empty string "prompt"`);
    if (typeof it.answer !== 'string') throw new DatasetError(`${where} (${it.id}) needs a string "answer"`);
    if (task.metric === 'choice') {
      if (!Array.isArray(it.choices) || it.choices.length < 2) throw new DatasetError(`${where} (${it.id}): a choice item needs a "choices" array`);
      const idx = 'ABCDE'.indexOf(it.answer);
      if (it.answer.length !== 1 || idx < 0 || idx >= it.choices.length) throw new DatasetError(`${where} (${it.id}): answer "${it.answer}" is not one of the choice letters`);
    }
    if (task.metric === 'refusal' && typeof it.refuse !== 'boolean') throw new DatasetError(`${where} (${it.id}): a refusal item needs a boolean "refuse"`);
    if (task.metric === 'code') {
      if (!Array.isArray(it.tests) || it.tests.length === 0 || it.tests.some((t) => !t || typeof t.input !== 'number' || !['number', 'boolean'].includes(typeof t.output))) {
        throw new DatasetError(`${where} (${it.id}): a code item needs "tests": [{input: number, output: number|boolean}, …]`);
      }
    }
    items.push(it as DatasetItem);
  }
  return items;
}

/** The normalised form used to check that splits share no prompt (case and spacing ignored). */
export function normalizePrompt(p: string): string {
  return p.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Prompts that occur in more than one split, as [promptA split, promptB split, normalised prompt]. */
export function splitOverlaps(splits: Partial<Record<SplitName, DatasetItem[]>>): Array<[SplitName, SplitName, string]> {
  const out: Array<[SplitName, SplitName, string]> = [];
  const seen = new Map<string, SplitName>();
  for (const s of SPLITS) {
    const here = new Set<string>();
    for (const it of splits[s] ?? []) {
      const k = normalizePrompt(it.prompt);
      const prev = seen.get(k);
      if (prev !== undefined && prev !== s && !here.has(k)) out.push([prev, s, k]);
      here.add(k);
    }
    for (const k of here) if (!seen.has(k)) seen.set(k, s);
  }
  return out;
}

/** Fills a task's prompt format with a question. */
export function formatPrompt(format: string, question: string): string {
  return format.replace('{question}', question);
}

/**
 * Loads a whole task through `read` (fetch in the browser, readFile in Node), checks split sizes
 * against the manifest and that no prompt is shared between splits.
 */
export async function loadTask(
  task: TaskInfo,
  read: (path: string) => Promise<string>,
  splits: readonly SplitName[] = SPLITS,
): Promise<Partial<Record<SplitName, DatasetItem[]>>> {
  const out: Partial<Record<SplitName, DatasetItem[]>> = {};
  for (const s of splits) {
    const file = `${task.id}/${s}.jsonl`;
    const items = parseSplit(await read(file), task, file);
    if (items.length !== task.splits[s]) {
      throw new DatasetError(`${file} has ${items.length} items but index.json says ${task.splits[s]} — regenerate the data set or fix the manifest`);
    }
    out[s] = items;
  }
  const overlaps = splitOverlaps(out);
  if (overlaps.length > 0) {
    const [a, b, p] = overlaps[0]!;
    throw new DatasetError(`${task.id}: ${overlaps.length} prompt(s) occur in both ${a} and ${b}, e.g. ${JSON.stringify(p)} — splits must be disjoint`);
  }
  return out;
}
