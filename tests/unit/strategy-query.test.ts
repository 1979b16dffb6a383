// Issue 12's query-level methods, each decision rule with exact expectations: the trained router's
// classifiers (k nearest neighbours, logistic regression) on tiny hand-made dev sets, the graph
// router's scores, the prompt router's reading of its router model's reply and its fallback, and
// the cascade's "just ask" confidence, per-agent thresholds (median of dev confidences), its stop /
// escalate rule at the threshold and its cost–quality curve. Engines are scripted ("scripted" in
// the names); the real models run these methods in tests/e2e/query-methods.spec.ts.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { fitTfidf, ngramFeatures, trainKnnRouter, trainLogisticRouter } from '../../src/lib/eval/router.ts';
import { fitRouter } from '../../src/lib/strategies/router.ts';
import { fitGraph, graphChoice, graphScores, type GraphState } from '../../src/lib/strategies/graph-router.ts';
import { descriptionsOf, numberProbabilities, parseRouterChoice, promptRouter, routerPrompt, shortDescription } from '../../src/lib/strategies/prompt-router.ts';
import { ASK_CONFIDENCE, cascade, cascadeCurve, decideCascade, fitCascade, parseConfidence, simulateCascade, type CascadeState } from '../../src/lib/strategies/cascade.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { promptTokenBound } from '../../src/lib/strategies/budget.ts';
import type { DevEvidence, SearchContext } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only } from './strategies.events.ts';

const base = { prompt: 'What is 2 + 3?', seed: 7, maxTokens: 16 };
const R = Math.SQRT1_2;

function dev(items: Array<[prompt: string, scores: number[], confidences?: Array<number | undefined>]>): DevEvidence {
  const n = items[0]![1].length;
  return {
    agentScores: Array.from({ length: n }, (_, a) => items.reduce((s, it) => s + it[1][a]!, 0) / items.length),
    items: items.map(([prompt, scores, confidences]) => ({ prompt, group: 'toy', scores, confidences: confidences ?? scores.map(() => undefined) })),
  };
}

