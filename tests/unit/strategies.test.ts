import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun } from '../../src/lib/run.ts';
import { countVotes, TIE_RULE } from '../../src/lib/strategies/tally.ts';
import { decideCascade } from '../../src/lib/strategies/cascade.ts';
import { revisionPrompt } from '../../src/lib/strategies/debate.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { fmix32 } from '../../src/lib/random.ts';
import { meanTokenProb } from '../../src/lib/strategies/common.ts';
import { strategies, getStrategy } from '../../src/lib/strategies/registry.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const ofType = <T extends TraceEvent['type']>(events: TraceEvent[], type: T) => events.filter((e): e is Of<T> => e.type === type);
const only = <T extends TraceEvent['type']>(events: TraceEvent[], type: T): Of<T> => {
  const found = ofType(events, type);
  expect(found, `exactly one ${type} event`).toHaveLength(1);
  return found[0]!;
};

describe('registry and metadata', () => {
  it('has single, vote, cascade, debate, router, the text-level and the weight-level methods, each with paper, level and valid knob defaults', () => {
    expect(strategies.map((s) => s.meta.id)).toEqual(['single', 'vote', 'cascade', 'debate', 'router', 'graph-router', 'prompt-router', 'feedback', 'debate-summary', 'refine', 'knowledge-cards', 'blender', 'moa', 'self-moa', 'structure', 'usc', 'slm-mux', 'aggregation', 'blackboard', 'hswarm', 'nudging', 'co-llm', 'switch', 'speculative', 'fusion', 'contrastive', 'proxy-tuning', 'greedy-soup', 'model-swarms', 'expo', 'dare-ties', 'lorahub']);
    for (const s of strategies) {
      expect(s.meta.paper.url).toMatch(/^https:\/\/arxiv\.org\/abs\//);
      expect(['api', 'text', 'token', 'logit', 'weight']).toContain(s.meta.level);
      for (const k of s.meta.knobs) {
        if (k.type === 'number' || k.type === 'integer') expect(k.default).toBeGreaterThanOrEqual(k.min), expect(k.default).toBeLessThanOrEqual(k.max);
        if (k.type === 'select') expect(k.options.map((o) => o.value)).toContain(k.default);
        if (k.type === 'text') expect(k.default.length).toBeLessThanOrEqual(k.maxLength);
      }
    }
    expect(() => getStrategy('nope')).toThrow(/unknown method "nope": choose one of single, vote, cascade, debate, router/);
  });
});

describe('vote counting and tie rule', () => {
  it('the most votes wins', () => {
    const out = countVotes([
      { agent: 'a1', answer: '4' },
      { agent: 'a2', answer: '5' },
      { agent: 'a3', answer: '4' },
    ]);
    expect(out.winner).toBe('4');
    expect(out.tie).toBe(false);
    expect(out.tally).toEqual([
      { answer: '4', count: 2, agents: ['a1', 'a3'] },
      { answer: '5', count: 1, agents: ['a2'] },
    ]);
    expect(out.rule).toBe(TIE_RULE);
  });

  it('a tie goes to the highest summed mean token probability', () => {
    const out = countVotes([
      { agent: 'a1', answer: 'cat', meanProb: 0.3 },
      { agent: 'a2', answer: 'dog', meanProb: 0.5 },
      { agent: 'a3', answer: 'cat', meanProb: 0.1 },
      { agent: 'a4', answer: 'dog', meanProb: 0.2 },
    ]);
    expect(out.winner).toBe('dog');
    expect(out.tie).toBe(true);
    expect(out.rule).toMatch(/highest summed probability \(0\.700\) wins/);
  });

  it('a tie on votes and probability goes to the earliest first ballot (setup order)', () => {
    const out = countVotes([
      { agent: 'a1', answer: 'red' },
      { agent: 'a2', answer: 'blue' },
      { agent: 'a3', answer: 'blue' },
      { agent: 'a4', answer: 'red' },
    ]);
    expect(out.winner).toBe('red');
    expect(out.tie).toBe(true);
    expect(out.rule).toMatch(/earliest first ballot wins/);
    const swapped = countVotes([
      { agent: 'a1', answer: 'blue' },
      { agent: 'a2', answer: 'red' },
    ]);
    expect(swapped.winner).toBe('blue');
  });

  it('empty answers abstain; all empty → no winner', () => {
    const out = countVotes([
      { agent: 'a1', answer: '' },
      { agent: 'a2', answer: '7' },
    ]);
    expect(out.winner).toBe('7');
    expect(out.ballots).toHaveLength(2);
    const none = countVotes([{ agent: 'a1', answer: '' }]);
    expect(none.winner).toBe('');
    expect(none.rule).toMatch(/no ballot had an answer/);
  });
});

describe('cascade decision rule', () => {
  it('accepts at or above the threshold, defers under it, the last agent always accepts', () => {
    expect(decideCascade(0.8, 0.6, false)).toEqual({ decision: 'accept', reason: 'mean token probability 0.800 ≥ threshold 0.6: accept' });
    expect(decideCascade(0.6, 0.6, false).decision).toBe('accept');
    expect(decideCascade(0.59, 0.6, false)).toEqual({ decision: 'defer', reason: 'mean token probability 0.590 < threshold 0.6: defer to the next agent' });
    expect(decideCascade(0.1, 0.6, true).decision).toBe('accept');
    expect(decideCascade(0.1, 0.6, true).reason).toMatch(/last agent/);
  });
  it('no probabilities → defer (an answer we cannot score is not trusted)', () => {
    expect(decideCascade(undefined, 0.2, false).decision).toBe('defer');
    expect(decideCascade(Number.NaN, 0.2, false).reason).toMatch(/no token probabilities/);
  });
  it('confidence is exp of the mean logprob (geometric mean of token probabilities)', () => {
    const lps = [{ logprob: Math.log(0.5) }, { logprob: Math.log(0.125) }];
    expect(meanTokenProb(lps)).toBeCloseTo(0.25, 12);
    expect(meanTokenProb([])).toBeUndefined();
  });
});

describe('per-call seeds', () => {
  it('are a pure function of (run seed, agent, round, sample), 31-bit, distinct over a grid', () => {
    // The value itself was computed outside this module (Python; see strategies-wiring.test.ts).
    expect(callSeed(42, 1, 2, 3)).toBe(989439269);
    const seen = new Set<number>();
    for (let a = 0; a < 8; a++) for (let r = 1; r <= 6; r++) for (let s = 0; s < 8; s++) {
      const seed = callSeed(42, a, r, s);
      expect(seed).toBeGreaterThanOrEqual(0);
      expect(seed).toBeLessThanOrEqual(0x7fffffff);
      seen.add(seed);
    }
    expect(seen.size).toBe(8 * 6 * 8);
    expect(callSeed(43, 0, 1, 0)).not.toBe(callSeed(42, 0, 1, 0));
    // fmix32 is MurmurHash3's finaliser: known values from the reference implementation.
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
  });
});

describe('strategies on a scripted engine', () => {
  const base = { prompt: 'What is 2+2?', seed: 7, maxTokens: 32 };

  it('scripted: single — one call, streamed tokens with logprobs, final answer extracted', async () => {
    const engine = new ScriptedEngine(() => words('The answer is 4.', Math.log(0.9)));
    const events = await collectRun({ ...base, strategy: 'single', agents: agentsOn(engine, 2), knobs: { agent: 2 } });
    expect(events[0]?.type).toBe('run-start');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(engine.calls).toHaveLength(1);
    expect(engine.calls[0]?.caller).toBe('a2');
    const tokens = ofType(events, 'token');
    expect(tokens.map((t) => t.text).join('')).toBe('The answer is 4.');
    expect(tokens[0]?.logprob).toBeCloseTo(Math.log(0.9));
    expect(tokens[0]?.top?.[0]?.token).toBe('The ');
    expect(only(events, 'message-end').meanProb).toBeCloseTo(0.9);
    expect(only(events, 'final')).toMatchObject({ answer: '4', text: 'The answer is 4.', agent: 'a2' });
  });

  it('scripted: vote — every agent × sample asked at once, answers normalised, majority wins', async () => {
    const replies = ['The answer is 4.', '4 apples', 'I think 5', 'It is 4', '5', 'The answer is 5.'];
    const engine = new ScriptedEngine((_r, i) => words(replies[i] ?? '', Math.log(0.5)), { tokenDelayMs: 5 });
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 3), knobs: { samples: 2, answerType: 'number' } });
    expect(engine.calls).toHaveLength(6);
    // All six calls were issued before the first one finished.
    const firstEnd = Math.min(...engine.calls.map((c) => c.ended!));
    expect(engine.calls.every((c) => c.started < firstEnd)).toBe(true);
    const vote = only(events, 'vote');
    expect(vote.ballots.map((b) => b.answer)).toEqual(['4', '4', '5', '4', '5', '5']);
    expect(vote.tally).toEqual([
      { answer: '4', count: 3, agents: ['a1', 'a1', 'a2'] },
      { answer: '5', count: 3, agents: ['a2', 'a3', 'a3'] },
    ]);
    // 3–3 and equal probabilities → earliest first ballot: "4" (agent 1, sample 0).
    expect(vote.winner).toBe('4');
    expect(vote.tie).toBe(true);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1', text: 'The answer is 4.' });
    // Tokens of different messages arrive interleaved (every lane streams at once), not one message after another.
    const firstEndAt = events.findIndex((e) => e.type === 'message-end');
    expect(new Set(events.slice(0, firstEndAt).filter((e) => e.type === 'token').map((e) => (e as { msgId: string }).msgId)).size).toBeGreaterThan(1);
    expect(ofType(events, 'message-start')).toHaveLength(6);
    expect(new Set(ofType(events, 'message-start').map((m) => m.msgId)).size).toBe(6);
  });

  it('scripted: cascade — defers while mean token probability is under the threshold, route events carry it', async () => {
    const probs = [0.3, 0.7, 0.9];
    const engine = new ScriptedEngine((_r, i) => words(`answer ${i + 10}`, Math.log(probs[i]!)));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 3), knobs: { threshold: 0.5 } });
    expect(engine.calls).toHaveLength(2);
    const routes = ofType(events, 'route');
    expect(routes).toHaveLength(2);
    expect(routes[0]).toMatchObject({ from: 'a1', to: 'a2', decision: 'defer', threshold: 0.5 });
    expect(routes[0]!.confidence).toBeCloseTo(0.3);
    expect(routes[1]).toMatchObject({ from: 'a2', to: 'a2', decision: 'accept' });
    expect(routes[1]!.confidence).toBeCloseTo(0.7);
    expect(only(events, 'final')).toMatchObject({ answer: '11', agent: 'a2' });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([[1, 'Tier 1: Agent 1'], [2, 'Tier 2: Agent 2']]);
  });

  it('scripted: cascade — the last agent is accepted under the threshold', async () => {
    const engine = new ScriptedEngine(() => words('maybe 3', Math.log(0.2)));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2), knobs: { threshold: 0.9 } });
    expect(ofType(events, 'route').map((r) => r.decision)).toEqual(['defer', 'accept']);
    expect(only(events, 'final')).toMatchObject({ answer: '3', agent: 'a2' });
  });

  it('scripted: cascade refuses engines without logprobs, saying what to do', async () => {
    const engine = new ScriptedEngine(() => words('4'), { supportsLogprobs: false });
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2) });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    expect(only(events, 'error').message).toMatch(/needs token probabilities.*choose another model/);
  });

  it('scripted: debate — round 2 shows each agent the others’ round-1 answers and its own, concurrently', async () => {
    const engine = new ScriptedEngine((req) => {
      const me = req.messages.find((m) => m.role === 'assistant')?.content;
      return words(me ? `${me} revised` : `first ${Math.round(req.seed ?? 0) % 1000}`, Math.log(0.6));
    }, { tokenDelayMs: 2 });
    const agents = agentsOn(engine, 3);
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2 } });
    expect(engine.calls).toHaveLength(6);
    const r1 = engine.calls.slice(0, 3);
    const r2 = engine.calls.slice(3);
    const r1Texts = ofType(events, 'message-end').filter((m) => m.msgId.includes('.r1.')).map((m) => [m.agent, m.text] as const);
    const byAgent = new Map(r1Texts);
    for (const call of r2) {
      const me = call.caller!;
      const others = agents.filter((a) => a.id !== me).map((a) => byAgent.get(a.id)!);
      expect(call.request.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
      expect(call.request.messages[0]!.content).toBe(base.prompt);
      expect(call.request.messages[1]!.content).toBe(byAgent.get(me));
      expect(lastUser(call.request)).toBe(revisionPrompt(base.prompt, others));
      for (const o of others) expect(lastUser(call.request)).toContain(o);
      expect(lastUser(call.request)).not.toContain(byAgent.get(me)!);
    }
    // Round 1 calls all started before any finished; likewise round 2.
    for (const round of [r1, r2]) {
      const firstEnd = Math.min(...round.map((c) => c.ended!));
      expect(round.every((c) => c.started < firstEnd)).toBe(true);
    }
    expect(ofType(events, 'round').map((r) => r.round)).toEqual([1, 2]);
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(['answer', 'answer', 'answer', 'revision', 'revision', 'revision']);
    const vote = only(events, 'vote');
    expect(vote.round).toBe(2);
    expect(vote.ballots).toHaveLength(3);
    expect(only(events, 'final').agent).toBeDefined();
  });

  it('scripted: debate with a judge — the judge reads every final answer and decides', async () => {
    const engine = new ScriptedEngine((req) => {
      const u = lastUser(req);
      if (u.includes('Which answer is correct?')) return words('The answer is 9.', Math.log(0.8));
      return words(req.messages.some((m) => m.role === 'assistant') ? 'still 8' : 'I say 8', Math.log(0.8));
    });
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { rounds: 2, final: 'judge', judge: 2 } });
    expect(engine.calls).toHaveLength(5);
    const judgeCall = engine.calls[4]!;
    expect(judgeCall.caller).toBe('a2');
    expect(lastUser(judgeCall.request)).toContain('Agent 1: ```still 8```');
    expect(lastUser(judgeCall.request)).toContain('Agent 2: ```still 8```');
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'round').map((r) => r.label)).toEqual(['Round 1: answers', 'Round 2: revisions', 'Judge: Agent 2']);
    expect(only(events, 'final')).toMatchObject({ answer: '9', agent: 'a2' });
  });

  it('scripted: debate with a judge number beyond the agents fails before any call', async () => {
    const engine = new ScriptedEngine(() => words('x'));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { final: 'judge', judge: 3 } });
    expect(engine.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    expect(events.at(-1)).toHaveProperty('message', expect.stringMatching(/judge is agent 3, but the setup has 2 agent\(s\)/));
  });

  it('scripted: one agent failing in a vote is reported and the others still vote', async () => {
    const engine = new ScriptedEngine((_r, i) => (i === 1 ? new Error('worker crashed: reload the model') : words('42')));
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 3) });
    const errors = ofType(events, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ agent: 'a2', fatal: false });
    expect(only(events, 'vote').ballots.map((b) => b.agent)).toEqual(['a1', 'a3']);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });

  it('scripted: same seed → the same seed for every call, and the same run; another seed differs', async () => {
    const script = (req: { seed?: number }) => words(`n ${req.seed}`);
    const seedsOf = async (seed: number) => {
      const engine = new ScriptedEngine(script);
      const events = await collectRun({ ...base, seed, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 3 } });
      return { seeds: engine.calls.map((c) => `${c.caller}:${c.request.seed}`).sort(), final: only(events, 'final') };
    };
    const a = await seedsOf(123);
    const b = await seedsOf(123);
    const c = await seedsOf(124);
    expect(a.seeds).toEqual(b.seeds);
    expect(a.final).toEqual({ ...b.final, t: a.final.t });
    expect(new Set(a.seeds).size).toBe(9);
    expect(c.seeds).not.toEqual(a.seeds);
    // Temperatures are per agent.
    const engine = new ScriptedEngine(script);
    const agents = agentsOn(engine, 2);
    agents[1]!.temperature = 1.3;
    await collectRun({ ...base, strategy: 'vote', agents });
    expect(engine.calls.map((c) => c.request.temperature).sort()).toEqual([0.7, 1.3]);
  });
});
