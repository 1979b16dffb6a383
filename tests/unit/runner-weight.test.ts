// The experiment runner with a weight-level method (greedy soup) and a scripted merger: candidates
// are merged only when a call needs them, the merged model is the cell's one agent, the best merge
// is saved with its recipe, a rerun over the same answer cache merges and asks nothing, and a
// cancelled search keeps its best merge so far. The real merge engine and real models run in the
// CLI test below and in the browser (tests/e2e/weight-search.spec.ts).
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { MemoryAnswerStore } from '../../src/lib/eval/cache.ts';
import { createRunner, type Merger, type Progress } from '../../src/lib/eval/runner.ts';
import type { ResolvedRecipe } from '../../src/lib/merge/recipe.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

const EXPERIMENT = {
  models: { d: 'd.gguf', n: 'n.gguf', z: 'z.gguf' },
  datasets: [{ path: 'toy.jsonl', split: 'test' }],
  methods: [{ method: 'greedy-soup', agents: ['d', 'n', 'z'], label: 'soup' }],
  seeds: [1],
};

const right = (prompt: string) => {
  const { group, x } = readToy(prompt);
  return group === 'double' ? x * 2 : x + 1;
};
const behaviours: Record<string, (prompt: string) => number> = {
  d: (p) => readToy(p).x * 2,
  n: (p) => readToy(p).x + 1,
  z: () => 0,
};

/**
 * Members: d is right on "double" items, n on "next" ones, z never. A merge with d and n at weight
 * ≥ 0.3 each and z under 0.3 is right on every item; any other is its heaviest member.
 */
function setup() {
  const models = Object.fromEntries(Object.entries(behaviours).map(([id, f]) => [id, new ScriptedModel(id, (p) => ({ text: String(f(p)), logprob: -0.1 }))]));
  const loads: ResolvedRecipe[] = [];
  const saves: { recipe: ResolvedRecipe; name: string }[] = [];
  const merger: Merger = {
    load(recipe) {
      loads.push(recipe);
      const w = (id: string) => recipe.models.find((m) => m.model === id)?.parameters.weight ?? 0;
      const heaviest = [...recipe.models].sort((a, b) => b.parameters.weight! - a.parameters.weight!)[0]!.model;
      const answer = w('d') >= 0.3 && w('n') >= 0.3 && w('z') < 0.3 ? right : behaviours[heaviest]!;
      return Promise.resolve(new ScriptedModel(`merge`, (p) => ({ text: String(answer(p)), logprob: -0.1 })));
    },
    save(recipe, _key, name) {
      saves.push({ recipe, name });
      return Promise.resolve(`saved:${name}`);
    },
  };
  return { bind: (id: string) => ({ engine: models[id]!, cacheKey: `sha:${id}` }), loads, saves, merger };
}

