/**
 * Every text-level method end to end (issue 13): run in the playground with three agents on the
 * real stories260K (real engine workers, parallel instances), its trace exported through the
 * app's own Export button and checked for what the method promises:
 * - every run ends `done` with a final answer, every message that `sees` another names a message
 *   sent earlier in the same run, and the calls made are what the method's cost model states
 *   (at most, for the methods that stop early);
 * - feedback: N × k critiques in each feedback round, each critique seeing the answer it critiques;
 * - blender: every pair of answers compared (N(N − 1)/2 one-token comparisons);
 * - structured interaction: one message per edge per round (each message sees exactly its in-edges);
 * - knowledge cards: N cards, and the answer sees the cards it was shown;
 * - mixture-of-agents: each layer's proposers see the whole previous layer, the aggregator the last.
 * One page and one loaded model for all methods, small max tokens: the point is the wiring on a real
 * engine, not the quality of a 260K-parameter model's answers.
 */
import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { importStories, loadModel, openApp, playground, runAndWait, setupPlayground, watchErrors } from './helpers.ts';
import { strategies } from '../../src/lib/strategies/registry.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';

type Start = Extract<TraceEvent, { type: 'message-start' }>;

async function runAndExport(page: Page, method: string): Promise<TraceEvent[]> {
  await setupPlayground(page, { method, agents: 3, prompt: 'Q: 2 + 3 = ?\nA:', seed: 11, maxTokens: 8 });
  await runAndWait(page, 120_000);
  const [download] = await Promise.all([page.waitForEvent('download'), playground(page).getByRole('button', { name: 'Export trace' }).click()]);
  const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { events: TraceEvent[] };
  return exported.events;
}

const starts = (events: TraceEvent[]): Start[] => events.filter((e): e is Start => e.type === 'message-start');

/** Methods that may stop before their full cost (consensus, early exit): the cost is an upper bound there. */
const AT_MOST = new Set(['blackboard']);

const textMethods = strategies.filter((s) => s.meta.level === 'text' && !s.meta.needs.dev && s.meta.needs.minAgents <= 3);

test.describe.configure({ mode: 'serial' });

test('every text-level method runs on the real model with the trace its method promises', async ({ page }) => {
  test.setTimeout(15 * 60_000);
  const errors = watchErrors(page);
  await openApp(page);
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  expect(textMethods.length).toBeGreaterThanOrEqual(8);
  for (const s of textMethods) {
    const id = s.meta.id;
    const events = await runAndExport(page, id);
    const end = events.at(-1);
    expect(end, `${id}: run-end`).toMatchObject({ type: 'run-end', status: 'done' });
    expect(events.some((e) => e.type === 'final'), `${id}: a final answer`).toBe(true);
    const msgs = starts(events);
    // Who sees what: every message shown to another was sent earlier in this run.
    const seen = new Set<string>();
    for (const m of msgs) {
      for (const from of m.sees ?? []) expect(seen.has(from), `${id}: ${m.msgId} sees ${from}, sent before it`).toBe(true);
      seen.add(m.msgId);
    }
    // Calls made = the cost the method states before the run (or at most that).
    // The knobs the run used (run-start records them; the playground may carry values over between methods).
    const runStart = events[0] as Extract<TraceEvent, { type: 'run-start' }>;
    expect(runStart.type).toBe('run-start');
    const knobs = resolveKnobs(s.meta, runStart.knobs).knobs;
    const stated = s.meta.cost!.calls(3, knobs);
    if (AT_MOST.has(id) || /at most/i.test(s.meta.cost!.formula)) expect(msgs.length, `${id}: calls ≤ cost`).toBeLessThanOrEqual(stated);
    else expect(msgs.length, `${id}: calls = cost`).toBe(stated);

    if (id === 'feedback') {
      const k = Number(knobs.k ?? knobs.critics ?? 1);
      const critiques = msgs.filter((m) => m.purpose === 'critique');
      const rounds = [...new Set(critiques.map((m) => m.round))];
      expect(rounds.length, 'feedback: critique rounds').toBeGreaterThanOrEqual(1);
      for (const r of rounds) expect(critiques.filter((m) => m.round === r), `feedback round ${r}: N × k critiques`).toHaveLength(3 * k);
      for (const c of critiques) expect(c.sees, `feedback: ${c.msgId} sees the answer it critiques`).toHaveLength(1);
    }
    if (id === 'blender') {
      const compares = msgs.filter((m) => m.purpose === 'compare');
      const both = knobs.bothOrders === true ? 2 : 1;
      expect(compares, 'blender: every pair compared').toHaveLength(3 * both);
      const pairs = new Set(compares.map((c) => [...(c.sees ?? [])].sort().join('|')));
      expect(pairs.size, 'blender: three distinct pairs').toBe(3);
      for (const c of compares) expect(c.sees, `blender: ${c.msgId} compares two answers`).toHaveLength(2);
    }
    if (id === 'knowledge-cards') {
      const cards = msgs.filter((m) => m.purpose === 'card');
      expect(cards, 'knowledge cards: one card per agent').toHaveLength(3);
      const answer = msgs.at(-1)!;
      expect((answer.sees ?? []).every((x) => cards.some((c) => c.msgId === x)), 'knowledge cards: the answer sees cards').toBe(true);
    }
    if (id === 'structure') {
      // One message per edge per round: from round 2 on, each update sees its own previous answer and
      // one message per in-edge (the in-neighbour's latest), so the non-own `sees` of a round are its edges.
      const later = msgs.filter((m) => m.round > 1 && m.purpose !== 'judge');
      expect(later.length, 'structure: later rounds').toBeGreaterThan(0);
      const perRound = new Map<number, number>();
      for (const m of later) {
        const fromOthers = (m.sees ?? []).filter((x) => !x.startsWith(`${m.agent}.`));
        expect(new Set(fromOthers.map((x) => x.split('.')[0])).size, `structure: ${m.msgId} gets one message per in-neighbour`).toBe(fromOthers.length);
        perRound.set(m.round, (perRound.get(m.round) ?? 0) + fromOthers.length);
      }
      // The default 3-agent chain links 1–2 and 2–3 both ways: 4 edges, so 4 messages every round.
      for (const [r, n] of perRound) expect(n, `structure round ${r}: one message per edge`).toBe(4);
    }
    if (id === 'moa') {
      const layers = [...new Set(msgs.map((m) => m.round))].sort((a, b) => a - b);
      for (const m of msgs.filter((x) => x.round > layers[0]!)) {
        const prev = msgs.filter((x) => x.round === m.round - 1).map((x) => x.msgId).sort();
        expect([...(m.sees ?? [])].sort(), `moa: ${m.msgId} sees the whole previous layer`).toEqual(prev);
      }
    }
  }
  expect(errors).toEqual([]);
});
