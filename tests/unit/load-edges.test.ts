// loadDataset's format detection and wiring on an in-memory file tree (src/lib/eval/load.ts): which
// reader each path goes to, which split and limits reach it, the metric a loose pool JSONL gets from
// its fields, the pool's task folder against its root, and every refusal's exact message.
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/lib/eval/datasets.ts';
import { loadDataset, type ReadBytes } from '../../src/lib/eval/load.ts';
import { DatasetProblems, throwIfProblems } from '../../src/lib/eval/problems.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const poolItems = (task: string, split: string, n: number) => jsonl(Array.from({ length: n }, (_, i) => ({ id: `${task}-${split}-${i}`, prompt: `Q: ${task} ${split} ${i}\nA:`, answer: String(i) })));
const task = (id: string, extra: object = {}) => ({ id, name: `Task ${id}`, skill: 's', metric: 'exact', splits: { train: 0, dev: 3, test: 4 }, promptFormat: 'Q: {question}\nA:', ...extra });

/** A read function over a map of paths; every read is recorded. */
function files(map: Record<string, string>): { read: ReadBytes; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: (p) => {
      reads.push(p);
      return p in map ? Promise.resolve(enc(map[p]!)) : Promise.reject(new Error(`ENOENT ${p}`));
    },
  };
}

const POOL = {
  'p/index.json': JSON.stringify({ version: 1, tasks: [task('alpha', { maxTokens: 8 }), task('beta')] }),
  'p/alpha/dev.jsonl': poolItems('alpha', 'dev', 3),
  'p/alpha/test.jsonl': poolItems('alpha', 'test', 4),
  'p/beta/dev.jsonl': poolItems('beta', 'dev', 3),
  'p/beta/test.jsonl': poolItems('beta', 'test', 4),
};

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return (e as Error).message;
  }
  throw new Error('expected a DatasetError');
}

describe('loadDataset: the pool', () => {
  it('the pool root with chosen tasks: a mixed set, limit per task on test, devLimit on dev', async () => {
    const { read } = files(POOL);
    const ds = await loadDataset({ path: 'p', tasks: ['beta'], limit: 2, devLimit: 1 }, read);
    expect(ds).toMatchObject({ id: 'pool/beta', source: 'pool', maxTokens: 16 });
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['beta-test-0', 'beta-test-1']);
    expect(ds.splits.dev!.map((i) => i.id)).toEqual(['beta-dev-0']);
    const both = await loadDataset({ path: 'p', limit: 1 }, read);
    expect(both).toMatchObject({ id: 'pool/alpha+beta', metric: 'mixed', maxTokens: 16 });
    expect(both.splits.dev!.map((i) => i.id)).toEqual(['alpha-dev-0', 'beta-dev-0']);
    const all = await loadDataset({ path: 'p' }, read);
    expect(all.splits.test).toHaveLength(8);
    expect(all.splits.dev).toHaveLength(6);
  });

  it('a task folder: that task only, its files read beside the root\'s index.json; "tasks" refused there', async () => {
    const { read, reads } = files(POOL);
    const ds = await loadDataset({ path: 'p/alpha', split: 'dev', devLimit: 2 }, read);
    expect(ds).toMatchObject({ id: 'pool/alpha', name: 'Task alpha', maxTokens: 8 });
    expect(ds.splits.dev!.map((i) => i.id)).toEqual(['alpha-dev-0', 'alpha-dev-1']);
    expect(ds.splits.test).toHaveLength(4);
    expect(reads).toEqual(['p/alpha/index.json', 'p/index.json', 'p/alpha/dev.jsonl', 'p/alpha/test.jsonl']);
    expect(await refusal(loadDataset({ path: 'p/alpha', tasks: ['alpha'] }, read))).toBe('p/alpha: "tasks" needs the pool\'s folder (the one holding index.json), not a task folder');
  });

  it('a missing task folder file names both files the path could mean', async () => {
    const { read } = files({ 'p/index.json': POOL['p/index.json'] });
    expect(await refusal(loadDataset({ path: 'p/alpha' }, read))).toBe(
      'p/alpha/dev.jsonl could not be read (ENOENT p/alpha/dev.jsonl) — a path without an extension names the built-in pool\'s folder or one of its task folders (p/index.json and p/alpha/test.jsonl)',
    );
    // a bare name is a task folder of "." (no "./" prefix on the paths)
    const bare = files({});
    expect(await refusal(loadDataset({ path: 'alpha' }, bare.read))).toBe(
      'index.json could not be read (ENOENT index.json) — a path without an extension names the built-in pool\'s folder or one of its task folders (index.json and alpha/test.jsonl)',
    );
    const root = files({ 'p/index.json': POOL['p/index.json'] });
    expect(await refusal(loadDataset({ path: 'p' }, root.read))).toBe('p/alpha/dev.jsonl could not be read (ENOENT p/alpha/dev.jsonl) — the pool folder lists its tasks in index.json');
  });
});

