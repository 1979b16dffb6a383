// The shipped data sets: every file parses, splits are disjoint (normalised prompts), sizes match the
// manifest, and each task's metric scores every reference answer correct and a wrong answer wrong.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';
import { formatPrompt, loadTask, parseManifest, parseSplit, splitOverlaps, normalizePrompt, DatasetError, type DatasetItem } from '../../src/lib/eval/datasets.ts';
import { scoreOutput } from '../../src/lib/eval/metrics.ts';
import { nodeSandbox } from '../../tools/lib/node-sandbox.ts';
import type { CodeSandbox } from '../../src/lib/eval/code.ts';

const DATA = resolve(REPO_ROOT, 'public/datasets');
const read = async (p: string) => readFileSync(resolve(DATA, p), 'utf8');
const manifest = parseManifest(readFileSync(resolve(DATA, 'index.json'), 'utf8'));
const real = nodeSandbox();
/**
 * These tests check the data and its scoring, not the sandbox's time limit (sandbox-js.test.ts does):
 * each program gets 10 s instead of the scorer's 1 s, so a loaded machine (CI, mutation testing)
 * cannot turn a correct reference into a timeout.
 */
const failures = new Map<string, string>();
const sandbox: CodeSandbox = {
  run: async (code, tests) => {
    const r = await real.run(code, tests, 10_000);
    if (r.error !== undefined) failures.set(code, r.error);
    return r;
  },
};

/** An answer that must score 0 for this item. */
function wrongAnswer(metric: string, item: DatasetItem): string {
  switch (metric) {
    case 'choice':
      return 'ABC'.split('').find((l) => l !== item.answer)!;
    case 'refusal':
      return item.refuse ? 'Sure, here is how.' : "Sorry, I can't help with that.";
    case 'code':
      return 'x=>x*0-12345';
    default:
      return `${item.answer}9`;
  }
}

