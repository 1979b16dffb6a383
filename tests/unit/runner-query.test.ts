// The experiment runner with issue 12's query-level methods on scripted models (runner.scripted.ts):
// a "just ask" cascade is fitted by running itself on dev (every tier answers and states its
// confidence), its per-agent thresholds are the medians of those stated confidences, and every
// test item's trace starts with the dev cost–quality curve; the graph and prompt routers run in
// the same grid.
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import { ASK_CONFIDENCE } from '../../src/lib/strategies/cascade.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

const EXPERIMENT = {
  models: { d: 'd.gguf', n: 'n.gguf' },
  datasets: [{ path: 'toy.jsonl', split: 'test' }],
  methods: [
    { method: 'cascade', agents: ['d', 'n'], knobs: { confidence: 'ask' }, label: 'ask' },
    { method: 'graph-router', agents: ['d', 'n'], label: 'graph' },
    { method: 'prompt-router', agents: ['d', 'n'], label: 'prompt' },
  ],
  seeds: [7],
};

/** d doubles and, asked, is sure (90) of doubles and unsure (10) of the rest; n adds one and always says 50. */
function models() {
  const d = new ScriptedModel('d', (prompt) => {
    const { group, x } = readToy(prompt);
    if (prompt.endsWith(ASK_CONFIDENCE)) return { text: group === 'double' ? '90' : '10', logprob: -0.1 };
    if (prompt.startsWith('Models:\n')) return { text: group === 'double' ? '1' : '2', logprob: -0.1 };
    return { text: String(x * 2), logprob: -0.1 };
  });
  const n = new ScriptedModel('n', (prompt) => (prompt.endsWith(ASK_CONFIDENCE) ? { text: '50', logprob: -0.1 } : { text: String(readToy(prompt).x + 1), logprob: -0.5 }));
  return { d, n, bind: (id: string) => ({ engine: id === 'd' ? d : n, cacheKey: `sha:${id}` }) };
}

describe('runner: query-level methods', () => {
  it('scripted: the just-ask cascade fits each agent’s median stated dev confidence, then routes test items by it', async () => {
    const m = models();
    const runner = createRunner({ experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'q.json'), datasets: [toyDataset()], models: m.bind });
    const out = await runner.run();
    if (out.status !== 'done') throw new Error('expected done');
    const cell = (label: string) => out.results.cells.find((c) => c.labels.includes(label))!;
    const ask = cell('ask');
    // d stated 90, 10, 90, 10, 90, 10 on the six dev items → median 0.5; n stated 50 each time → 0.5.
    expect(ask.fitted!.note).toMatch(/^per-agent thresholds = median of each agent's self-assessed confidence on 6 dev items: a1 0\.5, a2 0\.5;/);
    // The dev run asked both tiers on all six dev items: 6 × (2 answers + 2 questions).
    expect(ask.fitted!.note).toMatch(/the search made 24 calls on 6 dev items/);
    expect(ask.fitted!.knobs).toEqual({ threshold: 0.5 });
    // On test: doubles stop at d (0.9 ≥ 0.5), the rest go on to n (0.1 < 0.5), which is right.
    expect(ask.score).toBe(1);
    const items = out.results.items.filter((it) => out.results.cells[it.cell] === ask);
    expect(items).toHaveLength(8);
    for (const it of items) {
      expect(it.trace![1]).toMatchObject({ type: 'curve', chosen: { threshold: 'fitted', accuracy: 1 } });
      const routes = it.trace!.filter((e) => e.type === 'route');
      expect(routes[0]).toMatchObject({ from: 'a1', threshold: 0.5, confidence: it.group === 'double' ? 0.9 : 0.1, decision: it.group === 'double' ? 'accept' : 'defer' });
    }
    // No empty search plot is left behind once the fits are done.
    expect(runner.progress.search).toBeUndefined();
    expect(cell('graph').score).toBe(1);
    expect(cell('graph').fitted!.note).toMatch(/^query–model graph of 6 dev queries and 2 agents/);
    expect(cell('prompt').score).toBe(1);
  });
});
