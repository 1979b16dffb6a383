// The query-level routers at their edges (router, graph router, prompt router, routing.ts): the
// trained router's training labels (best solver by its group's mean, ties to setup order), every
// refusal's exact words (no dev items, no fit, a fit for another setup, a failed answer or router
// call), the prompt router's reading of a reply that names a model by name or gives no
// alternatives, and the token bounds the routers state before a run.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { fitRouter, routerLabels } from '../../src/lib/strategies/router.ts';
import { fitGraph } from '../../src/lib/strategies/graph-router.ts';
import { numberProbabilities } from '../../src/lib/strategies/prompt-router.ts';
import { bestIndex } from '../../src/lib/strategies/routing.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import type { DevEvidence } from '../../src/lib/strategies/types.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt } from './strategies.events.ts';

const base = { prompt: 'What is 2 + 3?', seed: 7, maxTokens: 16 };

function dev(items: Array<[prompt: string, group: string, scores: number[]]>): DevEvidence {
  const n = items[0]![2].length;
  return {
    agentScores: Array.from({ length: n }, (_, a) => items.reduce((s, it) => s + it[2][a]!, 0) / items.length),
    items: items.map(([prompt, group, scores]) => ({ prompt, group, scores, confidences: scores.map(() => undefined) })),
  };
}

describe('trained router: training labels', () => {
  it('an item goes to the solver best on its group; with no solver, to the agent best on its group', () => {
    // Group "sum": a2 solves 2 of 2, a1 1 of 2, a3 none. Group "cap": a3 solves all, a1 half.
    const evidence = dev([
      ['1+1', 'sum', [1, 1, 0]],
      ['2+2', 'sum', [0, 1, 0]],
      ['hard sum', 'sum', [0, 0, 0]],
      ['France', 'cap', [1, 0, 1]],
      ['Peru', 'cap', [0, 0, 1]],
    ]);
    // 1+1: solvers a1, a2 → a2 (better on "sum"); 2+2: a2; hard sum: nobody → a2 (best on "sum");
    // France: a1, a3 → a3; Peru: a3.
    expect(routerLabels(evidence)).toEqual([1, 1, 1, 2, 2]);
  });

  it('ties on the group mean go to the earlier agent', () => {
    expect(routerLabels(dev([['x', 'g', [1, 1, 1]], ['y', 'g', [0, 0, 0]]]))).toEqual([0, 0]);
    expect(routerLabels(dev([['x', 'g', [0, 1, 1]], ['y', 'g', [0, 0, 0]]]))).toEqual([1, 1]);
  });

  it('the fit’s note names the classifier', () => {
    const evidence = dev([['x', 'g', [1, 0]], ['y', 'g', [0, 1]]]);
    expect(fitRouter(evidence, { classifier: 'logistic' }).note).toBe('logistic-regression router trained on 2 dev prompts; training labels per agent: a1=1, a2=1');
    expect(fitRouter(evidence, { classifier: 'knn' }).note).toMatch(/^5-nearest-neighbours router/);
    expect(fitRouter(evidence).note).toMatch(/^naive-Bayes router/);
  });

  it('refuses to train without dev items', () => {
    expect(() => fitRouter({ agentScores: [0, 0], items: [] })).toThrow('the trained router needs dev items to learn from: give the data set a dev split');
    expect(() => fitGraph({ agentScores: [0, 0], items: [] })).toThrow('the graph router needs dev items to build its graph: give the data set a dev split');
  });
});

