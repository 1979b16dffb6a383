// Results files in and out of the Experiments view (src/lib/eval/results-io.ts): a real run of the
// runner over scripted models is exported and read back equal; broken files are refused with every
// problem named by place; CSV rows carry the cells and items, and a model's "=cmd" is not a formula.
import { describe, expect, it } from 'vitest';
import Papa from 'papaparse';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import type { ResultsFile } from '../../src/lib/eval/results.ts';
import { cellsCsv, itemsCsv, parseResultsFile, ResultsFileError } from '../../src/lib/eval/results-io.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

async function results(): Promise<ResultsFile> {
  const experiment = parseExperiment(
    JSON.stringify({
      models: { d: 'd.gguf', n: 'n.gguf' },
      datasets: [{ path: 'toy', split: 'test' }],
      methods: [{ method: 'vote', agents: ['d', 'n', { model: 'd', temperature: 0.9 }], label: 'vote' }],
      seeds: [1],
    }),
  );
  const d = new ScriptedModel('d', (p) => ({ text: String(readToy(p).x * 2), logprob: -0.2 }), 0);
  // n answers a formula on one item: the CSV must not hand it to a spreadsheet as one
  const n = new ScriptedModel('n', (p) => ({ text: readToy(p).x === 3 ? '=HYPERLINK("http://x")' : String(readToy(p).x + 1), logprob: -0.3 }), 0);
  const engines: Record<string, ScriptedModel> = { d, n };
  const out = await createRunner({ experiment, datasets: [toyDataset(4, 6)], models: (id) => ({ engine: engines[id]!, cacheKey: id }) }).run();
  if (out.status !== 'done') throw new Error('run did not finish');
  return out.results;
}

describe('results files', () => {
  it('an exported file (traces included) reads back equal', async () => {
    const r = await results();
    expect(r.items.every((it) => (it.trace?.length ?? 0) > 0)).toBe(true);
    expect(parseResultsFile(JSON.stringify(r))).toEqual(JSON.parse(JSON.stringify(r)));
  });

  it('a broken file is refused with every problem named by place', async () => {
    const r = JSON.parse(JSON.stringify(await results())) as { cells: unknown[]; items: Record<string, unknown>[] };
    r.items[1]!.cell = 99;
    r.items[2]!.score = 'high';
    delete r.items[3]!.output;
    let err: unknown;
    try {
      parseResultsFile(JSON.stringify(r), 'edited.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResultsFileError);
    const problems = (err as ResultsFileError).problems;
    expect(problems).toContain(`items[1].cell is 99: it must index "cells" (0 to ${r.cells.length - 1})`);
    expect(problems).toContain('items[2].score must be a number from 0 to 1');
    expect(problems).toContain('items[3].output must be a string');
    expect((err as Error).message).toMatch(/^edited\.json is not a Chorus results file/);
    expect(() => parseResultsFile('{"cells": [', 'cut.json')).toThrow(/cut\.json is not a Chorus results file:\nit is not valid JSON/);
    expect(() => parseResultsFile('{"format": "other", "version": 1, "cells": [], "items": [], "summary": {}}')).toThrow(/"format" is "other"/);
  });

  it('CSV: one row per cell and per item, formulas escaped', async () => {
    const r = await results();
    const cells = Papa.parse<Record<string, string>>(cellsCsv(r), { header: true }).data;
    expect(cells).toHaveLength(r.cells.length);
    expect(cells.map((c) => Number(c.score))).toEqual(r.cells.map((c) => Math.round(c.score * 10000) / 100));
    const items = Papa.parse<Record<string, string>>(itemsCsv(r), { header: true }).data;
    expect(items).toHaveLength(r.items.length);
    expect(items.map((i) => i.id)).toEqual(r.items.map((i) => i.id));
    const formula = items.find((i) => i.output?.includes('HYPERLINK'));
    expect(formula?.output).toBe('\'=HYPERLINK("http://x")');
  });
});
