// MoCo data files' edges (src/lib/eval/moco/dataset.ts) on hand-written files: each field check's
// exact message, the warnings (one per kind, counted), ids reused in dev, the references of list
// outputs, coding items' alternative field names and their scoring through a fake sandbox, the
// question_id rule's edges, the file's name and id from its path, and JSON errors without a position.
import { describe, expect, it } from 'vitest';
import { problemsOf as problems } from '../support/dataset-problems.ts';
import { DatasetError } from '../../src/lib/eval/datasets.ts';
import {
  buildMocoDataset, groupByQuestionId, jsonErrorMessage, mocoPrompt, parseMocoFile, scoreMocoItem, taskTypeProblem,
} from '../../src/lib/eval/moco/dataset.ts';
import type { EvalItem, PythonSandbox } from '../../src/lib/eval/task.ts';

const file = (task_type: string, test: unknown, extra: object = {}) => JSON.stringify({ name: 'x', task_type, test, ...extra });
const one = (type: string, item: object) => problems(() => parseMocoFile(file(type, [item]), 'x.json'));

describe('task types', () => {
  it('a missing task type, text_generation, and the supported ones', () => {
    expect(taskTypeProblem('f.json', undefined)).toBe('f.json: "task_type" is missing — it must be one of multiple_choice, exact_match, f1_match, noncompliance, coding');
    expect(taskTypeProblem('f.json', 'text_generation')).toBe(
      'f.json: task_type "text_generation" needs a judge: MoCo scores its dev split with a reward model and leaves its test split unscored, which Chorus does not run — choose a data set of another task type (multiple_choice, exact_match, f1_match, noncompliance, coding)',
    );
    for (const t of ['multiple_choice', 'exact_match', 'f1_match', 'noncompliance', 'coding']) expect(taskTypeProblem('f.json', t)).toBeNull();
    // inherited names are not judged types (they once read Object.prototype's members as the judge)
    expect(taskTypeProblem('f.json', '__proto__')).toBe('f.json: task_type "__proto__" is not one MoCo scores — use one of multiple_choice, exact_match, f1_match, noncompliance, coding');
    expect(taskTypeProblem('f.json', 'toString')).toBe('f.json: task_type "toString" is not one MoCo scores — use one of multiple_choice, exact_match, f1_match, noncompliance, coding');
  });
});

describe('item checks', () => {
  it('multiple_choice: the answer and the choices', () => {
    expect(one('multiple_choice', { id: 1, question: 'q', choices: { A: 'x', B: 'y' } })).toEqual(['x.json: test[0] (id 1): missing "answer" (the key of the correct choice, e.g. "B")']);
    expect(one('multiple_choice', { id: 1, question: 'q', choices: { A: 'x' }, answer: 'A' })).toEqual(['x.json: test[0] (id 1): "choices" must be an object of at least two options, e.g. {"A": "Paris", "B": "Lyon"}']);
    expect(one('multiple_choice', { id: 1, question: 'q', choices: ['x', 'y'], answer: 'A' })).toEqual(['x.json: test[0] (id 1): "choices" must be an object of at least two options, e.g. {"A": "Paris", "B": "Lyon"}']);
    expect(one('multiple_choice', { id: 1, question: 'q', choices: null, answer: 'A' })).toEqual(['x.json: test[0] (id 1): "choices" must be an object of at least two options, e.g. {"A": "Paris", "B": "Lyon"}']);
  });

  it('exact_match and f1_match: input, list outputs', () => {
    expect(one('exact_match', { id: 1, output: 'a' })).toEqual(['x.json: test[0] (id 1): missing "input" (the question text)']);
    expect(one('f1_match', { id: 1, input: 'q', output: [] })).toEqual(['x.json: test[0] (id 1): "output" as a list must hold at least one text alias']);
    expect(one('f1_match', { id: 1, input: 'q', output: ['a', 2] })).toEqual(['x.json: test[0] (id 1): "output" as a list must hold at least one text alias']);
    expect(one('exact_match', { id: 1, input: 'q', output: true })).toEqual(['x.json: test[0] (id 1): "output" must be text (write true as "True")']);
  });

  it('noncompliance and coding: each missing field', () => {
    expect(one('noncompliance', { id: 1, category: 'c' })).toEqual(['x.json: test[0] (id 1): missing "input" (the request)']);
    expect(one('coding', { id: 1, test: 'def check(c): pass' })).toEqual(['x.json: test[0] (id 1): missing "input" (the problem statement)']);
    expect(one('coding', { id: 1, input: 'q' })).toEqual(['x.json: test[0] (id 1): missing "test" (Python that defines check(candidate))']);
    // "def check (" with spaces is a check; "undef check(" is not a def at a word boundary
    expect(one('coding', { id: 1, input: 'q', test: 'undef check(c): pass' })).toEqual(['x.json: test[0] (id 1): "test" does not define check(candidate)']);
    expect(parseMocoFile(file('coding', [{ id: 1, input: 'q', test: 'def  check (c): pass', language: 'python' }]), 'x.json').splits.test).toHaveLength(1);
  });

  it('a split that is not an array; an id that is neither string nor number; every problem of both splits', () => {
    expect(problems(() => parseMocoFile(JSON.stringify({ name: 'x', task_type: 'exact_match', dev: {}, test: [{ id: true, input: 'q', output: 'a' }, { id: 2, input: 'q', output: 'a' }] }), 'x.json'))).toEqual([
      'x.json: "dev" must be an array of items',
      'x.json: test[0] (id true): missing "id" (a string or number unique in the split)',
    ]);
    // only dev present: it loads, with no test split
    const dev = parseMocoFile(JSON.stringify({ name: 'x', task_type: 'exact_match', dev: [{ id: 'a', input: 'q', output: 'a' }] }), 'x.json');
    expect(dev.splits.dev!.map((i) => i.id)).toEqual(['a']);
    expect(dev.splits.test).toBeUndefined();
  });
});

