// Heterogeneous swarms (src/lib/strategies/hswarm.ts) at their edges: fitted states that are not a
// DAG for this setup (null, another size, edges that are no list, an end that is no number) fall
// back to the knob's fixed graph; every wave's label; the checks before any call (only nodes with
// in-edges, "final answer" only for the end node, at exactly the limit and one token over, the
// whole refusal with its advice); and the dev search's own seed, its iteration limit, its early
// stop and its cancel. Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { searchDag } from '../../src/lib/strategies/hswarm.ts';
import { ParticleSwarm, decodeDag, type Dag } from '../../src/lib/strategies/swarm.ts';
import { fnv1a } from '../../src/lib/random.ts';
import type { Agent, SearchContext, SearchStep } from '../../src/lib/strategies/types.ts';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { ScriptedEngine, lastUser, words, type ScriptedToken } from './strategies.scripted.ts';
import { base, expectRefused, ofType, only } from './strategy-text.helpers.ts';

const bytes = (s: string) => new TextEncoder().encode(s).length;
const X = 'x'.repeat(32);
const RELOAD = '(reloading the model does not help: its context size is fixed by the file)';

/** Agents a1…an on their own engines, each with its own context length (undefined = unknown). */
function agentsWith(contexts: (number | undefined)[], script: (agent: number, req: ChatRequest) => ScriptedToken[] | Error = () => words('Answer: 4')) {
  const engines = contexts.map((contextLength, a) => new ScriptedEngine((req) => script(a, req), contextLength !== undefined ? { contextLength } : {}));
  const agents: Agent[] = engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 }));
  return { agents, engines };
}

const CHAIN_LABELS = [
  [1, 'Graph a1 → a2, a2 → a3 (end a3), the fixed chain (no dev search here). Wave 1: Agent 1'],
  [2, 'Wave 2: Agent 2'],
  [3, 'Wave 3: Agent 3'],
];

describe('hswarm: which graph runs', () => {
  it('scripted: the chain’s waves are labelled one by one, the graph and its source in the first only', async () => {
    const { agents } = agentsWith([undefined, undefined, undefined]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual(CHAIN_LABELS);
  });

  it('scripted: fan-in names both agents of its first wave and says it is the fixed fan-in', async () => {
    const { agents } = agentsWith([undefined, undefined, undefined]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: { graph: 'fan-in' } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Graph a1 → a3, a2 → a3 (end a3), the fixed fan-in (no dev search here). Wave 1: Agent 1, Agent 2'],
      [2, 'Wave 2: Agent 3'],
    ]);
  });

  const notADag: [string, unknown][] = [
    ['null', null],
    ['a DAG for 2 agents', { n: 2, edges: [[1, 0]], end: 0 }],
    ['edges that are no list', { n: 3, edges: 'a1 → a3', end: 2 }],
    ['an end that is no number', { n: 3, edges: [[1, 0], [2, 0]], end: '0' }],
  ];
  for (const [what, fitted] of notADag) {
    it(`scripted: a fitted state with ${what} is not used: the fixed chain runs`, async () => {
      const { agents } = agentsWith([undefined, undefined, undefined]);
      const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {}, fitted });
      expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
      expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual(CHAIN_LABELS);
      expect(ofType(events, 'message-start').map((m) => [m.msgId, m.sees])).toEqual([
        ['a1.r1.s0', undefined],
        ['a2.r2.s0', ['a1.r1.s0']],
        ['a3.r3.s0', ['a2.r2.s0']],
      ]);
    });
  }
});