describe('runner: weight-level methods', () => {
  it('merges each candidate when first asked, answers test with the searched soup, and saves it with its recipe', async () => {
    const s = setup();
    const answers = new MemoryAnswerStore();
    const progress: Progress[] = [];
    const out = await createRunner({ experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'), datasets: [toyDataset()], models: s.bind, answers, merger: s.merger, onProgress: (p) => progress.push(p) }).run();
    if (out.status !== 'done') throw new Error('expected done');
    // On dev n is right on 4 of 6 (its x + 1 is also 2x for x = 1), d on 3, z on none: ranked n, d,
    // z; {n, d} is tried and kept, {n, d, z} tried and dropped.
    expect(s.loads.map((r) => r.models.map((m) => `${m.model} ${m.parameters.weight!.toFixed(3)}`))).toEqual([['n 0.500', 'd 0.500'], ['n 0.333', 'd 0.333', 'z 0.333']]);
    expect(s.saves).toEqual([{ recipe: { method: 'linear', base: null, models: [{ model: 'n', parameters: { weight: 0.5 } }, { model: 'd', parameters: { weight: 0.5 } }], parameters: { normalize: false } }, name: 'soup · toy' }]);
    const cell = out.results.cells.find((c) => c.method === 'greedy-soup' && c.split === 'test')!;
    expect(cell.score).toBe(1);
    expect(cell.fitted!.note).toContain('greedy soup linear of a2 × 0.5, a1 × 0.5: mean dev score 1.000');
    expect(cell.fitted!.note).toContain('saved as the model "saved:soup · toy"');
    const search = progress.findLast((p) => p.search)!.search!;
    expect(search.steps.map((st) => [st.iteration, st.scores, st.best])).toEqual([[0, [4 / 6], 4 / 6], [1, [1], 1], [2, [4 / 6], 1]]);
    expect(progress.at(-1)!.saved).toEqual([{ cell: 'soup', name: 'saved:soup · toy', recipe: 'linear of a2 × 0.5, a1 × 0.5', bestSoFar: false }]);

    // A rerun over the same answers (a reload with the state lost) merges nothing and asks nothing.
    const again = setup();
    const out2 = await createRunner({ experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'), datasets: [toyDataset()], models: again.bind, answers, merger: again.merger }).run();
    if (out2.status !== 'done') throw new Error('expected done');
    expect(again.loads).toEqual([]);
    expect(out2.results.cells.find((c) => c.method === 'greedy-soup' && c.split === 'test')!.score).toBe(1);
  });

  it('a cancel mid-search saves the best merge so far', async () => {
    const s = setup();
    let runner: ReturnType<typeof createRunner> | undefined;
    runner = createRunner({
      experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'),
      datasets: [toyDataset()],
      models: s.bind,
      merger: s.merger,
      onProgress: (p) => {
        if ((p.search?.steps.length ?? 0) === 2) runner?.cancel();
      },
    });
    const out = await runner.run();
    expect(out.status).toBe('cancelled');
    expect(s.loads).toHaveLength(1);
    expect(s.saves.map((x) => [x.name, x.recipe.models.map((m) => m.model)])).toEqual([['soup · toy (best so far)', ['n', 'd']]]);
    expect(runner.progress.saved?.[0]?.bestSoFar).toBe(true);
  });

  it('weight-level cells answer test one cell at a time, so no merge is loaded twice', async () => {
    const s = setup();
    const methods = [
      { method: 'greedy-soup', agents: ['d', 'n', 'z'], label: 'soup' },
      { method: 'expo', agents: ['d', 'n', 'z'], knobs: { alphas: '0.1' }, label: 'expo' },
      { method: 'lorahub', agents: ['z', 'd', 'n'], knobs: { budget: 2 }, label: 'hub' },
      { method: 'dare-ties', agents: ['z', 'd', 'n'], knobs: { population: 1, iterations: 1 }, label: 'dare' },
      { method: 'model-swarms', agents: ['d', 'n', 'z'], knobs: { iterations: 2 }, label: 'swarm' },
    ];
    let phase = '';
    const load = s.merger.load.bind(s.merger);
    const testLoads: string[] = [];
    s.merger.load = (r, key, signal) => {
      if (phase === 'methods fitted on dev') testLoads.push(key);
      return load(r, key, signal);
    };
    const out = await createRunner({ experiment: parseExperiment(JSON.stringify({ ...EXPERIMENT, methods }), 'toy.json'), datasets: [toyDataset()], models: s.bind, merger: s.merger, onProgress: (p) => (phase = p.phase) }).run();
    expect(out.status).toBe('done');
    // On test, each cell's merge is loaded once: the five cells' items do not take turns.
    expect(testLoads.length).toBeGreaterThan(3);
    expect(new Set(testLoads).size).toBe(testLoads.length);
  });

  it('without a merger a weight-level method is refused, saying where it runs', async () => {
    const s = setup();
    await expect(createRunner({ experiment: parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json'), datasets: [toyDataset()], models: s.bind }).run()).rejects.toThrow(
      'greedy-soup is a weight-level method and this runner cannot merge models: run it in the Experiments tab or with npm run experiment',
    );
  });
});
