// Structured interaction (src/lib/strategies/structure.ts) at its edges: the custom matrix's parser
// (the example in its fix, empty rows, commas with spaces, no matrix at all), the named topologies
// as whole boolean matrices (one agent, a star of one), the round labels (edges counted), the
// refusal's advice, which agents' update prompts are checked before any call (not with one round,
// not an agent without in-neighbours), the final agent's number, and a vote when an agent's every
// call failed. Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { adjacency, parseMatrix } from '../../src/lib/strategies/structure.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { ScriptedEngine, words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, expectRefused, ofType, only, starts } from './strategy-text.helpers.ts';

const F = false;
const T = true;

describe('structure: the custom matrix parser', () => {
  it('a wrong row count names the fix with a ring example for the setup’s size', () => {
    expect(() => parseMatrix('0 1', 3)).toThrow(
      'the custom matrix has 1 row(s) but the setup has 3 agents: write 3 rows of 3 zeros and ones, rows separated by ";" (e.g. "0 1 0; 0 0 1; 1 0 0")',
    );
    expect(() => parseMatrix('0 1 0', 4)).toThrow('(e.g. "0 1 0 0; 0 0 1 0; 0 0 0 1; 1 0 0 0")');
  });

  it('a wrong entry count and a bad entry carry the same fix', () => {
    expect(() => parseMatrix('0 1; 1', 2)).toThrow('the custom matrix\'s row 2 has 1 entries, not 2: write 2 rows of 2 zeros and ones, rows separated by ";" (e.g. "0 1; 1 0")');
  });

  it('empty rows (a trailing ";", a blank line, ";;") are skipped, not counted', () => {
    expect(parseMatrix('0 1; 1 0;', 2)).toEqual([[F, T], [T, F]]);
    expect(parseMatrix('0 1;;1 0', 2)).toEqual([[F, T], [T, F]]);
    expect(parseMatrix('0 1\n\n1 0\n', 2)).toEqual([[F, T], [T, F]]);
  });

  it('entries may be separated by a comma and spaces, or several spaces', () => {
    expect(parseMatrix('0, 1, 0; 0,  0, 1; 1 ,0 ,0', 3)).toEqual([[F, T, F], [F, F, T], [T, F, F]]);
    expect(parseMatrix('0    1; 1\t0', 2)).toEqual([[F, T], [T, F]]);
  });

  it('the custom topology without a matrix is an empty matrix: refused as 0 rows', () => {
    expect(() => adjacency(2, 'custom')).toThrow('the custom matrix has 0 row(s) but the setup has 2 agents');
  });
});

describe('structure: named topologies as whole matrices', () => {
  it('chain of 3: exactly the neighbours, false elsewhere (never undefined)', () => {
    expect(adjacency(3, 'chain')).toEqual([[F, T, F], [T, F, T], [F, T, F]]);
  });

  it('complete of 3: every pair but the diagonal', () => {
    expect(adjacency(3, 'complete')).toEqual([[F, T, T], [T, F, T], [T, T, F]]);
  });

  it('one agent: no links for any topology, the star’s ring link to a missing agent is skipped', () => {
    for (const t of ['chain', 'tree', 'star', 'circle', 'complete'] as const) expect(adjacency(1, t), t).toEqual([[F]]);
  });
});

describe('structure: round labels count the edges', () => {
  it('scripted: chain of 3, 3 rounds — 4 directed edges per update round', async () => {
    const { agents } = agentsEach(3, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'chain', rounds: 3 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Round 1: answers'],
      [2, "Round 2: 4 message(s) along the chain graph's edges"],
      [3, "Round 3: 4 message(s) along the chain graph's edges"],
    ]);
  });

  it('scripted: a directed custom matrix of 2 edges', async () => {
    const { agents } = agentsEach(3, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'custom', matrix: '0 1 0; 0 0 1; 0 0 0', rounds: 2, finalAgent: 3 } });
    expect(ofType(events, 'round').map((r) => r.label)).toEqual(['Round 1: answers', "Round 2: 2 message(s) along the custom graph's edges"]);
  });
});

/** Agents a1…an, agent i on an engine of context `contexts[i]`, each answering by its seed. */
function agentsWithContexts(contexts: number[]): { agents: Agent[]; engines: ScriptedEngine[] } {
  const engines = contexts.map((contextLength) => new ScriptedEngine((req) => bySeed(req), { contextLength }));
  return { agents: engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 })), engines };
}

describe('structure: the update prompts checked before any call', () => {
  it('scripted: 2 rounds that cannot fit are refused before any call, with every piece of advice', async () => {
    // A first answer fits 200 tokens; an update showing two texts does not.
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req), { contextLength: 200 });
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'chain', rounds: 2 } });
    expectRefused(events, engines, /^Agent 1's update prompt \(2 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens/);
    expect((events.at(-1) as { message: string }).message).toMatch(
      / — fewer rounds \(now 2; 1 = no updates\), a topology with fewer links \(now chain\), a smaller max tokens \(now 32\), or a shorter prompt \(reloading the model does not help/,
    );
  });

  it('scripted: one round makes no update, so no update prompt is checked — the answers alone run', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req), { contextLength: 200 });
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'chain', rounds: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1]);
    expect(ofType(events, 'round').map((r) => r.label)).toEqual(['Round 1: answers']);
    expect(only(events, 'final').agent).toBe('a1');
  });

  it('scripted: an agent without in-neighbours is never updated, so its small context is not checked for an update', async () => {
    // a1 → a2: a1 only answers (fits 250 tokens); an update prompt on a1 would not fit.
    const { agents, engines } = agentsWithContexts([250, 2000]);
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'custom', matrix: '0 1; 0 0', rounds: 3, finalAgent: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 3]);
    expect(starts(events).get('a2.r3.s0')!.sees).toEqual(['a2.r2.s0', 'a1.r1.s0']);
    expect(ofType(events, 'error')).toHaveLength(0);
  });
});

describe('structure: the final answer', () => {
  it('scripted: a final agent past the setup is refused naming the role', async () => {
    const { agents, engines } = agentsEach(3, (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { final: 'agent', finalAgent: 4 } });
    expectRefused(events, engines, /^The final agent is agent 4, but the setup has 3 agent\(s\): add an agent or choose a number from 1 to 3$/);
  });

  it('scripted: a vote counts only the agents that have an answer (one agent’s every call failed)', async () => {
    const { agents } = agentsEach(3, (a) => (a === 2 ? new Error('out of memory') : words(a === 0 ? 'It is 7' : 'It is 9')));
    const events = await collectRun({ ...base, strategy: 'structure', agents, knobs: { topology: 'complete', rounds: 2, final: 'vote', answerType: 'number' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const vote = only(events, 'vote');
    expect(vote.ballots.map((b) => [b.agent, b.answer])).toEqual([['a1', '7'], ['a2', '9']]);
    expect(vote.round).toBe(2);
    expect(only(events, 'final')).toMatchObject({ answer: '7', agent: 'a1' });
  });
});
