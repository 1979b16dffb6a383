/**
 * The built-in pool's data sets (public/datasets: index.json + <task>/<split>.jsonl) as one
 * EvalDataset, so the experiment runner treats them like any other source. Several tasks make one
 * mixed data set (the pool's "mixed test set"): items keep their task as `group`, and each item is
 * scored with its own task's metric (src/lib/eval/metrics.ts, unchanged). Prompts are already in the
 * pool's completion format (`Q: …\nA:`), so items are 'completion' mode, and answers stop at the end
 * of the line, as the pool's results were always generated (tools/pool).
 *
 * This is the runner's minimal adapter; the general `loadDataset` of src/lib/eval/moco/ may replace it.
 */
import { DatasetError, loadTask, parseManifest, type DatasetItem, type SplitName } from './datasets.ts';
import { answerKey, scoreOutput, type MetricId } from './metrics.ts';
import type { EvalDataset, EvalItem, EvalSplit, ItemScore } from './task.ts';

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

/**
 * Loads the pool through `read(path relative to public/datasets)` (fetch in the tab, readFile in Node).
 * Unknown task ids are refused with the list of the ones that exist.
 */
export async function loadPoolDataset(read: (path: string) => Promise<string>, opts: PoolDatasetOptions = {}): Promise<EvalDataset> {
  const manifest = parseManifest(await read('index.json'));
  const known = manifest.tasks.map((t) => t.id);
  for (const t of opts.tasks ?? []) {
    if (!known.includes(t)) throw new DatasetError(`the pool has no task "${t}": choose from ${known.join(', ')}`);
  }
  const tasks = manifest.tasks.filter((t) => !opts.tasks || opts.tasks.includes(t.id));
  const splits = opts.splits ?? ['dev', 'test'];
  const out: Partial<Record<EvalSplit, EvalItem[]>> = {};
  for (const split of splits) out[split] = [];
  for (const task of tasks) {
    const loaded = await loadTask(task, read, splits as SplitName[]);
    for (const split of splits) {
      const limit = split === 'dev' ? (opts.devLimit ?? opts.limit) : opts.limit;
      const items = loaded[split]!.slice(0, limit ?? Infinity);
      for (const it of items) {
        const raw: PoolRaw = { ...it, task: task.id, metric: task.metric };
        out[split]!.push({ id: it.id, prompt: it.prompt, mode: 'completion', reference: it.answer, raw, group: task.id });
      }
    }
  }
  const single = tasks.length === 1 ? tasks[0] : undefined;
  const maxTokens = Math.max(...tasks.map((t) => t.maxTokens ?? 16));
  return {
    id: single ? `pool/${single.id}` : `pool/${tasks.map((t) => t.id).join('+')}`,
    name: single ? single.name : `pool: ${tasks.map((t) => t.id).join(', ')}`,
    source: 'pool',
    taskType: single ? single.metric : 'mixed',
    metric: single ? single.metric : 'mixed',
    splits: out,
    maxTokens,
    stop: ['\n'],
    async score(item, output, ctx): Promise<ItemScore> {
      const raw = item.raw as PoolRaw;
      if (raw.metric === 'code' && !ctx.js) return { parsed: answerKey('code', output), score: 0, error: 'code items need a JavaScript sandbox (workerSandbox() in the tab, nodeSandbox() in Node)' };
      const score = await scoreOutput(raw.metric, output, raw, ctx.js);
      return { parsed: answerKey(raw.metric, output), score };
    },
  };
}
