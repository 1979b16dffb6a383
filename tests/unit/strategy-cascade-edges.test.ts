// The cascade at its edges: how a stated confidence is read ("0.5%", "85.5", "0"), what the dev
// simulation and the cost–quality curve make of no items, items without tiers, confidences that
// are missing or not finite, a confidence of 0 and more distinct confidences than the curve shows;
// the per-agent thresholds fitted on dev (median of the sorted confidences, the knob's threshold
// for an agent without any, the exact note, source and knob), the "just ask" dev search reading
// only its own tiers' route events, a fitted state for another setup, the dev collection run, the
// confidence question (its round, seed, what it sees, its refusal, a reply cut by a failure or a
// cancel) and the curve event's title. Engines are scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { ASK_CONFIDENCE, cascade, cascadeCurve, fitCascade, parseConfidence, simulateCascade, type CascadeState } from '../../src/lib/strategies/cascade.ts';
import type { ChatChunk, ChatRequest, CallOptions, CompletionRequest, Engine } from '../../src/lib/engines/engine.ts';
import type { DevEvidence, SearchContext } from '../../src/lib/strategies/types.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { ofType, only, runCancelledAt } from './strategies.events.ts';

const base = { prompt: 'What is 2 + 3?', seed: 7, maxTokens: 16 };

describe('cascade: reading a stated confidence', () => {
  it('a "%" after a decimal makes it a percentage, with or without a space before it', () => {
    expect(parseConfidence('0.5%')).toBe(0.005);
    expect(parseConfidence('0.5 %')).toBe(0.005);
    expect(parseConfidence('about 0.5 % sure')).toBe(0.005);
  });

  it('a decimal over 1 is a percentage too ("85.5" → 0.855)', () => {
    expect(parseConfidence('85.5')).toBeCloseTo(0.855, 12);
    expect(parseConfidence('1.5')).toBeCloseTo(0.015, 12);
  });

  it('zero is a confidence (0), not a missing one', () => {
    expect(parseConfidence('0')).toBe(0);
    expect(parseConfidence('0%')).toBe(0);
  });
});

describe('cascade: the dev simulation and the cost–quality curve at their edges', () => {
  it('no dev items: accuracy 0 at 0 calls, not NaN', () => {
    expect(simulateCascade([], [0.5, 0.5])).toEqual({ accuracy: 0, calls: 0 });
    expect(simulateCascade([], [0.5], 2)).toEqual({ accuracy: 0, calls: 0 });
  });

  it('an item no tier answered costs no call', () => {
    expect(simulateCascade([{ confidences: [], scores: [] }], [])).toEqual({ accuracy: 0, calls: 0 });
    expect(simulateCascade([{ confidences: [], scores: [] }, { confidences: [0.9, 0.1], scores: [1, 0] }], [0.5, 0.5])).toEqual({ accuracy: 0.5, calls: 0.5 });
  });

  it('the curve of no items is its two ends, t = 0 and t = 1.01, at 0 calls', () => {
    expect(cascadeCurve([])).toEqual([
      { threshold: 0, accuracy: 0, calls: 0 },
      { threshold: 1.01, accuracy: 0, calls: 0 },
    ]);
  });

  it('missing, NaN and infinite confidences are no thresholds of the curve', () => {
    const items = [
      { confidences: [undefined, 0.5], scores: [0, 1] },
      { confidences: [Infinity, Number.NaN], scores: [1, 0] },
    ];
    // Item 1's tier 1 has no confidence and defers at every t (2 calls, tier 2 right); item 2's
    // tier 1 (confidence ∞) stops at every t (1 call, right).
    expect(cascadeCurve(items)).toEqual([
      { threshold: 0, accuracy: 1, calls: 1.5 },
      { threshold: 0.5, accuracy: 1, calls: 1.5 },
      { threshold: 1.01, accuracy: 1, calls: 1.5 },
    ]);
  });

  it('a confidence of 0 gives one point at t = 0, not two', () => {
    const items = [{ confidences: [0, 0.5], scores: [1, 0] }];
    expect(cascadeCurve(items)).toEqual([
      { threshold: 0, accuracy: 1, calls: 1 },
      { threshold: 0.5, accuracy: 0, calls: 2 },
      { threshold: 1.01, accuracy: 0, calls: 2 },
    ]);
  });

  it('more distinct confidences than points: every step-th of them is kept, plus both ends', () => {
    // Five tier-1 confidences 0.1 … 0.5, tier 1 right from 0.3 on, tier 2 always right.
    const items = [0.1, 0.2, 0.3, 0.4, 0.5].map((c) => ({ confidences: [c, undefined], scores: [c >= 0.3 ? 1 : 0, 1] }));
    // maxPoints 4: room for 2 inner points → step ceil(5 / 2) = 3 → the 1st and 4th (0.1, 0.4).
    expect(cascadeCurve(items, 1, 4)).toEqual([
      { threshold: 0, accuracy: 0.6, calls: 1 },
      { threshold: 0.1, accuracy: 0.6, calls: 1 },
      { threshold: 0.4, accuracy: 1, calls: 1.6 },
      { threshold: 1.01, accuracy: 1, calls: 2 },
    ]);
    // The default 25 points: 30 distinct confidences 0.01 … 0.30 → step ceil(30 / 23) = 2.
    const many = Array.from({ length: 30 }, (_, k) => ({ confidences: [(k + 1) / 100, undefined], scores: [1, 1] }));
    expect(cascadeCurve(many).map((p) => p.threshold)).toEqual([0, 0.01, 0.03, 0.05, 0.07, 0.09, 0.11, 0.13, 0.15, 0.17, 0.19, 0.21, 0.23, 0.25, 0.27, 0.29, 1.01]);
  });
});

