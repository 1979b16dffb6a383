// Knowledge cards (src/lib/strategies/knowledge-cards.ts) with scripted engines: N cards, the
// relevance checks (one per card, by the answerer, a few tokens each) and what they drop, the answer
// that sees the kept cards, the call count (= meta.cost), seeds, the dev fit, refusal before any
// call, and cancel.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { RELEVANCE_MAX_TOKENS, cardPrompt, cardsAnswerPrompt, relevancePrompt } from '../../src/lib/strategies/knowledge-cards.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { expectSeesIsWhatPromptShows, ofType, only, runCancelledAt, seesById } from './strategies.events.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'knowledge-cards' };
const strategy = getStrategy('knowledge-cards');
const calls = (n: number, knobs: Record<string, number | string | boolean>) => strategy.meta.cost!.calls(n, resolveKnobs(strategy.meta, knobs).knobs);

/** Agents with systems "s1", "s2", …: a card names its writer ("<card-s2>"); `relevant` answers the checks. */
function setup(n: number, relevant: (card: string) => string = () => 'Yes') {
  const engine = new ScriptedEngine((req: ChatRequest, i) => {
    const u = lastUser(req);
    if (u.startsWith('Write a short paragraph')) return words(`<card-${req.messages[0]!.content}>`);
    if (u.endsWith('Reply yes or no.')) return words(relevant(u));
    return words(`<answer-${i}> The answer is 4`);
  });
  const agents = agentsOn(engine, n);
  agents.forEach((a, i) => (a.system = `s${i + 1}`));
  return { engine, agents };
}

describe('knowledge-cards: who sees what', () => {
  it('scripted: N = 3, no pruning — three cards, then the answerer answers seeing all three', async () => {
    const { engine, agents } = setup(3);
    const events = await collectRun({ ...base, agents, knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(4);
    expect(engine.calls).toHaveLength(calls(3, {}));
    const starts = ofType(events, 'message-start');
    expect(starts.map((s) => [s.msgId, s.purpose])).toEqual([['a1.r1.s0.card', 'card'], ['a2.r1.s0.card', 'card'], ['a3.r1.s0.card', 'card'], ['a1.r2.s0', 'answer']]);
    expect(starts[1]!.messages).toEqual([{ role: 'system', content: 's2' }, { role: 'user', content: cardPrompt(base.prompt) }]);
    expect(seesById(events).get('a1.r2.s0')).toEqual(['a1.r1.s0.card', 'a2.r1.s0.card', 'a3.r1.s0.card']);
    expect(starts[3]!.messages.at(-1)!.content).toBe(cardsAnswerPrompt(base.prompt, ['<card-s1>', '<card-s2>', '<card-s3>']));
    expectSeesIsWhatPromptShows(events);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
    expect(new Set(engine.calls.map((c) => c.request.seed)).size).toBe(4);
  });

  it('scripted: pruning — the answerer checks each card (yes/no, a few tokens) and answers with the ones it kept', async () => {
    const { engine, agents } = setup(3, (u) => (u.includes('<card-s3>') ? 'No.' : 'Yes, it helps'));
    const knobs = { prune: true, answerer: 2 };
    const events = await collectRun({ ...base, agents, knobs });
    expect(engine.calls).toHaveLength(3 + 3 + 1);
    expect(engine.calls).toHaveLength(calls(3, knobs));
    const sees = seesById(events);
    expect([0, 1, 2].map((j) => sees.get(`a2.r2.s${j}.relevance`))).toEqual([['a1.r1.s0.card'], ['a2.r1.s0.card'], ['a3.r1.s0.card']]);
    const checks = engine.calls.filter((c) => lastUser(c.request).endsWith('Reply yes or no.'));
    expect(checks.map((c) => c.request.max_tokens)).toEqual([RELEVANCE_MAX_TOKENS, RELEVANCE_MAX_TOKENS, RELEVANCE_MAX_TOKENS]);
    expect(checks.map((c) => c.request.seed)).toEqual([0, 1, 2].map((j) => callSeed(42, 1, 2, j)));
    expect(lastUser(checks[0]!.request)).toBe(relevancePrompt(base.prompt, '<card-s1>'));
    expect(ofType(events, 'score').map((s) => [s.target, s.metric, s.value])).toEqual([
      ['a1.r1.s0.card', 'relevant', 1],
      ['a2.r1.s0.card', 'relevant', 1],
      ['a3.r1.s0.card', 'relevant', 0],
    ]);
    expect(ofType(events, 'score')[2]!.detail).toBe('Agent 2 said no: card dropped');
    expect(sees.get('a2.r3.s0')).toEqual(['a1.r1.s0.card', 'a2.r1.s0.card']);
    expectSeesIsWhatPromptShows(events);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2' });
  });

  it('scripted: a check with neither yes nor no keeps its card and says so', async () => {
    const { agents } = setup(2, () => 'Perhaps');
    const events = await collectRun({ ...base, agents, knobs: { prune: true } });
    expect(ofType(events, 'score').map((s) => s.value)).toEqual([1, 1]);
    expect(ofType(events, 'score')[0]!.detail).toBe('no yes/no read from "Perhaps": card kept');
  });

  it('scripted: every card dropped — the answerer answers the bare question, with a warning', async () => {
    const { agents } = setup(2, () => 'no');
    const events = await collectRun({ ...base, agents, knobs: { prune: true } });
    const answer = ofType(events, 'message-start').at(-1)!;
    expect(answer.sees).toBeUndefined();
    expect(answer.messages).toEqual([{ role: 'system', content: 's1' }, { role: 'user', content: base.prompt }]);
    expect(only(events, 'error')).toMatchObject({ fatal: false, message: expect.stringMatching(/no knowledge card is left/) });
    expect(events.at(-1)).toMatchObject({ status: 'done' });
  });

  it('scripted: excludeSelf — the answerer writes no card and sees only the others’', async () => {
    const { engine, agents } = setup(3);
    const knobs = { excludeSelf: true, answerer: 3 };
    const events = await collectRun({ ...base, agents, knobs });
    expect(engine.calls).toHaveLength(3);
    expect(engine.calls).toHaveLength(calls(3, knobs));
    expect(seesById(events).get('a3.r2.s0')).toEqual(['a1.r1.s0.card', 'a2.r1.s0.card']);
  });

  it('the dev fit makes the best member the answerer', () => {
    expect(strategy.fit!({ agentScores: [0.1, 0.4, 0.3], items: [] }, {}).knobs).toEqual({ answerer: 2 });
  });
});

describe('knowledge-cards: refusals and cancel', () => {
  it('scripted: an answer that cannot fit every card is refused before any call', async () => {
    const { engine, agents } = setup(4);
    agents.forEach((a) => (a.engine = new ScriptedEngine(() => words('x'), { contextLength: 280 })));
    const events = await collectRun({ ...base, agents, knobs: {} });
    expect(engine.calls).toHaveLength(0);
    expect(agents.every((a) => (a.engine as ScriptedEngine).calls.length === 0)).toBe(true);
    expect(only(events, 'error').message).toMatch(/the answer with the cards \(4 text\(s\) shown, at least 32 bytes each\).*280-token context — .*use fewer agents \(now 4\)/);
  });

  it('scripted: cancelling while the cards are written ends the run without an answer', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(50)), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, agents: agentsOn(engine, 2), knobs: {} }, (e) => e.type === 'token');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engine.calls).toHaveLength(2);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
