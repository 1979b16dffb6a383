// What the text-level methods do when a call in a named role fails (the summariser, the end node,
// the answerer, a relevance check, the aggregator, the selector, every sample): each refusal's
// exact words, or the documented fallback, with scripted engines.
import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatRequest, Engine } from '../../src/lib/engines/engine.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { collectRun, runStrategy } from '../../src/lib/run.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, ofType, only, starts } from './strategy-text.helpers.ts';

const user = (req: ChatRequest) => req.messages.at(-1)!.content;
const down = () => new Error('engine down');
const ended = (message: RegExp) => ({ type: 'run-end', status: 'error', message: expect.stringMatching(message) });

describe('a failed call in a named role', () => {
  it('scripted: debate-summary — a failed summary ends the run, naming the summariser and the round', async () => {
    const { agents } = agentsEach(2, (_a, req) => (user(req).startsWith('Here are the answers several agents gave') ? down() : words('Answer: 4')));
    const events = await collectRun({ ...base, strategy: 'debate-summary', agents, knobs: { rounds: 2, summariser: 2 } });
    expect(events.at(-1)).toMatchObject(ended(/^the summariser Agent 2 failed in round 2: .*engine down/));
  });

  it('scripted: hswarm — a failed node is left out of what the next sees; a failed end node ends the run', async () => {
    const a = agentsEach(3, (i, req) => (i === 1 && !user(req).startsWith('Earlier responses') ? down() : words(`Answer: ${i + 1}`)));
    const ok = await collectRun({ ...base, strategy: 'hswarm', agents: a.agents, knobs: { graph: 'fan-in' } });
    expect(starts(ok).get('a3.r2.s0')!.sees).toEqual(['a1.r1.s0']);
    expect(only(ok, 'final')).toMatchObject({ agent: 'a3', answer: '3' });
    const b = agentsEach(3, (i) => (i === 2 ? down() : words('Answer: 4')));
    const failed = await collectRun({ ...base, strategy: 'hswarm', agents: b.agents, knobs: { graph: 'fan-in' } });
    expect(failed.at(-1)).toMatchObject(ended(/the end node \(agent 3\) failed; see the errors above/));
  });

  it('scripted: knowledge cards — a failed relevance check keeps the card, saying so; a failed answerer ends the run', async () => {
    const a = agentsEach(2, (_i, req) => (user(req).endsWith('Reply yes or no.') ? down() : words('Answer: 4')));
    const kept = await collectRun({ ...base, strategy: 'knowledge-cards', agents: a.agents, knobs: { prune: true } });
    const scores = ofType(kept, 'score').filter((s) => s.metric === 'relevant');
    expect(scores.map((s) => [s.value, s.detail])).toEqual([[1, 'no yes/no read from "": card kept'], [1, 'no yes/no read from "": card kept']]);
    expect(only(kept, 'final')).toMatchObject({ answer: '4' });
    const b = agentsEach(2, (_i, req) => (user(req).startsWith('Other assistants wrote these knowledge paragraphs') ? down() : words('Answer: 4')));
    const failed = await collectRun({ ...base, strategy: 'knowledge-cards', agents: b.agents, knobs: { answerer: 2 } });
    expect(failed.at(-1)).toMatchObject(ended(/^the answerer Agent 2 failed: .*engine down/));
  });

  it('scripted: MoA — a failed aggregator ends the run, naming it; Self-MoA’s agent is fitted to the best member on dev', async () => {
    const { agents } = agentsEach(2, (_i, req) => (user(req).startsWith('You are shown several responses') ? down() : words('Answer: 4')));
    const events = await collectRun({ ...base, strategy: 'moa', agents, knobs: { layers: 1, aggregator: 2 } });
    expect(events.at(-1)).toMatchObject(ended(/^the aggregator Agent 2 failed: .*engine down/));
    expect(getStrategy('self-moa').fit!({ agentScores: [0.2, 0.9, 0.9], items: [] }, {})).toMatchObject({ knobs: { agent: 2 } });
  });

  it('scripted: refine — a failed summariser ends the run, naming it', async () => {
    const { agents } = agentsEach(2, (_i, req) => (user(req).startsWith('Several assistants answered this question.') ? down() : words('Answer: 4')));
    const events = await collectRun({ ...base, strategy: 'refine', agents, knobs: { rounds: 1, summariser: 1 } });
    expect(events.at(-1)).toMatchObject(ended(/^the summariser Agent 1 failed: .*engine down/));
  });

  it('scripted: SLM-MUX — every sample failing ends the run', async () => {
    const { agents } = agentsEach(2, down);
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: {} });
    expect(events.at(-1)).toMatchObject(ended(/every call failed; see the errors above/));
  });

  it('scripted: USC — a failed selector falls back to a majority vote, saying why', async () => {
    const { agents } = agentsEach(2, (i, req) => (user(req).startsWith('The question:') ? down() : words(`Answer: ${i === 0 ? 4 : 5}`)));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1, selector: 2 } });
    const warning = ofType(events, 'error').find((e) => e.agent === 'a2' && /^the selector /.test(e.message))!;
    expect(warning.message).toMatch(/^the selector failed \(.*engine down.*\): falling back to a majority vote over the 2 answers$/);
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
  });

  it('scripted: structure — a round where nobody has anything to update is no failure; a final agent without an answer ends the run', async () => {
    // Chain a1 → a2: a2's first answer fails, so in round 2 a1 has no in-neighbour and a2 no answer of its own.
    const a = agentsEach(2, (i) => (i === 1 ? down() : words('Answer: 4')));
    const quiet = await collectRun({ ...base, strategy: 'structure', agents: a.agents, knobs: { topology: 'chain', rounds: 2, final: 'agent', finalAgent: 1 } });
    expect(only(quiet, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
    expect(a.engines.map((e) => e.calls.length)).toEqual([1, 1]);
    const b = agentsEach(3, (i) => (i === 1 ? down() : words('Answer: 4')));
    const failed = await collectRun({ ...base, strategy: 'structure', agents: b.agents, knobs: { topology: 'chain', rounds: 2, final: 'agent', finalAgent: 2 } });
    expect(failed.at(-1)).toMatchObject(ended(/the final agent Agent 2 has no answer \(its calls failed; see the errors above\)/));
    const c = agentsEach(2, down);
    const none = await collectRun({ ...base, strategy: 'structure', agents: c.agents, knobs: { rounds: 2 } });
    expect(none.at(-1)).toMatchObject(ended(/every call failed in round 1; see the errors above/));
  });
});

