/**
 * The built-in data sets as the playground uses them: pick a task, a split and an item (or a
 * random one), fill the prompt, show the reference, and score the final answer with the task's
 * metric. Files are public/datasets/index.json and <task>/<split>.jsonl (src/lib/eval/datasets.ts
 * parses and checks them); each split is fetched once per page.
 */
import { loadTask, parseManifest, type DatasetItem, type DatasetManifest, type SplitName, type TaskInfo } from '../lib/eval/datasets.ts';
import { scoreOutput } from '../lib/eval/metrics.ts';
import { workerSandbox } from '../lib/eval/code.ts';
import { ITEM_ID } from '../lib/settings/schema.ts';

export interface PickedItem {
  id: string;
  task: TaskInfo;
  split: SplitName;
  index: number;
  item: DatasetItem;
}

export interface ItemScore {
  correct: boolean;
  /** No answer could be read from the final text. */
  abstained: boolean;
}

export class PoolItems {
  readonly #base: string;
  #manifest: Promise<DatasetManifest> | null = null;
  readonly #splits = new Map<string, Promise<DatasetItem[]>>();

  constructor(base: string = typeof document === 'undefined' ? '' : new URL('datasets/', document.baseURI).href) {
    this.#base = base;
  }

  manifest(): Promise<DatasetManifest> {
    this.#manifest ??= this.#read('index.json').then((text) => parseManifest(text, 'datasets/index.json'));
    this.#manifest.catch(() => (this.#manifest = null));
    return this.#manifest;
  }

  async items(taskId: string, split: SplitName): Promise<DatasetItem[]> {
    const key = `${taskId}/${split}`;
    let p = this.#splits.get(key);
    if (!p) {
      p = this.manifest().then(async (m) => {
        const task = m.tasks.find((t) => t.id === taskId);
        if (!task) throw new Error(`the built-in data sets have no task "${taskId}" (tasks: ${m.tasks.map((t) => t.id).join(', ')})`);
        return (await loadTask(task, (path) => this.#read(path), [split]))[split] ?? [];
      });
      p.catch(() => this.#splits.delete(key));
      this.#splits.set(key, p);
    }
    return p;
  }

  /** The item with this id ("arithmetic-dev-1"); throws a message naming what is wrong. */
  async get(id: string): Promise<PickedItem> {
    const m = ITEM_ID.exec(id);
    if (!m) throw new Error(`"${id}" is not a data-set item id (<task>-<split>-<n>, e.g. arithmetic-dev-1)`);
    const [, taskId = '', split = 'dev'] = m;
    const task = (await this.manifest()).tasks.find((t) => t.id === taskId);
    if (!task) throw new Error(`the built-in data sets have no task "${taskId}"`);
    const items = await this.items(taskId, split as SplitName);
    const index = items.findIndex((it) => it.id === id);
    const item = items[index];
    if (!item) throw new Error(`${task.name} has no item "${id}" in its ${split} split (${items.length} items)`);
    return { id, task, split: split as SplitName, index, item };
  }

  async #read(path: string): Promise<string> {
    const url = new URL(path, this.#base).href;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`could not read the built-in data set file ${path} (HTTP ${res.status})`);
    return res.text();
  }
}

/** Scores a final answer's text against the item with its task's metric (as the pool's results do). */
export async function scoreItem(picked: PickedItem, finalText: string, abstained: boolean): Promise<ItemScore> {
  if (abstained) return { correct: false, abstained: true };
  const sandbox = picked.task.metric === 'code' ? workerSandbox() : undefined;
  return { correct: (await scoreOutput(picked.task.metric, finalText, picked.item, sandbox)) === 1, abstained: false };
}