describe('trained router: k nearest neighbours and logistic regression on word 1–2-grams', () => {
  it('n-grams are the words and each adjacent pair', () => {
    expect(ngramFeatures('Red blue 7')).toEqual(['red', 'blue', '0', 'red blue', 'blue 0']);
  });

  it('TF-IDF vectors are L2-normalised and drop features never seen in training', () => {
    const tfidf = fitTfidf(['red', 'blue']);
    expect([...tfidf.vector('red')]).toEqual([['red', 1]]);
    const both = tfidf.vector('red blue green');
    expect(both.get('red')).toBeCloseTo(R, 12);
    expect(both.get('blue')).toBeCloseTo(R, 12);
    expect(both.has('green')).toBe(false);
    expect(both.has('red blue')).toBe(false);
  });

  it('kNN: a label scores the summed cosine similarity of its prompts among the k nearest; ties go to training order, then the first label', () => {
    const knn = (k: number) => trainKnnRouter([{ prompt: 'red', label: 'a' }, { prompt: 'blue', label: 'b' }], k);
    expect(knn(1).route('red')).toEqual({ label: 'a', scores: { a: 1, b: 0 } });
    expect(knn(1).route('blue')).toEqual({ label: 'b', scores: { a: 0, b: 1 } });
    const two = knn(2).route('red blue');
    expect(two.scores.a).toBeCloseTo(R, 12);
    expect(two.scores.b).toBeCloseTo(R, 12);
    expect(two.label).toBe('a');
    // k = 1 and two neighbours equally near: the one met first in training ("red", label a).
    expect(knn(1).route('red blue').scores).toEqual({ a: two.scores.a, b: 0 });
    expect(() => knn(0)).toThrow(/k must be a whole number ≥ 1 \(got 0\)/);
  });

  it('kNN on a hand-made dev set: arithmetic prompts go to the adder, capitals to the geographer', () => {
    const router = trainKnnRouter(
      [
        { prompt: 'What is 12 + 30?', label: 'adder' },
        { prompt: 'What is 4 + 9?', label: 'adder' },
        { prompt: 'What is the capital of France?', label: 'geo' },
        { prompt: 'What is the capital of Peru?', label: 'geo' },
      ],
      3,
    );
    expect(router.route('What is 7 + 1?').label).toBe('adder');
    expect(router.route('What is the capital of Chile?').label).toBe('geo');
  });

  it('logistic regression: separates a hand-made dev set; with no known feature, a symmetric set gives exactly 50/50', () => {
    const router = trainLogisticRouter([
      { prompt: 'What is 12 + 30?', label: 'adder' },
      { prompt: 'What is 4 + 9?', label: 'adder' },
      { prompt: 'Name the capital of France.', label: 'geo' },
      { prompt: 'Name the capital of Peru.', label: 'geo' },
    ]);
    const sum = router.route('What is 7 + 1?');
    expect(sum.label).toBe('adder');
    expect(sum.scores.adder! + sum.scores.geo!).toBeCloseTo(1, 12);
    expect(sum.scores.adder).toBeGreaterThan(0.8);
    expect(router.route('Name the capital of Chile.').label).toBe('geo');
    // A mirror-symmetric set ("red" ↔ "blue"): the biases stay 0, so a prompt with no known feature is exactly 50/50, and the tie goes to the first label.
    const mirror = trainLogisticRouter([{ prompt: 'red', label: 'a' }, { prompt: 'blue', label: 'b' }]);
    expect(mirror.route('zebra')).toEqual({ label: 'a', scores: { a: 0.5, b: 0.5 } });
    expect(mirror.route('red').scores.a).toBeCloseTo(mirror.route('blue').scores.b!, 12);
    expect(mirror.route('red').label).toBe('a');
  });

  it('scripted: the router method trains the chosen classifier on dev labels and routes with every agent’s score in the trace', async () => {
    const evidence = dev([
      ['What is 2 + 3?', [1, 0]],
      ['What is 10 + 4?', [1, 0]],
      ['Capital of France?', [0, 1]],
    ]);
    const fitted = fitRouter(evidence, { classifier: 'knn', k: 1 });
    expect(fitted.note).toBe('1-nearest-neighbours router trained on 3 dev prompts; training labels per agent: a1=2, a2=1');
    const engine = new ScriptedEngine(() => words('The answer is 8.', Math.log(0.9)));
    const events = await collectRun({ ...base, prompt: 'What is 7 + 1?', strategy: 'router', agents: agentsOn(engine, 2, 0), knobs: { classifier: 'knn', k: 1 }, fitted: fitted.state });
    expect(engine.calls.map((c) => c.caller)).toEqual(['a1']);
    const route = only(events, 'route');
    expect(route).toMatchObject({ from: null, to: 'a1', decision: 'route', scoreLabel: 'summed cosine similarity of the k nearest dev prompts' });
    expect(route.scores!.map((s) => s.agent)).toEqual(['a1', 'a2']);
    expect(route.scores![0]!.score).toBeGreaterThan(0);
    expect(route.scores![1]!.score).toBe(0);
    expect(only(events, 'final')).toMatchObject({ answer: '8', agent: 'a1' });
    expect(only(events, 'usage').calls).toBe(getStrategy('router').meta.cost!.calls(2, { classifier: 'knn' }));
    expect(() => fitRouter(evidence, { classifier: 'forest' })).toThrow(/classifier must be naive-bayes, knn or logistic \(got "forest"\)/);
  });

  it('scripted: naive Bayes stays the default; an agent no dev prompt was labelled with has no score', async () => {
    const fitted = fitRouter(dev([['What is 2 + 3?', [1, 0, 0]], ['Capital of France?', [0, 1, 0]]]));
    expect(fitted.note).toMatch(/^naive-Bayes router trained on 2 dev prompts; training labels per agent: a1=1, a2=1, a3=0$/);
    const engine = new ScriptedEngine(() => words('Paris', Math.log(0.9)));
    const events = await collectRun({ ...base, prompt: 'Capital of Peru?', strategy: 'router', agents: agentsOn(engine, 3, 0), fitted: fitted.state });
    const route = only(events, 'route');
    expect(route.to).toBe('a2');
    expect(route.scores!.map((s) => s.agent)).toEqual(['a1', 'a2']);
    expect(route.reason).toMatch(/a3 never a dev label/);
  });
});

