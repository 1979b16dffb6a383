/**
 * The text-level methods on a real model: real llama.cpp (node-llama-cpp serving stories260K.gguf
 * through tools/lib/llama-openai-server.ts) behind Chorus's OpenAI engine, so every prompt, seed,
 * per-call max tokens and top-logprobs request crosses a real HTTP boundary into real inference. Each
 * run must end "done" with the events its method promises (feedback: N × k critiques per round;
 * blender: every pair compared in one-token calls, read from real probabilities; knowledge cards: one
 * relevance check per card). The browser e2e (lead's suite) runs them on wllama.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIEngine } from '../../src/lib/engines/openai.ts';
import { collectRun } from '../../src/lib/run.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { loadLlama, startLlamaServer, type LlamaServer, type LoadedLlama } from '../../tools/lib/llama-openai-server.ts';
import { storiesModel } from '../support/paths.ts';
import { ofType, only } from './strategies.events.ts';

let llama: LoadedLlama;
let server: LlamaServer;
let agents: Agent[];
const MAX_TOKENS = 12;

beforeAll(async () => {
  llama = await loadLlama(storiesModel());
  server = await startLlamaServer(llama);
  const engine = new OpenAIEngine({ baseUrl: server.url, model: 'stories260K' });
  agents = [0.7, 0.8, 0.9].map((temperature, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'stories260K', engine, temperature }));
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await llama?.dispose();
});

const run = (strategy: string, knobs: Record<string, number | string | boolean>) =>
  collectRun({ strategy, agents, knobs, prompt: 'Lily had a red ball. What color was the ball?', seed: 7, maxTokens: MAX_TOKENS });

/** The run ended "done", made exactly meta.cost's number of calls, and every call ended normally. */
function expectDone(strategy: string, knobs: Record<string, number | string | boolean>, events: TraceEvent[]): void {
  expect(events.at(-1), JSON.stringify(ofType(events, 'error'))).toMatchObject({ type: 'run-end', status: 'done' });
  const meta = getStrategy(strategy).meta;
  expect(ofType(events, 'message-end')).toHaveLength(meta.cost!.calls(agents.length, resolveKnobs(meta, knobs).knobs));
  expect(ofType(events, 'message-end').every((m) => m.finish_reason === 'stop' || m.finish_reason === 'length')).toBe(true);
  expect(only(events, 'final').text).not.toBe('');
  // The generated tokens stay within the cost model's bound (per-call max tokens included).
  const used = ofType(events, 'message-end').reduce((s, m) => s + m.usage.completion_tokens, 0);
  expect(used).toBeLessThanOrEqual(meta.cost!.tokens!(agents.length, resolveKnobs(meta, knobs).knobs, MAX_TOKENS, 0).completion);
}

describe('text-level methods on real llama.cpp (stories260K over HTTP)', () => {
  it('feedback: N × k critiques in each feedback round, then N revisions', async () => {
    const knobs = { rounds: 2, critics: 2 };
    const events = await run('feedback', knobs);
    expectDone('feedback', knobs, events);
    const starts = ofType(events, 'message-start');
    for (const stage of [2, 4]) expect(starts.filter((s) => s.round === stage && s.purpose === 'critique')).toHaveLength(3 * 2);
    for (const stage of [3, 5]) expect(starts.filter((s) => s.round === stage && s.purpose === 'revision')).toHaveLength(3);
    expect(server.requests['/v1/chat/completions']).toBeGreaterThanOrEqual(21);
  }, 120_000);

  it('blender: all 3 pairs compared in both orders, one token each, from the real first-token probabilities', async () => {
    const knobs = { bothOrders: true, topK: 2 };
    const events = await run('blender', knobs);
    expectDone('blender', knobs, events);
    const compares = ofType(events, 'message-end').filter((m) => m.msgId.endsWith('.compare'));
    expect(compares).toHaveLength(6);
    expect(compares.every((m) => m.usage.completion_tokens === 1)).toBe(true);
    const pA = ofType(events, 'score').filter((s) => s.metric === 'P(A)');
    expect(pA).toHaveLength(6);
    // stories260K never writes a letter here (it writes " ", "H", …), but a "B"-like token is among its top 5
    // alternatives each time (seed 7, measured): every comparison is read from the real probabilities.
    for (const s of pA) expect(s.detail).toMatch(/from the first token’s probabilities of "A" and "B"/);
    expect(ofType(events, 'score').filter((s) => s.metric === 'wins').map((s) => s.value).reduce((a, b) => a + b, 0)).toBe(6);
    expect(ofType(events, 'message-start').at(-1)!.sees).toHaveLength(2);
  }, 120_000);

  it('knowledge cards with pruning: a card per agent, a few-token relevance check per card, then the answer', async () => {
    const knobs = { prune: true };
    const events = await run('knowledge-cards', knobs);
    expectDone('knowledge-cards', knobs, events);
    const checks = ofType(events, 'message-end').filter((m) => m.msgId.endsWith('.relevance'));
    expect(checks).toHaveLength(3);
    expect(checks.every((m) => m.usage.completion_tokens <= 4)).toBe(true);
    expect(ofType(events, 'score').filter((s) => s.metric === 'relevant')).toHaveLength(3);
  }, 120_000);

  it('debate-summary and refine run to a final answer with the summary / synthesis calls they promise', async () => {
    const knobs = { rounds: 2 };
    const summary = await run('debate-summary', knobs);
    expectDone('debate-summary', knobs, summary);
    expect(ofType(summary, 'message-start').filter((s) => s.purpose === 'summary')).toHaveLength(1);
    const refined = await run('refine', knobs);
    expectDone('refine', knobs, refined);
    expect(ofType(refined, 'message-start').at(-1)).toMatchObject({ purpose: 'synthesis', sees: ['a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0'] });
  }, 120_000);
});
