// Structured interaction (src/lib/strategies/structure.ts) on scripted engines: each named topology's
// edges, the custom matrix's checks, one message per edge per round (`sees`), agents without
// in-neighbours keep their answer, calls = meta.cost.calls, seeds, the final answer's rule, refusal
// before any call, cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { adjacency, parseMatrix, structure, updatePrompt, type Topology } from '../../src/lib/strategies/structure.ts';
import { checkKnob, parseKnobString, resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, cancelAtFirstToken, expectRefused, ofType, only, shownIn, starts, texts } from './strategy-text.helpers.ts';

/** The edges "i>j" (1-based) of a topology. */
const edgesOf = (n: number, t: Topology, matrix = '') => adjacency(n, t, matrix).flatMap((row, i) => row.flatMap((on, j) => (on ? [`${i + 1}>${j + 1}`] : [])));
const both = (pairs: [number, number][]) => pairs.flatMap(([a, b]) => [`${a}>${b}`, `${b}>${a}`]).sort();

/** Per round ≥ 2: the `sees` entries that are another agent's answer, as "from>to" (1-based agent numbers). */
function messagesAlongEdges(events: TraceEvent[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const m of ofType(events, 'message-start')) {
    if (m.round < 2) continue;
    const to = m.agent.slice(1);
    const along = (m.sees ?? []).filter((id) => !id.startsWith(`${m.agent}.`)).map((id) => `${id.split('.')[0]!.slice(1)}>${to}`);
    out.set(m.round, [...(out.get(m.round) ?? []), ...along].sort());
  }
  return out;
}

describe('topologies', () => {
  it('chain, circle and complete link neighbours both ways', () => {
    expect(edgesOf(4, 'chain').sort()).toEqual(both([[1, 2], [2, 3], [3, 4]]));
    expect(edgesOf(4, 'circle').sort()).toEqual(both([[1, 2], [2, 3], [3, 4], [4, 1]]));
    expect(edgesOf(3, 'complete').sort()).toEqual(both([[1, 2], [1, 3], [2, 3]]));
  });

  it('tree is binary with agent 1 the root; star is MoCo’s wheel (hub 1, the others in a ring)', () => {
    expect(edgesOf(5, 'tree').sort()).toEqual(both([[1, 2], [1, 3], [2, 4], [2, 5]]));
    expect(edgesOf(5, 'star').sort()).toEqual(both([[1, 2], [1, 3], [1, 4], [1, 5], [2, 3], [3, 4], [4, 5], [5, 2]]));
    expect(edgesOf(2, 'star').sort()).toEqual(both([[1, 2]]));
  });

  it('custom: row i, column j = 1 is an edge i → j', () => {
    expect(edgesOf(3, 'custom', '0 1 0; 0 0 1; 1 0 0')).toEqual(['1>2', '2>3', '3>1']);
    expect(edgesOf(3, 'custom', '0,1,1\n0,0,0\n0,0,0')).toEqual(['1>2', '1>3']);
  });

  it('custom: a bad matrix is refused naming the row, the column and the fix', () => {
    expect(() => parseMatrix('0 1; 1 0', 3)).toThrow(/has 2 row\(s\) but the setup has 3 agents: write 3 rows of 3 zeros and ones/);
    expect(() => parseMatrix('0 1 0; 0 0; 1 0 0', 3)).toThrow(/row 2 has 2 entries, not 3/);
    expect(() => parseMatrix('0 1 0; 0 0 2; 1 0 0', 3)).toThrow(/row 2, column 3 is "2", not 0 or 1/);
    expect(() => parseMatrix('0 1 0; 0 1 1; 1 0 0', 3)).toThrow(/row 2, column 2 is 1, a link from agent 2 to itself: put 0 on the diagonal/);
  });
});

