// The wiring between the strategies and their pure parts: what reaches the tally (token
// probabilities), what reaches each call (its own seed, the latest round's answers), and how knob
// values are fixed before a run. Each test here was first checked against the hand-made bug it
// names (a mutation audit's survivors, issue 10): with the bug in place, the test fails.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { checkKnob, parseKnobString, resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { answerTypeOf, knob } from '../../src/lib/strategies/common.ts';
import { judgeMessages } from '../../src/lib/strategies/debate.ts';
import type { Knob, StrategyContext } from '../../src/lib/strategies/types.ts';
import { getStrategy, strategies as strategiesList } from '../../src/lib/strategies/registry.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const only = <T extends TraceEvent['type']>(events: TraceEvent[], type: T): Of<T> => {
  const found = events.filter((e): e is Of<T> => e.type === type);
  expect(found, `exactly one ${type} event`).toHaveLength(1);
  return found[0]!;
};
const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32 };

describe('token probabilities reach the tie rule', () => {
  // Two agents, one vote each: a tie on votes, so the summed mean token probability decides. The
  // surer answer comes second in setup order, so dropping the probabilities (every ballot adds 0)
  // would hand the win to the first ballot instead.
  const unsure = Math.log(0.2);
  const sure = Math.log(0.9);

  it('scripted: vote — a 1–1 tie goes to the answer given with the higher token probability', async () => {
    const engine = new ScriptedEngine((req) => (req.messages.some((m) => m.role === 'system') ? words('The answer is 5.', sure) : words('The answer is 4.', unsure)));
    const agents = agentsOn(engine, 2);
    agents[1]!.system = 'Be sure.';
    const events = await collectRun({ ...base, strategy: 'vote', agents, knobs: { answerType: 'number' } });
    const vote = only(events, 'vote');
    expect(vote.tie).toBe(true);
    expect(vote.winner).toBe('5');
    expect(vote.rule).toMatch(/highest summed probability \(0\.900\) wins/);
    expect(only(events, 'final')).toMatchObject({ answer: '5', agent: 'a2', text: 'The answer is 5.' });
  });

  it('scripted: debate — the final vote also weighs the last round’s token probabilities', async () => {
    const engine = new ScriptedEngine((req) => (req.messages[0]?.role === 'system' ? words('I say 5', sure) : words('I say 4', unsure)));
    const agents = agentsOn(engine, 2);
    agents[1]!.system = 'Be sure.';
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 2, answerType: 'number' } });
    const vote = only(events, 'vote');
    expect(vote.tally.map((t) => t.answer)).toEqual(['5', '4']);
    expect(only(events, 'final')).toMatchObject({ answer: '5', agent: 'a2' });
  });
});

describe('each call gets its own seed', () => {
  it('scripted: vote — every sample of one agent is sent callSeed(seed, agent, 1, sample)', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 2), knobs: { samples: 3 } });
    const sent = engine.calls.map((c) => `${c.caller}:${c.request.seed}`).sort();
    const expected = [0, 1].flatMap((a) => [0, 1, 2].map((s) => `a${a + 1}:${callSeed(42, a, 1, s)}`)).sort();
    expect(sent).toEqual(expected);
    expect(new Set(engine.calls.map((c) => c.request.seed)).size).toBe(6);
  });

  it('scripted: debate and cascade — round (or tier) and agent enter the seed', async () => {
    const debateEngine = new ScriptedEngine(() => words('4'));
    await collectRun({ ...base, strategy: 'debate', agents: agentsOn(debateEngine, 2), knobs: { rounds: 2 } });
    expect(debateEngine.calls.map((c) => `${c.caller}:${c.request.seed}`).sort()).toEqual(
      [`a1:${callSeed(42, 0, 1, 0)}`, `a2:${callSeed(42, 1, 1, 0)}`, `a1:${callSeed(42, 0, 2, 0)}`, `a2:${callSeed(42, 1, 2, 0)}`].sort(),
    );
    const cascadeEngine = new ScriptedEngine(() => words('4', Math.log(0.1)));
    await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(cascadeEngine, 2) });
    expect(cascadeEngine.calls.map((c) => c.request.seed)).toEqual([callSeed(42, 0, 1, 0), callSeed(42, 1, 2, 0)]);
  });

  it('the judge is asked with round = rounds + 1 and its own agent index', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 2, final: 'judge', judge: 3 } });
    expect(engine.calls.at(-1)?.request.seed).toBe(callSeed(42, 2, 3, 0));
  });
});

