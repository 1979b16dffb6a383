// The prompt router (src/lib/strategies/prompt-router.ts) at its edges: the name a model is listed
// under, reading the router's reply (ties at one place, later longer names, decimals, multi-digit
// numbers, names with spaces, empty names), the first-token scores (only whole numbers 1…N), the
// own descriptions' first sentence and its cut, the refusal's count of the texts cut, the reply as
// quoted in the route's reason, the route's score label, a router numbered past the setup, and cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { descriptionsOf, modelLabel, numberProbabilities, parseRouterChoice, shortDescription } from '../../src/lib/strategies/prompt-router.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { ScriptedEngine, agentsOn, lastUser, words, type ScriptedToken } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt } from './strategies.events.ts';

const base = { prompt: 'What is 2 + 3?', seed: 7, maxTokens: 16, strategy: 'prompt-router' };
const agent = (over: Partial<Agent>): Agent => ({ id: 'a1', name: 'Agent 1', model: 'scripted', engine: new ScriptedEngine(() => []), temperature: 0, ...over });

/** The router's call gets `reply`; every other call answers "The answer is 5.". */
function routed(reply: () => ScriptedToken[], opts: ConstructorParameters<typeof ScriptedEngine>[1] = {}) {
  return new ScriptedEngine((req) => (lastUser(req).startsWith('Models:\n') ? reply() : words('The answer is 5.', Math.log(0.9))), opts);
}

describe('prompt router: the name a model is listed under', () => {
  it('the display name after "Agent n · ", whole when it holds " · " itself, without surrounding spaces', () => {
    expect(modelLabel(agent({ name: 'Agent 1 · org · model-7b' }))).toBe('org · model-7b');
    expect(modelLabel(agent({ name: 'Agent 1 ·  m1  ' }))).toBe('m1');
  });

  it('the model id when the display name has nothing after "Agent n"', () => {
    expect(modelLabel(agent({ name: 'Agent 1', model: 'qwen-0.5b' }))).toBe('qwen-0.5b');
    expect(modelLabel(agent({ name: 'Agent 1 ·   ', model: 'qwen-0.5b' }))).toBe('qwen-0.5b');
  });

  it('scripted: agents named only "Agent n" are listed in the router’s prompt by their model ids', async () => {
    const engine = routed(() => words('2'));
    const agents = agentsOn(engine, 2, 0).map((a, i) => ({ ...a, model: ['tiny-math', 'tiny-world'][i]! }));
    const events = await collectRun({ ...base, agents });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(lastUser(engine.calls[0]!.request)).toBe('Models:\n1. tiny-math\n2. tiny-world\nQuestion: What is 2 + 3?\nWhich model (1–2) should answer? Reply with its number.');
    expect(only(events, 'route')).toMatchObject({ to: 'a2', reason: 'the router replied "2": number 2' });
  });
});

describe('prompt router: reading the reply', () => {
  it('two names at the same place: the longer wins, whichever comes first in the list', () => {
    expect(parseRouterChoice('arithmetic-specialist', ['arithmetic-specialist', 'arithmetic'])).toEqual({ index: 0, by: 'name' });
    expect(parseRouterChoice('I pick arithmetic-specialist.', ['arithmetic-specialist', 'arithmetic'])).toEqual({ index: 0, by: 'name' });
  });

  it('two names of one length at the same place (case ignored): the first in the list wins', () => {
    expect(parseRouterChoice('qwen', ['Qwen', 'qwen'])).toEqual({ index: 0, by: 'name' });
  });

  it('an earlier short name beats a later longer one', () => {
    expect(parseRouterChoice('m1, not arithmetic-specialist', ['m1', 'arithmetic-specialist'])).toEqual({ index: 0, by: 'name' });
    expect(parseRouterChoice('2, not arithmetic-specialist', ['m1', 'm2', 'arithmetic-specialist'])).toEqual({ index: 1, by: 'number' });
  });

  it('a decimal with several decimals names no model (not its integer part, not its last digit)', () => {
    expect(parseRouterChoice('2.53', ['a', 'b', 'c'].map((x) => `m-${x}`))).toBeNull();
    expect(parseRouterChoice('model 1.25', ['x', 'y', 'z'])).toBeNull();
  });

  it('a number of several digits names that model; 1 names the first', () => {
    const names = Array.from({ length: 12 }, (_, i) => `model-${String.fromCharCode(97 + i)}`);
    expect(parseRouterChoice('10', names)).toEqual({ index: 9, by: 'number' });
    expect(parseRouterChoice('model 12 please', names)).toEqual({ index: 11, by: 'number' });
    expect(parseRouterChoice('1', ['x', 'y'])).toEqual({ index: 0, by: 'number' });
  });

  it('a name is matched without its surrounding spaces; an empty name matches nothing', () => {
    expect(parseRouterChoice('use m2.', ['m1', ' M2 '])).toEqual({ index: 1, by: 'name' });
    expect(parseRouterChoice('pick 2', ['', 'b'])).toEqual({ index: 1, by: 'number' });
    expect(parseRouterChoice('none of them', ['', '  '])).toBeNull();
  });
});

