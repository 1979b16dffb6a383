// A person's own data files' edges (src/lib/eval/user.ts) on in-memory files: formats by extension,
// decoding (UTF-8 only, a byte-order mark dropped), TSV, CSV header problems, JSONL's column union,
// the suggested mapping's name matching, and userDataset's every refusal and conversion (ids, cell
// text, aliases, choices from one column or several, answers by key, lower-case key or text).
import { describe, expect, it } from 'vitest';
import { problemsOf as problems, problemsOfAsync as problemsAsync } from '../support/dataset-problems.ts';
import { readUserRows, suggestMapping, unreadableRows, userDataset, userFormat, type ColumnMapping, type UserRows } from '../../src/lib/eval/user.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const rowsOf = (rows: Record<string, unknown>[], file = 'f.jsonl'): UserRows => ({
  file, format: 'jsonl', columns: [...new Set(rows.flatMap((r) => Object.keys(r)))], rows, labels: rows.map((_, i) => `line ${i + 1}`), unreadable: rows.map(() => null),
});
const ds = (rows: Record<string, unknown>[], mapping: ColumnMapping, type: string) => userDataset(rowsOf(rows), mapping, type);

describe('reading files', () => {
  it('the format from the extension, any case', () => {
    expect(['a.jsonl', 'a.NDJSON', 'a.csv', 'a.TSV', 'a.parquet', 'a.json', 'a', 'a.csv.bak'].map(userFormat)).toEqual(['jsonl', 'jsonl', 'csv', 'csv', 'parquet', null, null, null]);
  });

  it('UTF-8 only, a byte-order mark dropped; an unknown type and bad Parquet named', async () => {
    expect(await problemsAsync(readUserRows('dir/x.csv', new Uint8Array([0x71, 0xff, 0x0a])))).toEqual(['x.csv is not UTF-8 text — save it as UTF-8 and load it again']);
    const bom = await readUserRows('x.csv', enc('\uFEFFquestion,answer\nq,a\n'));
    expect(bom.columns).toEqual(['question', 'answer']);
    expect(await problemsAsync(readUserRows('x.txt', enc('q')))).toEqual(['x.txt: unknown file type — a data set is a MoCo .json file, a .jsonl, .csv or .parquet file, or a built-in pool task']);
    expect((await problemsAsync(readUserRows('x.parquet', enc('not parquet'))))[0]).toMatch(/^x\.parquet could not be read as Parquet \(.+\) — export it again, or use CSV or JSONL$/);
  });

  it('TSV splits on tabs; CSV rows are numbered from 1 after the header; blank lines are skipped', async () => {
    const tsv = await readUserRows('x.tsv', enc('question\tanswer\nwhat, then?\tb\n\n'));
    expect(tsv).toEqual({ file: 'x.tsv', format: 'csv', columns: ['question', 'answer'], rows: [{ question: 'what, then?', answer: 'b' }], labels: ['row 1'], unreadable: [null] });
    const csv = await readUserRows('x.csv', enc('question,answer\nq1,a1\n  \nq2,a2\n'));
    expect(csv.labels).toEqual(['row 1', 'row 2']);
    // a .tsv (any case) is split on tabs even where commas would split as evenly
    for (const name of ['y.tsv', 'Y.TSV']) expect((await readUserRows(name, enc('q,x\tanswer\n1,2\t3\n'))).columns, name).toEqual(['q,x', 'answer']);
    // an error papaparse places past the last row (an unterminated quote) is the file's problem, without the field-count advice
    expect(await problemsAsync(readUserRows('z.csv', enc('q,a\nfine,1\n"open,2\n')))).toEqual(['z.csv: Quoted field unterminated', "z.csv: Unable to auto-detect delimiting character; defaulted to ','"]);
  });

  it('CSV: no header, a repeated column', async () => {
    // (papaparse's own note about the delimiter comes first, named by file)
    // papaparse's own note about the delimiter (an error without a row) is a problem of the file
    expect(await problemsAsync(readUserRows('x.csv', enc('')))).toEqual([
      "x.csv: Unable to auto-detect delimiting character; defaulted to ','",
      'x.csv: no header row — the first line must name the columns',
    ]);
    expect(await problemsAsync(readUserRows('x.csv', enc('q,a,q\n1,2,3\n')))).toEqual(['x.csv: column "q" appears twice in the header — column names must be unique']);
  });

  it('JSONL: columns are the union of the rows\' keys in first-seen order; lines numbered in the file, blank lines skipped', async () => {
    const r = await readUserRows('x.jsonl', enc('{"a": 1}\n  \n{"b": 2, "a": 3}\nnull\n5\n[1]\n'));
    expect(r.format).toBe('jsonl');
    expect(r.columns).toEqual(['a', 'b']);
    expect(r.labels).toEqual(['line 1', 'line 3', 'line 4', 'line 5', 'line 6']);
    expect(r.rows).toEqual([{ a: 1 }, { b: 2, a: 3 }, {}, {}, {}]);
    expect(unreadableRows(r)).toEqual([4, 5, 6].map((n) => `x.jsonl: line ${n}: must be a JSON object, e.g. {"question": "…", "answer": "…"}`));
  });
});

