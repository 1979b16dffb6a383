// Mixture-of-Agents and Self-MoA (src/lib/strategies/moa.ts) at their edges: the round labels of
// every layer and of the aggregator, which agents' synthesis prompts are checked before any call
// (proposers only when a layer 2 exists), the whole refusals with their advice, the cut warnings of
// a layer and of the aggregator, a layer in which every call failed, a cancel during the
// aggregator's call, the Self-MoA agent number, and the cost model by hand (defaults and 3
// layers). Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { moa, selfMoa } from '../../src/lib/strategies/moa.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { ScriptedEngine, words, type ScriptedToken } from './strategies.scripted.ts';
import { runCancelledAt } from './strategies.events.ts';
import { base, bySeed, expectRefused, ofType, only, starts } from './strategy-text.helpers.ts';

const bytes = (s: string) => new TextEncoder().encode(s).length;
const RELOAD = '(reloading the model does not help: its context size is fixed by the file)';

/** Agents a1…an on their own engines, each with its own context length (undefined = unknown). */
function agentsWith(contexts: (number | undefined)[], script: (agent: number, req: ChatRequest) => ScriptedToken[] | Error, tokenDelayMs = 0) {
  const engines = contexts.map((contextLength, a) => new ScriptedEngine((req) => script(a, req), { ...(contextLength !== undefined && { contextLength }), tokenDelayMs }));
  const agents: Agent[] = engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 }));
  return { agents, engines };
}

/** The synthesis prompt for two shown answers `a` and `b`, written out. */
const synth2 = (a: string, b: string) =>
  'You are shown several responses to the question below, written by other assistants. Some may be wrong or biased: ' +
  'judge each one critically, keep what is right, correct what is wrong, and write one response that is better than any of them ' +
  `(do not just copy one).\n\nResponse 1: \`\`\`${a}\`\`\`\n\nResponse 2: \`\`\`${b}\`\`\`\n\nThe question: What is 2+2?`;
const X = 'x'.repeat(32);
/** Tokens of a synthesis conversation (one user message) showing 32 bytes of each of two answers. */
const NEED = 8 + 16 + bytes(synth2(X, X));

describe('moa: rounds', () => {
  it('scripted: each layer and the aggregator have their own round and label', async () => {
    const { agents } = agentsWith([undefined, undefined], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 3, aggregator: 2 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Layer 1: 2 proposals'],
      [2, 'Layer 2: each proposer reads layer 1'],
      [3, 'Layer 3: each proposer reads layer 2'],
      [4, 'Aggregator: Agent 2'],
    ]);
    expect(only(events, 'final').agent).toBe('a2');
  });

  it('scripted: self-moa labels its layer by the number of samples', async () => {
    const { agents } = agentsWith([undefined], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs: { samples: 3, layers: 2 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Layer 1: 3 proposals'],
      [2, 'Layer 2: each proposer reads layer 1'],
      [3, 'Aggregator: Agent 1'],
    ]);
  });
});

describe('moa: the checks before any call', () => {
  it('scripted: with 2 layers a proposer that cannot fit its synthesis prompt is refused before any call, whole message', async () => {
    // Agent 1 aggregates (context unknown); agent 2 only proposes, in a 100-token context.
    const { agents, engines } = agentsWith([undefined, 100], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 2, aggregator: 1 } });
    expectRefused(events, engines, /^Agent 2's synthesis prompt/);
    expect((events.at(-1) as { message: string }).message).toBe(
      `Agent 2's synthesis prompt (2 text(s) shown, at least 32 bytes each) needs up to ${NEED} tokens and max tokens is 32: ${NEED + 32} in all, more than scripted's 100-token context — ` +
        `use fewer agents (now 2), a smaller max tokens (now 32), or a shorter prompt ${RELOAD}`,
    );
  });

  it('scripted: with 1 layer a proposer never writes a synthesis, so its small context is no reason to refuse', async () => {
    const { agents, engines } = agentsWith([undefined, 100], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 1, aggregator: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engines.map((e) => e.calls.length)).toEqual([2, 1]);
    expect(only(events, 'final').agent).toBe('a1');
  });

  it('scripted: self-moa’s refusal names its samples, max tokens and the prompt', async () => {
    const { agents, engines } = agentsWith([NEED + 31], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs: { samples: 2 } });
    expectRefused(events, engines, /^Agent 1's synthesis prompt/);
    expect((events.at(-1) as { message: string }).message).toBe(
      `Agent 1's synthesis prompt (2 text(s) shown, at least 32 bytes each) needs up to ${NEED} tokens and max tokens is 32: ${NEED + 32} in all, more than scripted's ${NEED + 31}-token context — ` +
        `lower max tokens to 31 or less, or fewer samples per layer (now 2), a smaller max tokens (now 32), or a shorter prompt ${RELOAD}`,
    );
  });

  it('scripted: a Self-MoA agent number beyond the setup is refused, naming the role', async () => {
    const { agents, engines } = agentsWith([undefined, undefined], (_a, req) => bySeed(req));
    const events = await collectRun({ ...base, strategy: 'self-moa', agents, knobs: { agent: 3 } });
    expectRefused(events, engines, /^The Self-MoA agent/);
    expect((events.at(-1) as { message: string }).message).toBe('The Self-MoA agent is agent 3, but the setup has 2 agent(s): add an agent or choose a number from 1 to 2');
  });
});

