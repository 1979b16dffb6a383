/**
 * Reading a run's trace in the text-level methods' tests: events of one kind, message texts by
 * msgId, who-sees-what, and a run cancelled at a chosen moment. Scripted engines give every call a
 * unique text ("<m7>" for the engine's call 7), so a prompt's content says which messages it shows.
 */
import { expect } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { runStrategy, type RunRequest } from '../../src/lib/run.ts';
import { words, type ScriptedToken } from './strategies.scripted.ts';

export type Of<T extends TraceEvent['type']> = Extract<TraceEvent, { type: T }>;

export const ofType = <T extends TraceEvent['type']>(events: readonly TraceEvent[], type: T): Of<T>[] =>
  events.filter((e): e is Of<T> => e.type === type);

export const only = <T extends TraceEvent['type']>(events: readonly TraceEvent[], type: T): Of<T> => {
  const found = ofType(events, type);
  expect(found, `exactly one ${type} event`).toHaveLength(1);
  return found[0]!;
};

/** A unique reply per engine call: "<m{index}>", one token. */
export const uniqueReply = (_: unknown, i: number): ScriptedToken[] => words(`<m${i}>`);

/** msgId → final text of every message of the run. */
export function textsById(events: readonly TraceEvent[]): Map<string, string> {
  return new Map(ofType(events, 'message-end').map((m) => [m.msgId, m.text] as const));
}

/** msgId → `sees` of every message that shows others (in start order). */
export function seesById(events: readonly TraceEvent[]): Map<string, string[]> {
  return new Map(ofType(events, 'message-start').filter((m) => m.sees !== undefined).map((m) => [m.msgId, m.sees!] as const));
}

/**
 * For every message: its prompt shows the text of each message in its `sees`, and no other
 * message's text, so `sees` is exactly what the prompt shows. Checked for the messages whose text
 * holds a unique marker ("<m7>", "<card-s2>"); one-letter votes and the like are left out.
 */
export function expectSeesIsWhatPromptShows(events: readonly TraceEvent[]): void {
  const texts = textsById(events);
  for (const start of ofType(events, 'message-start')) {
    const prompt = start.messages.map((m) => m.content).join('\n');
    const sees = start.sees ?? [];
    for (const [id, text] of texts) {
      if (id === start.msgId || !/<[^>]+>/.test(text)) continue;
      expect(prompt.includes(text), `${start.msgId} ${sees.includes(id) ? 'shows' : 'does not show'} ${id}`).toBe(sees.includes(id));
    }
  }
}

/** Runs `req` and aborts it at the first event for which `when` is true; returns every event. */
export async function runCancelledAt(req: RunRequest, when: (e: TraceEvent) => boolean): Promise<TraceEvent[]> {
  const controller = new AbortController();
  const events: TraceEvent[] = [];
  for await (const e of runStrategy({ ...req, signal: controller.signal })) {
    events.push(e);
    if (!controller.signal.aborted && when(e)) controller.abort();
  }
  return events;
}