describe('seed derivation against independently computed values', () => {
  // Computed once with Python (plain integer arithmetic, masked to 32 bits), not with this module:
  //   M=0xffffffff
  //   def fmix(h): h&=M; h^=h>>16; h=(h*0x85ebca6b)&M; h^=h>>13; h=(h*0xc2b2ae35)&M; h^=h>>16; return h
  //   def seed(s,a,r,k):
  //     h=s&M
  //     for i,v in enumerate((a,r,k)): h=fmix(h ^ fmix((v+0x9E3779B9*(i+1))&M))
  //     return h&0x7fffffff
  const table: [number, number, number, number, number][] = [
    [42, 1, 2, 3, 989439269],
    [0, 0, 1, 0, 2090575623],
    [42, 0, 1, 0, 169465673],
    [42, 0, 1, 1, 407107256],
    [42, 0, 1, 2, 1034238450],
    [7, 2, 3, 0, 1028368121],
    [123456789, 7, 6, 7, 448205133],
    [0xffffffff, 0, 1, 0, 1764875046],
  ];
  for (const [seed, agent, round, sample, expected] of table) {
    it(`callSeed(${seed}, ${agent}, ${round}, ${sample}) = ${expected}`, () => {
      expect(callSeed(seed, agent, round, sample)).toBe(expected);
    });
  }
});

describe('debate rounds see the latest answers', () => {
  it('scripted: in round 3 each agent is shown its own and the others’ round-2 answers, not round 1’s', async () => {
    // Every answer names its round and its call, so no two answers are alike.
    const engine = new ScriptedEngine((req, i) => {
      const round = 1 + Math.floor(i / 3);
      return words(`${req.messages.length === 1 ? 'fresh' : 'revised'} round ${round} answer ${i % 3}`);
    });
    const agents = agentsOn(engine, 3);
    const events = await collectRun({ ...base, strategy: 'debate', agents, knobs: { rounds: 3 } });
    expect(engine.calls).toHaveLength(9);
    const textOf = new Map(
      events.filter((e): e is Of<'message-end'> => e.type === 'message-end').map((m) => [m.msgId, m.text] as const),
    );
    for (const call of engine.calls.slice(6)) {
      const me = call.caller!;
      const own = textOf.get(`${me}.r2.s0`)!;
      expect(call.request.messages[1]).toEqual({ role: 'assistant', content: own });
      const shown = lastUser(call.request);
      for (const a of agents.filter((x) => x.id !== me)) {
        expect(shown).toContain(textOf.get(`${a.id}.r2.s0`)!);
        expect(shown).not.toContain(textOf.get(`${a.id}.r1.s0`)!);
      }
    }
    expect(only(events, 'vote').round).toBe(3);
  });

  it('scripted: an agent that fails in round 2 is represented in round 3 by its round-1 answer', async () => {
    const engine = new ScriptedEngine((_req, i) => (i === 4 ? new Error('worker crashed') : words(`answer number ${i}`)));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 3 } });
    // Calls 0–2 are round 1, 3–5 round 2 (a2's, call 4, fails), 6–8 round 3.
    expect(engine.calls.slice(0, 3).map((c) => c.caller)).toEqual(['a1', 'a2', 'a3']);
    const round3 = engine.calls.slice(6);
    const a2Call = round3.find((c) => c.caller === 'a2')!;
    expect(a2Call.request.messages[1]?.content).toBe('answer number 1');
    for (const c of round3.filter((x) => x.caller !== 'a2')) expect(lastUser(c.request)).toContain('answer number 1');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });
});

