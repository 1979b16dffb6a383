/**
 * What the text-level strategies' tests share: reading a trace (events by type, each message's
 * start and text), agents with an engine each (so a script can tell them apart), and a run
 * cancelled at its first token.
 */
import { expect } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { runStrategy } from '../../src/lib/run.ts';
import { ScriptedEngine, words, type ScriptedOptions, type ScriptedToken } from './strategies.scripted.ts';

import { ofType, type Of } from './strategies.events.ts';

// Reading events by kind is strategies.events.ts's; re-exported for the tests that import it from here.
export { ofType, only, type Of } from './strategies.events.ts';

export const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32 };

/** message-start events by msgId. */
export const starts = (events: TraceEvent[]) => new Map(ofType(events, 'message-start').map((m) => [m.msgId, m] as const));

/** Each message's final text by msgId. */
export const texts = (events: TraceEvent[]) => new Map(ofType(events, 'message-end').map((m) => [m.msgId, m.text] as const));

/** Everything a message's conversation says, joined (to check which answers it shows). */
export const shownIn = (m: Of<'message-start'>): string => m.messages.map((x) => x.content).join('\n');

/** `n` agents a1…an, each on its own scripted engine; the script gets the agent's 0-based index. */
export function agentsEach(n: number, script: (agent: number, request: ChatRequest) => ScriptedToken[] | Error, opts: ScriptedOptions = {}, temperature = 0.7): { agents: Agent[]; engines: ScriptedEngine[] } {
  const engines = Array.from({ length: n }, (_, a) => new ScriptedEngine((req) => script(a, req), opts));
  const agents = engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'scripted', engine, temperature }));
  return { agents, engines };
}

/** A reply naming the call by its seed, so every call's text is its own. */
export const bySeed = (request: ChatRequest): ScriptedToken[] => words(`answer from seed ${request.seed}`);

/** Runs `strategy` and aborts at the first token; returns the trace. */
export async function cancelAtFirstToken(strategy: string, agents: Agent[], knobs: Record<string, unknown>): Promise<TraceEvent[]> {
  const controller = new AbortController();
  const events: TraceEvent[] = [];
  for await (const e of runStrategy({ ...base, strategy, agents, knobs, signal: controller.signal })) {
    events.push(e);
    if (e.type === 'token' && !controller.signal.aborted) controller.abort();
  }
  return events;
}

/** A trace refused before any call: a fatal error matching `pattern`, run-end "error", and no engine was called. */
export function expectRefused(events: TraceEvent[], engines: ScriptedEngine[], pattern: RegExp): void {
  expect(engines.reduce((s, e) => s + e.calls.length, 0), 'engine calls').toBe(0);
  expect(ofType(events, 'message-start')).toHaveLength(0);
  const end = events.at(-1);
  expect(end).toMatchObject({ type: 'run-end', status: 'error' });
  expect((end as Of<'run-end'>).message).toMatch(pattern);
}