describe('pool data sets', () => {
  it('has at least five tasks with distinct skills and known metrics', () => {
    expect(manifest.tasks.length).toBeGreaterThanOrEqual(5);
    expect(new Set(manifest.tasks.map((t) => t.skill)).size).toBe(manifest.tasks.length);
    for (const t of manifest.tasks) expect(['exact', 'choice', 'refusal', 'code']).toContain(t.metric);
  });

  for (const task of manifest.tasks) {
    describe(task.id, () => {
      it('parses, matches the manifest sizes and has disjoint splits', async () => {
        const splits = await loadTask(task, read);
        for (const s of ['train', 'dev', 'test'] as const) expect(splits[s]!.length).toBe(task.splits[s]);
        expect(splitOverlaps(splits)).toEqual([]);
        const train = new Set(splits.train!.map((x) => normalizePrompt(x.prompt)));
        expect(splits.test!.filter((x) => train.has(normalizePrompt(x.prompt)))).toEqual([]);
        expect(splits.dev!.filter((x) => train.has(normalizePrompt(x.prompt)))).toEqual([]);
      });

      // Code items run in sandbox processes (one per run), four at a time.
      it('scores every test reference answer correct and a wrong answer wrong', async () => {
        const { test } = await loadTask(task, read, ['test']);
        for (let i = 0; i < test!.length; i += 4) {
          await Promise.all(test!.slice(i, i + 4).map(async (item) => {
            expect(await scoreOutput(task.metric, ` ${item.answer}`, item, sandbox), `${item.id} reference (${failures.get(item.answer.trim()) ?? 'no sandbox error'})`).toBe(1);
            expect(await scoreOutput(task.metric, ` ${wrongAnswer(task.metric, item)}`, item, sandbox), `${item.id} wrong`).toBe(0);
          }));
        }
      }, 300_000);
    });
  }

  it('rejects malformed files with messages that name the file and line', () => {
    const t = { id: 'x', metric: 'exact' as const };
    expect(() => parseSplit('{"id":"a","prompt":"Q: 1\\nA:","answer":"1"}\nnot json', t, 'x/test.jsonl')).toThrow(/x\/test\.jsonl:2 is not valid JSON/);
    expect(() => parseSplit('{"id":"a","answer":"1"}', t, 'x/test.jsonl')).toThrow(/x\/test\.jsonl:1 \(a\) needs a non-empty string "prompt"/);
    expect(() => parseSplit('{"id":"a","prompt":"p","answer":"1"}\n{"id":"a","prompt":"q","answer":"1"}', t, 'f')).toThrow(/id "a" appears twice/);
    expect(() => parseSplit('{"id":"a","prompt":"p","answer":"D","choices":["x","y","z"]}', { id: 'r', metric: 'choice' }, 'f')).toThrow(DatasetError);
    expect(() => parseSplit('{"id":"a","prompt":"p","answer":"x"}', { id: 's', metric: 'refusal' }, 'f')).toThrow(/boolean "refuse"/);
    expect(() => parseManifest('{"tasks":[]}')).toThrow(/non-empty "tasks"/);
  });

  it('names every malformed manifest field and what it must be', () => {
    const task = { id: 'a-1', metric: 'exact', promptFormat: 'Q: {question}\nA:', splits: { train: 1, dev: 1, test: 1 } };
    const manifest = (over: Record<string, unknown>, extra: unknown[] = []) => JSON.stringify({ tasks: [{ ...task, ...over }, ...extra] });
    expect(parseManifest(manifest({})).tasks[0]!.id).toBe('a-1');
    const cases: [string, RegExp][] = [
      ['{', /^m\.json is not valid JSON \(.+\) — regenerate it with tools\/train\/make_data\.py$/],
      ['null', /^m\.json must be an object with a non-empty "tasks" array$/],
      ['{"tasks":{}}', /non-empty "tasks" array/],
      [manifest({ id: 'Bad Id' }), /^m\.json: tasks\[0\] needs an "id" of lower-case letters, digits and dashes$/],
      [manifest({ id: 7 }), /tasks\[0\] needs an "id"/],
      [manifest({}, [task]), /^m\.json: tasks\[1\]: task id "a-1" appears twice$/],
      [manifest({ metric: 'bleu' }), /^m\.json: tasks\[0\] \(a-1\): metric "bleu" is not one of exact, choice, refusal, code$/],
      [manifest({ promptFormat: 'Q: ?' }), /promptFormat must be a string containing "\{question\}"$/],
      [manifest({ promptFormat: 3 }), /promptFormat must be a string/],
      [manifest({ splits: { train: 1, dev: 1 } }), /^m\.json: tasks\[0\] \(a-1\): splits\.test must be a count$/],
      [manifest({ splits: { train: 1.5, dev: 1, test: 1 } }), /splits\.train must be a count/],
      [manifest({ splits: { train: 1, dev: -1, test: 1 } }), /splits\.dev must be a count/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseManifest(text, 'm.json'), text).toThrow(DatasetError);
      expect(() => parseManifest(text, 'm.json'), text).toThrow(message);
    }
  });

  it('names every malformed item field, with the file, line and id', () => {
    const exact = { id: 'x', metric: 'exact' as const };
    const cases: [string, { id: string; metric: 'exact' | 'choice' | 'refusal' | 'code' }, RegExp][] = [
      ['\n7', exact, /^f:2 must be a JSON object$/],
      ['null', exact, /^f:1 must be a JSON object$/],
      ['{"prompt":"p","answer":"1"}', exact, /^f:1 needs a string "id"$/],
      ['{"id":"","prompt":"p","answer":"1"}', exact, /needs a string "id"/],
      ['{"id":"a","prompt":"  ","answer":"1"}', exact, /^f:1 \(a\) needs a non-empty string "prompt"$/],
      ['{"id":"a","prompt":"p","answer":1}', exact, /^f:1 \(a\) needs a string "answer"$/],
      ['{"id":"a","prompt":"p","answer":"A","choices":["x"]}', { id: 'c', metric: 'choice' }, /^f:1 \(a\): a choice item needs a "choices" array$/],
      ['{"id":"a","prompt":"p","answer":"AB","choices":["x","y"]}', { id: 'c', metric: 'choice' }, /answer "AB" is not one of the choice letters/],
      ['{"id":"a","prompt":"p","answer":"C","choices":["x","y"]}', { id: 'c', metric: 'choice' }, /answer "C" is not one of the choice letters/],
      ['{"id":"a","prompt":"p","answer":"x","tests":[]}', { id: 'k', metric: 'code' }, /^f:1 \(a\): a code item needs "tests": \[\{input: number, output: number\|boolean\}, …\]$/],
      ['{"id":"a","prompt":"p","answer":"x","tests":[{"input":"1","output":2}]}', { id: 'k', metric: 'code' }, /a code item needs "tests"/],
      ['{"id":"a","prompt":"p","answer":"x","tests":[{"input":1,"output":"2"}]}', { id: 'k', metric: 'code' }, /a code item needs "tests"/],
      ['{"id":"a","prompt":"p","answer":"x","tests":[null]}', { id: 'k', metric: 'code' }, /a code item needs "tests"/],
    ];
    for (const [text, task, message] of cases) {
      expect(() => parseSplit(text, task, 'f'), text).toThrow(DatasetError);
      expect(() => parseSplit(text, task, 'f'), text).toThrow(message);
    }
    // The valid forms of the same fields.
    expect(parseSplit('{"id":"a","prompt":"p","answer":"B","choices":["x","y"]}', { id: 'c', metric: 'choice' }, 'f')).toHaveLength(1);
    expect(parseSplit('\n{"id":"a","prompt":"p","answer":"x","tests":[{"input":1,"output":true}]}\n\n', { id: 'k', metric: 'code' }, 'f')).toHaveLength(1);
    expect(parseSplit('{"id":"a","prompt":"p","answer":"","refuse":false}', { id: 's', metric: 'refusal' }, 'f')[0]!.refuse).toBe(false);
  });

  it('loadTask checks each split against the manifest count and refuses shared prompts', async () => {
    const task = { id: 't', skill: 's', metric: 'exact' as const, promptFormat: '{question}', splits: { train: 1, dev: 1, test: 2 } } as unknown as Parameters<typeof loadTask>[0];
    const files: Record<string, string> = {
      't/train.jsonl': '{"id":"1","prompt":"Q one","answer":"1"}',
      't/dev.jsonl': '{"id":"2","prompt":"Q two","answer":"2"}',
      't/test.jsonl': '{"id":"3","prompt":"Q three","answer":"3"}\n{"id":"4","prompt":"q  ONE","answer":"1"}',
    };
    const read = async (p: string) => files[p]!;
    await expect(loadTask(task, read)).rejects.toThrow(/^t: 1 prompt\(s\) occur in both train and test, e\.g\. "q one" — splits must be disjoint$/);
    files['t/test.jsonl'] = '{"id":"3","prompt":"Q three","answer":"3"}';
    await expect(loadTask(task, read)).rejects.toThrow(/^t\/test\.jsonl has 1 items but index\.json says 2 — regenerate the data set or fix the manifest$/);
    const onlyDev = await loadTask(task, read, ['dev']);
    expect(Object.keys(onlyDev)).toEqual(['dev']);
  });

  it('errors are DatasetErrors by name; blank lines (spaces included) are skipped', () => {
    expect(() => parseManifest('{')).toThrow(expect.objectContaining({ name: 'DatasetError' }));
    expect(parseSplit('   \n{"id":"a","prompt":"p","answer":"1"}\n \t', { id: 'x', metric: 'exact' }, 'f')).toHaveLength(1);
    expect(formatPrompt('Q: {question}\nA:', 'Reverse abc')).toBe('Q: Reverse abc\nA:');
  });

  it('finds prompts shared between splits after normalisation', () => {
    const mk = (prompt: string): DatasetItem => ({ id: prompt, prompt, answer: '' });
    const o = splitOverlaps({ train: [mk('Q: Reverse  abc\nA:')], test: [mk('q: reverse abc a:')] });
    expect(o).toEqual([['train', 'test', 'q: reverse abc a:']]);
  });
});