describe('integer knobs are whole numbers before a run', () => {
  const debateMeta = getStrategy('debate').meta;
  it('rounds 2.6 → 3 with a warning; 2.4 → 2', () => {
    expect(resolveKnobs(debateMeta, { rounds: 2.6 })).toEqual({
      knobs: { rounds: 3, final: 'vote', judge: 1, answerType: 'auto' },
      warnings: ['Debate knob "rounds": 2.6 is not a whole number; using 3'],
    });
    expect(resolveKnobs(debateMeta, { rounds: 2.4 }).knobs.rounds).toBe(2);
    // A number knob keeps its fraction.
    const threshold = getStrategy('cascade').meta.knobs.find((k) => k.id === 'threshold')!;
    expect(checkKnob(threshold, 0.65, 'Cascade')).toEqual({ value: 0.65 });
  });

  it('out of range is clamped after rounding, and named', () => {
    expect(resolveKnobs(debateMeta, { rounds: 6.4 }).knobs.rounds).toBe(6);
    expect(resolveKnobs(debateMeta, { rounds: 6.6 })).toMatchObject({ knobs: { rounds: 6 }, warnings: ['Debate knob "rounds": 6.6 is outside 1–6; using 6'] });
    expect(resolveKnobs(debateMeta, { rounds: 0 })).toMatchObject({ knobs: { rounds: 1 }, warnings: ['Debate knob "rounds": 0 is outside 1–6; using 1'] });
  });

  it('scripted: a debate asked for 2.6 rounds runs 3 and says so', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { rounds: 2.6 } });
    expect(engine.calls).toHaveLength(6);
    expect(events.filter((e): e is Of<'round'> => e.type === 'round').map((r) => r.round)).toEqual([1, 2, 3]);
    expect(events.some((e) => e.type === 'error' && /2\.6 is not a whole number; using 3/.test(e.message))).toBe(true);
  });
});

