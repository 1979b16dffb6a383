// The experiment runner with scripted models (tests/unit/runner.scripted.ts): grid expansion, the
// answer cache's keys, resume after a crash, cancel, the concurrency bound, and dev/test separation
// of what methods fit. The real engine runs in the CLI test.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.ts';
import { loadDataset } from '../../src/lib/eval/load.ts';
import { expandGrid, parseExperiment, ExperimentError } from '../../src/lib/eval/experiment.ts';
import { answerKey, MemoryAnswerStore } from '../../src/lib/eval/cache.ts';
import { createRunner, type RunStateStore, type StoredRow } from '../../src/lib/eval/runner.ts';
import type { ResultsFile } from '../../src/lib/eval/results.ts';
import { quantile } from '../../src/lib/eval/stats.ts';
import { collectRun } from '../../src/lib/run.ts';
import { routerLabels } from '../../src/lib/strategies/router.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

const EXPERIMENT = {
  models: { d: 'd.gguf', n: 'n.gguf' },
  datasets: [{ path: 'toy.jsonl', split: 'test' }],
  methods: [
    { method: 'single', agents: ['d'], label: 'doubler' },
    { method: 'vote', agents: ['d', 'n', 'd'], label: 'vote' },
    { method: 'vote', agents: [{ model: 'd', temperature: 0.8 }], knobs: { samples: 3 }, label: 'samples' },
    { method: 'router', agents: ['d', 'n'], label: 'router' },
    { method: 'cascade', agents: ['d', 'n'], label: 'cascade' },
  ],
  seeds: [7],
};

/** d doubles (sure on dev, unsure on test), n adds one; sampling d at temperature > 0 errs on odd seeds. */
function models() {
  const d = new ScriptedModel('d', (prompt, req) => {
    const { x } = readToy(prompt);
    const wrong = (req.temperature ?? 0) > 0 && (req.seed ?? 0) % 2 === 1;
    return { text: String(wrong ? x * 2 + 1 : x * 2), logprob: x < 100 ? -0.1 * (x % 5) : -3 };
  });
  const n = new ScriptedModel('n', (prompt) => ({ text: String(readToy(prompt).x + 1), logprob: -0.5 }));
  return { d, n, bind: (id: string) => ({ engine: id === 'd' ? d : n, cacheKey: `sha:${id}` }) };
}

class MemoryState implements RunStateStore {
  rows: StoredRow[] = [];
  /** Throw on this append (1-based): the process "dies" before the row is stored. */
  crashAt?: number;
  load() {
    return Promise.resolve(structuredClone(this.rows));
  }
  append(row: StoredRow) {
    if (this.crashAt !== undefined && this.rows.length + 1 >= this.crashAt) return Promise.reject(new Error('simulated crash'));
    this.rows.push(structuredClone(row));
    return Promise.resolve();
  }
}

const exp = () => parseExperiment(JSON.stringify(EXPERIMENT), 'toy.json');

/** Results without what depends on wall time (trace timestamps). */
function stable(r: ResultsFile) {
  return { ...r, items: r.items.map(({ trace, ...it }) => ({ ...it, events: trace?.map((e) => e.type) })) };
}

async function runToy(opts: { state?: MemoryState; answers?: MemoryAnswerStore; perEngine?: number; concurrency?: number } = {}) {
  const m = models();
  const runner = createRunner({ experiment: exp(), datasets: [toyDataset()], models: m.bind, ...opts });
  const out = await runner.run();
  if (out.status !== 'done') throw new Error('expected done');
  return { results: out.results, m, runner };
}

describe('experiment grid', () => {
  it('expands methods × data sets × seeds, adds member cells on test and dev, and runs equal cells once', () => {
    const cells = expandGrid(exp());
    const collab = cells.filter((c) => c.role === 'collaboration').map((c) => c.labels[0]);
    expect(collab).toEqual(['vote', 'samples', 'router', 'cascade']);
    const members = cells.filter((c) => c.role === 'member').map((c) => `${c.agents[0]!.model}/${c.split}`);
    // "doubler" is d's member cell on test (one cell, two uses); d and n on dev for best-member and fits.
    expect(members.sort()).toEqual(['d/dev', 'd/test', 'n/dev', 'n/test']);
    expect(cells.find((c) => c.labels.includes('doubler'))!.role).toBe('member');
    expect(new Set(cells.map((c) => c.key)).size).toBe(cells.length);
  });

  it('refuses a bad experiment with one line naming the field and the fix', () => {
    const bad = (patch: object) => () => parseExperiment(JSON.stringify({ ...EXPERIMENT, ...patch }), 'x.json');
    expect(bad({ methods: [{ method: 'nope', agents: ['d'] }] })).toThrow(/x\.json: methods\[0\]\.method is "nope"; choose one of single, vote/);
    expect(bad({ methods: [{ method: 'vote', agents: ['zz'] }] })).toThrow(/methods\[0\]\.agents\[0\] names model "zz", which "models" does not define \(defined: d, n\)/);
    expect(bad({ datasets: [{ path: 'a', split: 'train' }] })).toThrow(/datasets\[0\]\.split must be "dev" or "test"/);
    expect(bad({ methods: [{ method: 'vote', agents: ['d'], knobs: { rounds: 2 } }] })).toThrow(/knobs\.rounds is not a knob of vote/);
    expect(() => parseExperiment('{', 'x.json')).toThrow(ExperimentError);
  });
});

