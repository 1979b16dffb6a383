// The message-flow graph (src/lib/flow.ts) folded from real strategy runs on scripted engines, and
// the methods page's dry run (src/lib/dry-run.ts): nodes, who-sees-what edges, live states, layout.
import { describe, expect, it } from 'vitest';
import { applyFlowEvent, describeFlow, emptyFlow, flowFromEvents, layoutFlow, nodeLabel, type FlowGraph } from '../../src/lib/flow.ts';
import { collectRun } from '../../src/lib/run.ts';
import { dryRun, dryRunAgentCount, DryRunEngine } from '../../src/lib/dry-run.ts';
import { strategies, getStrategy } from '../../src/lib/strategies/registry.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, words } from './strategies.scripted.ts';

const base = { prompt: 'What is 2+2?', seed: 7, maxTokens: 16 };
const edges = (g: FlowGraph, kind?: string) => g.edges.filter((e) => kind === undefined || e.kind === kind).map((e) => `${e.from}>${e.to}`).sort();
const states = (g: FlowGraph) => Object.fromEntries(g.nodes.map((n) => [n.id, n.state]));

describe('flow graph from a run', () => {
  it('scripted: debate, 3 agents × 2 rounds by vote — 6 messages, 9 sees edges, a vote fed by the last round, the final from the vote', async () => {
    const engine = new ScriptedEngine((_r, i) => words(`I say ${i % 2 ? 4 : 5}`));
    const g = flowFromEvents(await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 2 } }));
    expect(g.nodes.map((n) => n.id)).toEqual(['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0', 'a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0', 'vote.r2', 'final']);
    expect(edges(g, 'sees')).toEqual(['a1.r1.s0>a1.r2.s0', 'a1.r1.s0>a2.r2.s0', 'a1.r1.s0>a3.r2.s0', 'a2.r1.s0>a1.r2.s0', 'a2.r1.s0>a2.r2.s0', 'a2.r1.s0>a3.r2.s0', 'a3.r1.s0>a1.r2.s0', 'a3.r1.s0>a2.r2.s0', 'a3.r1.s0>a3.r2.s0']);
    expect(edges(g, 'ballot')).toEqual(['a1.r2.s0>vote.r2', 'a2.r2.s0>vote.r2', 'a3.r2.s0>vote.r2']);
    expect(edges(g, 'final')).toEqual(['vote.r2>final']);
    expect(Object.values(states(g)).every((s) => s === 'done')).toBe(true);
    const L = layoutFlow(g);
    expect([L.columns, L.rows, L.rounds]).toEqual([4, 3, [1, 2]]);
    const at = Object.fromEntries(L.nodes.map((n) => [n.id, [n.col, n.row]]));
    expect(at).toMatchObject({ 'a1.r1.s0': [0, 0], 'a3.r1.s0': [0, 2], 'a2.r2.s0': [1, 1], 'vote.r2': [2, 1], final: [3, 1] });
    expect(describeFlow(g)).toBe('Message flow: 6 messages from 3 agents in 2 rounds, 9 shown-answer links, a vote, a final answer');
  });

  it('scripted: debate with a judge — the judge sits in its agent’s row, one column on, and the final comes from its message', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const g = flowFromEvents(await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { rounds: 1, final: 'judge', judge: 2 } }));
    expect(edges(g, 'sees')).toEqual(['a1.r1.s0>a2.r2.s0.judge', 'a2.r1.s0>a2.r2.s0.judge']);
    expect(edges(g, 'final')).toEqual(['a2.r2.s0.judge>final']);
    const judge = layoutFlow(g).nodes.find((n) => n.id === 'a2.r2.s0.judge')!;
    expect([judge.col, judge.row]).toEqual([1, 1]);
    expect(nodeLabel(g, 'a2.r2.s0.judge')).toBe('Agent 2, round 2 judge');
  });

  it('scripted: cascade — a deferral links the unsure tier to the next one; no sees edges', async () => {
    const engine = new ScriptedEngine((req) => (req.messages.some((m) => m.role === 'system') ? words('4', Math.log(0.9)) : words('5', Math.log(0.2))));
    const agents = agentsOn(engine, 3);
    agents[1]!.system = 'Be sure.';
    const g = flowFromEvents(await collectRun({ ...base, strategy: 'cascade', agents, knobs: {} }));
    expect(g.nodes.map((n) => n.id)).toEqual(['a1.r1.s0', 'a2.r2.s0', 'final']);
    expect(edges(g)).toEqual(['a1.r1.s0>a2.r2.s0', 'a2.r2.s0>final']);
    expect(g.edges.find((e) => e.to === 'a2.r2.s0')!.kind).toBe('route');
  });

  it('scripted: vote with 2 samples — samples stack inside their agent’s row', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const g = flowFromEvents(await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 2), knobs: { samples: 2 } }));
    const L = layoutFlow(g);
    expect(L.rows).toBe(4);
    expect(L.agentRows).toEqual([{ agent: 'a1', row: 0, span: 2 }, { agent: 'a2', row: 2, span: 2 }]);
    expect(Object.fromEntries(L.nodes.map((n) => [n.id, n.row]))).toMatchObject({ 'a1.r1.s0': 0, 'a1.r1.s1': 1, 'a2.r1.s0': 2, 'a2.r1.s1': 3 });
    expect(edges(g, 'ballot')).toHaveLength(4);
    expect(nodeLabel(g, 'a2.r1.s1')).toBe('Agent 2, round 1 answer (sample 2)');
  });

  it('scripted: applied one event at a time — pending at start, active (edges lit) at its first token, done at its end', async () => {
    const engine = new ScriptedEngine(() => words('four and more'));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { rounds: 2 } });
    const g = emptyFlow();
    const seen: string[] = [];
    for (const ev of events) {
      applyFlowEvent(g, ev);
      const n = g.nodes.find((x) => x.id === 'a1.r2.s0');
      const lit = g.edges.filter((e) => e.to === 'a1.r2.s0').map((e) => e.lit);
      if (n) seen.push(`${n.state}:${lit.join(',')}`);
    }
    const distinct = seen.filter((s, i) => s !== seen[i - 1]);
    expect(distinct).toEqual(['pending:false,false', 'active:true,true', 'done:true,true']);
  });

  it('scripted: a cancelled run leaves no node streaming; an aborted message is failed', async () => {
    const engine = new ScriptedEngine(() => words('one two three four five six seven eight'), { tokenDelayMs: 5 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    const g = emptyFlow();
    setTimeout(() => controller.abort(), 12);
    for (const ev of await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 2), knobs: {}, signal: controller.signal })) {
      events.push(ev);
      applyFlowEvent(g, ev);
    }
    expect(g.nodes.filter((n) => n.kind === 'message').map((n) => n.state)).toEqual(['failed', 'failed']);
    expect(g.nodes.some((n) => n.kind === 'final')).toBe(false);
  });

  it('a run-start starts afresh', () => {
    const g = emptyFlow();
    applyFlowEvent(g, { type: 'message-start', t: 0, msgId: 'x', agent: 'a1', round: 1, purpose: 'answer', messages: [] });
    applyFlowEvent(g, { type: 'run-start', t: 0, runId: 'r', strategy: 'single', agents: [{ id: 'a1', name: 'A', model: 'm', temperature: 0 }], knobs: {}, seed: 1, prompt: 'p' });
    expect(g.nodes).toEqual([]);
    expect(g.agents).toEqual(['a1']);
  });
});