describe('suggestMapping', () => {
  it('matches names ignoring case, spaces and dashes, most likely name first, a column used once', () => {
    expect(suggestMapping([' Test Code ', 'Problem', 'Answer-Key'])).toEqual({ mapping: { tests: ' Test Code ', input: 'Problem', reference: 'Answer-Key' }, taskType: 'coding' });
    // "question" before "text"; "answer" is the reference, so "text" is left over
    expect(suggestMapping(['text', 'question', 'answer']).mapping).toEqual({ input: 'question', reference: 'answer' });
    // a column named "question_id" is the id, not the input
    expect(suggestMapping(['question_id', 'prompt']).mapping).toEqual({ input: 'prompt', id: 'question_id' });
  });

  it('choices: a choices/options column, else two or more letter columns (option_a, choice b, …)', () => {
    expect(suggestMapping(['question', 'options', 'answer'])).toEqual({ mapping: { input: 'question', reference: 'answer', choices: 'options' }, taskType: 'multiple_choice' });
    expect(suggestMapping(['question', 'option_a', 'Choice B', 'answer']).mapping.choices).toEqual(['option_a', 'Choice B']);
    expect(suggestMapping(['question', 'a', 'answer'])).toEqual({ mapping: { input: 'question', reference: 'answer' }, taskType: 'exact_match' });
    // "k" is past "j": not an option letter
    expect(suggestMapping(['question', 'j', 'k', 'answer']).mapping.choices).toBeUndefined();
  });

  it('noncompliance only with a category and no reference; aliases make f1_match', () => {
    expect(suggestMapping(['input', 'category', 'output']).taskType).toBe('exact_match');
    expect(suggestMapping(['input', 'type']).taskType).toBe('noncompliance');
    expect(suggestMapping(['input', 'answer', 'possible answers']).taskType).toBe('f1_match');
  });
});

describe('userDataset: the mapping', () => {
  it('names each missing role with its article, and every column the file lacks', () => {
    const rows = rowsOf([{ q: 'x' }]);
    expect(problems(() => userDataset(rows, { input: '' }, 'multiple_choice'))).toEqual([
      'f.jsonl: the mapping needs an "input" column (the question) — columns are q',
      'f.jsonl: a multiple_choice data set needs a "choices" column in the mapping',
      'f.jsonl: a multiple_choice data set needs a "reference" column in the mapping',
      'f.jsonl: the mapping names column "", which the file does not have — columns are q',
    ]);
    expect(problems(() => userDataset(rows, { input: 'q' }, 'coding'))).toEqual(['f.jsonl: a coding data set needs a "tests" column in the mapping']);
    expect(problems(() => userDataset(rows, { input: 'q' }, 'noncompliance'))).toEqual(['f.jsonl: a noncompliance data set needs a "category" column in the mapping']);
    expect(problems(() => userDataset(rows, { input: 'q' }, 'f1_match'))).toEqual(['f.jsonl: a f1_match data set needs a "reference" or an "aliases" column in the mapping']);
    expect(problems(() => userDataset(rows, { input: 'q', choices: ['c1', 'c2'], reference: 'q' }, 'multiple_choice'))).toEqual([
      'f.jsonl: the mapping names column "c1", which the file does not have — columns are q',
      'f.jsonl: the mapping names column "c2", which the file does not have — columns are q',
    ]);
  });

  it('a mapping problem lists the unreadable rows too', () => {
    const rows: UserRows = { ...rowsOf([{ q: 'x' }, {}]), unreadable: [null, 'is not valid JSON (x) — each line must be one JSON object'] };
    expect(problems(() => userDataset(rows, { input: 'q' }, 'exact_match'))).toEqual([
      'f.jsonl: an exact_match data set needs a "reference" or an "aliases" column in the mapping',
      'f.jsonl: line 2: is not valid JSON (x) — each line must be one JSON object',
    ]);
    // with a good mapping, an unreadable row is one problem among the rows'
    expect(problems(() => userDataset(rows, { input: 'q', reference: 'q' }, 'exact_match'))).toEqual(['f.jsonl: line 2: is not valid JSON (x) — each line must be one JSON object']);
  });
});