describe('answer cache', () => {
  it('keys on model, prompt, seed and every sampling parameter', async () => {
    const base = { prompt: 'Q: 1\nA:', temperature: 0.7, seed: 1, max_tokens: 8, stop: ['\n'] };
    const k = await answerKey('sha:a', 'complete', base);
    expect(await answerKey('sha:a', 'complete', { ...base })).toBe(k);
    expect(await answerKey('sha:a', 'complete', { stop: ['\n'], max_tokens: 8, seed: 1, temperature: 0.7, prompt: 'Q: 1\nA:' })).toBe(k);
    for (const changed of [{ seed: 2 }, { temperature: 0.8 }, { top_p: 0.9 }, { top_k: 5 }, { max_tokens: 9 }, { stop: ['.'] }, { prompt: 'Q: 2\nA:' }, { logprobs: true }]) {
      expect(await answerKey('sha:a', 'complete', { ...base, ...changed }), JSON.stringify(changed)).not.toBe(k);
    }
    expect(await answerKey('sha:b', 'complete', base)).not.toBe(k);
    // greedy decoding draws no random number: one entry serves every seed
    const greedy = { ...base, temperature: 0 };
    expect(await answerKey('sha:a', 'complete', { ...greedy, seed: 2 })).toBe(await answerKey('sha:a', 'complete', greedy));
    expect(await answerKey('sha:a', 'chat', { messages: [{ role: 'user', content: base.prompt }], ...base })).not.toBe(k);
  });

  it('models are asked for whole answers (stream: false), and the cache keys the request without that', async () => {
    const answers = new MemoryAnswerStore();
    const { m } = await runToy({ answers });
    const reached = [...m.d.requests.map((r) => ({ ...r, model: 'sha:d' })), ...m.n.requests.map((r) => ({ ...r, model: 'sha:n' }))];
    expect(reached.length).toBeGreaterThan(10);
    for (const { model, kind, request } of reached) {
      expect(request.stream).toBe(false);
      const { stream: _s, ...asked } = request;
      expect(answers.map.has(await answerKey(model, kind, asked))).toBe(true);
    }
  });

  it('a repeated experiment is answered from the cache: no engine call, the same results', async () => {
    const answers = new MemoryAnswerStore();
    const first = await runToy({ answers });
    const calls = first.m.d.calls.length + first.m.n.calls.length;
    expect(calls).toBeGreaterThan(0);
    expect(first.runner.progress.cacheMisses).toBe(calls);
    const all = first.runner.progress.cacheMisses + first.runner.progress.cacheHits;
    const second = await runToy({ answers });
    expect(second.m.d.calls.length + second.m.n.calls.length).toBe(0);
    expect(second.runner.progress.cacheHits).toBe(all);
    expect(second.results.summary.cost.cachedCalls).toBe(all);
    const strip = (r: ResultsFile) => stable(r).items.map(({ cachedCalls: _c, ...it }) => it);
    expect(strip(second.results)).toEqual(strip(first.results));
    expect(second.results.cells.map((c) => [c.score, c.ci95])).toEqual(first.results.cells.map((c) => [c.score, c.ci95]));
  });
});

