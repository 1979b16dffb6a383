// Heterogeneous swarms: the DAG decode and the particle swarm (pure, seeded), the DAG's execution
// (who sees which node's response, in which wave, the end node's answer), the fixed playground
// graphs, the cost model against a scripted run, refusal before any call, cancel, and the dev
// search with candidates really run through the strategy on scripted engines.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun, runStrategy } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { hswarm, searchDag } from '../../src/lib/strategies/hswarm.ts';
import { ParticleSwarm, decodeDag, fixedDag, topologicalOrder, waves, type Dag } from '../../src/lib/strategies/swarm.ts';
import type { DevEvidence, SearchStep } from '../../src/lib/strategies/types.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const ofType = <T extends TraceEvent['type']>(events: TraceEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);
const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'hswarm' };
/** The member evidence a search also gets; the DAG search does not read it. */
const NO_EVIDENCE: DevEvidence = { agentScores: [], items: [] };

describe('swarm: DAG decode and order', () => {
  it('decodes weights greedily: end = least out-weight, then the heaviest sender joins its heaviest placed target', () => {
    const w = [
      [0, 0.5, 0.9],
      [0.2, 0, 0.1],
      [0.8, 0.7, 0],
    ].flat();
    const dag = decodeDag(w, 3);
    expect(dag).toEqual({ n: 3, end: 1, edges: [[2, 1], [0, 2]] });
    expect(topologicalOrder(dag)).toEqual([0, 2, 1]);
    expect(waves(dag)).toEqual([[0], [2], [1]]);
  });

  it('ignores the diagonal and skips a zero out-weight when choosing the end', () => {
    const w = [
      [9, 0, 0],
      [0.1, 9, 0.3],
      [0.6, 0.2, 9],
    ].flat();
    expect(decodeDag(w, 3)).toEqual({ n: 3, end: 1, edges: [[2, 1], [0, 1]] });
  });

  it('every decoded graph is a tree into its end node', () => {
    const swarm = new ParticleSwarm({ dimension: 16, population: 20, seed: 7 });
    for (const p of swarm.particles) {
      const dag = decodeDag(p, 4);
      expect(dag.edges).toHaveLength(3);
      expect(topologicalOrder(dag).at(-1)).toBe(dag.end);
      expect(dag.edges.every(([f, t]) => f !== t)).toBe(true);
    }
  });

  it('fixed graphs: chain and fan-in', () => {
    expect(fixedDag('chain', 3)).toEqual({ n: 3, edges: [[0, 1], [1, 2]], end: 2 });
    expect(waves(fixedDag('fan-in', 3))).toEqual([[0, 1], [2]]);
  });

  it('the swarm climbs a simple objective and is the same for the same seed', () => {
    const target = [0.5, -0.5, 0.25, 0];
    const score = (x: number[]) => -x.reduce((s, v, i) => s + (v - target[i]!) ** 2, 0);
    const run = (seed: number) => {
      const swarm = new ParticleSwarm({ dimension: 4, population: 8, seed, patience: 100, restartPatience: 100 });
      const first = Math.max(...swarm.particles.map(score));
      for (let i = 0; i < 40; i++) swarm.update(swarm.particles.map(score));
      return { first, best: swarm.globalBestScore, at: swarm.globalBest };
    };
    const a = run(3);
    expect(a.best).toBeGreaterThan(a.first);
    expect(run(3)).toEqual(a);
    expect(run(4).at).not.toEqual(a.at);
  });

  it('stops when the global best has not improved for `patience` iterations', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 3, seed: 1, patience: 3 });
    expect([1, 2, 3, 4].map(() => swarm.update([0, 0, 0]))).toEqual([false, false, false, true]);
  });
});

