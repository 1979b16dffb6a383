import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import type { Strategy } from '../../src/lib/strategies/types.ts';
import { agentsFromSetup, collectRun, runStrategy } from '../../src/lib/run.ts';
import { ScriptedEngine, agentsOn, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const ofType = <T extends TraceEvent['type']>(events: TraceEvent[], type: T) => events.filter((e): e is Of<T> => e.type === type);
const base = { prompt: 'Tell me a story.', seed: 1, maxTokens: 400 };

describe('runStrategy framing', () => {
  it('scripted: run-start first, then the method’s events, then usage totals and run-end', async () => {
    const engine = new ScriptedEngine(() => words('one two three'));
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 3), knobs: { samples: 2 }, runId: 'r1' });
    const start = events[0] as Of<'run-start'>;
    expect(start).toMatchObject({ type: 'run-start', runId: 'r1', strategy: 'vote', seed: 1, prompt: base.prompt });
    expect(start.knobs).toEqual({ samples: 2, answerType: 'auto' });
    expect(start.agents.map((a) => a.id)).toEqual(['a1', 'a2', 'a3']);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['usage', 'run-end']);
    const usage = ofType(events, 'usage')[0]!;
    // Six calls, 10 prompt tokens and 3 completion tokens each (the scripted engine's usage).
    expect(usage).toMatchObject({ calls: 6, prompt_tokens: 60, completion_tokens: 18 });
    expect(usage.seconds).toBeGreaterThanOrEqual(0);
    const ts = events.map((e) => e.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  });

  it('agentsFromSetup binds agents to engines by model id, with ids a1… and per-agent temperature/system', () => {
    const e1 = new ScriptedEngine(() => []);
    const e2 = new ScriptedEngine(() => []);
    const agents = agentsFromSetup(
      [
        { model: 'm1', system: '', temperature: 0 },
        { model: 'm2', system: 'Be brief.', temperature: 1.1 },
        { model: 'm1', temperature: 0.5 },
      ],
      (m) => (m === 'm1' ? e1 : e2),
    );
    expect(agents.map((a) => [a.id, a.name, a.temperature, a.system])).toEqual([
      ['a1', 'Agent 1 · m1', 0, undefined],
      ['a2', 'Agent 2 · m2', 1.1, 'Be brief.'],
      ['a3', 'Agent 3 · m1', 0.5, undefined],
    ]);
    expect(agents[0]!.engine).toBe(agents[2]!.engine);
  });
});

