/**
 * `cascade`: FrugalGPT-style LLM cascade (Chen et al. 2023, arXiv 2305.05176).
 * Agents are tried in the order of the setup — put the cheapest first. Each answers; then its
 * confidence is read one of two ways (`confidence` knob):
 * - `token`: the mean token probability of its answer, exp(mean natural-log probability of the
 *   generated tokens), i.e. the geometric mean of the token probabilities (FrugalGPT learns a small
 *   scoring model; with no training data in the tab the score is the model's own token
 *   probabilities, as reported by the engine);
 * - `ask`: self-assessed, "just ask" confidence (Tian et al. 2023, "Just Ask for Calibration",
 *   arXiv 2305.14975): the same agent is asked, after its answer, how confident it is from 0 to 100,
 *   and the first number of its reply is read (`parseConfidence`); a reply with none defers. The
 *   question and answer it is shown again are cut to fit its context if need be (shown.ts's rule).
 * Confidence ≥ threshold → accept; under it → defer to the next agent. The last agent's answer is
 * accepted whatever its confidence.
 *
 * Thresholds: the `threshold` knob, or — in an experiment — one per agent fitted on dev, MoCo's
 * default: the median of that agent's dev confidences (`fitCascade`), so each tier passes on about
 * half of what it sees. With token confidence the dev evidence (each member's answers on dev) already
 * has them; with asked confidence the runner's dev search runs the cascade on dev with every tier
 * answering and asked (`search`). The fit also computes the cost–quality curve (`cascadeCurve`):
 * dev accuracy against model calls per query as one threshold for every tier moves, with the fitted
 * thresholds marked; each run shows it as a `curve` event.
 */
import { extractAnswer } from '../answers.ts';
import { quantile } from '../eval/stats.ts';
import type { CurvePoint, TraceEvent } from '../trace.ts';
import type { DevEvidence, Fitted, KnobValue, SearchContext, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callOne, firstMessages, knob } from './common.ts';
import { fitShown } from './shown.ts';

export type ConfidenceMode = 'token' | 'ask';

export interface CascadeDecision {
  decision: 'accept' | 'defer';
  reason: string;
}

const MEASURE: Record<ConfidenceMode, { name: string; missing: string }> = {
  token: { name: 'mean token probability', missing: 'no token probabilities were reported' },
  ask: { name: 'self-assessed confidence', missing: 'its reply gave no confidence number' },
};

/**
 * The pure decision rule. `confidence` is undefined when the engine reported no token
 * probabilities, no tokens were generated, or (ask) the reply held no number: such an answer cannot
 * be trusted, so it defers.
 */
export function decideCascade(confidence: number | undefined, threshold: number, isLast: boolean, mode: ConfidenceMode = 'token'): CascadeDecision {
  const c = confidence === undefined || Number.isNaN(confidence) ? undefined : confidence;
  const { name, missing } = MEASURE[mode];
  const shown = c === undefined ? 'unknown' : c.toFixed(3);
  if (c !== undefined && c >= threshold) {
    return { decision: 'accept', reason: `${name} ${shown} ≥ threshold ${threshold}: accept` };
  }
  const why = c === undefined ? missing : `${name} ${shown} < threshold ${threshold}`;
  if (isLast) return { decision: 'accept', reason: `${why}, but this is the last agent: accept its answer` };
  return { decision: 'defer', reason: `${why}: defer to the next agent` };
}

/** What the agent is asked after its answer (ask mode). */
export const ASK_CONFIDENCE = 'How confident are you that your answer is correct? Reply with a number from 0 to 100.';
/** Tokens for the reply to ASK_CONFIDENCE: a number, maybe a "%". */
const ASK_MAX_TOKENS = 6;

/**
 * The confidence (0–1) in a reply to ASK_CONFIDENCE: its first number. A whole number 0–100 (or any
 * number followed by "%") is a percentage; a decimal from 0 to 1 ("0.8") is a probability already.
 * Undefined when there is no number or it is negative or over 100.
 */
export function parseConfidence(reply: string): number | undefined {
  const m = /(-?)(\d+(?:\.\d+)?)\s*(%?)/.exec(reply);
  if (!m || m[1] === '-') return undefined;
  const x = Number(m[2]);
  const percent = m[3] === '%' || !m[2]!.includes('.') || x > 1;
  const c = percent ? x / 100 : x;
  return c >= 0 && c <= 1 ? c : undefined;
}