describe('hswarm: the checks before any call', () => {
  it('scripted: a node without in-edges is not checked for showing responses (its plain question fits exactly)', async () => {
    // Agent 1 starts the chain: its question needs 8 + 16 + 12 = 36 tokens, plus max tokens 32.
    const { agents, engines } = agentsWith([36 + 32, undefined, undefined]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([1, 1, 1]);
  });

  // Node 2 of a chain of 3 is not the end: its check has no "Give a final answer.".
  const middle = `Earlier responses:\n\nNode 1: \`\`\`${X}\`\`\`\n\nUse them if they help; ignore wrong ones.\n\nWhat is 2+2?`;
  const needMiddle = 8 + 16 + bytes(middle);

  it('scripted: a middle node that fits exactly runs, and is not asked for a final answer', async () => {
    const { agents, engines } = agentsWith([undefined, needMiddle + 32, undefined]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(lastUser(engines[1]!.calls[0]!.request)).toBe('Earlier responses:\n\nNode 1: ```Answer: 4```\n\nUse them if they help; ignore wrong ones.\n\nWhat is 2+2?');
  });

  it('scripted: one token over, the middle node is refused before any call', async () => {
    const { agents, engines } = agentsWith([undefined, needMiddle + 31, undefined]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expectRefused(events, engines, /^node 2 \(1 responses shown, at least 32 bytes each\) needs up to/);
  });

  it('scripted: the whole refusal for the fan-in’s end node, with the advice to use a chain', async () => {
    const end = `Earlier responses:\n\nNode 1: \`\`\`${X}\`\`\`\n\nNode 2: \`\`\`${X}\`\`\`\n\nNode 3: \`\`\`${X}\`\`\`\n\nUse them if they help; ignore wrong ones. Give a final answer.\n\nWhat is 2+2?`;
    const need = 8 + 16 + bytes(end);
    const { agents, engines } = agentsWith([undefined, undefined, undefined, need + 39]);
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, maxTokens: 40, knobs: { graph: 'fan-in' } });
    expectRefused(events, engines, /^node 4/);
    expect((events.at(-1) as { message: string }).message).toBe(
      `node 4 (3 responses shown, at least 32 bytes each) needs up to ${need} tokens and max tokens is 40: ${need + 40} in all, more than scripted's ${need + 39}-token context — ` +
        `lower max tokens to 39 or less, or use fewer agents (now 4), the fan-in graph sends every answer to one node: a chain shows one, a smaller max tokens (now 40), or a shorter prompt ${RELOAD}`,
    );
    expect(only(events, 'run-start').strategy).toBe('hswarm');
  });
});

describe('hswarm: responses cut to fit', () => {
  it('scripted: a node shown a response cut to fit gets it shortened, and the trace says so (as debate does)', async () => {
    // Node 2 (the end of a chain of 2) with an empty response shown: 8 + 16 + its bytes; 40 bytes of room on top.
    const empty = 'Earlier responses:\n\nNode 1: ``````\n\nUse them if they help; ignore wrong ones. Give a final answer.\n\nWhat is 2+2?';
    const long = `Node one says ${'z'.repeat(60)} so 4`;
    const { agents, engines } = agentsWith([undefined, 32 + 8 + 16 + bytes(empty) + 40], (a) => words(a === 0 ? long : 'Answer: 4'));
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'error').map((e) => [e.agent, e.fatal, e.message])).toEqual([
      ['a2', false, 'node 2: the responses shown were cut to 40 bytes each (their first bytes, then "…") to fit the context with max tokens 32'],
    ]);
    expect(lastUser(engines[1]!.calls[0]!.request)).toBe(`Earlier responses:\n\nNode 1: \`\`\`${long.slice(0, 37)}…\`\`\`\n\nUse them if they help; ignore wrong ones. Give a final answer.\n\nWhat is 2+2?`);
  });

  it('scripted: nothing cut, no warning', async () => {
    const { agents } = agentsWith([undefined, undefined, undefined], () => words('Answer: 4'));
    const events = await collectRun({ ...base, strategy: 'hswarm', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'error')).toEqual([]);
  });
});

describe('hswarm: the dev search', () => {
  function search(knobs: Record<string, number>, score: (dag: Dag) => number, seed = 42, signal = new AbortController().signal) {
    const seen: Dag[] = [];
    const steps: SearchStep[] = [];
    const sctx: SearchContext = {
      agents: 3, knobs, seed, signal, dev: { agentScores: [], items: [] },
      evaluate: (s) => {
        seen.push(s as Dag);
        return Promise.resolve(score(s as Dag));
      },
      progress: (s) => steps.push(s),
    };
    return { run: () => searchDag(sctx), seen, steps };
  }

  it('the first iteration tries the particles of a swarm seeded by seed ^ fnv1a("hswarm"), each distinct graph once', async () => {
    const s = search({ population: 6, iterations: 1 }, () => 0.5);
    await s.run();
    const swarm = new ParticleSwarm({ dimension: 9, population: 6, seed: (42 ^ fnv1a('hswarm')) >>> 0 });
    const decoded = swarm.particles.map((p) => decodeDag(p, 3));
    const distinct = decoded.filter((d, i) => decoded.findIndex((e) => JSON.stringify(e) === JSON.stringify(d)) === i);
    expect(s.seen).toEqual(distinct);
  });

  it('runs exactly `iterations` iterations when that is fewer than the swarm’s patience allows', async () => {
    // A constant score stalls the swarm only after its 6th iteration.
    const s = search({ population: 2, iterations: 3 }, () => 0.5);
    await s.run();
    expect(s.steps.map((st) => st.iteration)).toEqual([1, 2, 3]);
  });

  it('stops early once the best has not improved for the swarm’s patience (5): the 6th iteration is the last', async () => {
    const s = search({ population: 2, iterations: 20 }, () => 0.5);
    const fitted = await s.run();
    expect(s.steps.map((st) => st.iteration)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fitted.note).toMatch(/mean dev score 0\.500;/);
  });

  it('a cancelled search rejects with an AbortError before running any graph', async () => {
    const controller = new AbortController();
    controller.abort();
    const s = search({ population: 2, iterations: 2 }, () => 0.5, 42, controller.signal);
    await expect(s.run()).rejects.toMatchObject({ name: 'AbortError', message: 'the search was cancelled' });
    expect(s.seen).toEqual([]);
  });
});

