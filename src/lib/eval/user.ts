/**
 * A person's own data file (JSONL, CSV, Parquet) as an EvalDataset: the file is read into rows
 * (JSONL by JSON.parse per line, CSV with papaparse, Parquet with hyparquet), a column mapping
 * says which column holds what, and the rows become MoCo-shaped items of the chosen task type, so
 * prompts and scoring are MoCo's (moco/dataset.ts). Pure: bytes in, so it runs in the tab, in
 * workers and in Node.
 *
 * Mapping: { input, reference?, aliases?, choices?, tests?, category?, id? } — column names.
 * - input: the question or request (required).
 * - reference: the answer. multiple_choice: a choice key ("B") or the text of a choice.
 * - aliases: accepted answers — a list cell (JSON array, or a Parquet list) or text split on "|".
 *   exact_match / f1_match score the best alias, as MoCo does for popqa.
 * - choices: one column holding a JSON object ({"A": …}) or array, or several columns (one option
 *   each, lettered A, B, C… in mapping order; empty cells after the last option are not options).
 * - tests: Python that defines check(candidate) (coding). category: noncompliance's category.
 * - id: the item id; without it the row number is the id.
 * Rows are numbered from 1 in file order (CSV: the header is not a row; JSONL: its line number).
 * Every bad row is reported ("my.csv: row 14: column \"answer\" is empty"); nothing is dropped.
 */
import Papa from 'papaparse';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { EvalDataset, EvalSplit } from './task.ts';
import { DatasetError } from './datasets.ts';
import { throwIfProblems } from './problems.ts';
import { buildMocoDataset, taskTypeProblem, type MocoTaskType } from './moco/dataset.ts';
import { optionLetter } from './moco/choice.ts';

export type UserFormat = 'jsonl' | 'csv' | 'parquet';
export type Row = Record<string, unknown>;

export interface UserRows {
  file: string;
  format: UserFormat;
  columns: string[];
  rows: Row[];
  /** How each row is named in messages ("row 3", "line 7"). */
  labels: string[];
  /** Per row: why it could not be read (bad JSON, wrong field count), or null. Reported with the rest. */
  unreadable: (string | null)[];
}

export interface ColumnMapping {
  input: string;
  reference?: string;
  aliases?: string;
  choices?: string | string[];
  tests?: string;
  category?: string;
  id?: string;
}

const baseName = (file: string) => file.split(/[\\/]/).pop() ?? file;

/** The format from the file name, or null. */
export function userFormat(file: string): UserFormat | null {
  const ext = /\.([a-z0-9]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'parquet') return 'parquet';
  return null;
}

function decode(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new DatasetError(`${file} is not UTF-8 text — save it as UTF-8 and load it again`);
  }
}

function readJsonl(file: string, text: string): UserRows {
  const rows: Row[] = [];
  const labels: string[] = [];
  const unreadable: (string | null)[] = [];
  const columns = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    labels.push(`line ${i + 1}`);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      rows.push({});
      unreadable.push(`is not valid JSON (${(e as Error).message}) — each line must be one JSON object`);
      return;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      rows.push({});
      unreadable.push('must be a JSON object, e.g. {"question": "…", "answer": "…"}');
      return;
    }
    for (const k of Object.keys(v)) columns.add(k);
    rows.push(v as Row);
    unreadable.push(null);
  });
  return { file, format: 'jsonl', columns: [...columns], rows, labels, unreadable };
}

function readCsv(file: string, text: string): UserRows {
  const r = Papa.parse<Row>(text, { header: true, skipEmptyLines: 'greedy', delimiter: file.toLowerCase().endsWith('.tsv') ? '\t' : '' });
  const problems: string[] = [];
  const unreadable: (string | null)[] = r.data.map(() => null);
  for (const e of r.errors) {
    const msg = `${e.message}${e.type === 'FieldMismatch' ? ' — every row needs one value per header column' : ''}`;
    if (e.row !== undefined && e.row < unreadable.length) unreadable[e.row] = msg;
    else problems.push(`${file}: ${msg}`);
  }
  const columns = r.meta.fields ?? [];
  if (columns.length === 0) problems.push(`${file}: no header row — the first line must name the columns`);
  // papaparse (5.x) renames a repeated header ("q", "q" → "q", "q_1") and lists it in renamedHeaders
  // rather than keeping both names, so the repeat is found there.
  const dup = Object.values((r.meta as { renamedHeaders?: Record<string, string> }).renamedHeaders ?? {})[0];
  if (dup !== undefined) problems.push(`${file}: column "${dup}" appears twice in the header — column names must be unique`);
  throwIfProblems(problems);
  return { file, format: 'csv', columns, rows: r.data, labels: r.data.map((_, i) => `row ${i + 1}`), unreadable };
}