describe('routers: refusals in a run', () => {
  const evidence = dev([['What is 2 + 3?', 'g', [0, 0, 1]], ['Capital of France?', 'g', [1, 0, 0]]]);

  it('scripted: the trained router without a fit says where to run it', async () => {
    const engine = new ScriptedEngine(() => words('5'));
    const events = await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 2) });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('the trained router must first be trained on a dev split: run it in an experiment (npm run experiment, or the Experiments tab)') });
    expect(engine.calls).toHaveLength(0);
  });

  it('scripted: a fit without a usable router is refused like no fit', async () => {
    const engine = new ScriptedEngine(() => words('5'));
    const events = await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 2), fitted: { router: {} } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('the trained router must first be trained on a dev split') });
  });

  it('the logistic router scores each agent with a probability; naive Bayes with a log score, shown to one decimal', async () => {
    const logistic = fitRouter(evidence, { classifier: 'logistic' });
    const scores = Object.values((logistic.state as { router: { route: (p: string) => { scores: Record<string, number> } } }).router.route('What is 7 + 1?').scores);
    expect(scores.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const engine = new ScriptedEngine(() => words('The answer is 8.'));
    const l = await collectRun({ ...base, prompt: 'What is 7 + 1?', strategy: 'router', agents: agentsOn(engine, 3), knobs: { classifier: 'logistic' }, fitted: logistic.state });
    expect(only(l, 'route').reason).toMatch(/^logistic-regression probability: a1 0\.\d{3}, a2 0\.000, a3 0\.\d{3}$/);
    const nb = await collectRun({ ...base, prompt: 'What is 7 + 1?', strategy: 'router', agents: agentsOn(engine, 3), fitted: fitRouter(evidence).state });
    expect(only(nb, 'route').reason).toMatch(/^naive-Bayes log score: a1 -\d+\.\d, a2 never a dev label, a3 -\d+\.\d$/);
    // The routed agent answers in round 1 (no router-model stage).
    expect(ofType(nb, 'message-start').map((m) => [m.msgId, m.round])).toEqual([[`${only(nb, 'route').to}.r1.s0`, 1]]);
  });

  it('scripted: cancel while the routed agent answers ends the run with no final answer', async () => {
    const fitted = fitRouter(evidence, { classifier: 'knn', k: 1 });
    const engine = new ScriptedEngine(() => words('word '.repeat(30)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, strategy: 'router', agents: agentsOn(engine, 3), knobs: { classifier: 'knn', k: 1 }, fitted: fitted.state }, (e) => e.type === 'token');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: a router trained for an agent the setup lacks is refused, naming it', async () => {
    const fitted = fitRouter(evidence, { classifier: 'knn', k: 1 });
    const engine = new ScriptedEngine(() => words('5'));
    const events = await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 2), knobs: { classifier: 'knn', k: 1 }, fitted: fitted.state });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('the router was trained for agent a3, which this setup does not have: train it again on this setup') });
    expect(engine.calls).toHaveLength(0);
  });

  it('scripted: a fitted router that does not say its classifier takes the knob’s (scores to three decimals for knn)', async () => {
    const fitted = fitRouter(evidence, { classifier: 'knn', k: 1 });
    const { router } = fitted.state as { router: unknown };
    const engine = new ScriptedEngine(() => words('The answer is 5.'));
    const events = await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 3), knobs: { classifier: 'knn', k: 1 }, fitted: { router } });
    const route = only(events, 'route');
    expect(route.to).toBe('a3');
    expect(route.scoreLabel).toBe('summed cosine similarity of the k nearest dev prompts');
    expect(route.reason).toMatch(/^summed cosine similarity of the k nearest dev prompts: a1 0\.000, a2 0\.000, a3 \d\.\d{3}$/);
  });

  it('scripted: the routed agent failing ends the run, naming it', async () => {
    const fitted = fitRouter(evidence, { classifier: 'knn', k: 1 });
    const engine = new ScriptedEngine(() => new Error('out of memory'));
    const events = await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 3), knobs: { classifier: 'knn', k: 1 }, fitted: fitted.state });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^Agent 3 failed: .*out of memory/) });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: a graph built for another number of agents is refused', async () => {
    const fitted = fitGraph(evidence);
    const engine = new ScriptedEngine(() => words('5'));
    const events = await collectRun({ ...base, strategy: 'graph-router', agents: agentsOn(engine, 2), fitted: fitted.state });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('the graph was built for 3 agents and this setup has 2: build it again on this setup') });
    expect(engine.calls).toHaveLength(0);
  });

  it('bestIndex: the highest score, the earlier agent on a tie; no scores is an internal error', () => {
    expect(bestIndex([0.2, 0.5, 0.5])).toBe(1);
    expect(bestIndex([0.7, 0.5])).toBe(0);
    expect(() => bestIndex([])).toThrow('internal: no scores to choose from');
  });
});

describe('prompt router: edges', () => {
  function routed(reply: () => ReturnType<typeof words> | Error) {
    return new ScriptedEngine((req) => (lastUser(req).startsWith('Models:\n') ? reply() : words('The answer is 5.', Math.log(0.9))));
  }

  it('scripted: a reply naming a model by name routes to it, and says so', async () => {
    const engine = routed(() => words('Use m2 please'));
    const agents = agentsOn(engine, 3, 0).map((a, i) => ({ ...a, name: `Agent ${i + 1} · m${i + 1}` }));
    const events = await collectRun({ ...base, strategy: 'prompt-router', agents });
    expect(only(events, 'route')).toMatchObject({ to: 'a2', reason: 'the router replied "Use m2 please": the name m2' });
    expect(ofType(events, 'round').map((r) => r.label)).toEqual(['Routing: Agent 1 · m1 names a model', 'Answer: Agent 2 · m2']);
  });

  it('scripted: a failed router call ends the run, naming the router', async () => {
    const engine = routed(() => new Error('engine down'));
    const events = await collectRun({ ...base, strategy: 'prompt-router', agents: agentsOn(engine, 2, 0), knobs: { router: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the router Agent 2 failed: .*engine down/) });
    expect(engine.calls).toHaveLength(1);
  });

  it('numberProbabilities: without alternatives the first token alone counts; no token, no scores', () => {
    expect(numberProbabilities({ token: ' 2', logprob: Math.log(0.5), top_logprobs: [] }, 3)).toEqual([0, expect.closeTo(0.5, 12), 0]);
    expect(numberProbabilities(undefined, 2)).toEqual([0, 0]);
  });
});