describe('runner', () => {
  it('scores every cell and sends completion-format prompts raw with the data set stop', async () => {
    const { results, m } = await runToy();
    const cell = (label: string) => results.cells.find((c) => c.labels.includes(label))!;
    expect(cell('doubler').score).toBe(0.5); // doubles are right, "next" items wrong
    expect(cell('router').score).toBe(1); // trained on dev: double → d, next → n
    expect(cell('router').fitted!.note).toMatch(/trained on 6 dev prompts; training labels per agent: a1=3, a2=3/);
    expect(m.d.calls.every((c) => c.kind === 'complete')).toBe(true);
    expect(results.items.filter((it) => results.cells[it.cell]!.labels.includes('router')).map((it) => it.parsed)).toEqual(
      toyDataset().splits.test!.map((it) => it.reference),
    );
    // gain over the best member on dev (n: it also solves "double 1" = 2) and emergence
    expect(cell('router').bestMember).toMatchObject({ model: 'n', devScore: 4 / 6 });
    expect(cell('router').gain!.estimate).toBeCloseTo(0.5, 10);
    expect(cell('router').emergence).toEqual({ unsolvedByAll: 0, solved: 0, rate: null });
    expect(results.summary.diversity.map((p) => [results.cells[p.different]!.labels[0], results.cells[p.samples]!.labels[0]])).toEqual([['vote', 'samples']]);
  });

  it('fits on dev, never on test: the cascade threshold is the median of agent 1’s dev confidences', async () => {
    const { results } = await runToy();
    const devCell = results.cells.findIndex((c) => c.role === 'member' && c.split === 'dev' && c.agents[0]!.model === 'd');
    const devConf = results.items.filter((it) => it.cell === devCell).map((it) => it.confidence!).sort((a, b) => a - b);
    const testConf = results.items.filter((it) => results.cells[it.cell]!.split === 'test' && results.cells[it.cell]!.labels.includes('doubler')).map((it) => it.confidence!);
    expect(Math.max(...testConf)).toBeLessThan(Math.min(...devConf)); // the splits differ, so a test fit would show
    const cascade = results.cells.find((c) => c.labels.includes('cascade'))!;
    expect(cascade.fitted!.knobs!.threshold).toBeCloseTo(quantile(devConf, 0.5), 6);
  });

  it('resumes after a crash without redoing finished items, and gives the results of an uninterrupted run', async () => {
    const whole = await runToy();
    const state = new MemoryState();
    state.crashAt = 9;
    const m1 = models();
    await expect(createRunner({ experiment: exp(), datasets: [toyDataset()], models: m1.bind, state }).run()).rejects.toThrow(/simulated crash/);
    const saved = state.rows.length;
    expect(saved).toBe(8);
    state.crashAt = undefined;
    const m2 = models();
    const runner = createRunner({ experiment: exp(), datasets: [toyDataset()], models: m2.bind, state });
    const out = await runner.run();
    expect(out.status).toBe('done');
    expect(runner.progress.resumed).toBe(saved);
    const total = whole.results.items.length;
    expect(state.rows.length).toBe(total);
    const calledPrompts = [...m2.d.calls, ...m2.n.calls].length;
    expect(calledPrompts).toBeLessThan(whole.m.d.calls.length + whole.m.n.calls.length);
    if (out.status === 'done') expect(stable(out.results)).toEqual(stable(whole.results));
  });

  it('cancel stops the run and leaves only whole rows in the state', async () => {
    const state = new MemoryState();
    const m = models();
    const runner = createRunner({ experiment: exp(), datasets: [toyDataset()], models: m.bind, state, onProgress: (p) => p.done === 5 && runner.cancel() });
    const out = await runner.run();
    expect(out.status).toBe('cancelled');
    expect(state.rows.length).toBeGreaterThanOrEqual(5);
    expect(state.rows.length).toBeLessThan(runner.progress.total);
    for (const r of state.rows) {
      expect(r.trace!.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
      expect(typeof r.score).toBe('number');
    }
  });

  it('pause holds new items until resume', async () => {
    const m = models();
    const runner = createRunner({ experiment: exp(), datasets: [toyDataset()], models: m.bind, concurrency: 1 });
    let pausedAt = -1;
    const running = runner.run();
    await new Promise((r) => setTimeout(r, 20));
    runner.pause();
    await new Promise((r) => setTimeout(r, 30));
    pausedAt = runner.progress.done;
    await new Promise((r) => setTimeout(r, 60));
    expect(runner.progress.done).toBeLessThanOrEqual(pausedAt + 1);
    expect(runner.progress.paused).toBe(true);
    runner.resume();
    expect((await running).status).toBe('done');
  });

  it('respects the per-engine bound while several items run', async () => {
    for (const perEngine of [1, 2]) {
      const { m } = await runToy({ perEngine, concurrency: 6 });
      expect(m.d.maxActive).toBe(perEngine);
      expect(m.n.maxActive).toBeLessThanOrEqual(perEngine);
    }
  });

  it('stops with the method’s error instead of recording a wrong answer', async () => {
    const m = models();
    m.n.failAt = 1;
    const experiment = parseExperiment(JSON.stringify({ ...EXPERIMENT, methods: [{ method: 'single', agents: ['n'] }] }), 'x.json');
    await expect(createRunner({ experiment, datasets: [toyDataset()], models: m.bind }).run()).rejects.toThrow(/single on toy test item test-0: .*simulated crash/);
  });
});

describe('router method', () => {
  it('labels each dev prompt with the agent that solved it, ties by the group score, unsolved to the group’s best', () => {
    const labels = routerLabels({
      agentScores: [0.5, 0.5],
      items: [
        { prompt: 'a', group: 'g1', scores: [1, 1], confidences: [] }, // both: a1 is better on g1
        { prompt: 'b', group: 'g1', scores: [1, 0], confidences: [] },
        { prompt: 'c', group: 'g2', scores: [0, 1], confidences: [] },
        { prompt: 'd', group: 'g2', scores: [0, 0], confidences: [] }, // nobody: g2's best, a2
      ],
    });
    expect(labels).toEqual([0, 0, 1, 1]);
  });

  it('refuses to run untrained (the playground has no dev split), saying where it runs', async () => {
    const { d, n } = models();
    const events = await collectRun({ strategy: 'router', prompt: 'Q: double 3\nA:', agents: [d, n].map((e, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: e.name, engine: e, temperature: 0 })), seed: 1, maxTokens: 4 });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/trained on a dev split: run it in an experiment/) });
  });
});

