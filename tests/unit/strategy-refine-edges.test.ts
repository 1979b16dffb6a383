// MoCo's multiagent refine (src/lib/strategies/refine.ts) at its edges: the token bound shown before
// a run, the summariser's number, which prompts are checked before any call (no refinement with one
// round; the synthesis on the summariser's own context) and the refusal's advice, the cut warnings of
// a refinement round and the synthesis, an agent whose every call failed (left out of the
// synthesis), and cancel (in round 1, where the method ends quietly, and during the synthesis).
// Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { refine } from '../../src/lib/strategies/refine.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt, seesById, uniqueReply } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'refine' };
const cost = getStrategy('refine').meta.cost!;

/** Agents a1…an, agent i on its own engine of context `contexts[i]`, replies unique per engine call. */
function agentsWithContexts(contexts: number[]): { agents: Agent[]; engines: ScriptedEngine[] } {
  const engines = contexts.map((contextLength, a) => new ScriptedEngine((_req, i) => words(`<a${a + 1}-${i}>`), { contextLength }));
  return { agents: engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 })), engines };
}

const runEnd = (events: TraceEvent[]) => events.at(-1) as Extract<TraceEvent, { type: 'run-end' }>;

describe('refine: the token bound shown before a run', () => {
  it('N × R + 1 prompts; each refinement of rounds 2…R and the synthesis show N answers', () => {
    // N = 3, R = 3: 10 calls; (2 × 3 × 3 + 3) = 21 answers shown of ≤ 10 tokens.
    expect(cost.tokens!(3, { rounds: 3 }, 10, 100)).toEqual({ prompt: 1210, completion: 100 });
    // N = 2, R = 1: 3 calls; only the synthesis shows 2 answers.
    expect(cost.tokens!(2, { rounds: 1 }, 7, 50)).toEqual({ prompt: 164, completion: 21 });
    // N = 4, R = 2: 9 calls; 16 + 4 answers shown.
    expect(cost.tokens!(4, { rounds: 2 }, 5, 20)).toEqual({ prompt: 280, completion: 45 });
  });
});

describe('refine: refusals before any call', () => {
  it('scripted: a summariser past the setup is refused naming the role', async () => {
    const engine = new ScriptedEngine(uniqueReply);
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { summariser: 4 } });
    expect(engine.calls).toHaveLength(0);
    expect(runEnd(events)).toMatchObject({ status: 'error', message: 'The summariser is agent 4, but the setup has 3 agent(s): add an agent or choose a number from 1 to 3' });
  });

  it('scripted: one round makes no refinement, so an agent whose refinement would not fit still answers', async () => {
    // Agent 2's 200 tokens hold its answer, not a refinement showing two answers; agent 1 summarises.
    const { agents, engines } = agentsWithContexts([2000, 200]);
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1 } });
    expect(runEnd(events).status).toBe('done');
    expect(engines.map((e) => e.calls.length)).toEqual([2, 1]);
    expect(seesById(events).get('a1.r2.s0.synthesis')).toEqual(['a1.r1.s0', 'a2.r1.s0']);
  });

  it('scripted: the same agent with two rounds is refused before any call', async () => {
    const { agents, engines } = agentsWithContexts([2000, 200]);
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2 } });
    expect(engines.map((e) => e.calls.length)).toEqual([0, 0]);
    expect(runEnd(events).message).toMatch(/^a refinement \(2 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens/);
  });

  it('scripted: a synthesis that cannot fit the summariser is refused, with every piece of advice', async () => {
    // 300 tokens: an answer fits, the synthesis showing two answers does not.
    const { agents, engines } = agentsWithContexts([2000, 300]);
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, summariser: 2 } });
    expect(engines.map((e) => e.calls.length)).toEqual([0, 0]);
    const end = runEnd(events);
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/^the synthesis \(2 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens and max tokens is 32/);
    expect(end.message).toMatch(/, or use fewer agents \(now 2\), fewer rounds \(now 1; 1 = no refinements\), a smaller max tokens \(now 32\), or a shorter prompt \(reloading the model does not help/);
  });
});

describe('refine: long answers are cut per call, with a warning', () => {
  it('scripted: each refinement of round 2 and the synthesis warn what they cut, before their calls', async () => {
    const long = 'story '.repeat(60);
    const engine = new ScriptedEngine((req) => words(lastUser(req).startsWith('Several assistants') ? 'The answer is 4' : long), { contextLength: 500 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 2 } });
    expect(runEnd(events).status).toBe('done');
    const warnings = ofType(events, 'error').map((e) => e.message);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^round 2: the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 32$/);
    expect(warnings[1]).toBe(warnings[0]);
    expect(warnings[2]).toMatch(/^the synthesis: the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 32$/);
    const order = events.filter((e) => e.type === 'error' || e.type === 'message-start').map((e) => (e.type === 'error' ? 'warning' : e.purpose));
    expect(order).toEqual(['answer', 'answer', 'warning', 'warning', 'revision', 'revision', 'warning', 'synthesis']);
  });
});

describe('refine: an agent whose every call failed', () => {
  it('scripted: it is left out of the synthesis, which reads the others’ last answers', async () => {
    const engines = [0, 1, 2].map((a) => new ScriptedEngine((_req, i) => (a === 1 ? new Error('out of memory') : words(`<a${a + 1}-${i}>`))));
    const agents = engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 }));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2 } });
    expect(runEnd(events).status).toBe('done');
    expect(seesById(events).get('a1.r3.s0.synthesis')).toEqual(['a1.r2.s0', 'a3.r2.s0']);
    expect(only(events, 'final').agent).toBe('a1');
  });
});

describe('refine: cancel', () => {
  it('scripted: cancelled in round 1, the method itself ends quietly (no error thrown, no synthesis)', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const controller = new AbortController();
    const agents = agentsOn(engine, 2);
    const ctx = { runId: 'r', prompt: base.prompt, agents, knobs: resolveKnobs(refine.meta, {}).knobs, seed: 42, maxTokens: 32, signal: controller.signal, now: () => 0 };
    const seen: TraceEvent[] = [];
    for await (const e of refine.run(ctx)) {
      seen.push(e);
      if (e.type === 'token' && !controller.signal.aborted) controller.abort();
    }
    expect(engine.calls).toHaveLength(2);
    expect(ofType(seen, 'round').map((r) => r.round)).toEqual([1]);
    expect(ofType(seen, 'final')).toHaveLength(0);
  });

  it('scripted: cancelling during the synthesis gives no final answer', async () => {
    const engine = new ScriptedEngine((_req, i) => words(`<m${i}> `.repeat(20)), { tokenDelayMs: 1 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 2 } }, (e) => e.type === 'message-start' && e.purpose === 'synthesis');
    expect(runEnd(events).status).toBe('cancelled');
    expect(engine.calls).toHaveLength(5);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