describe('hswarm: running a DAG', () => {
  const echo = () => new ScriptedEngine((req) => words(`node says ${req.seed} Answer: ${req.seed}`));

  it('is registered with a cost model, needs dev, level text', () => {
    expect(getStrategy('hswarm').meta).toMatchObject({ level: 'text', needs: { minAgents: 2, dev: true } });
    expect(hswarm.meta.cost?.calls(4, {})).toBe(4);
  });

  it('scripted: the chain runs a1, a2, a3 in turn; each sees its in-edge; the end node’s answer is final', async () => {
    const engine = echo();
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { answerType: 'number' } });
    expect(engine.calls).toHaveLength(hswarm.meta.cost!.calls(3, {}));
    const starts = ofType(events, 'message-start');
    expect(starts.map((s) => [s.msgId, s.sees])).toEqual([
      ['a1.r1.s0', undefined],
      ['a2.r2.s0', ['a1.r1.s0']],
      ['a3.r3.s0', ['a2.r2.s0']],
    ]);
    expect(engine.calls.map((c) => c.request.seed)).toEqual([0, 1, 2].map((i) => callSeed(42, i, i + 1, 0)));
    const texts = ofType(events, 'message-end').map((m) => m.text);
    expect(lastUser(engine.calls[0]!.request)).toBe('What is 2+2?');
    expect(lastUser(engine.calls[1]!.request)).toContain(`Node 1: \`\`\`${texts[0]}\`\`\``);
    expect(lastUser(engine.calls[1]!.request)).not.toContain('final answer');
    expect(lastUser(engine.calls[1]!.request).endsWith('What is 2+2?')).toBe(true);
    expect(lastUser(engine.calls[2]!.request)).toContain(`Node 2: \`\`\`${texts[1]}\`\`\``);
    expect(lastUser(engine.calls[2]!.request)).not.toContain('node 1:');
    expect(lastUser(engine.calls[2]!.request)).toContain('Give a final answer.');
    expect(ofType(events, 'round')[0]!.label).toMatch(/the fixed chain \(no dev search here\)/);
    expect(ofType(events, 'final')[0]).toMatchObject({ agent: 'a3', answer: String(callSeed(42, 2, 3, 0)), text: texts[2] });
  });

  it('scripted: fan-in asks a1 and a2 at once, then a3 sees both', async () => {
    const engine = echo();
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { graph: 'fan-in' } });
    const starts = ofType(events, 'message-start');
    expect(starts.map((s) => [s.msgId, s.sees])).toEqual([
      ['a1.r1.s0', undefined],
      ['a2.r1.s0', undefined],
      ['a3.r2.s0', ['a1.r1.s0', 'a2.r1.s0']],
    ]);
  });

  it('scripted: a DAG from the dev search (ctx.fitted) is run instead of the knob’s', async () => {
    const engine = echo();
    const found: Dag = { n: 3, edges: [[2, 0], [1, 0]], end: 0 };
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), fitted: found });
    expect(ofType(events, 'message-start').map((s) => [s.msgId, s.sees])).toEqual([
      ['a2.r1.s0', undefined],
      ['a3.r1.s0', undefined],
      ['a1.r2.s0', ['a3.r1.s0', 'a2.r1.s0']],
    ]);
    expect(ofType(events, 'round')[0]!.label).toMatch(/a3 → a1, a2 → a1 \(end a1\), found on dev/);
    expect(ofType(events, 'final')[0]).toMatchObject({ agent: 'a1' });
  });

  it('scripted: a fan-in of 3 fits the pool’s 256-token context with a pool prompt (max tokens 16)', async () => {
    const engine = new ScriptedEngine((req) => words(`${'y'.repeat(60)} ${req.seed}`), { contextLength: 256 });
    const events = await collectRun({ ...base, prompt: 'Q: 79 - 36 = ?\nA:', agents: agentsOn(engine, 3), maxTokens: 16, knobs: { graph: 'fan-in' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(3);
  });

  it('scripted: refuses before any call when the end node cannot show every response', async () => {
    const engine = new ScriptedEngine(() => words('4'), { contextLength: 200 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 4), maxTokens: 40, knobs: { graph: 'fan-in' } });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    expect((events.at(-1) as Of<'run-end'>).message).toMatch(/node 4 \(3 responses shown/);
  });

  it('scripted: cancel in the first wave runs no later node', async () => {
    const engine = new ScriptedEngine(() => words('one two three four five'), { tokenDelayMs: 5 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, agents: agentsOn(engine, 3), signal: controller.signal })) {
      events.push(e);
      if (e.type === 'token') controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(1);
  });
});

describe('hswarm: the particle-swarm search on dev', () => {
  // Dev items, and agents whose answers depend on what they are shown: a1 answers right alone,
  // a2 and a3 wrong alone; a3 repeats the first response it is shown. So graphs ending at a1, or
  // at a3 fed by a1 first, are right.
  const dev = [
    { prompt: 'What is 2+2?', expected: '4' },
    { prompt: 'What is 3+1?', expected: '4' },
  ];
  function engine() {
    return new ScriptedEngine((req) => {
      const user = lastUser(req);
      const me = req.messages.find((m) => m.role === 'system')?.content ?? '';
      if (me === 'a1') return words('Answer: 4');
      const shown = /Node \d+: ```([^`]*)```/.exec(user);
      if (me === 'a3' && shown) return words(shown[1]!);
      return words('Answer: 5');
    });
  }
  function setup() {
    const e = engine();
    const agents = agentsOn(e, 3);
    agents.forEach((a) => (a.system = a.id));
    const evaluate = async (state: unknown) => {
      let right = 0;
      for (const item of dev) {
        const events = await collectRun({ ...base, prompt: item.prompt, agents, fitted: state, knobs: { answerType: 'number' } });
        if (ofType(events, 'final')[0]?.answer === item.expected) right += 1;
      }
      return right / dev.length;
    };
    return { e, evaluate };
  }

  it('scripted: runs each distinct candidate graph on dev once, reports every iteration, and returns the best', async () => {
    const { e, evaluate } = setup();
    const seen: unknown[] = [];
    const steps: SearchStep[] = [];
    const fitted = await searchDag({
      agents: 3, knobs: { population: 5, iterations: 4 }, seed: 42, signal: new AbortController().signal, dev: NO_EVIDENCE,
      evaluate: (s) => { seen.push(s); return evaluate(s); },
      progress: (s) => steps.push(s),
    });
    expect(steps.length).toBeGreaterThanOrEqual(1);
    expect(steps.length).toBeLessThanOrEqual(4);
    steps.forEach((s, i) => {
      expect(s.iteration).toBe(i + 1);
      expect(s.scores).toHaveLength(5);
      expect(s.best).toBe(Math.max(...steps.slice(0, i + 1).flatMap((x) => x.scores)));
    });
    const keys = seen.map((s) => JSON.stringify(s));
    expect(new Set(keys).size).toBe(keys.length);
    // Each candidate's calls were real runs: one call per node per dev item.
    expect(e.calls).toHaveLength(seen.length * dev.length * 3);
    // Both dev items right: a graph ending at a1, or at a3 fed by a1 first.
    expect(steps.at(-1)!.best).toBe(1);
    const best = fitted.state as Dag;
    expect(await evaluate(best)).toBe(steps.at(-1)!.best);
    expect(fitted.note).toMatch(/found by particle swarm on dev/);
  });

  it('scripted: the same seed gives the same search; cancel stops it before the next candidate', async () => {
    const a = setup();
    const b = setup();
    const opts = { agents: 3, knobs: { population: 4, iterations: 3 }, seed: 9, dev: NO_EVIDENCE, progress: () => {} };
    const ra = await searchDag({ ...opts, signal: new AbortController().signal, evaluate: a.evaluate });
    const rb = await searchDag({ ...opts, signal: new AbortController().signal, evaluate: b.evaluate });
    expect(rb).toEqual(ra);
    const controller = new AbortController();
    let evaluated = 0;
    const cancelled = searchDag({
      ...opts, signal: controller.signal,
      evaluate: async () => { evaluated += 1; controller.abort(); return 0; },
    });
    await expect(cancelled).rejects.toThrow(/cancelled/);
    expect(evaluated).toBe(1);
  });
});