describe('what each engine call is sent and what its trace says', () => {
  it('scripted: temperature, max tokens, logprobs with 5 alternatives; system prompt first, blank ones left out', async () => {
    const engine = new ScriptedEngine(() => words('one two three four', Math.log(0.5)));
    const agents = agentsOn(engine, 3);
    agents[0]!.system = 'Be brief.';
    agents[1]!.system = '   ';
    agents[2]!.temperature = 1.1;
    const events = await collectRun({ ...base, maxTokens: 3, strategy: 'vote', agents });
    const byCaller = new Map(engine.calls.map((c) => [c.caller, c.request] as const));
    expect(byCaller.get('a1')).toMatchObject({ temperature: 0.7, max_tokens: 3, logprobs: true, top_logprobs: 5 });
    expect(byCaller.get('a1')!.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: base.prompt }]);
    expect(byCaller.get('a2')!.messages).toEqual([{ role: 'user', content: base.prompt }]);
    expect(byCaller.get('a3')!.temperature).toBe(1.1);
    const ends = events.filter((e): e is Of<'message-end'> => e.type === 'message-end');
    expect(ends.map((e) => [e.agent, e.text, e.finish_reason])).toEqual(
      expect.arrayContaining([['a1', 'one two three ', 'length'], ['a2', 'one two three ', 'length'], ['a3', 'one two three ', 'length']]),
    );
    for (const e of ends) expect(e.usage.completion_tokens).toBe(3);
    const starts = events.filter((e): e is Of<'message-start'> => e.type === 'message-start');
    expect(starts.find((s) => s.agent === 'a1')).toMatchObject({ msgId: 'a1.r1.s0', round: 1, purpose: 'answer', messages: byCaller.get('a1')!.messages });
  });

  it('scripted: an engine without logprobs is not asked for them, and its messages carry no probability', async () => {
    const engine = new ScriptedEngine(() => words('The answer is 4.', Math.log(0.5)), { supportsLogprobs: false });
    const events = await collectRun({ ...base, strategy: 'single', agents: agentsOn(engine, 1) });
    expect(engine.calls[0]!.request).not.toHaveProperty('logprobs');
    expect(engine.calls[0]!.request).not.toHaveProperty('top_logprobs');
    expect(only(events, 'message-end')).not.toHaveProperty('meanProb');
    expect(events.filter((e): e is Of<'token'> => e.type === 'token').every((t) => t.logprob === undefined && t.top === undefined)).toBe(true);
    expect(only(events, 'final').answer).toBe('4');
  });

  it('scripted: the judge’s message has its own id', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 2), knobs: { rounds: 1, final: 'judge', judge: 2 } });
    const starts = events.filter((e): e is Of<'message-start'> => e.type === 'message-start').map((s) => [s.msgId, s.purpose]);
    expect(starts).toEqual([['a1.r1.s0', 'answer'], ['a2.r1.s0', 'answer'], ['a2.r2.s0.judge', 'judge']]);
  });

  it('a stream that stops without its "done" chunk is that agent’s error, and the others go on', async () => {
    const scripted = new ScriptedEngine(() => words('The answer is 4.'));
    const cut: typeof scripted = Object.assign(Object.create(scripted) as typeof scripted, {
      async *chat() {
        yield { type: 'delta' as const, text: 'The answer' };
      },
    });
    const agents = agentsOn(scripted, 2);
    agents[0]!.engine = cut;
    const events = await collectRun({ ...base, strategy: 'vote', agents });
    const error = only(events, 'error');
    expect(error).toMatchObject({ agent: 'a1', fatal: false });
    // The event names the agent; the message does not repeat it (issue 10: the name appeared three times).
    expect(error.message).toBe('the engine stream ended without a final "done" chunk');
    expect(only(events, 'vote').ballots.map((b) => b.agent)).toEqual(['a2']);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a2' });
  });

  it('scripted: a single agent that fails ends the run with its error', async () => {
    const engine = new ScriptedEngine(() => new Error('worker crashed: reload the model'));
    const events = await collectRun({ ...base, strategy: 'single', agents: agentsOn(engine, 2), knobs: { agent: 2 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^Agent 2 failed: worker crashed: reload the model/) });
  });
});

describe('knob plumbing', () => {
  const flag: Knob = { id: 'flag', label: 'Flag', help: '', type: 'boolean', default: true };
  const count: Knob = { id: 'count', label: 'Count', help: '', type: 'integer', default: 2, min: 1, max: 4, step: 1 };

  it('boolean knobs read 1/true/0/false from a link and nothing else', () => {
    expect(['1', 'true', '0', 'false', 'yes', ''].map((r) => parseKnobString(flag, r))).toEqual([true, true, false, false, undefined, undefined]);
    expect(checkKnob(flag, false, 'M')).toEqual({ value: false });
    expect(checkKnob(flag, 'false', 'M')).toEqual({ value: true, warning: 'M knob "flag": "false" is not true/false; using the default true' });
  });

  it('number knobs parse finite numbers only; a non-number falls back to the default', () => {
    expect(['3', ' 2.5 ', '', '  ', 'x', 'Infinity'].map((r) => parseKnobString(count, r))).toEqual([3, 2.5, undefined, undefined, undefined, undefined]);
    expect(checkKnob(count, Number.NaN, 'M')).toEqual({ value: 2, warning: 'M knob "count": null is not a number; using the default 2' });
    expect(checkKnob(count, '3', 'M').value).toBe(2);
    expect(checkKnob(count, 4, 'M')).toEqual({ value: 4 });
    expect(checkKnob(count, 1, 'M')).toEqual({ value: 1 });
  });

  it('a select knob keeps a listed option and replaces any other value, naming the options', () => {
    const answerType = getStrategy('vote').meta.knobs.find((k) => k.id === 'answerType')!;
    expect(parseKnobString(answerType, 'number')).toBe('number');
    expect(checkKnob(answerType, 'choice', 'Vote')).toEqual({ value: 'choice' });
    expect(checkKnob(answerType, 'letters', 'Vote')).toEqual({ value: 'auto', warning: 'Vote knob "answerType": "letters" is not one of auto, number, choice, yesno, text; using the default "auto"' });
  });

  it('knob() reads the resolved value, else the declared default; an undeclared knob is a programming error', () => {
    const meta = getStrategy('debate').meta;
    const ctx = { knobs: { rounds: 4 } } as unknown as StrategyContext;
    expect(knob<number>(ctx, meta, 'rounds')).toBe(4);
    expect(knob<string>(ctx, meta, 'final')).toBe('vote');
    expect(() => knob(ctx, meta, 'colour')).toThrow('internal: strategy "debate" has no knob "colour"');
    expect(answerTypeOf({ knobs: { answerType: 'yesno' } } as unknown as StrategyContext, meta)).toBe('yesno');
    expect(answerTypeOf({ knobs: { answerType: 'bogus' } } as unknown as StrategyContext, meta)).toBe('auto');
  });
});