/** One dev item as the curve sees it: each tier's confidence and score, in setup order. */
export interface TierEvidence {
  confidences: Array<number | undefined>;
  scores: number[];
}

/**
 * What the cascade does on these items with these per-tier thresholds: mean score of the accepted
 * answers and mean model calls per query (`callsPerTier`: 1 with token confidence, 2 when each tier
 * is also asked). A tier's answer is its member answer on dev (greedy, the same prompt).
 */
export function simulateCascade(items: readonly TierEvidence[], thresholds: readonly number[], callsPerTier = 1): { accuracy: number; calls: number } {
  if (items.length === 0) return { accuracy: 0, calls: 0 };
  let score = 0;
  let calls = 0;
  for (const it of items) {
    const n = it.scores.length;
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      calls += last && callsPerTier > 1 ? 1 : callsPerTier;
      if (decideCascade(it.confidences[i], thresholds[i] ?? Infinity, last).decision === 'accept') {
        score += it.scores[i] ?? 0;
        break;
      }
    }
  }
  return { accuracy: score / items.length, calls: calls / items.length };
}

/**
 * The cost–quality curve: one point per distinct threshold t (the same for every tier) among the
 * items' confidences, plus t = 0 (the first tier always answers) and t > 1 (every tier is asked),
 * thinned to at most `maxPoints` evenly spread thresholds.
 */
export function cascadeCurve(items: readonly TierEvidence[], callsPerTier = 1, maxPoints = 25): CurvePoint[] {
  const seen = [...new Set(items.flatMap((it) => it.confidences.filter((c): c is number => c !== undefined && Number.isFinite(c))))].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(seen.length / Math.max(1, maxPoints - 2)));
  const ts = [0, ...seen.filter((_, i) => i % step === 0), 1.01].filter((t, i, a) => i === 0 || t !== a[i - 1]);
  return ts.map((t) => {
    const n = items[0]?.scores.length ?? 0;
    const r = simulateCascade(items, Array.from({ length: n }, () => t), callsPerTier);
    return { threshold: Math.round(t * 1e6) / 1e6, accuracy: r.accuracy, calls: r.calls };
  });
}

/** What `fit` / `search` keep: per-agent thresholds and the dev curve. */
export interface CascadeState {
  mode: ConfidenceMode;
  /** Per agent, in setup order; null = no dev confidences (the knob's threshold is used). */
  thresholds: Array<number | null>;
  curve: CurvePoint[];
  chosen: CurvePoint;
  source: string;
}

/**
 * Per-model thresholds fitted on dev: each agent's median dev confidence (MoCo's default), and the
 * cost–quality curve of these dev items. `items` give each tier's confidence and score per dev item.
 */
export function fitCascade(items: readonly TierEvidence[], agents: number, mode: ConfidenceMode, fallback: number): Fitted {
  const thresholds = Array.from({ length: agents }, (_, a) => {
    const conf = items.map((it) => it.confidences[a]).filter((c): c is number => c !== undefined && Number.isFinite(c)).sort((x, y) => x - y);
    return conf.length === 0 ? null : Math.round(quantile(conf, 0.5) * 1e6) / 1e6;
  });
  const callsPerTier = mode === 'ask' ? 2 : 1;
  const used = thresholds.map((t) => t ?? fallback);
  const chosen = { threshold: 'fitted', ...simulateCascade(items, used, callsPerTier) };
  const what = MEASURE[mode].name;
  const source = `${items.length} dev items: each tier's own dev answer and ${what}`;
  const state: CascadeState = { mode, thresholds, curve: cascadeCurve(items, callsPerTier), chosen, source };
  const shown = thresholds.map((t, a) => `a${a + 1} ${t === null ? `${fallback} (no dev ${what})` : t}`).join(', ');
  // The single `threshold` knob follows agent 1's fitted value, so a results table shows it.
  const first = thresholds[0];
  return {
    ...(first !== null && first !== undefined ? { knobs: { threshold: first } } : {}),
    state,
    note: `per-agent thresholds = median of each agent's ${what} on ${items.length} dev items: ${shown}; on dev: accuracy ${chosen.accuracy.toFixed(3)} at ${chosen.calls.toFixed(2)} calls per query`,
  };
}

