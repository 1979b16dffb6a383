// The shipped data sets: every file parses, splits are disjoint (normalised prompts), sizes match the
// manifest, and each task's metric scores every reference answer correct and a wrong answer wrong.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';
import { loadTask, parseManifest, parseSplit, splitOverlaps, normalizePrompt, DatasetError, type DatasetItem } from '../../src/lib/eval/datasets.ts';
import { scoreOutput } from '../../src/lib/eval/metrics.ts';
import { nodeSandbox } from '../../tools/lib/node-sandbox.ts';

const DATA = resolve(REPO_ROOT, 'public/datasets');
const read = async (p: string) => readFileSync(resolve(DATA, p), 'utf8');
const manifest = parseManifest(readFileSync(resolve(DATA, 'index.json'), 'utf8'));
const sandbox = nodeSandbox();

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
            expect(await scoreOutput(task.metric, ` ${item.answer}`, item, sandbox), `${item.id} reference`).toBe(1);
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

  it('finds prompts shared between splits after normalisation', () => {
    const mk = (prompt: string): DatasetItem => ({ id: prompt, prompt, answer: '' });
    const o = splitOverlaps({ train: [mk('Q: Reverse  abc\nA:')], test: [mk('q: reverse abc a:')] });
    expect(o).toEqual([['train', 'test', 'q: reverse abc a:']]);
  });
});
