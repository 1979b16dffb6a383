// The experiment runner's search step (Strategy.search) with scripted models: heterogeneous
// swarms' particle swarm runs candidate graphs on the dev items only, reports each iteration for
// the live plot, and the test cells run the graph it found; a rerun over the same answer cache
// asks the engines nothing.
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { MemoryAnswerStore } from '../../src/lib/eval/cache.ts';
import { createRunner, type Progress } from '../../src/lib/eval/runner.ts';
import { searchPoints } from '../../src/ui/experiments/search.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';
import { nodeMessages } from '../../src/lib/strategies/hswarm.ts';
import { MIN_SHOWN_ANSWER_BYTES, promptTokenBound } from '../../src/lib/strategies/budget.ts';

const EXPERIMENT = {
  models: { d: 'd.gguf', f: 'f.gguf' },
  datasets: [{ path: 'toy.jsonl', split: 'test' }],
  methods: [{ method: 'hswarm', agents: ['d', 'f'], knobs: { population: 3, iterations: 2 }, label: 'swarm' }],
  seeds: [7],
};

/**
 * d doubles x (right on "double" items); f answers 0 alone, and when shown a response it repeats
 * it on "double" items and answers x + 1 on "next" items. So the graph d → f is right on every
 * item (dev score 1) and f → d only on half.
 */
