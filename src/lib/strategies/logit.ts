/**
 * The loop the logit-level methods share: every agent takes one step at the same position, a
 * method-specific score combines their distributions over the candidate tokens, and the best
 * candidate is written (greedy). The per-token view shows each model's candidates and the
 * combined ranking.
 *
 * Exactness: with full logits (the ONNX engine) every token of the vocabulary is scored exactly.
 * With top-K (wllama, OpenAI-compatible servers) the candidates are the union of the models' top-K,
 * and a model that did not list a candidate gives it its K-th log-probability (`logprobOf`): an
 * upper bound on the true value, so the combination is an approximation whenever a candidate falls
 * outside some model's top-K. Each method's description says so.
 */
import type { NextToken } from '../engines/stepper.ts';
import type { TraceEvent } from '../trace.ts';
import type { StrategyContext, StrategyMeta } from './types.ts';
import { Answer, closeLanes, finish, isEnd, modelView, openLanes, step, stepPromptText, textOf, type Lane } from './tokens.ts';

export interface Ranked {
  id: number;
  value: number;
}

/** The best of `ranked` (highest value; ties to the earlier, i.e. the first model's more probable token). */
export function best(ranked: readonly Ranked[]): Ranked {
  let b = ranked[0]!;
  for (const r of ranked) if (r.value > b.value) b = r;
  return b;
}

export interface LogitRule {
  /** What the combined values are, for the per-token view ("fused probability"). */
  label: string;
  /** Candidates with their combined values; the token written is the best. */
  rank(nexts: readonly NextToken[]): Ranked[];
  /** Why the best won, in words. */
  reason(nexts: readonly NextToken[], chosen: Ranked): string;
  /** How a combined value is shown in the view (probabilities stay 0–1, scores as they are). */
  shown?(value: number): number;
}

export async function* runLogit(ctx: StrategyContext, meta: StrategyMeta, rule: LogitRule, label: string): AsyncGenerator<TraceEvent> {
  const t0 = ctx.now();
  yield { type: 'round', t: t0, round: 1, label };
  const lanes: Lane[] = await openLanes(ctx, meta);
  try {
    const answer = new Answer(ctx.maxTokens, stepPromptText(lanes[0]!.agent, ctx.prompt).oneLine);
    while (!answer.done) {
      const nexts: NextToken[] = [];
      for (const lane of lanes) nexts.push(await step(ctx, lane, answer.ids));
      const ranked = rule.rank(nexts);
      const chosen = best(ranked);
      const text = textOf(nexts, chosen.id);
      if (!answer.push(chosen.id, text, isEnd(lanes[0]!, chosen.id))) break;
      const show = rule.shown ?? ((v: number) => v);
      const top = [...ranked]
        .sort((a, b) => b.value - a.value)
        .slice(0, 5)
        .map((r) => ({ id: r.id, text: textOf(nexts, r.id), value: show(r.value) }));
      yield {
        type: 'step',
        t: ctx.now(),
        index: answer.ids.length - 1,
        token: { id: chosen.id, text },
        by: lanes[0]!.agent.id,
        reason: rule.reason(nexts, chosen),
        models: lanes.map((l, i) => modelView(l, nexts[i]!)),
        combined: { label: rule.label, top },
      };
    }
    yield* finish(ctx, meta, lanes, answer, t0);
  } finally {
    await closeLanes(lanes);
  }
}