describe('warnings', () => {
  it('one per kind with a count of the rest; ids reused in dev named #2, #3', () => {
    const ds = parseMocoFile(
      JSON.stringify({
        name: 'x', task_type: 'exact_match',
        dev: [{ id: 1, input: 'a', output: null }, { id: 1, input: 'b', output: null }, { id: 1, input: 'c', output: null }, { id: 2, input: 'd', output: 'x' }],
        test: [{ id: 1, input: 'e', output: 'y' }],
      }),
      'x.json',
    );
    expect(ds.splits.dev!.map((i) => i.id)).toEqual(['1', '1#2', '1#3', '2']);
    expect(ds.splits.test!.map((i) => i.id)).toEqual(['1']);
    expect(ds.warnings).toEqual([
      'x.json: dev[0] (id 1): "output" is null — MoCo compares the answer with an empty reference, and so does this score (and 2 more like it)',
      'x.json: dev: 2 item(s) reuse an id already used in the split (first: "1"); each later use is named "<id>#2", "<id>#3", …',
    ]);
    expect(ds.splits.dev![0]!.reference).toBe('');
  });

  it('an answer keyed other than its letter: the warning names the letter and every key', () => {
    const ds = parseMocoFile(file('multiple_choice', [{ id: 1, question: 'q', choices: { 1: 'x', 2: 'y', 3: 'z' }, answer: '2' }]), 'x.json');
    expect(ds.warnings).toEqual([
      'x.json: test[0] (id 1): the answer "2" is option B of 1, 2, 3: MoCo\'s score compares the letter with "2" and can never be 1 here; metric choice_corrected maps the letter back to the key',
    ]);
  });

  it('f1_match with a null output: an empty reference, no alias list', async () => {
    const ds = parseMocoFile(file('f1_match', [{ id: 1, input: 'q', output: null }]), 'x.json');
    expect(ds.splits.test![0]!.reference).toBe('');
    expect((await ds.score(ds.splits.test![0]!, '', {})).score).toBe(1);
  });

  it('ids reused in both splits: one warning per split', () => {
    const two = (id: number) => [{ id, input: 'a', output: 'x' }, { id, input: 'b', output: 'y' }];
    const ds = parseMocoFile(JSON.stringify({ name: 'x', task_type: 'exact_match', dev: two(1), test: two(2) }), 'x.json');
    expect(ds.warnings).toEqual([
      'x.json: dev: 1 item(s) reuse an id already used in the split (first: "1"); each later use is named "<id>#2", "<id>#3", …',
      'x.json: test: 1 item(s) reuse an id already used in the split (first: "2"); each later use is named "<id>#2", "<id>#3", …',
    ]);
  });

  it('an empty coding test and a non-text choice warn; a clean file has no warnings field', () => {
    const coding = parseMocoFile(file('coding', [{ id: 1, question: 'Q?', test_code: '  ' }]), 'x.json');
    expect(coding.warnings).toEqual(['x.json: test[0] (id 1): "test" is empty — MoCo scores every reply 0 here (there is nothing to run), and so does this score']);
    expect(coding.splits.test![0]!.prompt).toBe('Q?');
    const mcq = parseMocoFile(file('multiple_choice', [{ id: 1, question: 'q', choices: { A: 'x', B: 2 }, answer: 'A' }]), 'x.json');
    expect(mcq.warnings).toEqual(['x.json: test[0] (id 1): choice "B" is 2, not text — the prompt shows "2" as MoCo\'s does']);
    expect(mcq.splits.test![0]!.reference).toBe('A) x');
    const clean = parseMocoFile(file('exact_match', [{ id: 1, input: 'q', output: 'a' }]), 'x.json');
    expect('warnings' in clean).toBe(false);
    expect('groupScores' in clean).toBe(false);
  });
});