describe('cascade: thresholds fitted on dev', () => {
  // Tier 1's dev confidences come unsorted (0.9, 0.1, 0.5: median 0.5); tier 2's are 0.5, 0.3, 0.1
  // (median 0.3). Tier 1 is right on items 1 and 3, tier 2 on items 2 and 3.
  const items = [
    { confidences: [0.9, 0.5], scores: [1, 0] },
    { confidences: [0.1, 0.3], scores: [0, 1] },
    { confidences: [0.5, 0.1], scores: [1, 1] },
  ];

  it('token confidence: the medians of the sorted dev confidences, the knob, note, source, chosen point and curve', () => {
    const fitted = fitCascade(items, 2, 'token', 0.6);
    const state = fitted.state as CascadeState;
    expect(state.thresholds).toEqual([0.5, 0.3]);
    expect(fitted.knobs).toEqual({ threshold: 0.5 });
    // Item 1 stops at tier 1 (0.9 ≥ 0.5), item 2 goes on to tier 2 (0.1 < 0.5), item 3 stops (0.5 ≥ 0.5): 3 of 3 right, 4 calls.
    expect(state.chosen).toEqual({ threshold: 'fitted', accuracy: 1, calls: 4 / 3 });
    expect(state.source).toBe("3 dev items: each tier's own dev answer and mean token probability");
    expect(state.mode).toBe('token');
    expect(fitted.note).toBe("per-agent thresholds = median of each agent's mean token probability on 3 dev items: a1 0.5, a2 0.3; on dev: accuracy 1.000 at 1.33 calls per query");
    expect(state.curve).toEqual([
      { threshold: 0, accuracy: 2 / 3, calls: 1 },
      { threshold: 0.1, accuracy: 2 / 3, calls: 1 },
      { threshold: 0.3, accuracy: 1, calls: 4 / 3 },
      { threshold: 0.5, accuracy: 1, calls: 4 / 3 },
      { threshold: 0.9, accuracy: 1, calls: 5 / 3 },
      { threshold: 1.01, accuracy: 2 / 3, calls: 2 },
    ]);
  });

  it('asked confidence: every tier but the last costs two calls, in the chosen point, the note and the curve', () => {
    const fitted = fitCascade(items, 2, 'ask', 0.6);
    const state = fitted.state as CascadeState;
    expect(state.mode).toBe('ask');
    expect(state.chosen).toEqual({ threshold: 'fitted', accuracy: 1, calls: 7 / 3 });
    expect(state.source).toBe("3 dev items: each tier's own dev answer and self-assessed confidence");
    expect(fitted.note).toBe("per-agent thresholds = median of each agent's self-assessed confidence on 3 dev items: a1 0.5, a2 0.3; on dev: accuracy 1.000 at 2.33 calls per query");
    expect(state.curve).toEqual([
      { threshold: 0, accuracy: 2 / 3, calls: 2 },
      { threshold: 0.1, accuracy: 2 / 3, calls: 2 },
      { threshold: 0.3, accuracy: 1, calls: 7 / 3 },
      { threshold: 0.5, accuracy: 1, calls: 7 / 3 },
      { threshold: 0.9, accuracy: 1, calls: 8 / 3 },
      { threshold: 1.01, accuracy: 2 / 3, calls: 3 },
    ]);
  });

  it('missing and NaN dev confidences are left out of the median', () => {
    const withGaps = [
      { confidences: [0.2, 0.5], scores: [1, 1] },
      { confidences: [undefined, 0.5], scores: [1, 1] },
      { confidences: [0.4, 0.5], scores: [1, 1] },
      { confidences: [Number.NaN, 0.5], scores: [1, 1] },
    ];
    expect((fitCascade(withGaps, 2, 'token', 0.6).state as CascadeState).thresholds).toEqual([0.3, 0.5]);
  });

  it('an agent without dev confidences keeps the knob’s threshold: no knob is fitted when it is agent 1', () => {
    const noFirst = items.map((it) => ({ ...it, confidences: [undefined, it.confidences[1]] }));
    const fitted = fitCascade(noFirst, 2, 'token', 0.45);
    expect((fitted.state as CascadeState).thresholds).toEqual([null, 0.3]);
    expect(fitted).not.toHaveProperty('knobs');
    expect(fitted.note).toBe("per-agent thresholds = median of each agent's mean token probability on 3 dev items: a1 0.45 (no dev mean token probability), a2 0.3; on dev: accuracy 0.667 at 2.00 calls per query");
    // No agents at all: nothing fitted, no knob.
    expect(fitCascade(items, 0, 'token', 0.6)).not.toHaveProperty('knobs');
  });

  it('the chosen point runs each tier at its own fitted threshold, not the knob’s', () => {
    // With the knob's 0.6 for both tiers item 3 (0.5) would go on to tier 2 (5/3 calls); fitted, it stops (4/3).
    const fitted = fitCascade(items, 2, 'token', 0.6);
    expect((fitted.state as CascadeState).chosen.calls).toBe(4 / 3);
    // An agent without confidences: its tier always defers whatever the threshold, the last tier answers.
    const noSecond = fitCascade(items.map((it) => ({ ...it, confidences: [it.confidences[0], undefined] })), 2, 'token', 0.6);
    expect((noSecond.state as CascadeState).chosen).toEqual({ threshold: 'fitted', accuracy: 1, calls: 4 / 3 });
  });

  it('fit (token confidence): the agents are the dev evidence’s; an agent without confidences shows the threshold knob, else 0.6', () => {
    const dev: DevEvidence = {
      agentScores: [2 / 3, 2 / 3],
      items: items.map((it, i) => ({ prompt: `Q${i}`, group: 'toy', scores: it.scores, confidences: [it.confidences[0], undefined] })),
    };
    expect(cascade.fit!(dev, { threshold: 0.35 }).note).toBe(
      "per-agent thresholds = median of each agent's mean token probability on 3 dev items: a1 0.5, a2 0.35 (no dev mean token probability); on dev: accuracy 1.000 at 1.33 calls per query",
    );
    expect(cascade.fit!(dev, {}).note).toMatch(/: a1 0\.5, a2 0\.6 \(no dev mean token probability\);/);
    expect(cascade.fit!(dev, { threshold: 'high' }).note).toMatch(/: a1 0\.5, a2 0\.6 \(no dev mean token probability\);/);
  });
});