describe('prompt router: first-token scores', () => {
  const first = (...alts: [string, number][]) => ({ token: alts[0]![0], logprob: Math.log(alts[0]![1]), top_logprobs: alts.map(([token, p]) => ({ token, logprob: Math.log(p) })) });

  it('only a whole number counts: "2.0", "2x" and "x2" score nothing', () => {
    const scores = numberProbabilities(first(['2.0', 0.5], ['2x', 0.2], ['x2', 0.1], [' 1', 0.125]), 3);
    expect(scores).toEqual([expect.closeTo(0.125, 12), 0, 0]);
  });

  it('a number of several digits scores its agent', () => {
    const scores = numberProbabilities(first(['10', 0.5], ['3', 0.25]), 12);
    expect(scores).toEqual([0, 0, expect.closeTo(0.25, 12), 0, 0, 0, 0, 0, 0, expect.closeTo(0.5, 12), 0, 0]);
  });

  it('numbers outside 1…N (0, N + 1) score nothing and add no entries', () => {
    const scores = numberProbabilities(first(['0', 0.5], ['4', 0.25], ['2', 0.125]), 3);
    expect(scores).toEqual([0, expect.closeTo(0.125, 12), 0]);
    expect(Object.keys(scores)).toEqual(['0', '1', '2']);
    expect(scores).toHaveLength(3);
  });
});

describe('prompt router: descriptions', () => {
  it('the first sentence of the text without its leading spaces', () => {
    expect(shortDescription('   Adds numbers. Trained 2500 steps.')).toBe('Adds numbers.');
    expect(shortDescription('\n Knows capitals!  Small.')).toBe('Knows capitals!');
  });

  it('a first sentence of exactly 160 characters is kept whole; a longer one is cut to 159 and "…", without a trailing space', () => {
    expect(shortDescription('x'.repeat(160))).toBe('x'.repeat(160));
    expect(shortDescription(`${'x'.repeat(158)} ${'y'.repeat(10)}`)).toBe(`${'x'.repeat(158)}…`);
    expect(shortDescription('x'.repeat(161))).toBe(`${'x'.repeat(159)}…`);
  });

  it('an empty or blank knob has no entries, so it is never refused (not even for no agents)', () => {
    expect(descriptionsOf([], '')).toEqual([]);
    expect(descriptionsOf([], '   ')).toEqual([]);
    expect(descriptionsOf([agent({ description: 'Own.' })], '  ')).toEqual(['Own.']);
  });

  it('scripted: the refusal counts only the texts that are cut: the question and the descriptions given', async () => {
    const engine = new ScriptedEngine(() => words('1'), { contextLength: 256 });
    const agents = agentsOn(engine, 8, 0).map((a, i) => ({ ...a, name: `Agent ${i + 1} · a-rather-long-specialist-name-${i + 1}` }));
    const events = await collectRun({ ...base, prompt: 'Q: 2 + 3 = ?\nA:', maxTokens: 8, agents });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the router Agent 1 · a-rather-long-specialist-name-1's prompt: Agent 1 · a-rather-long-specialist-name-1's 256-token context has room for only \d+ bytes of the 1 answers /) });
    const described = agents.map((a, i) => (i === 2 ? { ...a, description: 'Adds numbers.' } : a));
    const again = await collectRun({ ...base, prompt: 'Q: 2 + 3 = ?\nA:', maxTokens: 8, agents: described });
    expect(again.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/ bytes of the 2 answers /) });
  });
});

describe('prompt router: the run', () => {
  it('scripted: the route’s reason quotes the reply trimmed and cut to 80 characters', async () => {
    const long = '  2, because model 2 is the arithmetic specialist and this question asks for a sum of two small numbers.  ';
    const engine = routed(() => [{ text: long }]);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3, 0) });
    expect(only(events, 'route').reason).toBe('the router replied "2, because model 2 is the arithmetic specialist and this question asks for a sum": number 2');
  });

  it('scripted: the route names what its scores are', async () => {
    const engine = routed(() => [{ text: '1', logprob: Math.log(0.8) }]);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2, 0) });
    expect(only(events, 'route')).toMatchObject({ to: 'a1', scoreLabel: 'router’s probability of naming the model’s number first' });
  });

  it('scripted: a router numbered past the setup is refused before any call, naming the role', async () => {
    const engine = routed(() => words('1'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2, 0), knobs: { router: 3 } });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'the router is agent 3, but the setup has 2 agent(s): add an agent or choose a number from 1 to 2' });
  });

  it('scripted: cancelling during the router’s call ends the run: no route, no answer call', async () => {
    const engine = routed(() => words('2 2 2 2 2 2 2 2'), { tokenDelayMs: 5 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2, 0) }, (e) => e.type === 'message-start' && e.purpose === 'route');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(1);
    expect(ofType(events, 'route')).toHaveLength(0);
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(['route']);
  });
});