describe('prompts, references and scores', () => {
  it('list outputs: joined as the reference, each an alias for the score; an f1 alias string split, an exact one not', async () => {
    const ds = parseMocoFile(file('f1_match', [{ id: 1, input: 'q', output: ['New York', 'NYC'] }, { id: 2, input: 'q', output: '["Paris", "Lutetia"]' }]), 'x.json');
    const [list, str] = ds.splits.test!;
    expect(list!.reference).toBe('New York | NYC');
    expect(await ds.score(list!, '\\boxed{NYC}', {})).toEqual({ parsed: 'NYC', score: 1, metrics: { f1: 1, f1_corrected: 1 } });
    expect(str!.reference).toBe('Paris | Lutetia');
    expect((await ds.score(str!, '\\box{Lutetia}', {})).score).toBe(1);
    const exact = parseMocoFile(file('exact_match', [{ id: 1, input: 'q', output: '[1, 2]' }]), 'x.json');
    expect(exact.splits.test![0]!.reference).toBe('[1, 2]');
    expect((await exact.score(exact.splits.test![0]!, '\\box{[1, 2]}', {})).score).toBe(1);
    expect((await exact.score(exact.splits.test![0]!, '\\box{1}', {})).score).toBe(0);
  });

  it('noncompliance reference and prompt; coding prompt from "prompt"', () => {
    expect(parseMocoFile(file('noncompliance', [{ id: 1, input: 'Do it', category: 'Incomplete requests' }]), 'x.json').splits.test![0]).toMatchObject({ prompt: 'Do it', reference: 'declines (Incomplete requests)', mode: 'chat' });
    expect(mocoPrompt('coding', { prompt: 'P' })).toBe('P');
    expect(mocoPrompt('coding', { question: 'Q', prompt: 'P' })).toBe('Q');
    expect(mocoPrompt('exact_match', { input: 'line  \n\t' })).toBe('line\n\nPlease provide the final, direct answer wrapped exactly as \\box{ANSWER}');
  });

  it('coding: test or test_code is run in ctx.python; no sandbox is an error, not a crash', async () => {
    const ran: Array<[string, number]> = [];
    const python: PythonSandbox = { run: (program, ms) => (ran.push([program, ms]), Promise.resolve({ ok: true })) };
    const ds = parseMocoFile(file('coding', [{ id: 1, input: 'q', test_code: 'def check(c): assert c(1) == 2' }]), 'x.json');
    const item = ds.splits.test![0]!;
    expect(await ds.score(item, '```python\ndef f(x):\n    return 2 * x\n```', { python })).toEqual({ parsed: 'def f(x):\n    return 2 * x', score: 1 });
    expect(ran).toEqual([['def f(x):\n    return 2 * x\n\ncandidate = f\n\ndef check(c): assert c(1) == 2\n\ncheck(candidate)\n', 10_000]]);
    expect((await ds.score(item, 'def f(x): return x', {})).error).toMatch(/^coding items need a Python sandbox/);
    expect(await scoreMocoItem('coding', { test: 'def check(c): pass' }, 'def g(): pass', { python: { run: () => Promise.resolve({ ok: false, timedOut: true }) } })).toEqual({
      parsed: 'def g(): pass', score: 0, error: 'the program ran past 10000 ms and was stopped',
    });
    expect(await scoreMocoItem('coding', { test: 'def check(c): pass' }, 'def g(): pass', { python: { run: () => Promise.resolve({ ok: false }) } })).toEqual({ parsed: 'def g(): pass', score: 0, error: 'the program failed' });
    expect(await scoreMocoItem('coding', { test: 'def check(c): pass' }, 'def g(): pass', { python: { run: () => Promise.resolve({ ok: false, error: 'NameError' }) } })).toEqual({ parsed: 'def g(): pass', score: 0, error: 'NameError' });
  });

  it('question_id groups: null and missing ids and non-object raws stay alone; a group scores 1 only when all are exactly 1', () => {
    const item = (raw: unknown): EvalItem => ({ id: 'i', prompt: 'p', mode: 'chat', reference: '', raw });
    const items = [item({ question_id: 'q' }), item({ question_id: 'q' }), item({ question_id: null }), item('text'), item({}), item({ question_id: 0 }), item({ question_id: 0 })];
    expect(groupByQuestionId(items, [1, 1, 0.5, 1, 0, 1, 0.9])).toEqual([1, 1, 0.5, 1, 0, 0, 0]);
    const ds = parseMocoFile(file('exact_match', [{ id: 1, input: 'q', output: 'a', question_id: 7 }]), 'x.json');
    expect(ds.groupScores).toBe(groupByQuestionId);
  });
});