describe('failures and prompts at the edges', () => {
  it('the judge’s own system prompt comes first; a blank one is left out', () => {
    const judge = { id: 'a1', name: 'Agent 1', model: 'm', engine: new ScriptedEngine(() => []), temperature: 0 };
    const finals = [{ name: 'Agent 1', text: ' 4 ' }];
    expect(judgeMessages({ ...judge, system: 'Be fair.' }, 'Q?', finals)[0]).toEqual({ role: 'system', content: 'Be fair.' });
    expect(judgeMessages({ ...judge, system: ' ' }, 'Q?', finals).map((m) => m.role)).toEqual(['user']);
    expect(judgeMessages(judge, 'Q?', finals)[0]!.content).toBe(
      'Question: Q?\n\nAfter a debate, the agents gave these final answers:\n\nAgent 1: ```4```\n\nWhich answer is correct? Reply with the correct answer only.',
    );
  });

  it('scripted: cascade — a failing agent defers to the next, saying why', async () => {
    const engine = new ScriptedEngine((_r, i) => (i === 0 ? new Error('worker crashed') : words('The answer is 7.', Math.log(0.9))));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2) });
    const routes = events.filter((e): e is Of<'route'> => e.type === 'route');
    expect(routes[0]).toMatchObject({ from: 'a1', to: 'a2', decision: 'defer', reason: 'Agent 1 failed (worker crashed): defer to the next agent' });
    expect(routes[0]).not.toHaveProperty('confidence');
    expect(only(events, 'final')).toMatchObject({ answer: '7', agent: 'a2' });
  });

  it('scripted: cascade — the last agent failing ends the run with its error', async () => {
    const engine = new ScriptedEngine((_r, i) => (i === 1 ? new Error('out of memory') : words('maybe 3', Math.log(0.1))));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2) });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^Agent 2, the last agent of the cascade, failed: out of memory/) });
    expect(events.some((e) => e.type === 'final')).toBe(false);
  });

  it('scripted: debate — every agent failing in a round ends the run; a failing judge too', async () => {
    const failing = new ScriptedEngine((_r, i) => (i >= 2 ? new Error('gone') : words('4')));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(failing, 2), knobs: { rounds: 3 } });
    expect(failing.calls).toHaveLength(4);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^every agent failed in round 2; see the errors above/) });
    const badJudge = new ScriptedEngine((req) => (lastUser(req).includes('Which answer is correct?') ? new Error('judge crashed') : words('4')));
    const judged = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(badJudge, 2), knobs: { rounds: 1, final: 'judge', judge: 1 } });
    expect(judged.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^the judge Agent 1 failed: judge crashed/) });
  });

  it('scripted: vote — every agent failing ends the run; all abstaining elects nobody', async () => {
    const failing = new ScriptedEngine(() => new Error('gone'));
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(failing, 2) });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringMatching(/^every agent failed to answer; see the errors above/) });
    const silent = new ScriptedEngine(() => words('no idea'));
    const abstained = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(silent, 2), knobs: { answerType: 'number' } });
    expect(only(abstained, 'final')).toMatchObject({ answer: '', text: 'no idea', agent: 'a1' });
  });
});