function modeOf(knobs: Record<string, KnobValue>): ConfidenceMode {
  return knobs.confidence === 'ask' ? 'ask' : 'token';
}

function fallbackOf(knobs: Record<string, KnobValue>): number {
  return typeof knobs.threshold === 'number' ? knobs.threshold : 0.6;
}

/** Token mode: the dev evidence has every member's answer confidence already. */
export function fitFromEvidence(dev: DevEvidence, knobs: Record<string, KnobValue>): Fitted {
  const items = dev.items.map((it) => ({ confidences: it.confidences, scores: it.scores }));
  return fitCascade(items, dev.agentScores.length, 'token', fallbackOf(knobs));
}

/** The state that makes a dev run ask every tier (nothing accepted before the last). */
const COLLECT = { collect: true } as const;

/**
 * Ask mode: the cascade runs on dev with every tier answering and asked (COLLECT); each tier's
 * stated confidence is read from the route events, its score from the member's own dev answer.
 */
async function searchCascade(sctx: SearchContext): Promise<Fitted> {
  const mode = modeOf(sctx.knobs);
  if (mode === 'token') return fitFromEvidence(sctx.dev, sctx.knobs);
  const asked: Array<Array<number | undefined>> = sctx.dev.items.map(() => Array.from({ length: sctx.agents }, () => undefined));
  await sctx.evaluate(COLLECT, (index, trace) => {
    for (const e of trace) {
      if (e.type !== 'route' || e.from === null) continue;
      const a = Number(e.from.slice(1)) - 1;
      if (asked[index] && a >= 0 && a < sctx.agents) asked[index]![a] = e.confidence;
    }
  });
  const items = sctx.dev.items.map((it, i) => ({ confidences: asked[i]!, scores: it.scores }));
  return fitCascade(items, sctx.agents, 'ask', fallbackOf(sctx.knobs));
}

function stateOf(fitted: unknown, agents: number): CascadeState | 'collect' | undefined {
  const f = fitted as Partial<CascadeState> & { collect?: boolean } | undefined;
  if (f?.collect === true) return 'collect';
  return Array.isArray(f?.thresholds) && f.thresholds.length === agents && Array.isArray(f.curve) ? (f as CascadeState) : undefined;
}

const meta: StrategyMeta = {
  id: 'cascade',
  name: 'Cascade',
  level: 'api',
  description:
    'The first (cheapest) agent answers; if its confidence — its mean token probability, or the number it gives when asked how sure it is — is under the threshold, the next agent is asked, and so on. The last agent always answers. In an experiment each agent’s threshold is the median of its confidences on dev, and the run shows dev accuracy against calls as the threshold moves.',
  paper: { title: 'FrugalGPT: How to Use Large Language Models While Reducing Cost and Improving Performance', url: 'https://arxiv.org/abs/2305.05176', year: 2023 },
  knobs: [
    {
      id: 'threshold',
      label: 'Confidence threshold',
      help: 'Accept an answer when its confidence is at least this; otherwise defer to the next agent. In an experiment, per-agent thresholds fitted on dev replace it.',
      type: 'number',
      default: 0.6,
      min: 0,
      max: 1,
      step: 0.01,
    },
    {
      id: 'confidence',
      label: 'Confidence',
      help: 'Mean token probability of the answer (exp of the mean logprob), or self-assessed: the agent is asked how confident it is (0–100) after answering — one more short call per tier.',
      type: 'select',
      default: 'token',
      options: [
        { value: 'token', label: 'mean token probability' },
        { value: 'ask', label: 'ask the model (just ask)' },
      ],
    },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, logprobs: true },
  cost: {
    formula: 'at most N calls (2N − 1 when asking each tier its confidence): 1 when the first agent is sure enough, N when every agent but the last defers; each tier answers alone',
    calls: (n, knobs) => (knobs.confidence === 'ask' ? 2 * n - 1 : n),
    tokens: (n, knobs, maxTokens, promptTokens) => {
      if (knobs.confidence !== 'ask') return { prompt: n * promptTokens, completion: n * maxTokens };
      // Each asked tier's second prompt repeats the first and its answer, plus the question (~32 tokens).
      return { prompt: n * promptTokens + (n - 1) * (promptTokens + maxTokens + 32), completion: n * maxTokens + (n - 1) * ASK_MAX_TOKENS };
    },
  },
};

