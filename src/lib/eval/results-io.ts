/**
 * Reading and writing results files (results.ts's `ResultsFile`) outside the runner: the
 * Experiments view imports one a person chose, and exports it as JSON (everything, traces
 * included) or as two CSV tables (cells, items).
 *
 * `parseResultsFile` checks the shape field by field and lists every problem it finds (item by
 * index and field), so a hand-edited or truncated file is refused with the place to fix, never
 * half-shown. It does not recompute statistics: `summarize` (results.ts) does that when asked.
 * CSV cells that start with = + - @ are escaped (papaparse's escapeFormulae): model output is
 * untrusted and must not become a spreadsheet formula (OWASP "CSV injection").
 */
import Papa from 'papaparse';
import type { CellResult, ItemResult, ResultsFile } from './results.ts';

export class ResultsFileError extends Error {
  override name = 'ResultsFileError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file} is not a Chorus results file:\n${problems.slice(0, 5).join('\n')}${problems.length > 5 ? `\n… and ${problems.length - 5} more` : ''}`);
  }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const MAX_PROBLEMS = 50;

/** Parses and checks a results file's text; `file` names it in errors. */
export function parseResultsFile(text: string, file = 'results.json'): ResultsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ResultsFileError(file, [`it is not valid JSON (${(e as Error).message}) — export it again from the Experiments tab or the CLI (--out)`]);
  }
  const problems: string[] = [];
  const add = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  if (!isObj(raw)) throw new ResultsFileError(file, ['the top level must be an object with "format", "cells" and "items"']);
  if (raw.format !== 'chorus-experiment-results') add(`"format" is ${JSON.stringify(raw.format)}, expected "chorus-experiment-results"`);
  if (raw.version !== 1) add(`"version" is ${JSON.stringify(raw.version)}; this app reads version 1`);
  if (!Array.isArray(raw.cells)) add('"cells" must be an array of cells');
  if (!Array.isArray(raw.items)) add('"items" must be an array of items');
  if (!isObj(raw.summary)) add('"summary" must be an object (win share, diversity, cost)');
  if (problems.length > 0) throw new ResultsFileError(file, problems);
  const cells = raw.cells as unknown[];
  cells.forEach((c, i) => {
    const at = `cells[${i}]`;
    if (!isObj(c)) return add(`${at} must be an object`);
    for (const k of ['method', 'dataset', 'split'] as const) if (typeof c[k] !== 'string') add(`${at}.${k} must be a string`);
    for (const k of ['n', 'score', 'seed'] as const) if (!isNum(c[k])) add(`${at}.${k} must be a number`);
    if (!Array.isArray(c.ci95) || c.ci95.length !== 2 || !c.ci95.every(isNum)) add(`${at}.ci95 must be [low, high]`);
    if (!Array.isArray(c.labels) || !c.labels.every((l) => typeof l === 'string')) add(`${at}.labels must be an array of strings`);
    if (!Array.isArray(c.agents) || !c.agents.every((a) => isObj(a) && typeof a.model === 'string')) add(`${at}.agents must be an array of {"model", "temperature"}`);
    if (!isObj(c.cost)) add(`${at}.cost must be an object`);
  });
  (raw.items as unknown[]).forEach((it, i) => {
    const at = `items[${i}]`;
    if (!isObj(it)) return add(`${at} must be an object`);
    if (!Number.isInteger(it.cell) || (it.cell as number) < 0 || (it.cell as number) >= cells.length) add(`${at}.cell is ${JSON.stringify(it.cell)}: it must index "cells" (0 to ${cells.length - 1})`);
    for (const k of ['id', 'prompt', 'reference', 'output', 'parsed'] as const) if (typeof it[k] !== 'string') add(`${at}.${k} must be a string`);
    if (!isNum(it.score) || (it.score as number) < 0 || (it.score as number) > 1) add(`${at}.score must be a number from 0 to 1`);
    if (it.trace !== undefined && (!Array.isArray(it.trace) || !it.trace.every((e) => isObj(e) && typeof e.type === 'string'))) add(`${at}.trace must be an array of trace events`);
  });
  if (problems.length > 0) throw new ResultsFileError(file, problems);
  return raw as unknown as ResultsFile;
}

const pct = (x: number) => Math.round(x * 10000) / 100;

/** One row per cell: identity, score and interval (in %), gain, emergence, cost. */
export function cellsCsv(results: ResultsFile): string {
  const rows = results.cells.map((c: CellResult, i) => ({
    cell: i,
    label: c.labels.join(' | '),
    method: c.method,
    agents: c.agents.map((a) => (a.temperature > 0 ? `${a.model}@${a.temperature}` : a.model)).join(' '),
    dataset: c.dataset,
    split: c.split,
    seed: c.seed,
    role: c.role,
    n: c.n,
    score: pct(c.score),
    ci95_low: pct(c.ci95[0]),
    ci95_high: pct(c.ci95[1]),
    best_member: c.bestMember?.model ?? '',
    gain: c.gain ? pct(c.gain.estimate) : '',
    gain_ci95_low: c.gain ? pct(c.gain.ci95[0]) : '',
    gain_ci95_high: c.gain ? pct(c.gain.ci95[1]) : '',
    emergence: c.emergence?.rate != null ? pct(c.emergence.rate) : '',
    calls: c.cost.calls,
    prompt_tokens: c.cost.promptTokens,
    completion_tokens: c.cost.completionTokens,
    seconds: c.cost.seconds,
  }));
  return Papa.unparse(rows, { escapeFormulae: true });
}

/** One row per item (without its trace: the JSON export keeps traces). */
export function itemsCsv(results: ResultsFile): string {
  const rows = results.items.map((it: ItemResult) => ({
    cell: it.cell,
    label: results.cells[it.cell]?.labels.join(' | ') ?? '',
    dataset: results.cells[it.cell]?.dataset ?? '',
    id: it.id,
    prompt: it.prompt,
    reference: it.reference,
    output: it.output,
    parsed: it.parsed,
    score: it.score,
    error: it.error ?? '',
    calls: it.calls,
    prompt_tokens: it.promptTokens,
    completion_tokens: it.completionTokens,
    seconds: it.seconds,
  }));
  return Papa.unparse(rows, { escapeFormulae: true });
}
