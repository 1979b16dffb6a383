/**
 * What the text-level methods share about prompts that show other messages (a peer's answer, a
 * critique, a summary, a knowledge card, a layer of proposals, a neighbour's answer): answers
 * listed under a label and a number, the check before any call that such a prompt can fit the
 * context with at least MIN_SHOWN_ANSWER_BYTES of each shown text, the per-call cut of the shown
 * texts by debate's rule (`fitAnswers` in debate.ts: max-min fair shares of the room left, each text
 * keeping its first bytes and ending in "…"), and the rounds of answers and revisions that refine and
 * debate-summary run (their final vote is tally.ts's `voteOnFinals`). Depends on the engine interface only, like every strategy.
 */
import type { ChatMessage } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, StrategyContext } from './types.ts';
import { callAll, firstMessages, type CallResult, type CallSpec } from './common.ts';
import { MIN_SHOWN_ANSWER_BYTES, fitProblem } from './budget.ts';
import { fitAnswers } from './debate.ts';

/** A stand-in for a shown text at its least length (what the before-run checks measure). */
export const LEAST_SHOWN = 'x'.repeat(MIN_SHOWN_ANSWER_BYTES);

/**
 * Throws, before any call, when the conversation `build` makes for `count` shown texts cannot fit
 * `agent`'s context with max tokens `maxTokens` even with only MIN_SHOWN_ANSWER_BYTES of each.
 */
export function refuseUnlessFits(
  agent: Agent,
  count: number,
  maxTokens: number,
  build: (shown: string[]) => ChatMessage[],
  what: string,
  advice: readonly string[],
): void {
  const messages = build(Array.from({ length: count }, () => LEAST_SHOWN));
  const p = fitProblem(messages, maxTokens, agent.engine.info.contextLength, agent.engine.info.model, `${what} (${count} text(s) shown, at least ${MIN_SHOWN_ANSWER_BYTES} bytes each)`, advice);
  if (p !== null) throw new Error(p);
}

/**
 * The conversation `build` makes from `texts`, cut to fit `agent`'s context (debate's rule), and the
 * warning to put in the trace when something was cut.
 */
export function fitShown(
  ctx: StrategyContext,
  agent: Agent,
  texts: readonly string[],
  maxTokens: number,
  build: (shown: string[]) => ChatMessage[],
  what: string,
  advice: readonly string[],
): { messages: ChatMessage[]; warning?: TraceEvent } {
  const fit = fitAnswers(agent, texts, maxTokens, build, what, advice);
  if (!fit.cut) return { messages: fit.messages };
  return {
    messages: fit.messages,
    warning: { type: 'error', t: ctx.now(), agent: agent.id, fatal: false, message: `${what}: the texts shown were cut to ${fit.capBytes} bytes each (their first bytes, then "…") to fit the context with max tokens ${maxTokens}` },
  };
}

/** One agent's call in a revision round, as `revise` builds it (the warning goes to the trace first). */
export interface Revision {
  messages: ChatMessage[];
  sees: string[];
  warning?: TraceEvent;
}

/**
 * Round 1: every agent answers alone; rounds 2…`rounds`: every agent that has an answer revises it
 * with the conversation `revise` builds (called once per round, after `before` ran — a summariser's
 * call, say), all agents of a round at once. Returns each agent's latest successful answer.
 * Throws when every agent fails in a round; returns early (undefined) on cancel.
 */
export async function* answerRounds(
  ctx: StrategyContext,
  rounds: number,
  label: (round: number) => string,
  revise: (round: number, agentIndex: number, latest: readonly (CallResult | undefined)[]) => Revision,
  before?: (round: number, latest: readonly (CallResult | undefined)[]) => AsyncGenerator<TraceEvent, boolean>,
): AsyncGenerator<TraceEvent, (CallResult | undefined)[] | undefined> {
  const latest: (CallResult | undefined)[] = ctx.agents.map(() => undefined);
  for (let round = 1; round <= rounds; round++) {
    yield { type: 'round', t: ctx.now(), round, label: label(round) };
    if (round > 1 && before) {
      const goOn = yield* before(round, latest);
      if (!goOn) return undefined;
    }
    const specs: CallSpec[] = [];
    const warnings: TraceEvent[] = [];
    ctx.agents.forEach((agent, agentIndex) => {
      const own = latest[agentIndex];
      // Round 1, or an agent without an answer yet (it failed every earlier round): it answers afresh.
      if (round === 1 || own === undefined) {
        specs.push({ agent, agentIndex, round, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
        return;
      }
      const r = revise(round, agentIndex, latest);
      if (r.warning) warnings.push(r.warning);
      specs.push({ agent, agentIndex, round, sample: 0, purpose: 'revision', messages: r.messages, sees: r.sees });
    });
    // Cut warnings go to the trace before the round's calls.
    for (const w of warnings) yield w;
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return undefined;
    results.forEach((r, i) => {
      if (r.error === undefined) latest[i] = r;
    });
    if (results.every((r) => r.error !== undefined)) throw new Error(`every agent failed in round ${round}; see the errors above`);
  }
  return latest;
}

/** "<label> 1: ```…```", one per answer, blank lines between (numbers are 1-based). */
export function numbered(label: string, answers: readonly string[]): string {
  return answers.map((a, i) => `${label} ${i + 1}: \`\`\`${a.trim()}\`\`\``).join('\n\n');
}

/** The agent's system prompt (if any), then one user message. */
export function withSystem(agent: Agent, user: string): ChatMessage[] {
  return firstMessages(agent, user);
}

/** The calls that succeeded; throws naming the step when none did. */
export function succeeded(results: readonly CallResult[], step: string): CallResult[] {
  const ok = results.filter((r) => r.error === undefined);
  if (ok.length === 0) throw new Error(`every call failed in ${step}; see the errors above`);
  return ok;
}