/** Parquet cells as plain JSON-like values: INT64 BigInts become numbers (or text past 2^53). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Date) return v.toISOString();
  return v;
}

async function readParquet(file: string, bytes: Uint8Array): Promise<UserRows> {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let columns: string[];
  let objects: Row[];
  try {
    columns = parquetSchema(parquetMetadata(buf)).children.map((c) => c.element.name);
    objects = (await parquetReadObjects({ file: buf })) as Row[];
  } catch (e) {
    throw new DatasetError(`${file} could not be read as Parquet (${(e as Error).message}) — export it again, or use CSV or JSONL`);
  }
  const rows = objects.map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
  return { file, format: 'parquet', columns, rows, labels: rows.map((_, i) => `row ${i + 1}`), unreadable: rows.map(() => null) };
}

/** Reads a user file into rows; the format comes from the file name's extension. */
export async function readUserRows(path: string, bytes: Uint8Array): Promise<UserRows> {
  const file = baseName(path);
  const format = userFormat(file);
  switch (format) {
    case 'jsonl':
      return readJsonl(file, decode(file, bytes));
    case 'csv':
      return readCsv(file, decode(file, bytes));
    case 'parquet':
      return readParquet(file, bytes);
    default:
      throw new DatasetError(`${file}: unknown file type — a data set is a MoCo .json file, a .jsonl, .csv or .parquet file, or a built-in pool task`);
  }
}

// Column names that usually hold each role, most likely first.
const NAMES: Readonly<Record<Exclude<keyof ColumnMapping, 'choices'>, readonly string[]>> = {
  input: ['input', 'question', 'prompt', 'query', 'problem', 'instruction', 'text'],
  reference: ['output', 'answer', 'reference', 'target', 'label', 'gold', 'solution', 'answerkey', 'answer_key'],
  aliases: ['aliases', 'answers', 'possible_answers', 'answer_aliases', 'references'],
  tests: ['test', 'tests', 'test_code', 'check'],
  category: ['category', 'categories', 'type'],
  id: ['id', 'qid', 'uid', 'question_id', 'idx', 'index'],
};

/**
 * A mapping guessed from column names (case and spaces ignored), and the task type it suggests:
 * coding with a test column, multiple_choice with choices, noncompliance with a category and no
 * reference, f1_match with aliases, else exact_match. The person confirms or edits it.
 */
export function suggestMapping(columns: readonly string[]): { mapping: Partial<ColumnMapping>; taskType: MocoTaskType } {
  const key = (c: string) => c.trim().toLowerCase().replace(/[\s-]+/g, '_');
  const used = new Set<string>();
  const find = (names: readonly string[]) => {
    for (const n of names) {
      const c = columns.find((col) => key(col) === n && !used.has(col));
      if (c !== undefined) {
        used.add(c);
        return c;
      }
    }
    return undefined;
  };
  const mapping: Partial<ColumnMapping> = {};
  for (const role of ['tests', 'aliases', 'input', 'reference', 'category', 'id'] as const) {
    const c = find(NAMES[role]);
    if (c !== undefined) mapping[role] = c;
  }
  const choiceCol = find(['choices', 'options']);
  const letterCols = columns.filter((c) => /^(?:option_?|choice_?)?[a-j]$/i.test(key(c)) && !used.has(c));
  if (choiceCol !== undefined) mapping.choices = choiceCol;
  else if (letterCols.length >= 2) mapping.choices = letterCols;
  const taskType: MocoTaskType = mapping.tests
    ? 'coding'
    : mapping.choices
      ? 'multiple_choice'
      : mapping.category && !mapping.reference
        ? 'noncompliance'
        : mapping.aliases
          ? 'f1_match'
          : 'exact_match';
  return { mapping, taskType };
}

/** The rows that could not be read at all, as messages ("my.jsonl: line 4: is not valid JSON …"). */
export function unreadableRows(data: UserRows): string[] {
  return data.unreadable.flatMap((u, i) => (u ? [`${data.file}: ${data.labels[i]}: ${u}`] : []));
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? 'an' : 'a');
const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
const cellText = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));

function aliasList(v: unknown): string[] | null {
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string' || typeof x === 'number') ? v.map(String).filter((x) => x.trim() !== '') : null;
  if (typeof v !== 'string') return typeof v === 'number' ? [String(v)] : null;
  const t = v.trim();
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      return aliasList(parsed);
    } catch {
      return null;
    }
  }
  return t.split('|').map((x) => x.trim()).filter((x) => x !== '');
}

function choiceObject(v: unknown): Record<string, unknown> | null {
  let x = v;
  if (typeof x === 'string') {
    try {
      x = JSON.parse(x);
    } catch {
      return null;
    }
  }
  if (Array.isArray(x)) return Object.fromEntries(x.map((o, i) => [optionLetter(i), o]));
  if (typeof x === 'object' && x !== null) return x as Record<string, unknown>;
  return null;
}

/**
 * Turns rows into an EvalDataset (id "user/<file stem>") of `taskType`, all rows in `split`.
 * Throws DatasetProblems naming every bad row and column.
 */
