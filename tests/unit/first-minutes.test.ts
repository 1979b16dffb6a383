/**
 * The first minutes in the playground (issue 10), the pure parts: data-set prompts go out as raw
 * completions, prompts are checked against the context before a run and cut per debate round,
 * errors name the agent once, and the trace view says queued / accept / abstained truthfully.
 * Engines here are scripted (named so); the real model runs in tests/e2e/playground.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun } from '../../src/lib/run.ts';
import { completionPromptOf, COMPLETION_STOP } from '../../src/lib/engines/prompt.ts';
import { CUT_MARK, MIN_SHOWN_ANSWER_BYTES, cutToBytes, promptTokenBound, shareBytes, utf8Bytes } from '../../src/lib/strategies/budget.ts';
import { applyEvent, emptyTraceView, routeSummary } from '../../src/lib/render/trace-view.ts';
import { ScriptedEngine, agentsOn, words } from './strategies.scripted.ts';

type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;
const ofType = <T extends TraceEvent['type']>(events: TraceEvent[], type: T) => events.filter((e): e is Of<T> => e.type === type);
const base = { prompt: 'Which colour is the sky?', seed: 1, maxTokens: 16, knobs: {} };

describe('completion-mode prompts (a data set prompt is not wrapped in a chat template again)', () => {
  it('a lone "Q: …\\nA:" user message, with or without a system prompt, is a raw completion; anything else is chat', () => {
    expect(completionPromptOf([{ role: 'user', content: 'Q: 79 - 36 = ?\nA:' }])).toBe('Q: 79 - 36 = ?\nA:');
    expect(completionPromptOf([{ role: 'user', content: 'Q: 79 - 36 = ?\nA: ' }])).toBe('Q: 79 - 36 = ?\nA:');
    expect(completionPromptOf([{ role: 'system', content: 'Be exact.' }, { role: 'user', content: 'Q: 1 + 1 = ?\nA:' }])).toBe('Be exact.\nQ: 1 + 1 = ?\nA:');
    expect(completionPromptOf([{ role: 'user', content: 'What is 79 - 36?' }])).toBeNull();
    expect(completionPromptOf([{ role: 'user', content: 'Q: 79 - 36 = ?' }])).toBeNull();
    expect(completionPromptOf([{ role: 'user', content: 'Q: 1?\nA:' }, { role: 'assistant', content: '2' }, { role: 'user', content: 'Q: 2?\nA:' }])).toBeNull();
  });

  it('scripted: single sends the data-set prompt through complete(), stopped at the line end; a plain question through chat()', async () => {
    const engine = new ScriptedEngine(() => words(' 43'));
    const [agent] = agentsOn(engine, 1);
    await collectRun({ ...base, strategy: 'single', agents: [agent!], prompt: 'Q: 79 - 36 = ?\nA:' });
    expect(engine.completions.map((c) => [c.prompt, c.stop])).toEqual([['Q: 79 - 36 = ?\nA:', COMPLETION_STOP]]);
    await collectRun({ ...base, strategy: 'single', agents: [agent!] });
    expect(engine.completions).toHaveLength(1);
    expect(engine.calls).toHaveLength(2);
    expect(engine.calls[1]!.request.messages).toEqual([{ role: 'user', content: base.prompt }]);
  });
});

describe('context budget (checked before a run and per debate round)', () => {
  it('the bound counts UTF-8 bytes plus a per-message allowance; cuts keep whole characters and mark the cut', () => {
    expect(utf8Bytes('é€😀')).toBe(2 + 3 + 4);
    expect(promptTokenBound([{ role: 'user', content: 'abcd' }])).toBeGreaterThan(promptTokenBound([{ role: 'user', content: 'abc' }]));
    const cut = cutToBytes('😀😀😀😀😀', 12);
    expect(utf8Bytes(cut)).toBeLessThanOrEqual(12);
    expect(cut).toBe(`😀😀${CUT_MARK}`);
    expect(cutToBytes('short', 12)).toBe('short');
  });

  it('shares room max-min fairly: short answers keep everything, long ones split what is left', () => {
    expect(shareBytes([10, 500, 1000], 310)).toEqual([10, 150, 150]);
    expect(shareBytes([10, 20], 100)).toEqual([10, 20]);
    expect(shareBytes([100, 100], 0)).toEqual([0, 0]);
  });

  it('scripted: a prompt plus max tokens over the context is refused before any call, naming the knobs that help', async () => {
    const engine = new ScriptedEngine(() => words('blue'), { contextLength: 256 });
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 3), maxTokens: 240 });
    expect(engine.calls).toHaveLength(0);
    const end = ofType(events, 'run-end')[0]!;
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/more than scripted's 256-token context — lower max tokens to \d+ or less/);
    expect(end.message).toMatch(/reloading the model does not help/);
    expect(end.message).not.toMatch(/increas/);
    // Three agents on one model: one message, not three.
    expect(end.message!.split('256-token context').length - 1).toBe(1);
  });

  it('scripted: a six-round debate with long answers fits every round — the shown answers are cut, and the trace says so', async () => {
    const contextLength = 600;
    const long = 'word '.repeat(120);
    const engine = new ScriptedEngine(() => words(long), { contextLength });
    const events = await collectRun({ ...base, strategy: 'debate', agents: agentsOn(engine, 3), maxTokens: 120, knobs: { rounds: 6 } });
    expect(ofType(events, 'run-end')[0]!.status).toBe('done');
    expect(engine.calls).toHaveLength(18);
    for (const call of engine.calls) expect(promptTokenBound(call.request.messages) + 120).toBeLessThanOrEqual(contextLength);
    const revision = engine.calls[3]!.request.messages;
    expect(revision.some((m) => m.content.includes(CUT_MARK))).toBe(true);
    const warnings = ofType(events, 'error').filter((e) => !e.fatal && /round \d+: the answers shown were cut/.test(e.message));
    expect(warnings.length).toBe(15);
  });

  it('scripted: a debate whose revisions cannot fit even a little of each answer is refused before any call, with the knobs and their values', async () => {
    const engine = new ScriptedEngine(() => words('blue'), { contextLength: 420 });
    const agents = agentsOn(engine, 3);
    const events = await collectRun({ ...base, strategy: 'debate', agents, maxTokens: 200, knobs: { rounds: 6 } });
    expect(engine.calls).toHaveLength(0);
    const end = ofType(events, 'run-end')[0]!;
    expect(end.status).toBe('error');
    expect(end.message).toContain(`at least ${MIN_SHOWN_ANSWER_BYTES} bytes each`);
    expect(end.message).toContain('use fewer agents (now 3), fewer rounds (now 6; 1 = no revisions), a smaller max tokens (now 200), or a shorter prompt');
    // One round of answers alone fits: the same setup with rounds 1 runs.
    expect(ofType(await collectRun({ ...base, strategy: 'debate', agents, maxTokens: 200, knobs: { rounds: 1 } }), 'run-end')[0]!.status).toBe('done');
  });

  it('scripted: an engine failure names the agent once (the event carries the agent; the text drops the model prefix)', async () => {
    const engine = new ScriptedEngine(() => new Error('scripted: generation failed (boom). Try again.'));
    const events = await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 2) });
    const errs = ofType(events, 'error').filter((e) => !e.fatal);
    expect(errs.map((e) => [e.agent, e.message])).toEqual([
      ['a1', 'generation failed (boom). Try again.'],
      ['a2', 'generation failed (boom). Try again.'],
    ]);
  });
});

describe('trace view says what is happening', () => {
  const start: TraceEvent = { type: 'run-start', t: 0, runId: 'r', strategy: 'cascade', agents: [{ id: 'a1', name: 'Agent 1', model: 'm', temperature: 0 }, { id: 'a2', name: 'Agent 2', model: 'm', temperature: 0 }], knobs: {}, seed: 1, prompt: 'p' };

  it('a message is queued until its first token arrives, then streaming, then done', () => {
    const view = applyEvent(emptyTraceView(), start);
    applyEvent(view, { type: 'message-start', t: 1, msgId: 'm1', agent: 'a1', round: 1, purpose: 'answer', messages: [] });
    expect(view.messages.m1!.status).toBe('queued');
    applyEvent(view, { type: 'token', t: 2, msgId: 'm1', text: 'hi' });
    expect(view.messages.m1!.status).toBe('streaming');
    applyEvent(view, { type: 'message-start', t: 3, msgId: 'm2', agent: 'a2', round: 1, purpose: 'answer', messages: [] });
    applyEvent(view, { type: 'run-end', t: 4, status: 'cancelled' });
    expect([view.messages.m1!.status, view.messages.m2!.status, view.messages.m2!.finish]).toEqual(['done', 'done', 'abort']);
  });

  it('a cascade accepting an agent reads "accept Agent 2", a deferral "defer Agent 1 → Agent 2"', () => {
    const view = applyEvent(emptyTraceView(), start);
    expect(routeSummary(view, { decision: 'accept', from: 'a2', to: 'a2' })).toBe('accept Agent 2');
    expect(routeSummary(view, { decision: 'defer', from: 'a1', to: 'a2' })).toBe('defer Agent 1 → Agent 2');
    expect(routeSummary(view, { decision: 'route', from: null, to: 'a2' })).toBe('route → Agent 2');
  });

  it('scripted: a vote where no agent gives an answer ends with an abstained final', async () => {
    const engine = new ScriptedEngine(() => []);
    const view = emptyTraceView();
    for (const ev of await collectRun({ ...base, strategy: 'vote', agents: agentsOn(engine, 2), knobs: { answerType: 'number' } })) applyEvent(view, ev);
    expect(view.final).toMatchObject({ answer: '', abstained: true });
    const answered = emptyTraceView();
    for (const ev of await collectRun({ ...base, strategy: 'single', agents: agentsOn(new ScriptedEngine(() => words('42')), 1) })) applyEvent(answered, ev);
    expect(answered.final).toMatchObject({ answer: '42', abstained: false });
  });
});
