/**
 * The built-in pool's data sets (public/datasets: index.json + <task>/<split>.jsonl) as one
 * EvalDataset, so the experiment runner treats them like any other source (loadDataset in load.ts is
 * the entry point). Several tasks make one mixed data set (the pool's "mixed test set"): items keep
 * their task as `group`, and each item is scored with its own task's metric (src/lib/eval/metrics.ts,
 * unchanged). Prompts are already in the pool's completion format (`Q: …\nA:`), so items are
 * 'completion' mode, and answers stop at the end of the line, as the pool's results were always
 * generated (tools/pool). Code items run in the JavaScript sandbox (ctx.js).
 */
import { DatasetError, loadTask, parseManifest, type DatasetItem, type SplitName, type TaskInfo } from './datasets.ts';
import { answerKey, scoreOutput, type MetricId } from './metrics.ts';
import type { EvalDataset, EvalItem, EvalSplit, ItemScore } from './task.ts';

/** The pool's default generation budget when a task states none (tools/pool/results.ts uses the same). */
export const POOL_MAX_TOKENS = 16;

export interface PoolDatasetOptions {
  /** Task ids to include, in the manifest's order; default every task. */
  tasks?: string[];
  /** The first `limit` items of each task in each split (default: all). */
  limit?: number;
  /** The first `devLimit` dev items of each task (default: `limit`). */
  devLimit?: number;
  /** Splits to load (default dev and test). */
  splits?: EvalSplit[];
}

interface PoolRaw extends DatasetItem {
  task: string;
  metric: MetricId;
}

/** One pool task and the items of each split loaded for it. */
export interface PoolTaskItems {
  task: TaskInfo;
  splits: Partial<Record<EvalSplit, DatasetItem[]>>;
}

/** Pool tasks' items as one EvalDataset (one task: its id, name and metric; several: a mixed set). */
export function poolDataset(parts: readonly PoolTaskItems[]): EvalDataset {
  const tasks = parts.map((p) => p.task);
  const out: Partial<Record<EvalSplit, EvalItem[]>> = {};
  for (const { task, splits } of parts) {
    for (const split of ['dev', 'test'] as const) {
      const items = splits[split];
      if (!items) continue;
      for (const it of items) {
        const raw: PoolRaw = { ...it, task: task.id, metric: task.metric };
        (out[split] ??= []).push({ id: it.id, prompt: it.prompt, mode: 'completion', reference: it.answer, raw, group: task.id });
      }
    }
  }
  const single = tasks.length === 1 ? tasks[0] : undefined;
  return {
    id: single ? `pool/${single.id}` : `pool/${tasks.map((t) => t.id).join('+')}`,
    name: single ? single.name : `pool: ${tasks.map((t) => t.id).join(', ')}`,
    source: 'pool',
    taskType: single ? single.metric : 'mixed',
    metric: single ? single.metric : 'mixed',
    splits: out,
    maxTokens: Math.max(...tasks.map((t) => t.maxTokens ?? POOL_MAX_TOKENS)),
    stop: ['\n'],
    async score(item, output, ctx): Promise<ItemScore> {
      const raw = item.raw as PoolRaw;
      if (raw.metric === 'code' && !ctx.js) {
        return { parsed: answerKey('code', output), score: 0, error: 'code items need the JavaScript sandbox (ctx.js: workerSandbox() in the tab, nodeSandbox() in Node) — none was given' };
      }
      return { parsed: answerKey(raw.metric, output), score: await scoreOutput(raw.metric, output, raw, ctx.js) };
    },
  };
}

/**
 * Loads the pool through `read(path relative to public/datasets)` (fetch in the tab, readFile in Node).
 * Unknown task ids are refused with the list of the ones that exist; sizes and disjoint splits are
 * checked by loadTask.
 */
export async function loadPoolDataset(read: (path: string) => Promise<string>, opts: PoolDatasetOptions = {}): Promise<EvalDataset> {
  const manifest = parseManifest(await read('index.json'));
  const known = manifest.tasks.map((t) => t.id);
  for (const t of opts.tasks ?? []) {
    if (!known.includes(t)) throw new DatasetError(`the pool has no task "${t}": choose from ${known.join(', ')}`);
  }
  const splits = opts.splits ?? ['dev', 'test'];
  const parts: PoolTaskItems[] = [];
  for (const task of manifest.tasks.filter((t) => !opts.tasks || opts.tasks.includes(t.id))) {
    const loaded = await loadTask(task, read, splits as SplitName[]);
    const part: PoolTaskItems = { task, splits: {} };
    for (const split of splits) {
      const limit = split === 'dev' ? (opts.devLimit ?? opts.limit) : opts.limit;
      part.splits[split] = loaded[split]!.slice(0, limit ?? Infinity);
    }
    parts.push(part);
  }
  const ds = poolDataset(parts);
  // Every requested split is present, even when empty (a task list that selects nothing).
  for (const split of splits) ds.splits[split] ??= [];
  return ds;
}