describe('graph router: query–model graph from dev results', () => {
  // Dev: "red" solved by a1 only; "blue" by both. a1's dev score 1, a2's 0.5.
  const state = fitGraph(dev([['red', [1, 0]], ['blue', [1, 1]]])).state as GraphState;

  it('an agent scores the similarity-weighted mean of its edges to the most similar dev queries', () => {
    expect(graphScores(state, 'red', 10)).toEqual({ scores: [1, 0], linked: 1 });
    expect(graphScores(state, 'blue', 10)).toEqual({ scores: [1, 1], linked: 1 });
    const both = graphScores(state, 'red blue', 10);
    expect(both.linked).toBe(2);
    expect(both.scores[0]).toBeCloseTo(1, 12);
    expect(both.scores[1]).toBeCloseTo(0.5, 12);
    // One neighbour, two equally similar: the earlier dev query ("red").
    expect(graphScores(state, 'red blue', 1)).toEqual({ scores: [1, 0], linked: 1 });
    expect(graphScores(state, 'green', 10)).toEqual({ scores: [0, 0], linked: 0 });
  });

  it('the highest score wins; a tie goes to the better dev score, then setup order', () => {
    expect(graphChoice([0.2, 0.7, 0.1], [1, 0, 0])).toBe(1);
    expect(graphChoice([1, 1], [0.5, 1])).toBe(1);
    expect(graphChoice([1, 1], [1, 1])).toBe(0);
  });

  it('scripted: routes to the best-scoring agent with its scores in the trace; an unlinked query goes to the best agent on dev, saying so', async () => {
    const evidence = dev([['What is 2 + 3?', [0, 1]], ['Capital of France?', [1, 0]], ['Capital of Peru?', [1, 1]]]);
    const fitted = fitGraph(evidence);
    expect(fitted.note).toBe('query–model graph of 3 dev queries and 2 agents, 4 right-answer edges');
    const engine = new ScriptedEngine(() => words('42', Math.log(0.9)));
    const events = await collectRun({ ...base, prompt: 'What is 7 + 1?', strategy: 'graph-router', agents: agentsOn(engine, 2, 0), fitted: fitted.state });
    const route = only(events, 'route');
    expect(route).toMatchObject({ to: 'a2', decision: 'route', scoreLabel: 'graph score' });
    expect(route.scores![1]!.score).toBeGreaterThan(route.scores![0]!.score);
    expect(engine.calls.map((c) => c.caller)).toEqual(['a2']);
    expect(only(events, 'usage').calls).toBe(getStrategy('graph-router').meta.cost!.calls(2, {}));
    const lost = await collectRun({ ...base, prompt: 'zebra', strategy: 'graph-router', agents: agentsOn(engine, 2, 0), fitted: fitted.state });
    expect(only(lost, 'route')).toMatchObject({ to: 'a1', scores: [{ agent: 'a1', score: 0 }, { agent: 'a2', score: 0 }] });
    expect(only(lost, 'route').reason).toMatch(/^no dev question shares a word with this one: the agent best on dev answers/);
  });

  it('scripted: without a dev fit it refuses, saying where to run it', async () => {
    const events = await collectRun({ ...base, strategy: 'graph-router', agents: agentsOn(new ScriptedEngine(() => words('1')), 2) });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    expect(events.at(-1)).toMatchObject({ message: expect.stringMatching(/builds its graph from a dev split: run it in an experiment/) });
  });
});