describe('loadDataset: a pool-format JSONL', () => {
  it('takes the task from index.json two folders up, only the asked split', async () => {
    const { read } = files(POOL);
    const ds = await loadDataset({ path: 'p/alpha/test.jsonl' }, read);
    expect(ds).toMatchObject({ id: 'pool/alpha', name: 'Task alpha', metric: 'exact', maxTokens: 8 });
    expect(ds.splits.test).toHaveLength(4);
    expect(ds.splits.dev).toBeUndefined();
    const dev = await loadDataset({ path: 'p/alpha/dev.jsonl', split: 'dev', limit: 1 }, read);
    expect(dev.splits.dev!.map((i) => i.id)).toEqual(['alpha-dev-0']);
  });

  it('without an index (or a task it lists), the metric comes from the fields: tests, refuse, choices, else exact', async () => {
    const row = { id: 'r1', prompt: 'Q: x\nA:', answer: 'A' };
    const cases: Array<[object, string]> = [
      [{ tests: [{ input: 1, output: 2 }] }, 'code'],
      [{ refuse: true }, 'refusal'],
      [{ choices: ['a', 'b'] }, 'choice'],
      [{}, 'exact'],
    ];
    for (const [extra, metric] of cases) {
      const { read } = files({ 'd/loose.jsonl': jsonl([{ ...row, ...extra }, { ...row, id: 'r2', ...extra }]) });
      const ds = await loadDataset({ path: 'd/loose.jsonl' }, read);
      expect(ds, metric).toMatchObject({ id: 'pool/loose', name: 'loose', metric, taskType: metric });
    }
    // a field on only some rows does not decide the metric
    const mixed = files({ 'loose.jsonl': jsonl([{ ...row, refuse: true }, { ...row, id: 'r2' }]) });
    expect((await loadDataset({ path: 'loose.jsonl' }, mixed.read)).metric).toBe('exact');
    // an index.json that does not list the task: the fields decide
    const other = files({ 'q/index.json': POOL['p/index.json'], 'q/gamma/test.jsonl': jsonl([{ ...row, refuse: false }]) });
    expect((await loadDataset({ path: 'q/gamma/test.jsonl' }, other.read)).metric).toBe('refusal');
  });

  it('blank lines are skipped; the id drops only the last extension; an empty file is a user file with no columns', async () => {
    const row = { id: 'r1', prompt: 'Q: x\nA:', answer: 'A' };
    const { read } = files({ 'd/gsm.v2.jsonl': `${JSON.stringify(row)}\n   \n${JSON.stringify({ ...row, id: 'r2' })}\n`, 'e.jsonl': '' });
    const ds = await loadDataset({ path: 'd/gsm.v2.jsonl' }, read);
    expect(ds).toMatchObject({ id: 'pool/gsm.v2', name: 'gsm.v2', source: 'pool' });
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['r1', 'r2']);
    let err: unknown;
    try {
      await loadDataset({ path: 'e.jsonl' }, read);
    } catch (e) {
      err = e;
    }
    expect((err as DatasetProblems).problems).toEqual(['e.jsonl: no column looks like the question (columns: none) — give a mapping, e.g. {"input": "question", "reference": "…"}']);
  });

  it('a pool folder whose name has a dot inside is still a folder (only a trailing ".ext" is a file type)', async () => {
    const dotted = Object.fromEntries(Object.entries(POOL).map(([k, v]) => [k.replace(/^p\//, 'p.v1-x/'), v]));
    const ds = await loadDataset({ path: 'p.v1-x', tasks: ['alpha'], limit: 1 }, files(dotted).read);
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['alpha-test-0']);
  });

  it('rows without prompt and answer, or with a bad line, are a user file instead', async () => {
    const { read } = files({ 'u.jsonl': jsonl([{ question: 'What?', answer: 'x' }]) });
    const ds = await loadDataset({ path: 'u.jsonl' }, read);
    expect(ds.source).toBe('user');
    const bad = files({ 'v.jsonl': `${JSON.stringify({ prompt: 'p', answer: 'a' })}\n{oops\n` });
    await expect(loadDataset({ path: 'v.jsonl' }, bad.read)).rejects.toThrow(DatasetError);
    // with a mapping, pool-shaped rows are read as the person's own file
    const mapped = files({ 'w.jsonl': jsonl([{ id: 'a', prompt: 'p?', answer: 'x' }]) });
    const m = await loadDataset({ path: 'w.jsonl', mapping: { input: 'prompt', reference: 'answer' }, taskType: 'exact_match' }, mapped.read);
    expect(m.source).toBe('user');
    expect(m.splits.test!.map((i) => i.reference)).toEqual(['x']);
  });
});

describe('loadDataset: user files, MoCo files and refusals', () => {
  it('a user file: all rows in the asked split, cut to the limit; no question column is a DatasetProblems naming the columns', async () => {
    const csv = 'question,answer\nq1,a1\nq2,a2\nq3,a3\n';
    const { read } = files({ 'x.csv': csv, 'y.csv': 'foo,bar\n1,2\n', 'z.csv': '\n' });
    const ds = await loadDataset({ path: 'x.csv', split: 'dev', limit: 2 }, read);
    expect(ds.splits.dev!.map((i) => i.reference)).toEqual(['a1', 'a2']);
    expect(ds.splits.test).toBeUndefined();
    let err: unknown;
    try {
      await loadDataset({ path: 'y.csv' }, read);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetProblems);
    expect((err as DatasetProblems).problems[0]).toBe('y.csv: no column looks like the question (columns: foo, bar) — give a mapping, e.g. {"input": "foo", "reference": "…"}');
  });

  it('a MoCo .json file (any case), its splits each cut to limit and devLimit', async () => {
    const moco = JSON.stringify({ name: 'm', task_type: 'exact_match', dev: [1, 2, 3].map((i) => ({ id: i, input: `d${i}`, output: 'x' })), test: [1, 2, 3].map((i) => ({ id: 10 + i, input: `t${i}`, output: 'y' })) });
    const { read } = files({ 'M.JSON': moco });
    const ds = await loadDataset({ path: 'M.JSON', limit: 2, devLimit: 1 }, read);
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['11', '12']);
    expect(ds.splits.dev!.map((i) => i.id)).toEqual(['1']);
    const whole = await loadDataset({ path: 'M.JSON', devLimit: 2 }, read);
    expect(whole.splits.test).toHaveLength(3);
    expect(whole.splits.dev).toHaveLength(2);
  });

  it('refuses a bad split, limit or devLimit, a "tasks" on a file, an unknown type and an empty split, each by name', async () => {
    const { read } = files({ 'e.json': JSON.stringify({ name: 'e', task_type: 'exact_match', dev: [{ id: 1, input: 'q', output: 'a' }], test: [] }), 'n.json': JSON.stringify({ name: 'n', task_type: 'exact_match', test: [] }) });
    expect(await refusal(loadDataset({ path: 'e.json', split: 'train' as never }, read))).toBe('e.json: split "train" is not "dev" or "test"');
    expect(await refusal(loadDataset({ path: 'e.json', limit: 1.5 }, read))).toBe('e.json: limit must be a whole number of items ≥ 1, got 1.5');
    expect(await refusal(loadDataset({ path: 'e.json', devLimit: -2 }, read))).toBe('e.json: devLimit must be a whole number of items ≥ 1, got -2');
    expect(await refusal(loadDataset({ path: 'e.json', tasks: [] }, read))).toBe('e.json: "tasks" picks tasks of the built-in pool\'s folder (e.g. public/datasets); remove it for a data file');
    expect(await refusal(loadDataset({ path: 'dir/notes.txt' }, read))).toBe('notes.txt: unknown file type — a data set is a MoCo .json file, a .jsonl, .csv, .tsv or .parquet file, or a built-in pool task folder');
    expect(await refusal(loadDataset({ path: 'e.json' }, read))).toBe('e.json has no items in split "test" — it has dev');
    expect(await refusal(loadDataset({ path: 'n.json' }, read))).toBe('n.json has no items in split "test" — it has no items at all');
    // limit 1 is allowed
    expect((await loadDataset({ path: 'e.json', split: 'dev', limit: 1 }, read)).splits.dev).toHaveLength(1);
  });
});

describe('DatasetProblems', () => {
  it('shows the first five problems and counts the rest; keeps them all', () => {
    const six = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const e = new DatasetProblems(six);
    expect(e).toBeInstanceOf(DatasetError);
    expect(e.name).toBe('DatasetProblems');
    expect(e.message).toBe('p1\np2\np3\np4\np5\n… and 1 more');
    expect(e.problems).toEqual(six);
    expect(new DatasetProblems(six.slice(0, 5)).message).toBe('p1\np2\np3\np4\np5');
    expect(() => throwIfProblems([])).not.toThrow();
    expect(() => throwIfProblems(['only'])).toThrow(new DatasetProblems(['only']));
  });
});