describe('a call’s stream (common.ts)', () => {
  /** An engine whose chat yields `chunks` (and nothing else). */
  const engineOf = (chunks: () => AsyncIterable<ChatChunk>): Engine => ({
    info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: false },
    chat: () => chunks(),
    complete: () => chunks(),
    unload: async () => undefined,
  });
  const usage = { prompt_tokens: 1, completion_tokens: 1, time_to_first_token_ms: 0, total_ms: 1, tokens_per_second: 1 };
  const agentOn = (engine: Engine) => [{ id: 'a1', name: 'Agent 1', model: 'scripted', engine, temperature: 0 }];

  it('scripted: an engine’s note on a delta is a warning in the trace, from that agent', async () => {
    const engine = engineOf(async function* () {
      yield { type: 'delta', text: 'Answer: 4', note: 'the server gave 3 alternatives, not 5' };
      yield { type: 'done', finish_reason: 'stop', usage };
    });
    const events = await collectRun({ ...base, strategy: 'single', agents: agentOn(engine), knobs: {} });
    expect(ofType(events, 'error')).toEqual([expect.objectContaining({ agent: 'a1', fatal: false, message: 'the server gave 3 alternatives, not 5' })]);
    expect(only(events, 'final')).toMatchObject({ answer: '4' });
  });

  it('scripted: a stream that ends without "done" is an error, unless the run was cancelled (then the call is aborted)', async () => {
    const cut = engineOf(async function* () {
      yield { type: 'delta', text: 'Answer: 4' };
    });
    const events = await collectRun({ ...base, strategy: 'single', agents: agentOn(cut), knobs: {} });
    expect(ofType(events, 'error')[0]!.message).toBe('the engine stream ended without a final "done" chunk');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error' });
    const controller = new AbortController();
    const stops = engineOf(async function* () {
      yield { type: 'delta', text: 'Answer: 4' };
      controller.abort();
    });
    const cancelled: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, strategy: 'single', agents: agentOn(stops), knobs: {}, signal: controller.signal })) cancelled.push(e);
    expect(ofType(cancelled, 'message-end')[0]).toMatchObject({ finish_reason: 'abort', text: 'Answer: 4' });
    expect(ofType(cancelled, 'error').filter((e) => /done/.test(e.message))).toEqual([]);
  });
});