describe('prompt router: reading the router model’s choice', () => {
  const names = ['arithmetic', 'arithmetic-specialist', 'world-specialist'];

  it('the earliest valid number or name wins; a longer name beats a shorter one at the same place; nothing valid → null', () => {
    expect(parseRouterChoice('2', names)).toEqual({ index: 1, by: 'number' });
    expect(parseRouterChoice(' I pick World-Specialist, then 1', names)).toEqual({ index: 2, by: 'name' });
    expect(parseRouterChoice('model 3 or 1', names)).toEqual({ index: 2, by: 'number' });
    expect(parseRouterChoice('arithmetic-specialist', names)).toEqual({ index: 1, by: 'name' });
    expect(parseRouterChoice('9 or 0 or 12', names)).toBeNull();
    // A negative or decimal number names no model (the pool's generalist replied "-1" in the CLI run).
    expect(parseRouterChoice('-1', names)).toBeNull();
    expect(parseRouterChoice('2.5', names)).toBeNull();
    expect(parseRouterChoice('-1, so 3', names)).toEqual({ index: 2, by: 'number' });
    expect(parseRouterChoice('once upon a time', names)).toBeNull();
  });

  it('scores: the probability of each agent’s number among the first token’s alternatives', () => {
    const first = { token: '2', logprob: Math.log(0.6), top_logprobs: [{ token: '2', logprob: Math.log(0.6) }, { token: ' 1', logprob: Math.log(0.3) }, { token: 'x', logprob: Math.log(0.1) }] };
    const p = numberProbabilities(first, 3);
    expect(p[0]).toBeCloseTo(0.3, 12);
    expect(p[1]).toBeCloseTo(0.6, 12);
    expect(p[2]).toBe(0);
    expect(numberProbabilities(undefined, 2)).toEqual([0, 0]);
  });

  it('descriptions: the knob’s entries ("|") first, else the agent’s own first sentence; too many entries is refused', () => {
    const agents = agentsOn(new ScriptedEngine(() => []), 2).map((a, i) => ({ ...a, description: i === 0 ? 'Adds numbers. Trained 2500 steps.' : 'x'.repeat(200) }));
    expect(descriptionsOf(agents, '')).toEqual(['Adds numbers.', `${'x'.repeat(159)}…`]);
    expect(descriptionsOf(agents, ' | knows capitals')).toEqual(['Adds numbers.', 'knows capitals']);
    expect(() => descriptionsOf(agents, 'a|b|c')).toThrow(/3 entries separated by "\|" and the setup has 2 agent\(s\)/);
    expect(shortDescription('A merge of six. 1.19 MB.')).toBe('A merge of six.');
    expect(routerPrompt(['m1', 'm2'], ['adds', ''], 'Q?')).toBe('Models:\n1. m1: adds\n2. m2\nQuestion: Q?\nWhich model (1–2) should answer? Reply with its number.');
  });

  function routed(reply: (req: Parameters<ConstructorParameters<typeof ScriptedEngine>[0]>[0]) => ReturnType<typeof words>) {
    return new ScriptedEngine((req) => (lastUser(req).startsWith('Models:\n') ? reply(req) : words('The answer is 5.', Math.log(0.9))));
  }

  it('scripted: the router names agent 2 → agent 2 answers alone; 2 calls, as the cost model says', async () => {
    const engine = routed(() => [{ text: '2', logprob: Math.log(0.7), top: [{ token: '2', logprob: Math.log(0.7) }, { token: '3', logprob: Math.log(0.2) }] }]);
    const agents = agentsOn(engine, 3, 0).map((a, i) => ({ ...a, name: `Agent ${i + 1} · m${i + 1}`, ...(i === 1 && { description: 'Knows sums. Trained long.' }) }));
    const events = await collectRun({ ...base, strategy: 'prompt-router', agents });
    expect(engine.calls.map((c) => c.caller)).toEqual(['a1', 'a2']);
    expect(engine.calls[0]!.request.max_tokens).toBe(8);
    expect(lastUser(engine.calls[0]!.request)).toContain('\n1. m1\n2. m2: Knows sums.\n3. m3\n');
    const route = only(events, 'route');
    expect(route).toMatchObject({ to: 'a2', reason: 'the router replied "2": number 2' });
    expect(route.scores!.map((s) => [s.agent, Number(s.score.toFixed(6))])).toEqual([['a1', 0], ['a2', 0.7], ['a3', 0.2]]);
    expect(only(events, 'final')).toMatchObject({ answer: '5', agent: 'a2' });
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(['route', 'answer']);
    expect(only(events, 'usage').calls).toBe(getStrategy('prompt-router').meta.cost!.calls(3, {}));
  });

  it('scripted: a reply naming nothing falls back to the most likely number, else agent 1, and says which rule applied', async () => {
    const likely = routed(() => [{ text: 'Once', logprob: Math.log(0.5), top: [{ token: 'Once', logprob: Math.log(0.5) }, { token: '3', logprob: Math.log(0.1) }] }]);
    const a = await collectRun({ ...base, strategy: 'prompt-router', agents: agentsOn(likely, 3, 0) });
    expect(only(a, 'route').to).toBe('a3');
    expect(only(a, 'route').reason).toMatch(/^the router replied "Once", which names no model 1–3: fallback to the number it found most likely as its first token \(3, p = 0\.100\)$/);
    const none = routed(() => words('Once upon', Math.log(0.5)));
    const b = await collectRun({ ...base, strategy: 'prompt-router', agents: agentsOn(none, 3, 0), knobs: { router: 2 } });
    expect(none.calls[0]!.caller).toBe('a2');
    expect(only(b, 'route')).toMatchObject({ to: 'a1', reason: 'the router replied "Once upon", which names no model 1–3, and no number was among its likely first tokens: fallback to agent 1' });
  });
});