export const cascade: Strategy = {
  meta,
  fit: (dev, knobs) => fitFromEvidence(dev, knobs),
  search: (sctx) => searchCascade(sctx),
  async *run(ctx) {
    const knobThreshold = knob<number>(ctx, meta, 'threshold');
    const mode = modeOf({ confidence: knob<string>(ctx, meta, 'confidence') });
    const type = answerTypeOf(ctx, meta);
    const state = stateOf(ctx.fitted, ctx.agents.length);
    const collect = state === 'collect';
    const fitted = state === 'collect' ? undefined : state;
    if (fitted) yield curveEvent(ctx.now(), fitted);
    for (let i = 0; i < ctx.agents.length; i++) {
      const agent = ctx.agents[i];
      if (!agent) break;
      const next = ctx.agents[i + 1];
      const threshold = collect ? Infinity : (fitted?.thresholds[i] ?? knobThreshold);
      yield { type: 'round', t: ctx.now(), round: i + 1, label: `Tier ${i + 1}: ${agent.name}` };
      const messages = firstMessages(agent, ctx.prompt);
      const result = yield* callOne(ctx, { agent, agentIndex: i, round: i + 1, sample: 0, purpose: 'answer', messages });
      if (ctx.signal.aborted) return;
      const failed = result.error !== undefined;
      if (failed && !next) throw new Error(`${agent.name}, the last agent of the cascade, failed: ${result.error}`);
      let confidence = result.meanProb;
      // The last tier is accepted whatever it says: asking it would only cost a call (except on a dev collection run).
      if (!failed && mode === 'ask' && (next || collect)) {
        // The question and the answer are cut to fit the context if need be (shown.ts's rule; the trace says so).
        const ask = fitShown(
          ctx,
          agent,
          [ctx.prompt, result.text],
          ASK_MAX_TOKENS,
          ([prompt, answer]) => [...firstMessages(agent, prompt!), { role: 'assistant', content: answer! }, { role: 'user', content: ASK_CONFIDENCE }],
          `${agent.name}'s confidence question`,
          ['a smaller max tokens', 'a shorter prompt', 'confidence "token"'],
        );
        if (ask.warning) yield ask.warning;
        const asked = yield* callOne(ctx, {
          agent,
          agentIndex: i,
          round: i + 1,
          sample: 0,
          purpose: 'confidence',
          messages: ask.messages,
          sees: [result.msgId],
          maxTokens: ASK_MAX_TOKENS,
        });
        if (ctx.signal.aborted) return;
        confidence = asked.error === undefined ? parseConfidence(asked.text) : undefined;
      } else if (mode === 'ask') {
        confidence = undefined;
      }
      const { decision, reason } = failed
        ? { decision: 'defer' as const, reason: `${agent.name} failed (${result.error}): defer to the next agent` }
        : mode === 'ask' && !next && !collect
          ? { decision: 'accept' as const, reason: 'this is the last agent: accept its answer (the last agent is not asked its confidence)' }
          : decideCascade(confidence, threshold, !next, mode);
      const shownThreshold = Number.isFinite(threshold) ? threshold : undefined;
      yield {
        type: 'route',
        t: ctx.now(),
        from: agent.id,
        to: decision === 'accept' || !next ? agent.id : next.id,
        decision,
        reason: collect ? `dev collection run: every tier answers and states its confidence (${confidence === undefined ? 'none' : confidence.toFixed(3)}); the last tier's answer is kept` : reason,
        ...(confidence !== undefined ? { confidence } : {}),
        ...(shownThreshold !== undefined ? { threshold: shownThreshold } : {}),
      };
      if (decision === 'accept') {
        yield { type: 'final', t: ctx.now(), answer: extractAnswer(result.text, type).answer, text: result.text, agent: agent.id };
        return;
      }
    }
  },
};

function curveEvent(t: number, s: CascadeState): TraceEvent {
  return {
    type: 'curve',
    t,
    title: `Cost–quality on dev (${MEASURE[s.mode].name}): thresholds ${s.thresholds.map((x, a) => `a${a + 1} ${x ?? 'knob'}`).join(', ')}`,
    source: s.source,
    points: s.curve,
    chosen: s.chosen,
  };
}