describe('moa: cuts, failures and cancels', () => {
  it('scripted: answers cut to fit in layer 2 and for the aggregator, each with its own warning', async () => {
    // 80 bytes of room for the two shown answers: 40 each (37 bytes, "Agent n proposes " and 20 z, then "…").
    const context = 32 + 8 + 16 + bytes(synth2('', '')) + 80;
    const { agents } = agentsWith([context, context], (a) => words(`Agent ${a + 1} proposes ${'z'.repeat(60)} so 4`));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 2, aggregator: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const cut = (what: string) => `${what}: the texts shown were cut to 40 bytes each (their first bytes, then "…") to fit the context with max tokens 32`;
    expect(ofType(events, 'error').map((e) => [e.agent, e.fatal, e.message])).toEqual([
      ['a1', false, cut('layer 2')],
      ['a2', false, cut('layer 2')],
      ['a1', false, cut('the aggregator')],
    ]);
    const first37 = (a: number) => `Agent ${a} proposes ${'z'.repeat(20)}…`;
    expect(starts(events).get('a1.r3.s0.aggregate')!.messages).toEqual([{ role: 'user', content: synth2(first37(1), first37(2)) }]);
  });

  it('scripted: a layer in which every call failed ends the run, naming the layer', async () => {
    const { agents } = agentsWith([undefined, undefined], () => new Error('down'));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'every call failed in layer 1; see the errors above' });
  });

  it('scripted: a cancel during the aggregator’s call ends the run with no final answer', async () => {
    const { agents } = agentsWith([undefined, undefined], () => words('word '.repeat(60)), 2);
    const events = await runCancelledAt({ ...base, strategy: 'moa', agents, knobs: { layers: 1 } }, (e) => e.type === 'token' && e.msgId.endsWith('.aggregate'));
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'message-start').map((m) => m.msgId)).toContain('a1.r2.s0.aggregate');
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('moa: the cost model by hand', () => {
  it('moa without knobs: 2 layers; with 3 layers, 3 agents, max tokens 10, prompt 100', () => {
    // Defaults: 3 × 2 + 1 = 7 calls; prompts 7 × 100 + (3 × 1 + 1) × 3 × 10 = 820.
    expect(moa.meta.cost!.calls(3, {})).toBe(7);
    expect(moa.meta.cost!.tokens!(3, {}, 10, 100)).toEqual({ prompt: 820, completion: 70 });
    // 3 layers: 10 calls; prompts 1000 + (3 × 2 + 1) × 3 × 10 = 1210.
    expect(moa.meta.cost!.calls(3, { layers: 3 })).toBe(10);
    expect(moa.meta.cost!.tokens!(3, { layers: 3 }, 10, 100)).toEqual({ prompt: 1210, completion: 100 });
  });

  it('self-moa: 3 samples, 3 layers: 10 calls; prompts 1000 + (3 × 2 + 1) × 3 × 10 = 1210', () => {
    expect(selfMoa.meta.cost!.calls(5, { samples: 3, layers: 3 })).toBe(10);
    expect(selfMoa.meta.cost!.tokens!(5, { samples: 3, layers: 3 }, 10, 100)).toEqual({ prompt: 1210, completion: 100 });
    // Defaults: 4 samples, 1 layer: 5 calls; prompts 500 + 1 × 4 × 10.
    expect(selfMoa.meta.cost!.tokens!(5, {}, 10, 100)).toEqual({ prompt: 540, completion: 50 });
  });
});
