// The Experiments tab's pure parts: the experiment file built from the tab's choices (valid for the
// runner's parser; a method short of models is left out with a note), the link round trip, and the
// results table's model over a real results file of the runner (scripted models): rows, columns,
// the split shown, sorting, and the gain colour.
import { describe, expect, it } from 'vitest';
import { experimentFromChoices, experimentFromHash, HASH_KEY, toBase64Url } from '../../src/app/experiment-choices.ts';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import { strategyMetas } from '../../src/lib/strategies/registry.ts';
import { buildTable, gainColour, sortRows } from '../../src/ui/experiments/table.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

describe('experiment from the choices', () => {
  it('writes a file the runner accepts: single per model, other methods over all models; user files on test', () => {
    const { text, notes } = experimentFromChoices(
      { datasets: ['pool/arithmetic', 'mine.csv'], methods: ['single', 'vote', 'router'], models: ['a'], split: 'dev', limit: 3, seed: 7 },
      strategyMetas(),
      ['mine.csv'],
    );
    const exp = parseExperiment(text);
    expect(exp.methods.map((m) => [m.method, m.agents.map((a) => a.model)])).toEqual([['single', ['a']], ['vote', ['a']]]);
    expect(notes).toEqual(['Trained router needs at least 2 models: choose more models to include it']);
    expect(exp.datasets).toEqual([{ path: 'pool/arithmetic', split: 'dev', limit: 3 }, { path: 'mine.csv', split: 'test', limit: 3 }]);
    expect(exp.seeds).toEqual([7]);
  });

  it('a link carries the experiment text exactly (UTF-8 included); a broken link gives none', () => {
    const text = JSON.stringify({ models: { 'modèle·1': 'x' }, note: '≠ "quoted" / + =' });
    expect(experimentFromHash(`#${HASH_KEY}=${toBase64Url(text)}`)).toBe(text);
    expect(experimentFromHash(`#v=1&${HASH_KEY}=${toBase64Url(text)}`)).toBe(text);
    expect(experimentFromHash('#v=1&prompt=hi')).toBeNull();
    expect(experimentFromHash(`#${HASH_KEY}=_w`)).toBeNull(); // not UTF-8
  });
});

describe('results table', () => {
  it('methods and members × data sets on the asked split, sortable, coloured by gain', async () => {
    const experiment = parseExperiment(
      JSON.stringify({
        models: { d: 'd.gguf', n: 'n.gguf' },
        datasets: [{ path: 'toy', split: 'test' }],
        methods: [{ method: 'vote', agents: ['d', 'n', 'd'], label: 'vote' }, { method: 'router', agents: ['d', 'n'], label: 'router' }],
        seeds: [1],
      }),
    );
    const engines: Record<string, ScriptedModel> = {
      d: new ScriptedModel('d', (p) => ({ text: String(readToy(p).x * 2), logprob: -0.2 }), 0),
      n: new ScriptedModel('n', (p) => ({ text: String(readToy(p).x + 1), logprob: -0.3 }), 0),
    };
    const out = await createRunner({ experiment, datasets: [toyDataset(6, 12)], models: (id) => ({ engine: engines[id]!, cacheKey: id }) }).run();
    if (out.status !== 'done') throw new Error('run did not finish');
    const r = out.results;
    const table = buildTable(r);
    expect(table.datasets).toEqual([r.cells[0]!.dataset]);
    expect(table.rows.map((row) => row.label).sort()).toEqual(['d (member)', 'n (member)', 'router', 'vote']);
    // every shown cell is on test: the dev member cells only choose the best member
    for (const row of table.rows) expect(r.cells[row.cells[0]!]!.split).toBe('test');
    const byScore = sortRows(r, table.rows, { by: 'dataset', index: 0 }, true).map((row) => r.cells[row.cells[0]!]!.score);
    expect(byScore).toEqual([...byScore].sort((a, b) => b - a));
    expect(sortRows(r, table.rows, { by: 'label' }, false).map((row) => row.label)).toEqual(['d (member)', 'n (member)', 'router', 'vote']);
    expect(gainColour(undefined)).toBeNull();
    expect(gainColour(0)).toBeNull();
    expect(gainColour(0.2)).toMatch(/^rgba\(46, 160, 67, /);
    expect(gainColour(-0.2)).toMatch(/^rgba\(218, 54, 51, /);
  });
});
