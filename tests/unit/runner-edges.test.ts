// The experiment runner's edges (src/lib/eval/runner.ts) with scripted models: itemEngine's stop
// sequences and raw completion (only the item's own prompt, alone, as a user message), the refusals
// of createRunner, each row's fields (group, confidence, cost, cached calls, no trace when asked),
// the progress it reports, a resumed state's rows of other cells ignored, the error of a failed
// item, a file's knob winning over a fitted one, and a fleet's own concurrency over perEngine.
import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatRequest, CompletionRequest, Engine } from '../../src/lib/engines/engine.ts';
import { MemoryAnswerStore } from '../../src/lib/eval/cache.ts';
import { expandGrid, parseExperiment } from '../../src/lib/eval/experiment.ts';
import { createRunner, ExperimentRunError, itemEngine, type Progress, type RunStateStore, type StoredRow } from '../../src/lib/eval/runner.ts';
import type { EvalItem } from '../../src/lib/eval/task.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

const usage = { prompt_tokens: 1, completion_tokens: 1, time_to_first_token_ms: 0, total_ms: 1, tokens_per_second: 1 };
function recorder() {
  const calls: Array<{ kind: string; request: ChatRequest | CompletionRequest }> = [];
  const answer = async function* (): AsyncGenerator<ChatChunk> {
    yield { type: 'done', finish_reason: 'stop', usage };
  };
  const engine: Engine = {
    info: { kind: 'wllama', model: 'r', backend: 'cpu', detail: 'test', supportsLogprobs: false },
    chat: (request) => (calls.push({ kind: 'chat', request }), answer()),
    complete: (request) => (calls.push({ kind: 'complete', request }), answer()),
    unload: () => Promise.resolve(),
  };
  return { engine, calls };
}
async function drain(s: AsyncIterable<ChatChunk>) {
  for await (const _ of s) void _;
}
const item = (mode: 'completion' | 'chat'): EvalItem => ({ id: 'i', prompt: 'Q: 1\nA:', mode, reference: '2', raw: null });

describe('itemEngine', () => {
  it('a completion item\'s own prompt, alone as a user message, goes out raw with the stop sequences added once', async () => {
    const r = recorder();
    const e = itemEngine(r.engine, item('completion'), ['\n', 'Q:']);
    await drain(e.chat({ messages: [{ role: 'user', content: 'Q: 1\nA:' }], temperature: 0.5, stop: ['\n', 'X'] }));
    expect(r.calls).toEqual([{ kind: 'complete', request: { prompt: 'Q: 1\nA:', temperature: 0.5, stop: ['\n', 'X', 'Q:'] } }]);
  });

  it('other chats stay chats (with the stops); a chat item is never sent raw; no stops leaves the request as it is', async () => {
    const r = recorder();
    const e = itemEngine(r.engine, item('completion'), ['\n']);
    const two = { messages: [{ role: 'system' as const, content: 's' }, { role: 'user' as const, content: 'Q: 1\nA:' }] };
    await drain(e.chat(two));
    await drain(e.chat({ messages: [{ role: 'assistant', content: 'Q: 1\nA:' }] }));
    await drain(e.chat({ messages: [{ role: 'user', content: 'other' }] }));
    expect(r.calls.map((c) => c.kind)).toEqual(['chat', 'chat', 'chat']);
    expect(r.calls[0]!.request).toEqual({ ...two, stop: ['\n'] });
    const chatItem = recorder();
    await drain(itemEngine(chatItem.engine, item('chat'), []).chat({ messages: [{ role: 'user', content: 'Q: 1\nA:' }] }));
    expect(chatItem.calls).toEqual([{ kind: 'chat', request: { messages: [{ role: 'user', content: 'Q: 1\nA:' }] } }]);
    const noStop = recorder();
    const req = { prompt: 'p', max_tokens: 3 };
    await drain(itemEngine(noStop.engine, item('completion'), []).complete(req));
    expect(noStop.calls[0]!.request).toBe(req);
    await drain(itemEngine(noStop.engine, item('completion'), ['.']).complete(req));
    expect(noStop.calls[1]!.request).toEqual({ prompt: 'p', max_tokens: 3, stop: ['.'] });
  });

  it('passes info, unload and a stepper through', async () => {
    const r = recorder();
    let unloaded = 0;
    const stepper = {} as never;
    const e = itemEngine({ ...r.engine, unload: () => (unloaded++, Promise.resolve()), stepper: () => Promise.resolve(stepper) }, item('chat'), []);
    expect(e.info).toBe(r.engine.info);
    await e.unload();
    expect(unloaded).toBe(1);
    expect(await e.stepper!()).toBe(stepper);
    expect('stepper' in itemEngine(r.engine, item('chat'), [])).toBe(false);
  });
});