describe('token events from deltas that carry several tokens', () => {
  it('scripted: a two-token delta reports the summed logprob and no alternatives; a one-token delta its alternatives', async () => {
    const scripted = new ScriptedEngine(() => []);
    const lp = (token: string, logprob: number) => ({ token, logprob, top_logprobs: [{ token, logprob }, { token: 'x', logprob: -3 }] });
    const multi: typeof scripted = Object.assign(Object.create(scripted) as typeof scripted, {
      async *chat() {
        yield { type: 'delta' as const, text: 'The answer', logprobs: [lp('The', Math.log(0.5)), lp(' answer', Math.log(0.25))] };
        yield { type: 'delta' as const, text: ' is 4', logprobs: [lp(' is 4', Math.log(0.5))] };
        yield { type: 'delta' as const, text: '.', logprobs: [{ token: '.', logprob: 0, top_logprobs: [] }] };
        yield { type: 'done' as const, finish_reason: 'stop' as const, usage: { prompt_tokens: 1, completion_tokens: 4, time_to_first_token_ms: 0, total_ms: 1, tokens_per_second: 0 } };
      },
    });
    const agents = agentsOn(scripted, 1);
    agents[0]!.engine = multi;
    const events = await collectRun({ ...base, strategy: 'single', agents });
    const tokens = events.filter((e): e is Of<'token'> => e.type === 'token');
    expect(tokens).toHaveLength(3);
    expect(tokens[0]!.logprob).toBeCloseTo(Math.log(0.125), 12);
    expect(tokens[0]).not.toHaveProperty('top');
    expect(tokens[1]!.top).toEqual([{ token: ' is 4', logprob: Math.log(0.5) }, { token: 'x', logprob: -3 }]);
    expect(tokens[2]!.logprob).toBe(0);
    expect(tokens[2]).not.toHaveProperty('top');
    // Four token probabilities 0.5, 0.25, 0.5, 1: geometric mean 0.5.
    expect(only(events, 'message-end').meanProb).toBeCloseTo(0.5, 12);
  });
});

describe('who sees what (CallSpec.sees on message-start)', () => {
  const starts = (events: TraceEvent[]) => events.filter((e): e is Of<'message-start'> => e.type === 'message-start');
  const seen = (events: TraceEvent[]) => Object.fromEntries(starts(events).map((s) => [s.msgId, s.sees ?? []]));

  it('scripted: debate — round 1 sees nothing; a revision sees its own and the others’ previous messages; the judge sees every final', async () => {
    const engine = new ScriptedEngine((_req, i) => words(`answer ${i}`));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 3, final: 'judge', judge: 2 } });
    expect(seen(events)).toEqual({
      'a1.r1.s0': [], 'a2.r1.s0': [], 'a3.r1.s0': [],
      'a1.r2.s0': ['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0'],
      'a2.r2.s0': ['a2.r1.s0', 'a1.r1.s0', 'a3.r1.s0'],
      'a3.r2.s0': ['a3.r1.s0', 'a1.r1.s0', 'a2.r1.s0'],
      'a1.r3.s0': ['a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0'],
      'a2.r3.s0': ['a2.r2.s0', 'a1.r2.s0', 'a3.r2.s0'],
      'a3.r3.s0': ['a3.r2.s0', 'a1.r2.s0', 'a2.r2.s0'],
      'a2.r4.s0.judge': ['a1.r3.s0', 'a2.r3.s0', 'a3.r3.s0'],
    });
    // The prompt shows exactly the texts its `sees` names: a2's round-3 revision holds a1's and a3's round-2 answers.
    const texts = Object.fromEntries(events.filter((e): e is Of<'message-end'> => e.type === 'message-end').map((e) => [e.msgId, e.text]));
    const a2r3 = starts(events).find((s) => s.msgId === 'a2.r3.s0')!;
    const shown = a2r3.messages.map((m) => m.content).join('\n');
    for (const id of a2r3.sees!) expect(shown).toContain(texts[id]!.trim());
  });

  it('scripted: debate — an agent that failed in round 1 is shown by the msgId of its latest answer, not a missing one', async () => {
    // a2's first call fails: round 2 shows only a1's and a3's round-1 answers, and a2 answers afresh (nothing to revise).
    const engine = new ScriptedEngine((req, i) => (req.messages.length === 1 && lastUser(req) === base.prompt && i === 1 ? new Error('boom') : words(`answer ${i}`)));
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 2 } });
    const s = seen(events);
    expect(s['a1.r2.s0']).toEqual(['a1.r1.s0', 'a3.r1.s0']);
    expect(s['a3.r2.s0']).toEqual(['a3.r1.s0', 'a1.r1.s0']);
    expect(s['a2.r2.s0']).toEqual([]);
  });

  it.each(['single', 'vote', 'cascade'])('scripted: %s — no prompt shows another message', async (strategy) => {
    const engine = new ScriptedEngine(() => words('4', Math.log(0.3)));
    const events = await collectRun({ ...base, strategy, agents: agentsOn(engine, 3), knobs: {} });
    expect(starts(events).length).toBeGreaterThan(0);
    for (const s of starts(events)) expect(s.sees).toBeUndefined();
  });
});