describe('structure runs', () => {
  it('scripted: circle of 4, 3 rounds — one message per edge per round, each showing the neighbour’s latest answer', async () => {
    const { agents, engines } = agentsEach(4, (_a, req) => bySeed(req));
    const knobs = { topology: 'circle', rounds: 3, final: 'vote', answerType: 'text' };
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs });
    const calls = engines.reduce((s, e) => s + e.calls.length, 0);
    expect(calls).toBe(12);
    expect(structure.meta.cost!.calls(4, resolveKnobs(structure.meta, knobs).knobs)).toBe(calls);
    const edges = edgesOf(4, 'circle').sort();
    const along = messagesAlongEdges(events);
    expect([...along.keys()]).toEqual([2, 3]);
    expect(along.get(2)).toEqual(edges);
    expect(along.get(3)).toEqual(edges);
    const byId = starts(events);
    const text = texts(events);
    // Agent 2 in round 3: its own round-2 answer, then agents 1 and 3's round-2 answers; agent 4's is not shown.
    const m = byId.get('a2.r3.s0')!;
    expect(m.sees).toEqual(['a2.r2.s0', 'a1.r2.s0', 'a3.r2.s0']);
    expect(m.messages.at(-2)).toEqual({ role: 'assistant', content: text.get('a2.r2.s0') });
    expect(m.messages.at(-1)!.content).toBe(updatePrompt(base.prompt, [text.get('a1.r2.s0')!, text.get('a3.r2.s0')!]));
    expect(shownIn(m)).not.toContain(text.get('a4.r2.s0')!);
    expect(shownIn(m)).not.toContain(text.get('a1.r1.s0')!);
    const seeds = engines.flatMap((e) => e.calls.map((c) => c.request.seed)).sort();
    expect(seeds).toEqual([0, 1, 2, 3].flatMap((a) => [1, 2, 3].map((r) => callSeed(42, a, r, 0))).sort());
    expect(new Set(seeds).size).toBe(12);
    expect(only(events, 'vote').round).toBe(3);
  });

  it('scripted: directed custom matrix — an agent with no in-neighbour is not called again and its answer stays what others see', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req));
    const knobs = { topology: 'custom', matrix: '0 1 0; 0 0 1; 0 0 0', rounds: 3, final: 'agent', finalAgent: 3 };
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 3, 3]);
    expect(structure.meta.cost!.calls(3, resolveKnobs(structure.meta, knobs).knobs)).toBe(7);
    const byId = starts(events);
    expect(byId.get('a2.r2.s0')!.sees).toEqual(['a2.r1.s0', 'a1.r1.s0']);
    expect(byId.get('a3.r2.s0')!.sees).toEqual(['a3.r1.s0', 'a2.r1.s0']);
    expect(byId.get('a2.r3.s0')!.sees).toEqual(['a2.r2.s0', 'a1.r1.s0']);
    expect(byId.get('a3.r3.s0')!.sees).toEqual(['a3.r2.s0', 'a2.r2.s0']);
    expect(messagesAlongEdges(events).get(3)).toEqual(['1>2', '2>3']);
    // Tokens bound: 7 prompts of 100 tokens, plus in rounds 2 and 3 two own answers and two edges' answers of ≤ 10 tokens.
    expect(structure.meta.cost!.tokens!(3, resolveKnobs(structure.meta, knobs).knobs, 10, 100)).toEqual({ prompt: 780, completion: 70 });
    // The sink's last answer is final.
    expect(only(events, 'final')).toMatchObject({ agent: 'a3', text: texts(events).get('a3.r3.s0') });
    expect(ofType(events, 'vote')).toHaveLength(0);
  });

  it('scripted: final by vote counts every agent’s last answer', async () => {
    const { agents } = agentsEach(3, (a) => words(a === 0 ? 'It is 5' : 'It is 4'));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'chain', rounds: 2, final: 'vote', answerType: 'number' } });
    const vote = only(events, 'vote');
    expect(vote.tally.map((t) => [t.answer, t.count])).toEqual([['4', 2], ['5', 1]]);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2' });
  });

  it('fit: the final agent is the best member on dev', () => {
    expect(structure.fit!({ agentScores: [0.1, 0.3, 0.9], items: [] }, {}).knobs).toEqual({ finalAgent: 3 });
  });

  it('scripted: an invalid custom matrix is refused before any call, naming row and column', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'custom', matrix: '0 1 0; 0 0 x; 1 0 0' } });
    expectRefused(events, engines, /row 2, column 3 is "x", not 0 or 1/);
    expect(structure.meta.cost!.calls(3, resolveKnobs(structure.meta, { topology: 'custom', matrix: 'nonsense', rounds: 2 }).knobs)).toBe(6);
  });

  it('scripted: refused before any call when an update prompt cannot fit the context', async () => {
    const { agents, engines } = agentsEach(4, (_a, req) => bySeed(req), { contextLength: 230 });
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'complete' } });
    expectRefused(events, engines, /Agent 1's update prompt \(4 text\(s\) shown.*a topology with fewer links \(now complete\)/);
  });

  it('scripted: long answers are cut to fit, with a warning, keeping their first bytes', async () => {
    const long = 'story '.repeat(60);
    const { agents } = agentsEach(2, () => words(long), { contextLength: 400 });
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'chain', rounds: 2 } });
    const warnings = ofType(events, 'error').filter((e) => /round 2: the texts shown were cut to \d+ bytes each/.test(e.message));
    expect(warnings).toHaveLength(2);
    const m = starts(events).get('a1.r2.s0')!;
    expect(m.messages.at(-2)!.content).toMatch(/^story story .*…$/);
    expect(only(events, 'final').agent).toBe('a1');
  });

  it('scripted: cancel in round 1 ends the run with no round 2 and no final', async () => {
    const { agents, engines } = agentsEach(3, () => words('word '.repeat(100)), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('structure', agents, { topology: 'complete' });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1, 1]);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('the text knob (custom matrix)', () => {
  const matrixKnob = structure.meta.knobs.find((k) => k.id === 'matrix')!;

  it('keeps text as given, and replaces a non-string or over-long value by the default with a warning', () => {
    expect(parseKnobString(matrixKnob, '0 1; 1 0')).toBe('0 1; 1 0');
    expect(checkKnob(matrixKnob, '0 1; 1 0', 'Structured interaction')).toEqual({ value: '0 1; 1 0' });
    expect(checkKnob(matrixKnob, 7, 'Structured interaction')).toEqual({ value: '0 1 0; 0 0 1; 1 0 0', warning: 'Structured interaction knob "matrix": 7 is not text; using the default "0 1 0; 0 0 1; 1 0 0"' });
    expect(checkKnob(matrixKnob, '0 '.repeat(201), 'S').warning).toMatch(/the text is 402 characters long, more than 400; using the default/);
  });
});