export function userDataset(data: UserRows, mapping: ColumnMapping, taskType: string, split: EvalSplit = 'test'): EvalDataset {
  const file = data.file;
  const refused = taskTypeProblem(file, taskType);
  if (refused) throw new DatasetError(refused);
  const type = taskType as MocoTaskType;
  const problems: string[] = [];
  const needs: Partial<Record<MocoTaskType, Array<keyof ColumnMapping>>> = { coding: ['tests'], noncompliance: ['category'], multiple_choice: ['choices', 'reference'] };
  if (!mapping.input) problems.push(`${file}: the mapping needs an "input" column (the question) — columns are ${data.columns.join(', ')}`);
  for (const role of needs[type] ?? []) if (!mapping[role]) problems.push(`${file}: ${article(type)} ${type} data set needs a "${role}" column in the mapping`);
  if ((type === 'exact_match' || type === 'f1_match') && !mapping.reference && !mapping.aliases) {
    problems.push(`${file}: ${article(type)} ${type} data set needs a "reference" or an "aliases" column in the mapping`);
  }
  const mapped = Object.values(mapping).flat().filter((c): c is string => typeof c === 'string');
  for (const c of mapped) if (!data.columns.includes(c)) problems.push(`${file}: the mapping names column "${c}", which the file does not have — columns are ${data.columns.join(', ')}`);
  if (problems.length > 0) throwIfProblems([...problems, ...unreadableRows(data)]);

  const items: Record<string, unknown>[] = [];
  data.rows.forEach((row, i) => {
    const at = `${file}: ${data.labels[i]}`;
    const bad = (msg: string) => problems.push(`${at}: ${msg}`);
    const unreadable = data.unreadable[i];
    if (unreadable) return bad(unreadable);
    const cell = (c: string) => row[c];
    const item: Record<string, unknown> = { id: i + 1 };
    if (mapping.id) {
      const v = cell(mapping.id);
      if (isBlank(v)) return bad(`column "${mapping.id}" (the id) is empty`);
      item.id = typeof v === 'number' ? v : cellText(v);
    }
    const input = cell(mapping.input);
    if (isBlank(input)) return bad(`column "${mapping.input}" is empty`);
    item.input = cellText(input);
    switch (type) {
      case 'exact_match':
      case 'f1_match': {
        const refs: string[] = [];
        if (mapping.reference) {
          const v = cell(mapping.reference);
          if (isBlank(v)) return bad(`column "${mapping.reference}" is empty`);
          refs.push(cellText(v));
        }
        if (mapping.aliases) {
          const list = aliasList(cell(mapping.aliases));
          if (list === null || list.length === 0) return bad(`column "${mapping.aliases}" must hold the aliases as a JSON list (["Toulon", "Tolon"]) or as text separated by "|"`);
          for (const a of list) if (!refs.includes(a)) refs.push(a);
        }
        item.output = refs.length === 1 ? refs[0] : refs;
        break;
      }
      case 'multiple_choice': {
        let choices: Record<string, unknown> | null;
        if (Array.isArray(mapping.choices)) {
          const cells = mapping.choices.map((c) => cell(c));
          let n = cells.length;
          while (n > 0 && isBlank(cells[n - 1])) n--;
          const gap = cells.slice(0, n).findIndex(isBlank);
          if (gap >= 0) return bad(`column "${mapping.choices[gap]}" is empty but a later choice is not — options must be filled from the first column on`);
          choices = Object.fromEntries(cells.slice(0, n).map((v, k) => [optionLetter(k), cellText(v)]));
        } else {
          choices = choiceObject(cell(mapping.choices!));
          if (choices === null) return bad(`column "${String(mapping.choices)}" must hold the choices as a JSON object ({"A": "…", "B": "…"}) or list`);
        }
        if (Object.keys(choices).length < 2) return bad('needs at least two choices');
        const ans = cell(mapping.reference!);
        if (isBlank(ans)) return bad(`column "${mapping.reference}" is empty`);
        const a = cellText(ans).trim();
        const byText = Object.entries(choices).find(([, t]) => typeof t === 'string' && t.trim() === a)?.[0];
        const key = Object.hasOwn(choices, a) ? a : Object.hasOwn(choices, a.toUpperCase()) ? a.toUpperCase() : byText;
        if (key === undefined) return bad(`the answer "${a}" in column "${mapping.reference}" is neither a choice key (${Object.keys(choices).join(', ')}) nor the text of a choice`);
        item.question = item.input;
        delete item.input;
        item.choices = choices;
        item.answer = key;
        break;
      }
      case 'noncompliance': {
        const v = cell(mapping.category!);
        if (isBlank(v)) return bad(`column "${mapping.category}" is empty`);
        item.category = cellText(v);
        break;
      }
      case 'coding': {
        const v = cell(mapping.tests!);
        if (isBlank(v)) return bad(`column "${mapping.tests}" is empty`);
        item.test = cellText(v);
        item.language = 'python';
        break;
      }
    }
    items.push(item);
  });
  throwIfProblems(problems);
  const stem = file.replace(/\.[^.]*$/, '');
  return buildMocoDataset(
    { file, name: stem, taskType: type, splits: { [split]: items } },
    { id: `user/${stem}`, source: 'user', where: (_s, i) => `${file}: ${data.labels[i] ?? `row ${i + 1}`}` },
  );
}