function models() {
  const d = new ScriptedModel('d', (prompt) => ({ text: String(readToy(prompt).x * 2), logprob: -0.1 }));
  const f = new ScriptedModel('f', (prompt) => {
    const shown = /Node \d+: ```([^`]*)```/.exec(prompt);
    const { group, x } = readToy(prompt);
    if (!shown) return { text: '0', logprob: -0.1 };
    return { text: group === 'next' ? String(x + 1) : shown[1]!.trim(), logprob: -0.1 };
  });
  return { d, f, bind: (id: string) => ({ engine: id === 'd' ? d : f, cacheKey: `sha:${id}` }) };
}

describe('runner: a method that searches on dev', () => {
  it('scripted: the swarm runs its candidates on dev only, reports each iteration, and the test cells run the graph it found', async () => {
    const m = models();
    let phase: Progress['phase'] = 'loading';
    const seenIn: { phase: string; x: number }[] = [];
    for (const e of [m.d, m.f]) {
      const original = e.chat.bind(e);
      e.chat = (req, o) => {
        seenIn.push({ phase, x: readToy(req.messages.map((x) => x.content).join('\n')).x });
        return original(req, o);
      };
    }
    const progress: Progress[] = [];
    const runner = createRunner({
      experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'),
      datasets: [toyDataset()],
      models: m.bind,
      answers: new MemoryAnswerStore(),
      onProgress: (p) => {
        phase = p.phase;
        progress.push(p);
      },
    });
    const out = await runner.run();
    if (out.status !== 'done') throw new Error('expected done');
    const cell = out.results.cells.find((c) => c.labels.includes('swarm'))!;
    expect(cell.fitted!.note).toMatch(/^graph a1 → a2 \(end a2\) found by particle swarm on dev: mean dev score 1\.000/);
    expect(cell.fitted!.note).toMatch(/the search made \d+ calls on 6 dev items/);
    expect(cell.score).toBe(1);
    // The search saw dev prompts only (dev x < 100, test x > 100).
    const searching = seenIn.filter((s) => s.phase === 'searching on dev');
    expect(searching.length).toBeGreaterThan(0);
    expect(searching.every((s) => s.x < 100)).toBe(true);
    // One progress report per iteration, each with every particle's dev score and the best so far.
    const steps = progress.at(-1)!.search!.steps;
    expect(progress.at(-1)!.search!.cell).toBe('swarm');
    expect(steps.map((s) => s.iteration)).toEqual(steps.map((_, i) => i + 1));
    for (const s of steps) expect(s.scores).toHaveLength(3);
    expect(steps.at(-1)!.best).toBe(1);
    expect(steps.at(-1)!.bestLabel).toBe('a1 → a2 (end a2)');
    // The live plot's points: every candidate of every iteration, and the best-so-far line, in %.
    const points = searchPoints(steps);
    expect(points.candidates).toHaveLength(3 * steps.length);
    expect(points.candidates.slice(0, 3)).toEqual(steps[0]!.scores.map((s) => ({ iteration: 1, score: s * 100 })));
    expect(points.best.at(-1)).toEqual({ iteration: steps.length, best: 100 });
  });

  it('scripted: a rerun over the same answer cache repeats the search without a call and finds the same graph', async () => {
    const answers = new MemoryAnswerStore();
    const run = async () => {
      const m = models();
      const out = await createRunner({ experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'), datasets: [toyDataset()], models: m.bind, answers }).run();
      if (out.status !== 'done') throw new Error('expected done');
      return { note: out.results.cells.find((c) => c.labels.includes('swarm'))!.fitted!.note, calls: m.d.calls.length + m.f.calls.length };
    };
    const first = await run();
    const second = await run();
    expect(first.calls).toBeGreaterThan(0);
    expect(second.calls).toBe(0);
    expect(second.note.replace(/\(\d+ from the cache\)/, '')).toBe(first.note.replace(/\(\d+ from the cache\)/, ''));
  });

  it('scripted: cancel during the search ends the run as cancelled, with no test item of the method run', async () => {
    const m = models();
    let cancelledIn: string | undefined;
    const runner: ReturnType<typeof createRunner> = createRunner({
      experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'),
      datasets: [toyDataset()],
      models: m.bind,
      onProgress: (p) => {
        if (p.phase === 'searching on dev' && p.search && p.search.steps.length === 1 && cancelledIn === undefined) {
          cancelledIn = p.phase;
          runner.cancel();
        }
      },
    });
    const out = await runner.run();
    expect(cancelledIn).toBe('searching on dev');
    expect(out.status).toBe('cancelled');
    // No prompt of a test item (x > 100) reached f through a graph (f is only shown responses in hswarm runs).
    expect(m.f.calls.filter((c) => c.prompt.includes('Node ') && readToy(c.prompt).x > 100)).toHaveLength(0);
  });

  it('scripted: a candidate graph the method refuses before any call (its fan-in does not fit) scores 0 on dev and the search goes on', async () => {
    // Three models; the end node of a fan-in graph shown two responses needs more than g's
    // context, one response fits. Before this rule such a candidate ended the whole experiment.
    const m = models();
    const g = new ScriptedModel('g', (prompt) => ({ text: String(readToy(prompt).x * 2), logprob: -0.1 }));
    const least = 'x'.repeat(MIN_SHOWN_ANSWER_BYTES);
    const agent = { id: 'a3', name: 'g', model: 'g', engine: g, temperature: 0 };
    const two = promptTokenBound(nodeMessages(agent, 'Q: double 8\nA:', [{ node: 0, text: least }, { node: 1, text: least }], true));
    const one = promptTokenBound(nodeMessages(agent, 'Q: double 8\nA:', [{ node: 0, text: least }], true));
    expect(one).toBeLessThan(two);
    for (const e of [m.d, m.f, g]) e.info.contextLength = two + 4 - 1; // maxTokens 4 (toyDataset)
    const experiment = { ...EXPERIMENT, models: { ...EXPERIMENT.models, g: 'g.gguf' }, methods: [{ ...EXPERIMENT.methods[0]!, agents: ['d', 'f', 'g'], knobs: { population: 6, iterations: 3 } }] };
    const out = await createRunner({
      experiment: parseExperiment(JSON.stringify(experiment), 'toy.json'),
      datasets: [toyDataset()],
      models: (id) => ({ engine: id === 'd' ? m.d : id === 'f' ? m.f : g, cacheKey: `sha:${id}` }),
    }).run();
    if (out.status !== 'done') throw new Error(`expected done, got ${out.status}`);
    const cell = out.results.cells.find((c) => c.labels.includes('swarm'))!;
    expect(cell.fitted!.note).toMatch(/; \d+ candidate run\(s\) on dev were refused before any call and scored 0 \(first: hswarm on toy dev item dev-\d: node \d \(2 responses shown/);
    // The graph it kept fits: every test item ran.
    expect(cell.n).toBe(8);
  });
});
