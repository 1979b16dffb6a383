// The methods table (npm run methods:table) on a results file the real runner wrote over the pool's
// real arithmetic items, with scripted models: g answers every question right alone but gives in
// ("owl") when shown another agent's answer; s always says "owl". So debate's revisions are 2 items ×
// (g right → wrong, s wrong → wrong), the vote of g and s ties, and g is the best member on dev.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { loadDataset } from '../../src/lib/eval/load.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import { methodsTable } from '../../tools/experiments/methods-table.ts';
import { REPO_ROOT } from '../support/paths.ts';
import { ScriptedModel } from './runner.scripted.ts';

const dir = mkdtempSync(join(tmpdir(), 'chorus-methods-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('methods table', () => {
  it('renders each collaboration against the best member with the runner\'s figures, and counts debate\'s flips from the traces', async () => {
    const spec = { path: join(REPO_ROOT, 'public/datasets'), split: 'test', tasks: ['arithmetic'], limit: 2, devLimit: 2 };
    const body = { models: { g: 'g.gguf', s: 's.gguf' }, datasets: [spec], methods: [{ method: 'debate', agents: ['g', 's'], label: 'debate' }], seeds: [1] };
    const path = join(dir, 'exp.json');
    writeFileSync(path, JSON.stringify(body));
    const ds = await loadDataset({ ...spec, split: 'test' }, async (p) => new Uint8Array(readFileSync(p)));
    const items = [...(ds.splits.test ?? []), ...(ds.splits.dev ?? [])];
    const reference = (prompt: string) => items.find((i) => prompt.includes(i.prompt.split('\n')[0]!))!.reference;
    const g = new ScriptedModel('g', (prompt) => ({ text: /other agents/.test(prompt) ? 'owl' : reference(prompt), logprob: -0.1 }));
    const s = new ScriptedModel('s', () => ({ text: 'owl', logprob: -0.1 }));
    const out = await createRunner({ experiment: parseExperiment(JSON.stringify(body), 'exp.json'), datasets: [ds], models: (id) => ({ engine: id === 'g' ? g : s, cacheKey: id }) }).run();
    if (out.status !== 'done') throw new Error(`expected done, got ${out.status}`);
    const md = await methodsTable(out.results, path);
    expect(md).toContain('| g (member, best on dev) | 100.0 | 100.0 [100.0, 100.0] |  |  | 1.0 · ');
    expect(md).toContain('| s (member) | 0.0 | 0.0 [0.0, 0.0] |  |  | 1.0 · ');
    const debate = out.results.cells.find((c) => c.labels.includes('debate') && c.split === 'test')!;
    expect(md).toMatch(new RegExp(`\\| debate \\| [\\d.]+ \\| [\\d.]+ \\[[\\d., ]+\\] \\| ${debate.gain!.estimate < 0 ? '-' : '\\+'}`));
    expect(md).toContain(`| ${(debate.cost.calls / debate.n).toFixed(1)} · ${Math.round((debate.cost.promptTokens + debate.cost.completionTokens) / debate.n)} |`);
    expect(md).toContain('| debate | 4 | 100.0% (2/2) | 0.0% (0/2) |');
    expect(md).toContain('on 2 test items of each task');
  });
});