function route(from: string | null, confidence: number): TraceEvent {
  return { type: 'route', t: 0, from, to: from ?? 'a1', decision: 'defer', reason: 'r', confidence };
}

describe('cascade: the "just ask" dev search', () => {
  it('reads only its own tiers’ route events of the dev items it was given', async () => {
    const states: unknown[] = [];
    const traces: TraceEvent[][] = [
      // A router's route (from null), an agent outside the setup (a3, a0) and a non-route event are ignored.
      [route('a1', 0.8), route(null, 0.99), route('a3', 0.95), route('a0', 0.05), { type: 'round', t: 0, round: 1, label: 'x' }, route('a2', 0.4)],
      [route('a1', 0.2), route('a2', 0.6)],
    ];
    const sctx: SearchContext = {
      agents: 2,
      knobs: { confidence: 'ask', threshold: 0.7 },
      seed: 1,
      signal: new AbortController().signal,
      dev: {
        agentScores: [0.5, 0.5],
        items: [
          { prompt: 'Q1', group: 'toy', scores: [1, 0], confidences: [undefined, undefined] },
          { prompt: 'Q2', group: 'toy', scores: [0, 1], confidences: [undefined, undefined] },
        ],
      },
      evaluate: async (state, onItem) => {
        states.push(state);
        traces.forEach((t, i) => onItem?.(i, t));
        // An index outside the dev items is ignored too.
        onItem?.(2, [route('a1', 0.7)]);
        return 0;
      },
      progress: () => undefined,
    };
    const fitted = await cascade.search!(sctx);
    expect(states).toEqual([{ collect: true }]);
    const state = fitted.state as CascadeState;
    expect(state.thresholds).toEqual([0.5, 0.5]);
    expect(state.curve.map((p) => p.threshold)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1.01]);
    expect(fitted.note).toBe("per-agent thresholds = median of each agent's self-assessed confidence on 2 dev items: a1 0.5, a2 0.5; on dev: accuracy 1.000 at 2.50 calls per query");
  });
});

