/**
 * What the methods that show one agent many earlier answers share (mixture-of-agents' layers and
 * aggregator, structured interaction's neighbours, universal self-consistency's selector, AggLM-style
 * aggregation): the answers listed under a label and a number, the check before any call that the
 * prompt fits with at least MIN_SHOWN_ANSWER_BYTES of each answer, and the per-call cut to fit
 * (debate's rule, `fitAnswers`: the room left is shared out, short answers whole, long ones an equal
 * share each, each keeping its first bytes and ending in "…").
 */
import type { ChatMessage } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, StrategyContext } from './types.ts';
import { fitAnswers } from './debate.ts';
import { MIN_SHOWN_ANSWER_BYTES, fitProblem } from './budget.ts';
import type { CallResult } from './common.ts';
import { extractAnswer, type AnswerType } from '../answers.ts';
import { countVotes, type ScoredBallot } from './tally.ts';

/** "<label> 1: ```…```", one per answer, blank lines between (numbers are 1-based). */
export function numbered(label: string, answers: readonly string[]): string {
  return answers.map((a, i) => `${label} ${i + 1}: \`\`\`${a.trim()}\`\`\``).join('\n\n');
}

/** The agent's system prompt (if any), then one user message. */
export function withSystem(agent: Agent, user: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (agent.system && agent.system.trim() !== '') messages.push({ role: 'system', content: agent.system });
  messages.push({ role: 'user', content: user });
  return messages;
}

/**
 * Throws (before any call) when `build` with `count` answers of MIN_SHOWN_ANSWER_BYTES each, plus
 * max tokens, cannot fit the agent's context. `what` names the call, `advice` the knobs that help.
 */
export function refuseUnlessFits(ctx: StrategyContext, agent: Agent, count: number, build: (shown: string[]) => ChatMessage[], what: string, advice: readonly string[]): void {
  const least = Array.from({ length: count }, () => 'x'.repeat(MIN_SHOWN_ANSWER_BYTES));
  const p = fitProblem(build(least), ctx.maxTokens, agent.engine.info.contextLength, agent.engine.info.model, `${what} (${count} answers shown, at least ${MIN_SHOWN_ANSWER_BYTES} bytes each)`, advice);
  if (p !== null) throw new Error(p);
}

/**
 * The conversation showing `answers` cut to fit (debate's `fitAnswers`), and the trace warning
 * that says so when something was cut (undefined when nothing was).
 */
export function fitShown(
  ctx: StrategyContext,
  agent: Agent,
  answers: readonly string[],
  build: (shown: string[]) => ChatMessage[],
  what: string,
  advice: readonly string[],
): { messages: ChatMessage[]; warning?: TraceEvent } {
  const fit = fitAnswers(agent, answers, ctx.maxTokens, build, what, advice);
  if (!fit.cut) return { messages: fit.messages };
  return {
    messages: fit.messages,
    warning: { type: 'error', t: ctx.now(), agent: agent.id, fatal: false, message: `${what}: the answers shown were cut to ${fit.capBytes} bytes each (their first bytes, then "…") to fit the context with max tokens ${ctx.maxTokens}` },
  };
}

/** The calls that succeeded; throws naming the step when none did. */
export function succeeded(results: readonly CallResult[], step: string): CallResult[] {
  const ok = results.filter((r) => r.error === undefined);
  if (ok.length === 0) throw new Error(`every call failed in ${step}; see the errors above`);
  return ok;
}

/** Each result's extracted answer as a ballot, with its mean token probability (for the tie rule). */
export function ballotsOf(results: readonly CallResult[], type: AnswerType): ScoredBallot[] {
  return results.map((r) => {
    const b: ScoredBallot = { agent: r.spec.agent.id, answer: extractAnswer(r.text, type).answer, raw: r.text };
    if (r.meanProb !== undefined) b.meanProb = r.meanProb;
    return b;
  });
}

/**
 * A majority vote over `results` (tally.ts's rule) as a `vote` event, then the `final` event: the
 * winning answer, shown with the earliest (setup order) result that gave it.
 */
export function voteEvents(ctx: StrategyContext, results: readonly CallResult[], type: AnswerType, round: number): TraceEvent[] {
  const ballots = ballotsOf(results, type);
  const outcome = countVotes(ballots);
  const chosen = outcome.winner === '' ? results[0] : results[ballots.findIndex((b) => b.answer === outcome.winner)];
  return [
    { type: 'vote', t: ctx.now(), round, ballots: outcome.ballots, tally: outcome.tally, winner: outcome.winner, rule: outcome.rule, tie: outcome.tie },
    { type: 'final', t: ctx.now(), answer: outcome.winner, text: chosen?.text ?? '', ...(chosen ? { agent: chosen.spec.agent.id } : {}) },
  ];
}
