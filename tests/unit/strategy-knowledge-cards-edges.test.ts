// Knowledge cards (src/lib/strategies/knowledge-cards.ts) at its edges: the token bound shown before
// a run, the round labels, which cards are kept (a failed card, a blank one), a relevance check that
// failed after saying "no", the score details, the refusals before any call (a card, a relevance
// check, the answerer's number) and their advice, the cut warnings of the checks and the answer, and
// cancel during the checks or the answer. Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt, seesById } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'knowledge-cards' };
const cost = getStrategy('knowledge-cards').meta.cost!;

const isCard = (req: ChatRequest) => lastUser(req).startsWith('Write a short paragraph');
const isCheck = (req: ChatRequest) => lastUser(req).endsWith('Reply yes or no.');

/** An engine on `inner` whose calls `failAfter` picks stream `text` and then fail ("connection lost"). */
function failingMidway(inner: ScriptedEngine, failAfter: (req: ChatRequest) => string | undefined): Engine {
  return {
    info: inner.info,
    async *chat(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
      const text = failAfter(request);
      if (text === undefined) {
        yield* inner.chat(request, options);
        return;
      }
      yield { type: 'delta', text };
      throw new Error('connection lost');
    },
    complete: (request: CompletionRequest, options?: CallOptions) => inner.complete(request, options),
    unload: async () => undefined,
  };
}

const agent = (i: number, engine: Engine): Agent => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature: 0.7 });
const rounds = (events: TraceEvent[]) => ofType(events, 'round').map((r) => [r.round, r.label]);

describe('knowledge-cards: the token bound shown before a run', () => {
  it('no pruning: N cards and one answer read the prompt; the answer shows N cards', () => {
    // 3 cards + 1 answer = 4 prompts of 100; 3 cards shown of ≤ 10 tokens; 4 replies of ≤ 10.
    expect(cost.tokens!(3, {}, 10, 100)).toEqual({ prompt: 430, completion: 40 });
    expect(cost.tokens!(3, { prune: false }, 10, 100)).toEqual({ prompt: 430, completion: 40 });
  });

  it('pruning: one check per card (one card shown, a 4-token reply each)', () => {
    // 3 cards + 3 checks + 1 answer = 7 prompts; 3 + 3 cards shown; 4 replies of ≤ 10, 3 of ≤ 4.
    expect(cost.tokens!(3, { prune: true }, 10, 100)).toEqual({ prompt: 760, completion: 52 });
  });

  it('leaving the answerer’s card out: N − 1 cards', () => {
    expect(cost.tokens!(4, { excludeSelf: true, prune: true }, 10, 100)).toEqual({ prompt: 760, completion: 52 });
    expect(cost.tokens!(4, { excludeSelf: true }, 20, 50)).toEqual({ prompt: 260, completion: 80 });
  });
});

describe('knowledge-cards: rounds and the cards kept', () => {
  it('scripted: no pruning — the round labels, no check round, and no warning', async () => {
    const engine = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : 'The answer is 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: {} });
    expect(rounds(events)).toEqual([[1, 'Round 1: 3 knowledge cards'], [2, 'Answer: Agent 1 with 3 card(s)']]);
    expect(ofType(events, 'error')).toHaveLength(0);
    expect(ofType(events, 'score')).toHaveLength(0);
  });

  it('scripted: pruning — a check round by the answerer, then the answer as round 3; a "yes" keeps its card and says so', async () => {
    const engine = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : isCheck(req) ? 'Yes' : 'The answer is 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true, answerer: 2 } });
    expect(rounds(events)).toEqual([[1, 'Round 1: 2 knowledge cards'], [2, 'Round 2: relevance checks by Agent 2'], [3, 'Answer: Agent 2 with 2 card(s)']]);
    expect(ofType(events, 'score').map((s) => s.detail)).toEqual(['Agent 2 said yes: card kept', 'Agent 2 said yes: card kept']);
    expect(ofType(events, 'error')).toHaveLength(0);
  });

  it('scripted: a card that failed midway and a blank card are not kept — no check, not shown to the answer', async () => {
    const inner = new ScriptedEngine((req) => {
      const system = req.messages[0]!.content;
      if (isCard(req)) return words(system === 's2' ? '   ' : `<card-${system}>`);
      return words(isCheck(req) ? 'yes' : 'The answer is 4');
    });
    const engine = failingMidway(inner, (req) => (isCard(req) && req.messages[0]!.content === 's3' ? '<card-s3 half written>' : undefined));
    const agents = [0, 1, 2].map((i) => ({ ...agent(i, engine), system: `s${i + 1}` }));
    const events = await collectRun({ ...base, agents, knobs: { prune: true } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'score').map((s) => s.target)).toEqual(['a1.r1.s0.card']);
    expect(seesById(events).get('a1.r3.s0')).toEqual(['a1.r1.s0.card']);
    expect(rounds(events).at(-1)).toEqual([3, 'Answer: Agent 1 with 1 card(s)']);
  });

  it('scripted: pruning with no card left skips the check round; the answer is round 2', async () => {
    const engine = new ScriptedEngine((req) => words(isCard(req) ? ' ' : 'The answer is 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(rounds(events)).toEqual([[1, 'Round 1: 2 knowledge cards'], [2, 'Answer: Agent 1 with 0 card(s)']]);
    expect(engine.calls).toHaveLength(3);
    expect(ofType(events, 'message-start').at(-1)!.msgId).toBe('a1.r2.s0');
    expect(only(events, 'error').message).toBe('no knowledge card is left (every card failed, was empty or was judged irrelevant): the answerer answers the bare question');
  });

  it('scripted: a check that failed after saying "no" reads no verdict: the card is kept', async () => {
    const inner = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : 'The answer is 4'));
    const engine = failingMidway(inner, (req) => (isCheck(req) ? 'No' : undefined));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(ofType(events, 'score').map((s) => [s.value, s.detail])).toEqual([
      [1, 'no yes/no read from "No": card kept'],
      [1, 'no yes/no read from "No": card kept'],
    ]);
    expect(rounds(events).at(-1)).toEqual([3, 'Answer: Agent 1 with 2 card(s)']);
  });

  it('scripted: a reply with neither yes nor no is quoted trimmed', async () => {
    const engine = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : isCheck(req) ? ' Perhaps ' : 'The answer is 4'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(ofType(events, 'score')[0]!.detail).toBe('no yes/no read from "Perhaps": card kept');
  });
});

