/**
 * The built-in pool's data sets (public/datasets: index.json + <task>/<split>.jsonl) as
 * EvalDatasets: completion-mode prompts (`Q: …\nA:`), one-line answers (stop at "\n"), and the
 * pool's own metrics unchanged (metrics.ts; code items run in the JavaScript sandbox, ctx.js).
 */
import type { EvalDataset, EvalItem, EvalSplit } from './task.ts';
import { DatasetError, loadTask, parseManifest, type DatasetItem, type TaskInfo } from './datasets.ts';
import { answerKey, scoreOutput } from './metrics.ts';

/** The pool's default generation budget when a task states none (tools/pool/results.ts uses the same). */
export const POOL_MAX_TOKENS = 16;

/** One pool task's items as an EvalDataset. */
export function poolDataset(task: TaskInfo, splits: Partial<Record<EvalSplit, DatasetItem[]>>): EvalDataset {
  const toItems = (items: DatasetItem[]): EvalItem[] =>
    items.map((it) => ({ id: it.id, prompt: it.prompt, mode: 'completion', reference: it.answer, raw: it }));
  const out: Partial<Record<EvalSplit, EvalItem[]>> = {};
  for (const s of ['dev', 'test'] as const) if (splits[s]) out[s] = toItems(splits[s]);
  return {
    id: `pool/${task.id}`,
    name: task.name,
    source: 'pool',
    taskType: task.metric,
    metric: task.metric,
    splits: out,
    maxTokens: task.maxTokens ?? POOL_MAX_TOKENS,
    stop: ['\n'],
    async score(item, output, ctx) {
      const raw = item.raw as DatasetItem;
      if (task.metric === 'code' && !ctx.js) {
        return { parsed: answerKey('code', output), score: 0, error: 'code items need the JavaScript sandbox (ctx.js: workerSandbox() in the tab, nodeSandbox() in Node) — none was given' };
      }
      return { parsed: answerKey(task.metric, output), score: await scoreOutput(task.metric, output, raw, ctx.js) };
    },
  };
}

/**
 * Loads pool task `taskId` through `read`, which reads a path relative to the pool's folder
 * (index.json, <task>/<split>.jsonl): fetch in the tab, readFile in Node. Sizes and disjoint splits
 * are checked by loadTask.
 */
export async function loadPoolDataset(taskId: string, read: (path: string) => Promise<string>): Promise<EvalDataset> {
  const manifest = parseManifest(await read('index.json'));
  const task = manifest.tasks.find((t) => t.id === taskId);
  if (!task) throw new DatasetError(`the built-in pool has no task "${taskId}" — its tasks are ${manifest.tasks.map((t) => t.id).join(', ')}`);
  return poolDataset(task, await loadTask(task, read, ['dev', 'test']));
}