describe('routers: the token bound shown before a run (max tokens 16, prompt 20 tokens)', () => {
  const bound = (id: string, n: number, knobs: Record<string, unknown> = {}) => getStrategy(id).meta.cost!.tokens!(n, knobs as never, 16, 20);

  it('the trained and graph routers call one model once', () => {
    expect(bound('router', 3)).toEqual({ prompt: 20, completion: 16 });
    expect(bound('graph-router', 3)).toEqual({ prompt: 20, completion: 16 });
  });

  it('the prompt router: the router’s prompt adds a line per model (64 + 160 bytes each, 64 fixed); it writes 8 tokens', () => {
    expect(bound('prompt-router', 3)).toEqual({ prompt: 2 * 20 + 3 * (64 + 160) + 64, completion: 8 + 16 });
  });

  it('the cascade: every tier at most; asking adds, per tier but the last, its prompt, answer and question again, and 6 tokens', () => {
    expect(bound('cascade', 3)).toEqual({ prompt: 60, completion: 48 });
    expect(bound('cascade', 3, { confidence: 'ask' })).toEqual({ prompt: 60 + 2 * (20 + 16 + 32), completion: 48 + 2 * 6 });
  });
});

describe('cascade: edges', () => {
  const asked = (req: { messages: { content: string }[] }) => req.messages.at(-1)!.content.startsWith('How confident are you');

  it('scripted: a dev collection run asks every tier, the last too, and keeps the last answer, saying each confidence (or none)', async () => {
    const replies: Record<string, string> = { a1: '80', a2: 'no idea' };
    const tiers = agentsOn(new ScriptedEngine(() => []), 2).map((a) => ({
      ...a,
      engine: new ScriptedEngine((req) => (asked(req) ? words(replies[a.id]!) : words(`The answer is ${a.id === 'a1' ? 5 : 6}.`))),
    }));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: tiers, knobs: { confidence: 'ask' }, fitted: { collect: true } });
    expect(tiers.map((t) => (t.engine as ScriptedEngine).calls.length)).toEqual([2, 2]);
    expect(ofType(events, 'route').map((r) => r.reason)).toEqual([
      'dev collection run: every tier answers and states its confidence (0.800); the last tier\'s answer is kept',
      'dev collection run: every tier answers and states its confidence (none); the last tier\'s answer is kept',
    ]);
    expect(only(events, 'final')).toMatchObject({ answer: '6', agent: 'a2' });
  });

  it('scripted: a failed tier defers, saying so; a failed last tier ends the run, naming it', async () => {
    const tiers = (failLast: boolean) =>
      agentsOn(new ScriptedEngine(() => []), 2).map((a) => ({
        ...a,
        engine: new ScriptedEngine(() => (a.id === 'a1' || failLast ? new Error('engine down') : words('The answer is 6.', Math.log(0.9)))),
      }));
    const deferred = await collectRun({ ...base, strategy: 'cascade', agents: tiers(false), knobs: {} });
    expect(ofType(deferred, 'route')[0]).toMatchObject({ from: 'a1', to: 'a2', decision: 'defer', reason: expect.stringMatching(/^Agent 1 failed \(.*engine down.*\): defer to the next agent$/) });
    expect(only(deferred, 'final')).toMatchObject({ answer: '6', agent: 'a2' });
    const failed = await collectRun({ ...base, strategy: 'cascade', agents: tiers(true), knobs: {} });
    expect(failed.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^Agent 2, the last agent of the cascade, failed: .*engine down/) });
  });

  it('scripted: asking, the last tier is accepted without being asked', async () => {
    const tiers = agentsOn(new ScriptedEngine(() => []), 2).map((a) => ({
      ...a,
      engine: new ScriptedEngine((req) => (asked(req) ? words('10') : words(`The answer is ${a.id === 'a1' ? 5 : 6}.`))),
    }));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: tiers, knobs: { confidence: 'ask' } });
    expect(tiers.map((t) => (t.engine as ScriptedEngine).calls.length)).toEqual([2, 1]);
    expect(ofType(events, 'route')[1]).toMatchObject({ from: 'a2', to: 'a2', decision: 'accept', reason: 'this is the last agent: accept its answer (the last agent is not asked its confidence)' });
  });
});