describe('runStrategy cancellation', () => {
  it('scripted: cancel mid-run ends with run-end "cancelled" promptly and every engine call sees the abort', async () => {
    const engine = new ScriptedEngine(() => words('word '.repeat(300)), { tokenDelayMs: 5 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    let abortedAt = 0;
    for await (const e of runStrategy({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), knobs: { rounds: 3 }, signal: controller.signal })) {
      events.push(e);
      if (e.type === 'token' && ofType(events, 'token').length === 10) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
    const elapsed = performance.now() - abortedAt;
    expect(elapsed).toBeLessThan(200);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    // Round 1 only: three calls, each ended by the abort; no round 2, no final.
    expect(engine.calls).toHaveLength(3);
    expect(engine.calls.every((c) => c.finish === 'abort')).toBe(true);
    expect(engine.active).toBe(0);
    expect(ofType(events, 'message-end').map((m) => m.finish_reason)).toEqual(['abort', 'abort', 'abort']);
    expect(ofType(events, 'final')).toHaveLength(0);
    expect(ofType(events, 'error')).toHaveLength(0);
  });

  it('scripted: an engine that ignores the abort cannot hold the run: it ends after the grace time, open messages closed', async () => {
    const engine = new ScriptedEngine(() => words('slow '.repeat(200)), { tokenDelayMs: 20, ignoreAbort: true });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    let abortedAt = 0;
    for await (const e of runStrategy({ ...base, strategy: 'vote', agents: agentsOn(engine, 2), signal: controller.signal, cancelGraceMs: 100 })) {
      events.push(e);
      if (e.type === 'token' && abortedAt === 0) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
    const elapsed = performance.now() - abortedAt;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(400);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    const ends = ofType(events, 'message-end');
    expect(ends.map((m) => m.finish_reason)).toEqual(['abort', 'abort']);
    expect(new Set(ends.map((m) => m.msgId))).toEqual(new Set(ofType(events, 'message-start').map((m) => m.msgId)));
  });

  it('scripted: a signal aborted before the start runs nothing', async () => {
    const engine = new ScriptedEngine(() => words('x'));
    const events = await collectRun({ ...base, strategy: 'single', agents: agentsOn(engine, 1), signal: AbortSignal.abort() });
    expect(engine.calls).toHaveLength(0);
    expect(events.map((e) => e.type)).toEqual(['run-start', 'usage', 'run-end']);
    expect(events.at(-1)).toMatchObject({ status: 'cancelled' });
  });
});

describe('runStrategy errors', () => {
  const engine = () => new ScriptedEngine(() => words('4'));
  const fatal = async (req: Parameters<typeof collectRun>[0]) => {
    const events = await collectRun(req);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    return (events.at(-1) as Of<'run-end'>).message ?? '';
  };

  it('bad requests end as errors that say what to change', async () => {
    expect(await fatal({ ...base, strategy: 'debate', agents: agentsOn(engine(), 1) })).toMatch(/Debate needs at least 2 agent\(s\) and the setup has 1: add agents/);
    expect(await fatal({ ...base, strategy: 'vote', prompt: '  ', agents: agentsOn(engine(), 1) })).toMatch(/prompt is empty/);
    expect(await fatal({ ...base, strategy: 'vote', seed: -1, agents: agentsOn(engine(), 1) })).toMatch(/seed must be a whole number/);
    expect(await fatal({ ...base, strategy: 'vote', maxTokens: 0, agents: agentsOn(engine(), 1) })).toMatch(/max tokens/);
    expect(await fatal({ ...base, strategy: 'moe', agents: agentsOn(engine(), 1) })).toMatch(/unknown method "moe": choose one of single, vote, cascade, debate/);
  });

  it('knob values out of range are clamped and reported as warnings, not failures', async () => {
    const e = engine();
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(e, 1), knobs: { samples: 99, colour: 'red' } });
    expect((events[0] as Of<'run-start'>).knobs.samples).toBe(8);
    expect(e.calls).toHaveLength(8);
    const warnings = ofType(events, 'error').map((w) => w.message);
    expect(warnings).toEqual(['warning: Majority vote knob "samples": 99 is outside 1–8; using 8', 'warning: Majority vote has no knob "colour"; ignored']);
    expect(events.at(-1)).toMatchObject({ status: 'done' });
  });

  it('a method that throws ends the run with a fatal error event; one that gives no final answer too', async () => {
    const throwing: Strategy = {
      meta: { id: 'boom', name: 'Boom', level: 'api', description: '', paper: { title: 't', url: 'https://arxiv.org/abs/0000.00000' }, knobs: [], needs: { minAgents: 1 } },
      // eslint-disable-next-line require-yield
      async *run() {
        throw new Error('kaboom: fix the thing');
      },
    };
    const events = await collectRun({ ...base, strategy: throwing, agents: agentsOn(engine(), 1) });
    expect(ofType(events, 'error')).toMatchObject([{ fatal: true, message: 'kaboom: fix the thing' }]);
    expect(events.at(-1)).toMatchObject({ status: 'error', message: 'kaboom: fix the thing' });
    const silent: Strategy = { ...throwing, async *run(ctx) { yield { type: 'round', t: ctx.now(), round: 1, label: 'nothing' }; } };
    expect(await fatal({ ...base, strategy: silent, agents: agentsOn(engine(), 1) })).toMatch(/ended without a final answer/);
  });

  it('scripted: every agent failing is a fatal error naming the cause', async () => {
    const e = new ScriptedEngine(() => new Error('model unloaded: load it again'));
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(e, 2) });
    expect(ofType(events, 'error').filter((x) => !x.fatal)).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ status: 'error', message: expect.stringMatching(/every agent failed/) });
  });
});