describe('cost.calls is the number of calls a run makes', () => {
  const cases: Array<{ strategy: string; n: number; knobs: Record<string, string | number>; confidence?: number }> = [
    { strategy: 'single', n: 3, knobs: {} },
    { strategy: 'vote', n: 3, knobs: { samples: 2 } },
    { strategy: 'vote', n: 2, knobs: { samples: 1 } },
    { strategy: 'debate', n: 3, knobs: { rounds: 2 } },
    { strategy: 'debate', n: 2, knobs: { rounds: 3, final: 'judge' } },
    // Cascade states an upper bound: every tier defers (confidence 0.3 < 0.6) and all N agents are asked.
    { strategy: 'cascade', n: 3, knobs: {}, confidence: 0.3 },
  ];
  it.each(cases)('scripted: $strategy with N = $n and $knobs', async ({ strategy, n, knobs, confidence }) => {
    const engine = new ScriptedEngine(() => words('4', Math.log(confidence ?? 0.9)));
    const events = await collectRun({ ...base, strategy, agents: agentsOn(engine, n), knobs });
    const meta = getStrategy(strategy).meta;
    const resolved = resolveKnobs(meta, knobs).knobs;
    expect(meta.cost!.calls(n, resolved)).toBe(engine.calls.length);
    expect(only(events, 'usage').calls).toBe(engine.calls.length);
  });

  it('scripted: cascade — an answer accepted at the first tier takes 1 call, under the stated "at most N"', async () => {
    const engine = new ScriptedEngine(() => words('4', Math.log(0.9)));
    await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 3), knobs: {} });
    expect(engine.calls).toHaveLength(1);
    expect(getStrategy('cascade').meta.cost!.formula).toMatch(/^at most N calls/);
  });

  it('scripted: router — one call after routing (trained on a scripted dev split)', async () => {
    const engine = new ScriptedEngine(() => words('4'));
    const s = getStrategy('router');
    const fitted = s.fit!({ agentScores: [0, 1], items: [{ prompt: 'What is 2+2?', group: 'g', scores: [0, 1], confidences: [undefined, undefined] }] }, {});
    await collectRun({ ...base, strategy: 'router', agents: agentsOn(engine, 2), knobs: {}, fitted: fitted.state });
    expect(s.meta.cost!.calls(2, {})).toBe(engine.calls.length);
  });

  it('every registered method states its cost', () => {
    for (const { meta } of strategiesList) {
      expect(meta.cost, meta.id).toBeDefined();
      expect(meta.cost!.formula.length, meta.id).toBeGreaterThan(0);
    }
  });
});
