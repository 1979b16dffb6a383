/**
 * What the query-level routers share (trained router, graph router, prompt router): once one agent
 * is chosen, a `route` event says which and why — with every agent's score, so the trace view can
 * show the router's scores per model — and that agent answers the prompt alone.
 */
import { extractAnswer } from '../answers.ts';
import type { TraceEvent } from '../trace.ts';
import type { StrategyContext, StrategyMeta } from './types.ts';
import { answerTypeOf, callOne, firstMessages } from './common.ts';

export interface RouteChoice {
  /** 0-based index of the chosen agent. */
  index: number;
  reason: string;
  /** One score per agent, in setup order (not finite = the agent was not a candidate). */
  scores: number[];
  scoreLabel: string;
}

/**
 * The index of the highest score; ties go to the earlier agent (setup order), so a route is
 * deterministic.
 */
export function bestIndex(scores: readonly number[]): number {
  if (scores.length === 0) throw new Error('internal: no scores to choose from');
  return scores.reduce((best, s, i) => (s > scores[best]! ? i : best), 0);
}

/** `stage`: when the answer is a later stage (after a router model's call), its round and label. */
export async function* answerAlone(ctx: StrategyContext, meta: StrategyMeta, choice: RouteChoice, stage?: { round: number; label: string }): AsyncGenerator<TraceEvent, void> {
  const agent = ctx.agents[choice.index];
  if (!agent) throw new Error(`internal: ${meta.name} chose agent ${choice.index + 1} of ${ctx.agents.length}`);
  yield {
    type: 'route',
    t: ctx.now(),
    from: null,
    to: agent.id,
    decision: 'route',
    reason: choice.reason,
    // An agent without a finite score (a label the classifier never saw) is left out: JSON has no ∞.
    scores: ctx.agents.flatMap((a, i) => (Number.isFinite(choice.scores[i]) ? [{ agent: a.id, score: choice.scores[i]! }] : [])),
    scoreLabel: choice.scoreLabel,
  };
  const round = stage?.round ?? 1;
  if (stage) yield { type: 'round', t: ctx.now(), round, label: stage.label };
  const result = yield* callOne(ctx, { agent, agentIndex: choice.index, round, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
  if (ctx.signal.aborted) return;
  if (result.error !== undefined) throw new Error(`${agent.name} failed: ${result.error}`);
  yield { type: 'final', t: ctx.now(), answer: extractAnswer(result.text, answerTypeOf(ctx, meta)).answer, text: result.text, agent: agent.id };
}