describe('userDataset: rows', () => {
  it('ids: the row number without an id column; numbers kept, other cells as text; a blank id refused', () => {
    const plain = ds([{ q: 'a', r: 'x' }, { q: 'b', r: 'y' }], { input: 'q', reference: 'r' }, 'exact_match');
    expect(plain.splits.test!.map((i) => i.id)).toEqual(['1', '2']);
    expect(plain).toMatchObject({ id: 'user/f', name: 'f', source: 'user' });
    const ids = ds([{ id: 7, q: 'a', r: 1 }, { id: true, q: 2, r: false }, { id: { k: 1 }, q: 'c', r: [1] }], { id: 'id', input: 'q', reference: 'r' }, 'exact_match');
    expect(ids.splits.test!.map((i) => [i.id, i.reference])).toEqual([['7', '1'], ['true', 'false'], ['{"k":1}', '[1]']]);
    expect(ids.splits.test![1]!.prompt).toMatch(/^2\n\n/);
    expect(problems(() => ds([{ id: ' ', q: 'a', r: 'x' }, { id: null, q: 'a', r: 'x' }], { id: 'id', input: 'q', reference: 'r' }, 'exact_match'))).toEqual([
      'f.jsonl: line 1: column "id" (the id) is empty',
      'f.jsonl: line 2: column "id" (the id) is empty',
    ]);
  });

  it('the asked split holds every row', () => {
    const dev = userDataset(rowsOf([{ q: 'a', r: 'x' }]), { input: 'q', reference: 'r' }, 'exact_match', 'dev');
    expect(dev.splits.dev).toHaveLength(1);
    expect(dev.splits.test).toBeUndefined();
  });

  it('aliases: a JSON list (text or a real list), numbers, "|"-separated text; merged after the reference without repeats', () => {
    const m = { input: 'q', reference: 'r', aliases: 'al' };
    const d = ds([
      { q: 'a', r: 'Paris', al: '["Paris", "City of Light"]' },
      { q: 'b', r: 'x', al: ['y', 3, ' '] },
      { q: 'c', r: 'x', al: 42 },
      { q: 'd', r: 'x', al: ' p | q || x ' },
    ], m, 'f1_match');
    expect(d.splits.test!.map((i) => (i.raw as { output: unknown }).output)).toEqual([['Paris', 'City of Light'], ['x', 'y', '3'], ['x', '42'], ['x', 'p', 'q']]);
    const onlyAliases = ds([{ q: 'a', al: 'one' }], { input: 'q', aliases: 'al' }, 'f1_match');
    expect((onlyAliases.splits.test![0]!.raw as { output: unknown }).output).toBe('one');
    const bad = '"al" must hold the aliases as a JSON list (["Toulon", "Tolon"]) or as text separated by "|"';
    expect(problems(() => ds([{ q: 'a', al: '[oops' }, { q: 'b', al: '[1, {}]' }, { q: 'c', al: ' | ' }, { q: 'd', al: true }, { q: 'e', al: [] }], { input: 'q', aliases: 'al' }, 'f1_match'))).toEqual(
      [1, 2, 3, 4, 5].map((n) => `f.jsonl: line ${n}: column ${bad}`),
    );
    expect(problems(() => ds([{ q: 'a', r: '' }, { q: ' ', r: 'x' }], { input: 'q', reference: 'r' }, 'exact_match'))).toEqual(['f.jsonl: line 1: column "r" is empty', 'f.jsonl: line 2: column "q" is empty']);
  });

  it('choices from several columns: trailing blanks are not options, a gap before a filled one is refused', () => {
    const m = { input: 'q', reference: 'r', choices: ['a', 'b', 'c', 'd'] };
    const d = ds([{ q: 'Q', a: 'x', b: 'y', c: '', d: null, r: 'b' }], m, 'multiple_choice');
    expect(d.splits.test![0]!.raw).toEqual({ id: 1, question: 'Q', choices: { A: 'x', B: 'y' }, answer: 'B' });
    expect(problems(() => ds([{ q: 'Q', a: 'x', b: ' ', c: 'z', d: '', r: 'A' }, { q: 'Q', a: 'x', b: '', c: null, d: undefined, r: 'A' }], m, 'multiple_choice'))).toEqual([
      'f.jsonl: line 1: column "b" is empty but a later choice is not — options must be filled from the first column on',
      'f.jsonl: line 2: needs at least two choices',
    ]);
  });

  it('choices from one column: a JSON object or list (as text or as is); the answer by key, lower-case key or text', () => {
    const m = { input: 'q', reference: 'r', choices: 'ch' };
    const d = ds([
      { q: 'Q1', ch: '{"1": "one", "2": "two"}', r: '2' },
      { q: 'Q2', ch: '["red", "blue"]', r: 'b' },
      { q: 'Q3', ch: ['red', 'blue'], r: ' blue ' },
      { q: 'Q4', ch: { X: 'x', Y: 'y' }, r: 'X' },
    ], m, 'multiple_choice');
    expect(d.splits.test!.map((i) => (i.raw as { answer: string }).answer)).toEqual(['2', 'B', 'B', 'X']);
    expect(d.splits.test![1]!.reference).toBe('B) blue');
    const bad = (v: unknown, r = 'A') => problems(() => ds([{ q: 'Q', ch: v, r }], m, 'multiple_choice'))[0];
    expect(bad('not json')).toBe('f.jsonl: line 1: column "ch" must hold the choices as a JSON object ({"A": "…", "B": "…"}) or list');
    expect(bad(5)).toBe('f.jsonl: line 1: column "ch" must hold the choices as a JSON object ({"A": "…", "B": "…"}) or list');
    expect(bad('"text"')).toBe('f.jsonl: line 1: column "ch" must hold the choices as a JSON object ({"A": "…", "B": "…"}) or list');
    expect(bad('["only"]')).toBe('f.jsonl: line 1: needs at least two choices');
    expect(bad('["x", "y"]', 'green')).toBe('f.jsonl: line 1: the answer "green" in column "r" is neither a choice key (A, B) nor the text of a choice');
    expect(bad('["x", "y"]', '')).toBe('f.jsonl: line 1: column "r" is empty');
  });

  it('noncompliance and coding: their column\'s text; blank cells refused', () => {
    const nc = ds([{ q: 'Do it', c: 'Incomplete requests' }], { input: 'q', category: 'c' }, 'noncompliance');
    expect(nc.splits.test![0]!.raw).toEqual({ id: 1, input: 'Do it', category: 'Incomplete requests' });
    const code = ds([{ q: 'Write f', t: 'def check(c): pass' }], { input: 'q', tests: 't' }, 'coding');
    expect(code.splits.test![0]!.raw).toEqual({ id: 1, input: 'Write f', test: 'def check(c): pass', language: 'python' });
    expect(problems(() => ds([{ q: 'Do it', c: '' }], { input: 'q', category: 'c' }, 'noncompliance'))).toEqual(['f.jsonl: line 1: column "c" is empty']);
    expect(problems(() => ds([{ q: 'Do it', t: null }], { input: 'q', tests: 't' }, 'coding'))).toEqual(['f.jsonl: line 1: column "t" is empty']);
    // a test without check() is refused by the MoCo checks, named by the row's label
    expect(problems(() => ds([{ q: 'Do it', t: 'pass' }], { input: 'q', tests: 't' }, 'coding'))).toEqual(['f.jsonl: line 1: "test" does not define check(candidate)']);
  });
});
