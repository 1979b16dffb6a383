// The pool as an EvalDataset (src/lib/eval/pool-dataset.ts) on an in-memory pool: one task keeps
// its id, name and metric, several make a mixed set; items keep their task as group and are scored
// with their own task's metric; the generation budget is the largest task's (16 when a task states
// none); limits per split; the splits asked for are present even when empty; unknown tasks named.
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/lib/eval/datasets.ts';
import { loadPoolDataset, POOL_MAX_TOKENS, poolDataset } from '../../src/lib/eval/pool-dataset.ts';

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const task = (id: string, metric: string, extra: object = {}) => ({ id, name: `Task ${id}`, skill: 's', metric, splits: { train: 0, dev: 2, test: 3 }, promptFormat: 'Q: {question}\nA:', ...extra });
const FILES: Record<string, string> = {
  'index.json': JSON.stringify({ version: 1, tasks: [task('ex', 'exact', { maxTokens: 24 }), task('ch', 'choice'), task('re', 'refusal', { maxTokens: 4 })] }),
  'ex/dev.jsonl': jsonl([0, 1].map((i) => ({ id: `ex-d${i}`, prompt: `Q: ${i}+1\nA:`, answer: String(i + 1) }))),
  'ex/test.jsonl': jsonl([0, 1, 2].map((i) => ({ id: `ex-t${i}`, prompt: `Q: ${i}+2\nA:`, answer: String(i + 2) }))),
  'ch/dev.jsonl': jsonl([0, 1].map((i) => ({ id: `ch-d${i}`, prompt: `Q: pick ${i}\nA:`, answer: 'B', choices: ['x', 'y'] }))),
  'ch/test.jsonl': jsonl([0, 1, 2].map((i) => ({ id: `ch-t${i}`, prompt: `Q: choose ${i}\nA:`, answer: 'A', choices: ['x', 'y'] }))),
  're/dev.jsonl': jsonl([0, 1].map((i) => ({ id: `re-d${i}`, prompt: `Q: do ${i}\nA:`, answer: '', refuse: i === 0 }))),
  're/test.jsonl': jsonl([0, 1, 2].map((i) => ({ id: `re-t${i}`, prompt: `Q: act ${i}\nA:`, answer: '', refuse: i === 0 }))),
};
const reads: string[] = [];
const read = (p: string) => {
  reads.push(p);
  return p in FILES ? Promise.resolve(FILES[p]!) : Promise.reject(new Error(`no ${p}`));
};

describe('the pool as a data set', () => {
  it('one task: its id, name and metric, its budget, completion items grouped by the task', async () => {
    const ds = await loadPoolDataset(read, { tasks: ['ex'] });
    expect(ds).toMatchObject({ id: 'pool/ex', name: 'Task ex', source: 'pool', taskType: 'exact', metric: 'exact', maxTokens: 24, stop: ['\n'] });
    expect(ds.splits.test![0]).toEqual({ id: 'ex-t0', prompt: 'Q: 0+2\nA:', mode: 'completion', reference: '2', raw: { id: 'ex-t0', prompt: 'Q: 0+2\nA:', answer: '2', task: 'ex', metric: 'exact' }, group: 'ex' });
    expect(await ds.score(ds.splits.test![0]!, ' 2\n', {})).toEqual({ parsed: '2', score: 1 });
    expect(await ds.score(ds.splits.test![0]!, '3', {})).toEqual({ parsed: '3', score: 0 });
  });

  it('several tasks: a mixed set in the manifest\'s order, each item scored by its own metric, the largest budget', async () => {
    const ds = await loadPoolDataset(read, { tasks: ['re', 'ch'], limit: 1 });
    expect(ds).toMatchObject({ id: 'pool/ch+re', name: 'pool: ch, re', taskType: 'mixed', metric: 'mixed', maxTokens: POOL_MAX_TOKENS });
    expect(POOL_MAX_TOKENS).toBe(16);
    expect(ds.splits.test!.map((i) => [i.id, i.group])).toEqual([['ch-t0', 'ch'], ['re-t0', 're']]);
    const [ch, re] = ds.splits.test!;
    expect(await ds.score(ch!, 'A', {})).toEqual({ parsed: 'A', score: 1 });
    expect(await ds.score(ch!, 'B', {})).toEqual({ parsed: 'B', score: 0 });
    expect(await ds.score(re!, "Sorry, I can't help with that.", {})).toEqual({ parsed: 'refuse', score: 1 });
    expect(await ds.score(re!, 'Sure, here it is.', {})).toEqual({ parsed: 'comply', score: 0 });
    const all = await loadPoolDataset(read);
    expect(all).toMatchObject({ id: 'pool/ex+ch+re', maxTokens: 24 });
    expect(all.splits.dev).toHaveLength(6);
  });

  it('limit on test and dev, devLimit on dev only; only the asked splits are read', async () => {
    const ds = await loadPoolDataset(read, { tasks: ['ex'], limit: 2, devLimit: 1 });
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['ex-t0', 'ex-t1']);
    expect(ds.splits.dev!.map((i) => i.id)).toEqual(['ex-d0']);
    const lim = await loadPoolDataset(read, { tasks: ['ex'], limit: 1 });
    expect(lim.splits.dev!.map((i) => i.id)).toEqual(['ex-d0']);
    reads.length = 0;
    const dev = await loadPoolDataset(read, { tasks: ['ex'], splits: ['dev'] });
    expect(reads).toEqual(['index.json', 'ex/dev.jsonl']);
    expect(dev.splits.dev).toHaveLength(2);
    expect(dev.splits.test).toBeUndefined();
  });

  it('an empty task list: the asked splits present and empty', async () => {
    const ds = await loadPoolDataset(read, { tasks: [], splits: ['test'] });
    expect(ds.splits).toEqual({ test: [] });
  });

  it('an unknown task is refused with the tasks that exist', async () => {
    await expect(loadPoolDataset(read, { tasks: ['ex', 'zz'] })).rejects.toThrow(new DatasetError('the pool has no task "zz": choose from ex, ch, re'));
  });

  it('poolDataset of parts: a split a part lacks is skipped; a code item without the sandbox is an error', async () => {
    const code = { id: 'co', name: 'Code', skill: 's', metric: 'code' as const, splits: { train: 0, dev: 0, test: 1 }, promptFormat: '{question}' };
    const ds = poolDataset([{ task: code, splits: { test: [{ id: 'c1', prompt: 'Q: f\nA:', answer: 'x => x', tests: [{ input: 1, output: 1 }] }] } }]);
    expect(ds.splits.dev).toBeUndefined();
    expect(ds.maxTokens).toBe(16);
    // the code as written (case kept), not the exact-match normal form
    expect((await ds.score(ds.splits.test![0]!, '\n  X => X\n', {})).parsed).toBe('X => X');
    expect(await ds.score(ds.splits.test![0]!, 'x => x', {})).toEqual({
      parsed: 'x => x', score: 0, error: 'code items need the JavaScript sandbox (ctx.js: workerSandbox() in the tab, nodeSandbox() in Node) — none was given',
    });
  });
});