describe('dry run (the methods page’s drawing)', () => {
  it.each(strategies.map((s) => s.meta.id))('scripted dry run: %s ends with a final answer and makes the calls its cost states', async (id) => {
    const s = getStrategy(id);
    const run = await dryRun(s);
    expect(run.error).toBeUndefined();
    expect(run.events.some((e) => e.type === 'final')).toBe(true);
    const stated = s.meta.cost!.calls(run.agents, run.knobs);
    if (s.meta.cost!.perToken) {
      // Steps per written token, plus the step that ended the answer.
      const usage = run.events.find((e) => e.type === 'usage');
      const tokens = usage?.type === 'usage' ? usage.completion_tokens : 0;
      expect(tokens).toBeGreaterThan(0);
      expect(run.calls).toBeLessThanOrEqual(stated * (tokens + 1));
      if (!/^at most/.test(s.meta.cost!.formula)) expect(run.calls).toBe(stated * (tokens + 1));
    } else if (/^at most/.test(s.meta.cost!.formula)) expect(run.calls).toBeLessThanOrEqual(stated);
    else expect(run.calls).toBe(stated);
  });

  it('scripted dry run: debate at N = 3 with default knobs draws N × R nodes and every revision sees all N previous answers', async () => {
    const run = await dryRun(getStrategy('debate'));
    const g = flowFromEvents(run.events);
    const rounds = Number(run.knobs.rounds);
    expect(g.nodes.filter((n) => n.kind === 'message')).toHaveLength(3 * rounds);
    expect(edges(g, 'sees')).toHaveLength(3 * 3 * (rounds - 1));
  });

  it('scripted dry run: cascade defers from the unsure agent 1 and accepts agent 2 (2 of at most 3 calls)', async () => {
    const run = await dryRun(getStrategy('cascade'));
    expect(run.calls).toBe(2);
    expect(edges(flowFromEvents(run.events))).toEqual(['a1.r1.s0>a2.r2.s0', 'a2.r2.s0>final']);
  });

  it('the dry-run engine is deterministic and honours max tokens and abort', async () => {
    const e = new DryRunEngine();
    const text = async (max: number, signal?: AbortSignal) => {
      let t = '';
      let finish = '';
      for await (const c of e.chat({ messages: [{ role: 'user', content: 'q' }], max_tokens: max }, signal ? { signal } : {})) {
        if (c.type === 'delta') t += c.text;
        else finish = c.finish_reason;
      }
      return `${t}|${finish}`;
    };
    expect(await text(99)).toBe('The answer is 4.|stop');
    expect(await text(2)).toBe('The answer |length');
    const c = new AbortController();
    c.abort();
    expect(await text(99, c.signal)).toBe('|abort');
    expect(dryRunAgentCount(getStrategy('single'))).toBe(3);
  });
});