const TOY = { models: { d: 'd.gguf', n: 'n.gguf' }, datasets: [{ path: 'toy', split: 'test' }], methods: [{ method: 'single', agents: ['d'], label: 'doubler' }], seeds: [3] };
const doubler = () => new ScriptedModel('d', (p) => ({ text: String(readToy(p).x * 2), logprob: -0.5 }), 0);

describe('createRunner', () => {
  it('refuses a data set count that differs from the experiment\'s, a split the grid needs, a model the file lacks', () => {
    const exp = parseExperiment(JSON.stringify(TOY));
    const models = () => ({ engine: doubler(), cacheKey: 'd' });
    expect(() => createRunner({ experiment: exp, datasets: [], models })).toThrow(new ExperimentRunError('createRunner: 0 data set(s) loaded for 1 in the experiment'));
    const noTest = { ...toyDataset(), splits: { dev: toyDataset().splits.dev } };
    expect(() => createRunner({ experiment: exp, datasets: [noTest], models })).toThrow(new ExperimentRunError('toy has no test split, which the grid needs (single on test): use a data set with a test split'));
    const vote = parseExperiment(JSON.stringify({ ...TOY, methods: [{ method: 'vote', agents: ['d', 'n'] }] }));
    const noDev = { ...toyDataset(), splits: { test: toyDataset().splits.test } };
    expect(() => createRunner({ experiment: vote, datasets: [noDev], models })).toThrow('toy has no dev split, which the grid needs (single on dev): use a data set with a dev split');
    const missing = { ...exp, models: {} };
    expect(() => createRunner({ experiment: missing, datasets: [toyDataset()], models })).toThrow(new ExperimentRunError('model d is not defined'));
    const err = new ExperimentRunError('m');
    expect(err.name).toBe('ExperimentRunError');
    expect(err.beforeAnyCall).toBe(false);
  });

  it('rows: group, confidence, cost, the cached calls; progress from loading to done with the last cell\'s label', async () => {
    const exp = parseExperiment(JSON.stringify(TOY));
    const d = doubler();
    const seen: Progress[] = [];
    const answers = new MemoryAnswerStore();
    const runner = createRunner({ experiment: exp, datasets: [toyDataset(0, 2)], models: () => ({ engine: d, cacheKey: 'd' }), answers, onProgress: (p) => seen.push({ ...p }) });
    expect(runner.progress).toEqual({ phase: 'loading', done: 0, total: 2, resumed: 0, cacheHits: 0, cacheMisses: 0, paused: false, etaSeconds: null });
    const out = await runner.run();
    if (out.status !== 'done') throw new Error('not done');
    const [a, b] = out.results.items;
    expect(a).toMatchObject({ cell: 0, id: 'test-0', group: 'double', prompt: 'Q: double 101\nA:', reference: '202', output: '202', parsed: '202', score: 1, calls: 1, promptTokens: 3, completionTokens: 1, seconds: 0.005, cachedCalls: 0 });
    expect(a!.confidence).toBeCloseTo(Math.exp(-0.5), 12);
    expect(b).toMatchObject({ group: 'next', score: 0 });
    expect(a!.trace!.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    // the fitted phase is announced even when no cell fits
    expect(seen.map((p) => p.phase)).toEqual(['loading', 'members and plain methods', 'members and plain methods', 'members and plain methods', 'methods fitted on dev', 'done']);
    expect(seen.at(-1)).toMatchObject({ done: 2, total: 2, cacheHits: 0, cacheMisses: 2, cell: 'doubler', paused: false });
    expect(seen[2]!.etaSeconds).toEqual(expect.any(Number));
    expect(seen[2]!.done).toBe(1);
    // again over the same cache: every call a hit, counted per row
    const again = await createRunner({ experiment: exp, datasets: [toyDataset(0, 2)], models: () => ({ engine: doubler(), cacheKey: 'd' }), answers, traces: false }).run();
    if (again.status !== 'done') throw new Error('not done');
    expect(again.results.items.map((it) => it.cachedCalls)).toEqual([1, 1]);
    expect(again.results.items.every((it) => !('trace' in it))).toBe(true);
    expect(again.results.summary.cost.cachedCalls).toBe(2);
  });

  it('a resumed state\'s rows of cells no longer in the grid are ignored; the others are not asked again', async () => {
    const exp = parseExperiment(JSON.stringify(TOY));
    const key = expandGrid(exp)[0]!.key;
    const row = (cellKey: string, id: string, output: string): StoredRow => ({ cellKey, id, prompt: 'p', reference: 'r', output, parsed: output, score: 0.25, calls: 1, promptTokens: 0, completionTokens: 0, seconds: 0, cachedCalls: 0 });
    const stored = [row(key, 'test-0', 'kept'), row('{"other":1}', 'test-1', 'stale')];
    const appended: StoredRow[] = [];
    const state: RunStateStore = { load: () => Promise.resolve(stored), append: (r) => (appended.push(r), Promise.resolve()) };
    const d = doubler();
    const runner = createRunner({ experiment: exp, datasets: [toyDataset(0, 2)], models: () => ({ engine: d, cacheKey: 'd' }), state });
    const out = await runner.run();
    if (out.status !== 'done') throw new Error('not done');
    expect(runner.progress.resumed).toBe(1);
    expect(d.calls.map((c) => c.prompt)).toEqual(['Q: next 102\nA:']);
    expect(appended.map((r) => r.id)).toEqual(['test-1']);
    expect(out.results.items.map((it) => it.output)).toEqual(['kept', '204']);
  });

  it('a failed item names the method, data set, split and item, after a call (not a refusal before any)', async () => {
    const exp = parseExperiment(JSON.stringify(TOY));
    const broken = new ScriptedModel('d', () => ({ text: '', logprob: 0 }), 0);
    broken.failAt = 1;
    let err: unknown;
    try {
      await createRunner({ experiment: exp, datasets: [toyDataset(0, 1)], models: () => ({ engine: broken, cacheKey: 'd' }) }).run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExperimentRunError);
    expect((err as Error).message).toBe('single on toy test item test-0: Agent 1 · d failed: simulated crash');
    expect((err as ExperimentRunError).beforeAnyCall).toBe(false);
  });

  it('a knob the file sets wins over the fitted one (cascade threshold), and the fitted note is kept', async () => {
    const exp = parseExperiment(JSON.stringify({ ...TOY, methods: [{ method: 'cascade', agents: ['d', 'n'], knobs: { threshold: 0.3 }, label: 'c' }] }));
    const n = new ScriptedModel('n', (p) => ({ text: String(readToy(p).x + 1), logprob: -0.1 }), 0);
    const out = await createRunner({ experiment: exp, datasets: [toyDataset(4, 2)], models: (id) => ({ engine: id === 'd' ? doubler() : n, cacheKey: id }) }).run();
    if (out.status !== 'done') throw new Error('not done');
    const c = out.results.cells.find((x) => x.labels.includes('c'))!;
    expect(c.knobs.threshold).toBe(0.3);
    expect(c.fitted!.note).toEqual(expect.any(String));
    expect('knobs' in c.fitted!).toBe(false);
  });

  it('a binding\'s own concurrency bounds its calls instead of perEngine; at least one', async () => {
    const exp = parseExperiment(JSON.stringify({ ...TOY, methods: [{ method: 'vote', agents: ['d', 'd', 'd'], label: 'v' }] }));
    for (const [concurrency, expected] of [[2, 2], [0, 1]] as const) {
      const d = new ScriptedModel('d', (p) => ({ text: String(readToy(p).x * 2), logprob: -0.5 }), 5);
      await createRunner({ experiment: exp, datasets: [toyDataset(2, 4)], models: () => ({ engine: d, cacheKey: 'd', concurrency }), perEngine: 3, concurrency: 4 }).run();
      expect(d.maxActive, String(concurrency)).toBe(expected);
    }
  });
});

describe('the run\'s wiring', () => {
  it('each item runs with the cell\'s seed, the experiment\'s knobs, agents named by model, and a run id of cell index and item id', async () => {
    const exp = parseExperiment(JSON.stringify({ ...TOY, methods: [{ method: 'vote', agents: ['d', { model: 'n', temperature: 0.4, system: 'Be brief.' }], knobs: { samples: 2 }, label: 'v' }], seeds: [11] }));
    const n = new ScriptedModel('n', (p) => ({ text: String(readToy(p).x + 1), logprob: -0.1 }), 0);
    const out = await createRunner({ experiment: exp, datasets: [toyDataset(1, 1)], models: (id) => ({ engine: id === 'd' ? doubler() : n, cacheKey: id }) }).run();
    if (out.status !== 'done') throw new Error('not done');
    const ci = out.results.cells.findIndex((c) => c.labels.includes('v'));
    const start = out.results.items.find((it) => it.cell === ci)!.trace![0]!;
    expect(start).toMatchObject({ type: 'run-start', runId: `${ci}:test-0`, strategy: 'vote', seed: 11, prompt: 'Q: double 101\nA:' });
    if (start.type !== 'run-start') throw new Error('no run-start');
    expect(start.knobs.samples).toBe(2);
    expect(start.agents.map((a) => [a.id, a.name, a.model, a.temperature])).toEqual([['a1', 'Agent 1 · d', 'd', 0], ['a2', 'Agent 2 · n', 'n', 0.4]]);
    expect(n.calls.filter((c) => c.temperature === 0.4)).toHaveLength(2);
    // the agent's system prompt reaches its model (here before the raw completion prompt)
    expect(n.calls.filter((c) => c.temperature === 0.4).map((c) => c.prompt)).toEqual(['Be brief.\nQ: double 101\nA:', 'Be brief.\nQ: double 101\nA:']);
  });

  it('one item at a time, cells take turns (round-robin), so items in flight use different engines', async () => {
    const exp = parseExperiment(JSON.stringify({ ...TOY, methods: [{ method: 'single', agents: ['d'] }, { method: 'single', agents: ['n'] }] }));
    const order: string[] = [];
    const d = new ScriptedModel('d', (p) => (order.push(`d${readToy(p).x}`), { text: '0', logprob: 0 }), 0);
    const n = new ScriptedModel('n', (p) => (order.push(`n${readToy(p).x}`), { text: '0', logprob: 0 }), 0);
    await createRunner({ experiment: exp, datasets: [toyDataset(0, 3)], models: (id) => ({ engine: id === 'd' ? d : n, cacheKey: id }), concurrency: 1 }).run();
    expect(order).toEqual(['d101', 'n101', 'd102', 'n102', 'd103', 'n103']);
  });

  it('pause and resume show in progress; a second cancel changes nothing', async () => {
    const exp = parseExperiment(JSON.stringify(TOY));
    const seen: boolean[] = [];
    const runner = createRunner({ experiment: exp, datasets: [toyDataset(0, 2)], models: () => ({ engine: doubler(), cacheKey: 'd' }), onProgress: (p) => seen.push(p.paused) });
    runner.pause();
    expect(runner.progress.paused).toBe(true);
    runner.resume();
    expect(runner.progress.paused).toBe(false);
    expect(seen).toEqual([true, false]);
    const out = await runner.run();
    expect(out.status).toBe('done');
    const c = createRunner({ experiment: exp, datasets: [toyDataset(0, 2)], models: () => ({ engine: doubler(), cacheKey: 'd' }) });
    c.cancel();
    c.cancel();
    expect(await c.run()).toEqual({ status: 'cancelled' });
    expect(c.progress.phase).toBe('cancelled');
  });
});
