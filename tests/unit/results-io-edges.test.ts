// Results files in and out, on a hand-written file (src/lib/eval/results-io.ts): every check of
// parseResultsFile with its exact message and its bounds (cell index 0 to n−1, score 0 to 1, finite
// numbers), the message's first five problems and "… and N more", the cap of 50 problems, and the
// CSV columns (percentages to two decimals, a sampled agent as model@temperature, empty fields for
// what a cell or item lacks).
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import type { CellResult, ItemResult, ResultsFile } from '../../src/lib/eval/results.ts';
import { cellsCsv, itemsCsv, parseResultsFile, ResultsFileError } from '../../src/lib/eval/results-io.ts';

const cost = { calls: 2, promptTokens: 6, completionTokens: 2, seconds: 0.01, cachedCalls: 0 };
function cell(extra: Partial<CellResult> = {}): CellResult {
  return {
    method: 'vote', labels: ['v'], agents: [{ model: 'a', temperature: 0 }], knobs: {}, dataset: 'toy', split: 'test', seed: 1, role: 'collaboration',
    memberCells: [], baselineCells: [], baselineDevCells: [], n: 2, score: 0.5, ci95: [0, 1], cost, ...extra,
  } as CellResult;
}
function item(extra: Partial<ItemResult> = {}): ItemResult {
  return { cell: 0, id: 'i1', prompt: 'Q', reference: '2', output: '2', parsed: '2', score: 1, calls: 1, promptTokens: 3, completionTokens: 1, seconds: 0.005, cachedCalls: 0, ...extra };
}
function file(cells: CellResult[] = [cell()], items: ItemResult[] = [item()]): ResultsFile {
  return {
    format: 'chorus-experiment-results', version: 1, experiment: null, bootstrap: { iterations: 2000, seed: 1, level: 0.95, method: 'p' }, cells, items,
    summary: { winShare: { settings: 0, wins: 0, share: null }, diversity: [], cost },
  };
}
function problemsOf(value: unknown): readonly string[] {
  try {
    parseResultsFile(JSON.stringify(value), 'f.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ResultsFileError);
    expect((e as ResultsFileError).name).toBe('ResultsFileError');
    expect((e as ResultsFileError).file).toBe('f.json');
    return (e as ResultsFileError).problems;
  }
  return [];
}

describe('parseResultsFile: the checks and their messages', () => {
  it('a minimal valid file reads back as itself', () => {
    const f = file();
    expect(parseResultsFile(JSON.stringify(f))).toEqual(f);
    // bounds that are allowed: score 0 and 1, the last cell index, a trace of typed events
    const edge = file([cell(), cell()], [item({ score: 0 }), item({ cell: 1, score: 1, trace: [{ type: 'run-end' } as never] })]);
    expect(parseResultsFile(JSON.stringify(edge))).toEqual(edge);
  });

  it('the top level: not an object, then each missing part named', () => {
    expect(problemsOf([])).toEqual(['the top level must be an object with "format", "cells" and "items"']);
    expect(problemsOf(null)).toEqual(['the top level must be an object with "format", "cells" and "items"']);
    expect(problemsOf('text')).toEqual(['the top level must be an object with "format", "cells" and "items"']);
    expect(problemsOf({ format: 'x', version: 2, cells: {}, items: 'no', summary: [] })).toEqual([
      '"format" is "x", expected "chorus-experiment-results"',
      '"version" is 2; this app reads version 1',
      '"cells" must be an array of cells',
      '"items" must be an array of items',
      '"summary" must be an object (win share, diversity, cost)',
    ]);
    expect(problemsOf({})).toEqual([
      '"format" is undefined, expected "chorus-experiment-results"',
      '"version" is undefined; this app reads version 1',
      '"cells" must be an array of cells',
      '"items" must be an array of items',
      '"summary" must be an object (win share, diversity, cost)',
    ]);
    // only the summary wrong: still refused before the cells are read
    expect(problemsOf({ ...file(), summary: null })).toEqual(['"summary" must be an object (win share, diversity, cost)']);
  });

  it('invalid JSON names the file and the parser\'s message', () => {
    expect(() => parseResultsFile('nope')).toThrow(/^results\.json is not a Chorus results file:\nit is not valid JSON \(.+\) — export it again from the Experiments tab or the CLI \(--out\)$/);
  });

  it('each field of a cell', () => {
    const bad = { ...cell(), method: 1, dataset: null, split: undefined, n: 'two', score: Number.NaN, seed: null, ci95: [0], labels: ['a', 2], agents: [{ temperature: 0 }], cost: [] };
    expect(problemsOf({ ...file(), cells: [bad, 'x'], items: [] })).toEqual([
      'cells[0].method must be a string',
      'cells[0].dataset must be a string',
      'cells[0].split must be a string',
      'cells[0].n must be a number',
      'cells[0].score must be a number',
      'cells[0].seed must be a number',
      'cells[0].ci95 must be [low, high]',
      'cells[0].labels must be an array of strings',
      'cells[0].agents must be an array of {"model", "temperature"}',
      'cells[0].cost must be an object',
      'cells[1] must be an object',
    ]);
    // ci95 and its kin: not an array, three numbers, a non-finite number; labels and agents not arrays; agents not objects
    expect(problemsOf({ ...file(), cells: [{ ...cell(), ci95: 'x', labels: 'v', agents: 'a' }] })).toEqual([
      'cells[0].ci95 must be [low, high]',
      'cells[0].labels must be an array of strings',
      'cells[0].agents must be an array of {"model", "temperature"}',
    ]);
    expect(problemsOf({ ...file(), cells: [{ ...cell(), ci95: [0, 1, 2], agents: ['a'] }] })).toEqual(['cells[0].ci95 must be [low, high]', 'cells[0].agents must be an array of {"model", "temperature"}']);
    expect(problemsOf({ ...file(), cells: [{ ...cell(), ci95: [0, 'x'], n: Infinity }] })).toEqual(['cells[0].n must be a number', 'cells[0].ci95 must be [low, high]']);
    // every agent must be well formed, not just one
    expect(problemsOf({ ...file(), cells: [{ ...cell(), agents: [{ model: 'a', temperature: 0 }, { temperature: 0 }] }] })).toEqual(['cells[0].agents must be an array of {"model", "temperature"}']);
  });

  it('each field of an item, and the index and score bounds', () => {
    const items = [
      item({ cell: -1 }),
      item({ cell: 1 }),
      item({ cell: 0.5 }),
      { ...item(), id: 1, prompt: null, reference: [], output: undefined, parsed: 2 },
      item({ score: -0.01 }),
      item({ score: 1.01 }),
      { ...item(), trace: 'x' },
      { ...item(), trace: [{ t: 0 }] },
      { ...item(), trace: [null] },
      [],
    ];
    expect(problemsOf({ ...file(), items })).toEqual([
      'items[0].cell is -1: it must index "cells" (0 to 0)',
      'items[1].cell is 1: it must index "cells" (0 to 0)',
      'items[2].cell is 0.5: it must index "cells" (0 to 0)',
      'items[3].id must be a string',
      'items[3].prompt must be a string',
      'items[3].reference must be a string',
      'items[3].output must be a string',
      'items[3].parsed must be a string',
      'items[4].score must be a number from 0 to 1',
      'items[5].score must be a number from 0 to 1',
      'items[6].trace must be an array of trace events',
      'items[7].trace must be an array of trace events',
      'items[8].trace must be an array of trace events',
      'items[9] must be an object',
    ]);
    expect(problemsOf({ ...file(), items: [{ ...item(), score: '1' }] })).toEqual(['items[0].score must be a number from 0 to 1']);
    // every trace event must be typed, not just one
    expect(problemsOf({ ...file(), items: [{ ...item(), trace: [{ type: 'run-start' }, { t: 0 }] }] })).toEqual(['items[0].trace must be an array of trace events']);
  });

  it('the message lists the first five problems and how many more; at most 50 are kept', () => {
    const items = Array.from({ length: 60 }, (_, i) => item({ id: `i${i}`, cell: 5 }));
    let err: ResultsFileError | undefined;
    try {
      parseResultsFile(JSON.stringify(file([cell()], items)), 'many.json');
    } catch (e) {
      err = e as ResultsFileError;
    }
    expect(err!.problems).toHaveLength(50);
    expect(err!.problems[49]).toBe('items[49].cell is 5: it must index "cells" (0 to 0)');
    const five = Array.from({ length: 5 }, (_, i) => `items[${i}].cell is 5: it must index "cells" (0 to 0)`);
    expect(err!.message).toBe(`many.json is not a Chorus results file:\n${five.join('\n')}\n… and 45 more`);
    // exactly five: no "more" line
    expect(new ResultsFileError('x', five).message).toBe(`x is not a Chorus results file:\n${five.join('\n')}`);
    expect(new ResultsFileError('x', [...five, 'sixth']).message).toBe(`x is not a Chorus results file:\n${five.join('\n')}\n… and 1 more`);
  });
});

describe('CSV export', () => {
  it('cells: every column, percentages to two decimals, sampled agents as model@temperature, blanks for what a cell lacks', () => {
    const collab = cell({
      labels: ['v', 'w'], agents: [{ model: 'a', temperature: 0 }, { model: 'b', temperature: 0.7 }], score: 0.123456, ci95: [0.0512345, 0.9], n: 3,
      bestMember: { model: 'a', devScore: 0.5, cell: 1 }, gain: { estimate: -0.333333, ci95: [-0.5, 0.25], significant: false }, emergence: { unsolvedByAll: 3, solved: 1, rate: 1 / 3 },
    });
    const single = cell({ method: 'single', role: 'member', labels: ['=cmd'], agents: [{ model: 'a', temperature: 0 }], score: 1, ci95: [1, 1], emergence: { unsolvedByAll: 0, solved: 0, rate: null } });
    const rows = Papa.parse<Record<string, string>>(cellsCsv(file([collab, single], [])), { header: true }).data;
    expect(rows[0]).toEqual({
      cell: '0', label: 'v | w', method: 'vote', agents: 'a b@0.7', dataset: 'toy', split: 'test', seed: '1', role: 'collaboration', n: '3',
      score: '12.35', ci95_low: '5.12', ci95_high: '90', best_member: 'a', gain: '-33.33', gain_ci95_low: '-50', gain_ci95_high: '25', emergence: '33.33',
      calls: '2', prompt_tokens: '6', completion_tokens: '2', seconds: '0.01',
    });
    expect(rows[1]).toMatchObject({ cell: '1', label: "'=cmd", method: 'single', agents: 'a', role: 'member', score: '100', best_member: '', gain: '', gain_ci95_low: '', gain_ci95_high: '', emergence: '' });
    // a rate of 0 is a number, not a blank
    const zero = Papa.parse<Record<string, string>>(cellsCsv(file([cell({ emergence: { unsolvedByAll: 2, solved: 0, rate: 0 } })], [])), { header: true }).data;
    expect(zero[0]!.emergence).toBe('0');
  });

  it('items: every column, the cell\'s label and data set, a blank error, formulas escaped', () => {
    const f = file([cell({ labels: ['a', 'b'], dataset: 'pool/x' })], [item({ error: 'timed out', output: '+1', score: 0 }), item({ id: 'i2' })]);
    const rows = Papa.parse<Record<string, string>>(itemsCsv(f), { header: true }).data;
    expect(rows[0]).toEqual({
      cell: '0', label: 'a | b', dataset: 'pool/x', id: 'i1', prompt: 'Q', reference: '2', output: "'+1", parsed: '2', score: '0', error: 'timed out',
      calls: '1', prompt_tokens: '3', completion_tokens: '1', seconds: '0.005',
    });
    expect(rows[1]!.error).toBe('');
    // an item whose cell is missing (not a parsed file): blank label and data set rather than a crash
    const orphan = Papa.parse<Record<string, string>>(itemsCsv(file([], [item({ cell: 3 })])), { header: true }).data;
    expect(orphan[0]).toMatchObject({ cell: '3', label: '', dataset: '' });
  });
});