describe('file names and JSON errors', () => {
  it('the id and name come from the file stem when the file has no name; "dataset" when it has one', () => {
    const ds = parseMocoFile(JSON.stringify({ task_type: 'exact_match', test: [{ id: 1, input: 'q', output: 'a' }] }), 'C:\\data\\gsm8k.v2.json');
    expect(ds).toMatchObject({ id: 'moco/gsm8k.v2', name: 'gsm8k.v2', source: 'moco', metric: 'exact_match', taskType: 'exact_match' });
    const named = parseMocoFile(JSON.stringify({ dataset: 'D', name: 3, task_type: 'exact_match', test: [{ id: 1, input: 'q', output: 'a' }] }), 'dir/f.json');
    expect(named).toMatchObject({ id: 'moco/f', name: 'D' });
    expect(problems(() => parseMocoFile('{', 'dir/bad.json'))[0]).toMatch(/^bad\.json is not valid JSON/);
  });

  it('jsonErrorMessage: line and column from the position, none without one', () => {
    expect(jsonErrorMessage('f.json', 'ab\ncdef', new Error('Unexpected token at position 5'))).toBe('f.json is not valid JSON at line 2 column 3 (Unexpected token at position 5)');
    expect(jsonErrorMessage('f.json', 'abc', new Error('Unexpected token at position 0'))).toBe('f.json is not valid JSON at line 1 column 1 (Unexpected token at position 0)');
    expect(jsonErrorMessage('f.json', 'x', new Error('Unexpected end of JSON input'))).toBe('f.json is not valid JSON (Unexpected end of JSON input)');
  });

  it('buildMocoDataset with a custom place name and source (user files)', () => {
    const build = () => buildMocoDataset({ file: 'u.csv', name: 'u', taskType: 'exact_match', splits: { test: [{ id: 1, input: 'q' }] } }, { id: 'user/u', source: 'user', where: (s, i) => `u.csv: row ${i + 2} (${s})` });
    expect(problems(build)).toEqual(['u.csv: row 2 (test): missing "output" (the reference answer)']);
    expect(() => buildMocoDataset({ file: 'u.csv', name: 'u', taskType: 'essay', splits: {} }, { id: 'user/u', source: 'user' })).toThrow(
      new DatasetError('u.csv: task_type "essay" is not one MoCo scores — use one of multiple_choice, exact_match, f1_match, noncompliance, coding'),
    );
  });
});