describe('knowledge-cards: refusals before any call', () => {
  it('scripted: an answerer past the setup is refused naming the role', async () => {
    const engine = new ScriptedEngine(() => words('x'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 3), knobs: { answerer: 4 } });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'The answerer is agent 4, but the setup has 3 agent(s): add an agent or choose a number from 1 to 3' });
  });

  it('scripted: a card prompt that cannot fit is refused first, with every piece of advice', async () => {
    const engine = new ScriptedEngine(() => words('x'), { contextLength: 100 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(engine.calls).toHaveLength(0);
    const end = events.at(-1) as Extract<TraceEvent, { type: 'run-end' }>;
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/^a card \(0 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens/);
    expect(end.message).toMatch(/ — use fewer agents \(now 2\), a smaller max tokens \(now 32\), or a shorter prompt \(reloading the model does not help/);
  });

  it('scripted: with pruning, a relevance check that cannot fit is refused before the answer is checked', async () => {
    // 180 tokens: a card prompt fits; a check showing one card (and the answer showing two) does not.
    const engine = new ScriptedEngine(() => words('x'), { contextLength: 180 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(engine.calls).toHaveLength(0);
    expect((events.at(-1) as { message: string }).message).toMatch(/^a relevance check \(1 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens and max tokens is 4:/);
  });

  it('scripted: without pruning no relevance check is checked — the answer is what is refused', async () => {
    const engine = new ScriptedEngine(() => words('x'), { contextLength: 180 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: false } });
    expect(engine.calls).toHaveLength(0);
    expect((events.at(-1) as { message: string }).message).toMatch(/^the answer with the cards \(2 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens and max tokens is 32:/);
  });
});

describe('knowledge-cards: long cards are cut per call, with a warning', () => {
  it('scripted: the checks (max tokens 4) and the answer (max tokens 32) each warn what they cut', async () => {
    const long = 'story '.repeat(60);
    const engine = new ScriptedEngine((req) => words(isCard(req) ? long : isCheck(req) ? 'yes' : 'The answer is 4'), { contextLength: 300 });
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const warnings = ofType(events, 'error').map((e) => e.message);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^a relevance check: the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 4$/);
    expect(warnings[1]).toBe(warnings[0]);
    expect(warnings[2]).toMatch(/^the answer with the cards: the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 32$/);
    // Each warning comes before the call it is about.
    const order = events.filter((e) => e.type === 'error' || e.type === 'message-start').map((e) => (e.type === 'error' ? 'warning' : e.purpose));
    expect(order).toEqual(['card', 'card', 'warning', 'warning', 'relevance', 'relevance', 'warning', 'answer']);
  });
});

describe('knowledge-cards: cancel', () => {
  it('scripted: cancelling during the relevance checks ends the run with no verdict and no answer', async () => {
    const engine = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : 'yes yes yes yes'), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2), knobs: { prune: true } }, (e) => e.type === 'message-start' && e.purpose === 'relevance');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(4);
    expect(ofType(events, 'score')).toHaveLength(0);
    expect(rounds(events).map(([r]) => r)).toEqual([1, 2]);
  });

  it('scripted: cancelling during the answer gives no final answer', async () => {
    const engine = new ScriptedEngine((req, i) => words(isCard(req) ? `<card-${i}>` : 'The answer is 4 '.repeat(10)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2), knobs: {} }, (e) => e.type === 'message-start' && e.purpose === 'answer');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(3);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