describe('prompts that must fit a small context (the pool’s CLI harness: 256 tokens)', () => {
  // A reading-task-sized question: 600 bytes.
  const long = `Q: ${'The cat sat on the mat and looked at the bird. '.repeat(12)}Who sat?\nA:`;

  it('scripted: the prompt router cuts the question (never the names) to fit the router’s context, and says so', async () => {
    const engine = new ScriptedEngine((req) => (lastUser(req).startsWith('Models:\n') ? words('2') : words('The cat.', Math.log(0.9))), { contextLength: 256 });
    const agents = agentsOn(engine, 3, 0).map((a, i) => ({ ...a, name: `Agent ${i + 1} · specialist-${i + 1}` }));
    const events = await collectRun({ ...base, prompt: long.slice(0, 180), maxTokens: 8, strategy: 'prompt-router', agents });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const routerCall = engine.calls[0]!.request;
    expect(promptTokenBound(routerCall.messages) + 8).toBeLessThanOrEqual(256);
    expect(lastUser(routerCall)).toMatch(/^Models:\n1\. specialist-1\n2\. specialist-2\n3\. specialist-3\nQuestion: Q: The cat .*…\nWhich model \(1–3\) should answer\? Reply with its number\.$/s);
    expect(ofType(events, 'error').map((e) => e.message)).toEqual([expect.stringMatching(/^the router Agent 1 · specialist-1's prompt: the texts shown were cut to \d+ bytes each/)]);
    expect(only(events, 'route').to).toBe('a2');
  });

  it('scripted: when not even the names and 32 bytes of the question fit, the prompt router refuses before any call, naming the fix', async () => {
    const engine = new ScriptedEngine(() => words('1'), { contextLength: 256 });
    const agents = agentsOn(engine, 8, 0).map((a, i) => ({ ...a, name: `Agent ${i + 1} · a-rather-long-specialist-name-${i + 1}` }));
    const events = await collectRun({ ...base, prompt: 'Q: 2 + 3 = ?\nA:', maxTokens: 8, strategy: 'prompt-router', agents });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/256-token context has room for only .* use fewer agents, shorter model descriptions, a router model with a larger context/) });
  });

  it('scripted: the just-ask cascade cuts the question and answer it shows again to fit the context, and says so', async () => {
    const engine = new ScriptedEngine((req) => (lastUser(req) === ASK_CONFIDENCE ? words('90') : words('The cat sat on the mat.', Math.log(0.9))), { contextLength: 256 });
    const events = await collectRun({ ...base, prompt: long.slice(0, 200), maxTokens: 8, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const ask = engine.calls[1]!.request;
    expect(lastUser(ask)).toBe(ASK_CONFIDENCE);
    expect(promptTokenBound(ask.messages) + 6).toBeLessThanOrEqual(256);
    expect(ask.messages[0]!.content).toMatch(/…$/);
    expect(ofType(events, 'error').map((e) => e.message)).toEqual([expect.stringMatching(/^Agent 1's confidence question: the texts shown were cut/)]);
    expect(only(events, 'final').agent).toBe('a1');
  });
});

describe('cascade: just-ask confidence, thresholds fitted on dev, cost–quality curve', () => {
  it('reads the stated confidence: a whole number or a "%" is a percentage, a decimal up to 1 a probability', () => {
    expect(parseConfidence('80')).toBe(0.8);
    expect(parseConfidence('I am 90% sure')).toBe(0.9);
    expect(parseConfidence('0.75')).toBe(0.75);
    expect(parseConfidence('1.0')).toBe(1);
    expect(parseConfidence('1')).toBe(0.01);
    expect(parseConfidence('100')).toBe(1);
    expect(parseConfidence('150')).toBeUndefined();
    expect(parseConfidence('very sure')).toBeUndefined();
    // A negative number is no confidence (a pool model replied "-23" in the CLI run).
    expect(parseConfidence('-23')).toBeUndefined();
    expect(parseConfidence('-0.5')).toBeUndefined();
  });

  it('stops exactly at the threshold and escalates just under it, in either confidence mode', () => {
    expect(decideCascade(0.5, 0.5, false, 'ask')).toEqual({ decision: 'accept', reason: 'self-assessed confidence 0.500 ≥ threshold 0.5: accept' });
    expect(decideCascade(0.49, 0.5, false, 'ask')).toEqual({ decision: 'defer', reason: 'self-assessed confidence 0.490 < threshold 0.5: defer to the next agent' });
    expect(decideCascade(undefined, 0.5, false, 'ask').reason).toBe('its reply gave no confidence number: defer to the next agent');
    expect(decideCascade(0.4, 0.4, false).decision).toBe('accept');
    expect(decideCascade(0.399999, 0.4, false).decision).toBe('defer');
  });

  // Three dev items, two tiers. Tier 1 confidences 0.2, 0.4, 0.9 (right on items 2 and 3);
  // tier 2 confidences 0.1, 0.3, 0.5 (right on items 1 and 2).
  const items = [
    { confidences: [0.2, 0.1], scores: [0, 1] },
    { confidences: [0.4, 0.3], scores: [1, 1] },
    { confidences: [0.9, 0.5], scores: [1, 0] },
  ];

  it('the fitted threshold of each agent is the median of its dev confidences', () => {
    const fitted = fitCascade(items, 2, 'token', 0.6);
    const state = fitted.state as CascadeState;
    expect(state.thresholds).toEqual([0.4, 0.3]);
    expect(fitted.knobs).toEqual({ threshold: 0.4 });
    // An agent with no dev confidences keeps the knob's threshold.
    const partial = fitCascade(items.map((it) => ({ ...it, confidences: [it.confidences[0], undefined] })), 2, 'token', 0.6);
    expect((partial.state as CascadeState).thresholds).toEqual([0.4, null]);
    expect(partial.note).toMatch(/a2 0\.6 \(no dev mean token probability\)/);
    // Four values: the mean of the middle two.
    expect((fitCascade([0.1, 0.3, 0.5, 0.7].map((c) => ({ confidences: [c, c], scores: [1, 1] })), 2, 'token', 0.6).state as CascadeState).thresholds[0]).toBeCloseTo(0.4, 12);
  });

  it('the simulation and the curve: accuracy and calls per query as the threshold moves', () => {
    // t = 0.4 on tier 1: item 1 escalates (tier 2 wrong? no: tier 2 right), items 2 and 3 stop → 3/3 right, 4/3 calls.
    expect(simulateCascade(items, [0.4, 0.3])).toEqual({ accuracy: 1, calls: 4 / 3 });
    expect(simulateCascade(items, [0, 0])).toEqual({ accuracy: 2 / 3, calls: 1 });
    expect(simulateCascade(items, [2, 2])).toEqual({ accuracy: 2 / 3, calls: 2 });
    // Asking each tier but the last costs a second call there.
    expect(simulateCascade(items, [2, 2], 2)).toEqual({ accuracy: 2 / 3, calls: 3 });
    const curve = cascadeCurve(items);
    expect(curve[0]).toEqual({ threshold: 0, accuracy: 2 / 3, calls: 1 });
    expect(curve.at(-1)).toEqual({ threshold: 1.01, accuracy: 2 / 3, calls: 2 });
    expect(curve.map((p) => p.threshold)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 1.01]);
    expect(curve.find((p) => p.threshold === 0.4)).toEqual({ threshold: 0.4, accuracy: 1, calls: 4 / 3 });
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.calls).toBeGreaterThanOrEqual(curve[i - 1]!.calls);
  });

  it('scripted: with fitted per-agent thresholds each tier is judged against its own, and the curve comes first in the trace', async () => {
    const fitted = fitCascade(items, 3, 'token', 0.6).state as CascadeState;
    const state: CascadeState = { ...fitted, thresholds: [0.8, 0.5, null] };
    const probs = [0.7, 0.5, 0.9];
    const engine = new ScriptedEngine((_r, i) => words(`answer ${i + 10}`, Math.log(probs[i]!)));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 3, 0), fitted: state });
    expect(events[1]).toMatchObject({ type: 'curve', points: fitted.curve, chosen: fitted.chosen });
    const routes = ofType(events, 'route');
    expect(routes.map((r) => [r.from, r.decision, r.threshold])).toEqual([['a1', 'defer', 0.8], ['a2', 'accept', 0.5]]);
    expect(routes[1]!.confidence).toBeCloseTo(0.5, 12);
    expect(only(events, 'final')).toMatchObject({ answer: '11', agent: 'a2' });
  });

  it('scripted: "just ask" — each tier is asked after its answer, the stated number is its confidence, the last tier is not asked', async () => {
    const asks: string[] = [];
    const e2 = new ScriptedEngine((req) => {
      if (lastUser(req) !== ASK_CONFIDENCE) return words('The answer is 5.', Math.log(0.95));
      asks.push(req.messages.map((m) => m.role).join(','));
      return words(['30', '50'][asks.length - 1] ?? 'no idea');
    });
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(e2, 3, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    expect(asks).toEqual(['user,assistant,user', 'user,assistant,user']);
    expect(e2.calls.map((c) => c.caller)).toEqual(['a1', 'a1', 'a2', 'a2']);
    expect(e2.calls[1]!.request.max_tokens).toBe(6);
    expect(e2.calls[1]!.request.messages[1]).toEqual({ role: 'assistant', content: 'The answer is 5.' });
    const routes = ofType(events, 'route');
    expect(routes.map((r) => [r.from, r.decision, r.confidence, r.threshold])).toEqual([['a1', 'defer', 0.3, 0.5], ['a2', 'accept', 0.5, 0.5]]);
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(['answer', 'confidence', 'answer', 'confidence']);
    expect(only(events, 'final').agent).toBe('a2');
    // The cost model's bound (2N − 1 when asking) is what a run where every tier defers makes.
    const unsure = new ScriptedEngine((req) => words(lastUser(req) === ASK_CONFIDENCE ? '10' : 'The answer is 5.', Math.log(0.95)));
    const all = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(unsure, 3, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    expect(only(all, 'usage').calls).toBe(getStrategy('cascade').meta.cost!.calls(3, { confidence: 'ask' }));
    expect(only(all, 'usage').calls).toBe(5);
    expect(ofType(all, 'route').at(-1)).toMatchObject({ from: 'a3', decision: 'accept', reason: 'this is the last agent: accept its answer (the last agent is not asked its confidence)' });
    expect(getStrategy('cascade').meta.cost!.calls(3, {})).toBe(3);
  });

  it('scripted: the dev search for "just ask" runs every tier on every dev item and fits each agent’s median stated confidence', async () => {
    const said = new Map<string, string>([['Q1', '20'], ['Q2', '40'], ['Q3', '90']]);
    const engine = new ScriptedEngine((req) => {
      const q = req.messages[0]!.content;
      if (lastUser(req) !== ASK_CONFIDENCE) return words(`answer to ${q}`, Math.log(0.5));
      // Tier 2 (temperature 0.1) says half of what tier 1 says.
      const c = Number(said.get(q));
      return words(String(req.temperature === 0.1 ? c / 2 : c));
    });
    const agents = agentsOn(engine, 2, 0).map((a, i) => ({ ...a, temperature: i === 0 ? 0 : 0.1 }));
    const evidence = dev([['Q1', [0, 1]], ['Q2', [1, 1]], ['Q3', [1, 0]]]);
    const sctx: SearchContext = {
      agents: 2,
      knobs: { confidence: 'ask', threshold: 0.6 },
      seed: 1,
      signal: new AbortController().signal,
      dev: evidence,
      progress: () => {},
      evaluate: async (state, onItem) => {
        for (const [i, it] of evidence.items.entries()) {
          const trace: TraceEvent[] = await collectRun({ ...base, prompt: it.prompt, strategy: 'cascade', agents, knobs: { confidence: 'ask' }, fitted: state });
          onItem?.(i, trace);
        }
        return 0;
      },
    };
    const fitted = await cascade.search!(sctx);
    const state = fitted.state as CascadeState;
    expect(state.mode).toBe('ask');
    expect(state.thresholds).toEqual([0.4, 0.2]);
    // Every tier answered and was asked on every dev item: 3 items × 2 tiers × 2 calls.
    expect(engine.calls).toHaveLength(12);
    expect(fitted.note).toMatch(/^per-agent thresholds = median of each agent's self-assessed confidence on 3 dev items: a1 0\.4, a2 0\.2/);
    // With token confidence the search calls no model: the member evidence has the confidences.
    const tokenFit = await cascade.search!({ ...sctx, knobs: {}, dev: dev([['Q1', [1, 0], [0.3, 0.8]]]) });
    expect((tokenFit.state as CascadeState).thresholds).toEqual([0.3, 0.8]);
    expect(engine.calls).toHaveLength(12);
  });
});