/** Tier answers "The answer is 5." at token probability `p`; asked, it says `said`. */
function answering(p: number, said = '10', opts: { tokenDelayMs?: number; contextLength?: number } = {}): ScriptedEngine {
  return new ScriptedEngine((req) => (lastUser(req) === ASK_CONFIDENCE ? words(said) : words('The answer is 5.', Math.log(p))), opts);
}

describe('cascade: runs at their edges', () => {
  it('scripted: a fitted state for another setup (or not a state) is ignored: no curve, the knob’s threshold', async () => {
    for (const fitted of [{ thresholds: [0.1], curve: [] }, { thresholds: [0.1, 0.1] }, {}]) {
      const engine = answering(0.5);
      const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { threshold: 0.4 }, fitted });
      expect(ofType(events, 'curve')).toEqual([]);
      expect(ofType(events, 'route').map((r) => [r.from, r.decision, r.threshold])).toEqual([['a1', 'accept', 0.4]]);
      expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    }
  });

  it('scripted: the curve event’s title names the measure and each agent’s threshold, "knob" for none', async () => {
    const state: CascadeState = {
      mode: 'token',
      thresholds: [0.25, null],
      curve: [{ threshold: 0, accuracy: 0.5, calls: 1 }],
      chosen: { threshold: 'fitted', accuracy: 0.75, calls: 1.5 },
      source: 'dev source',
    };
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(answering(0.5), 2, 0), fitted: state });
    expect(events[1]).toEqual({
      type: 'curve',
      t: expect.any(Number),
      title: 'Cost–quality on dev (mean token probability): thresholds a1 0.25, a2 knob',
      source: 'dev source',
      points: [{ threshold: 0, accuracy: 0.5, calls: 1 }],
      chosen: { threshold: 'fitted', accuracy: 0.75, calls: 1.5 },
    });
    const asked = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(answering(0.5), 3, 0), knobs: { confidence: 'ask' }, fitted: { ...state, mode: 'ask', thresholds: [null, 0.5, 0.125] } });
    expect(only(asked, 'curve').title).toBe('Cost–quality on dev (self-assessed confidence): thresholds a1 knob, a2 0.5, a3 0.125');
  });

  it('scripted: token confidence — the last tier under its threshold is accepted with decideCascade’s reason', async () => {
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(answering(0.2), 2, 0), knobs: { threshold: 0.9 } });
    expect(ofType(events, 'route').map((r) => r.reason)).toEqual([
      'mean token probability 0.200 < threshold 0.9: defer to the next agent',
      'mean token probability 0.200 < threshold 0.9, but this is the last agent: accept its answer',
    ]);
  });

  it('scripted: a dev collection run — every tier answers and is asked, no threshold is shown, the last answer is kept', async () => {
    // Call 1 is tier 1's question (it says 90), call 3 tier 2's (40).
    const engine = new ScriptedEngine((req, i) => (lastUser(req) === ASK_CONFIDENCE ? words(i === 1 ? '90' : '40') : words('The answer is 5.', Math.log(0.5))));
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { confidence: 'ask' }, fitted: { collect: true } });
    expect(engine.calls.map((c) => [c.caller, lastUser(c.request) === ASK_CONFIDENCE ? 'confidence' : 'answer'])).toEqual([['a1', 'answer'], ['a1', 'confidence'], ['a2', 'answer'], ['a2', 'confidence']]);
    const routes = ofType(events, 'route');
    expect(routes).toEqual([
      { type: 'route', t: expect.any(Number), from: 'a1', to: 'a2', decision: 'defer', confidence: 0.9, reason: "dev collection run: every tier answers and states its confidence (0.900); the last tier's answer is kept" },
      { type: 'route', t: expect.any(Number), from: 'a2', to: 'a2', decision: 'accept', confidence: 0.4, reason: "dev collection run: every tier answers and states its confidence (0.400); the last tier's answer is kept" },
    ]);
    for (const r of routes) expect(r).not.toHaveProperty('threshold');
    expect(only(events, 'final').agent).toBe('a2');
  });

  it('scripted: "just ask" — the question is the tier’s round, with its answer’s seed, and sees exactly its answer', async () => {
    const engine = answering(0.5, '10');
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 3, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    const starts = ofType(events, 'message-start');
    expect(starts.map((s) => [s.agent, s.round, s.purpose])).toEqual([['a1', 1, 'answer'], ['a1', 1, 'confidence'], ['a2', 2, 'answer'], ['a2', 2, 'confidence'], ['a3', 3, 'answer']]);
    expect(starts[1]!.sees).toEqual([starts[0]!.msgId]);
    expect(starts[3]!.sees).toEqual([starts[2]!.msgId]);
    expect(engine.calls[1]!.request.seed).toBe(engine.calls[0]!.request.seed);
    expect(engine.calls[3]!.request.seed).toBe(engine.calls[2]!.request.seed);
    expect(engine.calls[3]!.request.seed).not.toBe(engine.calls[1]!.request.seed);
  });

  it('scripted: "just ask" — the last tier, not asked, shows no confidence, though its answer had token probabilities', async () => {
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(answering(0.5, '10'), 2, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    const routes = ofType(events, 'route');
    expect(routes.map((r) => [r.from, r.decision, r.confidence])).toEqual([['a1', 'defer', 0.1], ['a2', 'accept', undefined]]);
    expect(routes[1]).not.toHaveProperty('confidence');
    expect(routes[1]!.reason).toBe('this is the last agent: accept its answer (the last agent is not asked its confidence)');
  });

  it('scripted: "just ask" — a confidence reply cut by a failure gives no confidence, even when it began with a number', async () => {
    const inner = answering(0.5, '90');
    const engine: Engine = {
      info: inner.info,
      async *chat(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
        if (lastUser(request) !== ASK_CONFIDENCE) {
          yield* inner.chat(request, options);
          return;
        }
        yield { type: 'delta', text: '90' };
        throw new Error('connection lost');
      },
      complete: (request: CompletionRequest, options?: CallOptions) => inner.complete(request, options),
      unload: async () => undefined,
    };
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { confidence: 'ask', threshold: 0.5 } });
    const routes = ofType(events, 'route');
    expect(routes[0]).toMatchObject({ from: 'a1', to: 'a2', decision: 'defer', reason: 'its reply gave no confidence number: defer to the next agent' });
    expect(routes[0]).not.toHaveProperty('confidence');
    expect(only(events, 'final').agent).toBe('a2');
  });

  it('scripted: "just ask" — a question that cannot fit the context even cut is refused, naming what to change', async () => {
    // The question with both texts empty needs 8 + 3 × 16 + 85 = 141 tokens, more than 120 − 6.
    const engine = answering(0.5, '90', { contextLength: 120 });
    const events = await collectRun({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { confidence: 'ask' } });
    expect(events.at(-1)).toMatchObject({
      type: 'run-end',
      status: 'error',
      message:
        "Agent 1's confidence question: Agent 1's 120-token context has room for only 0 bytes of the 2 answers it must be shown after max tokens (6) and the rest of the prompt — " +
        'a smaller max tokens, a shorter prompt, confidence "token" (reloading the model does not help: its context size is fixed by the file)',
    });
    expect(engine.calls).toHaveLength(1);
  });

  it('scripted: cancelled during a tier’s answer, nothing is decided and no other tier is asked', async () => {
    const engine = answering(0.2, '10', { tokenDelayMs: 5 });
    const events = await runCancelledAt({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { threshold: 0.5 } }, (e) => e.type === 'token');
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'route')).toEqual([]);
    expect(ofType(events, 'final')).toEqual([]);
    expect(engine.calls).toHaveLength(1);
  });

  it('scripted: cancelled during the confidence question, nothing is decided and no other tier is asked', async () => {
    const engine = answering(0.9, '90 percent sure', { tokenDelayMs: 5 });
    let askId: string | undefined;
    const events = await runCancelledAt({ ...base, strategy: 'cascade', agents: agentsOn(engine, 2, 0), knobs: { confidence: 'ask', threshold: 0.5 } }, (e) => {
      if (e.type === 'message-start' && e.purpose === 'confidence') askId = e.msgId;
      return e.type === 'token' && e.msgId === askId;
    });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'route')).toEqual([]);
    expect(ofType(events, 'final')).toEqual([]);
    expect(engine.calls).toHaveLength(2);
  });
});