describe('data sets that score items jointly', () => {
  it('applies the data set’s groupScores to a finished split: culturebench’s question_id groups score 1 only when all their items do', async () => {
    const ds = await loadDataset({ path: 'tests/fixtures/moco/grouped.json', split: 'test' }, (p) => Promise.resolve(new Uint8Array(readFileSync(resolve(REPO_ROOT, p)))));
    // Right on q1-a and q2-a, wrong on q1-b (the mint question): q1's group fails as a whole.
    const model = new ScriptedModel('m', (prompt) => ({ text: prompt.includes('mint') ? '\\box{False}' : '\\box{True}', logprob: -0.1 }));
    const experiment = parseExperiment(JSON.stringify({ models: { m: 'm.gguf' }, datasets: [{ path: 'grouped.json', split: 'test' }], methods: [{ method: 'single', agents: ['m'] }], seeds: [1] }), 'g.json');
    const out = await createRunner({ experiment, datasets: [ds], models: () => ({ engine: model, cacheKey: 'sha:m' }) }).run();
    if (out.status !== 'done') throw new Error('cancelled');
    const byId = Object.fromEntries(out.results.items.map((it) => [it.id, it]));
    expect([byId['q1-a']!.score, byId['q1-b']!.score, byId['q2-a']!.score]).toEqual([0, 0, 1]);
    // The item's own score is kept beside the group's.
    expect(byId['q1-a']!.metrics?.itemScore).toBe(1);
    expect(byId['q2-a']!.metrics?.itemScore).toBeUndefined();
    expect(out.results.cells[0]!.score).toBeCloseTo(1 / 3, 10);
  });
});

describe('data set entries', () => {
  it('checks mapping and maxTokens, and the entry’s maxTokens replaces the data set’s budget', async () => {
    const file = (d: object) => JSON.stringify({ models: { m: 'm.gguf' }, datasets: [{ path: 'x.csv', split: 'test', ...d }], methods: [{ method: 'single', agents: ['m'] }], seeds: [1] });
    expect(() => parseExperiment(file({ mapping: { question: 'q' } }), 'e.json')).toThrow('e.json: datasets[0].mapping.question is not a mapping field (input, reference, aliases, choices, tests, category, id): remove it');
    expect(() => parseExperiment(file({ mapping: { reference: 'a' } }), 'e.json')).toThrow('e.json: datasets[0].mapping.input must name the column holding the question');
    expect(() => parseExperiment(file({ maxTokens: 0 }), 'e.json')).toThrow('e.json: datasets[0].maxTokens must be a whole number ≥ 1 (got 0)');
    const budgets: Array<number | undefined> = [];
    const model = new ScriptedModel('m', (prompt, req) => {
      budgets.push(req.max_tokens);
      return { text: String(readToy(prompt).x * 2), logprob: -0.1 };
    });
    const experiment = parseExperiment(file({ maxTokens: 3 }), 'e.json');
    const out = await createRunner({ experiment, datasets: [toyDataset(0, 2)], models: () => ({ engine: model, cacheKey: 'sha:m' }) }).run();
    expect(out.status).toBe('done');
    expect(budgets).toEqual([3, 3]); // toyDataset's own budget is 4
  });
});
