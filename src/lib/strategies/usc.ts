/**
 * `usc`: universal self-consistency (Chen et al. 2023, "Universal Self-Consistency for Large
 * Language Model Generation", arXiv 2311.17311). Round 1: every agent answers `samples` times, all
 * at once. Round 2: a selector agent is shown every answer, numbered, and asked which is the most
 * consistent with the others (the paper's prompt, in our words: reply "The most consistent response
 * is Response X"). Unlike a vote it needs no answer extraction to compare answers, so it works for
 * free-form text too. MoCo has no USC file; the rules are the paper's.
 *
 * Reading the reply: the first "Response <k>" in it, else its first whole number; k must be one
 * of the numbers shown (1-based). A reply without a valid number is a warning in the trace, and the
 * final answer falls back to a majority vote over the answers (tally.ts's rule).
 * The selector is the `selector` knob (agent number; in experiments the best member on dev, MoCo's
 * rule for judges, else agent 1).
 *
 * Context: before any call the run checks that the selector's prompt fits with at least
 * MIN_SHOWN_ANSWER_BYTES of each answer; the answers it is shown are cut by debate's rule (shown.ts).
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, KnobValue, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallSpec } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { fitShown, numbered, refuseUnlessFits, succeeded, withSystem } from './shown.ts';
import { voteOnFinals } from './tally.ts';

export function selectPrompt(prompt: string, answers: readonly string[]): string {
  return (
    `The question: ${prompt}\n\nSeveral responses to it:\n\n${numbered('Response', answers)}\n\n` +
    'Compare the responses and choose the one that agrees most with the others (the majority view). ' +
    'Start your reply with "The most consistent response is Response X", with X its number.'
  );
}

export function selectMessages(agent: Agent, prompt: string, answers: readonly string[]): ChatMessage[] {
  return withSystem(agent, selectPrompt(prompt, answers));
}

/** The 1-based response number a selector's reply names, or undefined when it names none of 1…count. */
export function parseSelection(reply: string, count: number): number | undefined {
  const named = /response\s*#?\s*(\d+)/i.exec(reply);
  const bare = /\d+/.exec(reply);
  const k = Number((named ? named[1] : bare?.[0]) ?? NaN);
  return Number.isInteger(k) && k >= 1 && k <= count ? k : undefined;
}

const samplesOf = (knobs: Record<string, KnobValue>): number => (typeof knobs.samples === 'number' ? knobs.samples : 2);

const meta: StrategyMeta = {
  id: 'usc',
  name: 'Universal self-consistency',
  level: 'text',
  description:
    'Every agent answers (several samples each if you like); a selector agent reads all the answers and picks the one most consistent with the others. Works for free-form answers, where a vote cannot count.',
  paper: { title: 'Universal Self-Consistency for Large Language Model Generation', url: 'https://arxiv.org/abs/2311.17311', year: 2023 },
  knobs: [
    { id: 'samples', label: 'Samples per agent', help: 'How many answers each agent gives (use temperature > 0 so they differ).', type: 'integer', default: 2, min: 1, max: 8, step: 1 },
    { id: 'selector', label: 'Selector', help: 'Which agent (1 = first) picks the most consistent answer; in experiments the best member on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 1 },
  cost: {
    formula: 'N × S + 1 calls (S answers from each of N agents, then the selector, whose prompt shows all N × S)',
    calls: (n, knobs) => n * samplesOf(knobs) + 1,
    tokens: (n, knobs, maxTokens, promptTokens) => {
      const shown = n * samplesOf(knobs);
      return { prompt: (shown + 1) * promptTokens + shown * maxTokens, completion: (shown + 1) * maxTokens };
    },
  },
};

export const usc: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['selector']),
  async *run(ctx) {
    const samples = knob<number>(ctx, meta, 'samples');
    const type = answerTypeOf(ctx, meta);
    const selector = agentByNumber(ctx, knob<number>(ctx, meta, 'selector'), 'The selector');
    const advice = [`use fewer agents (now ${ctx.agents.length})`, `fewer samples per agent (now ${samples})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    refuseUnlessFits(selector.agent, ctx.agents.length * samples, ctx.maxTokens, (shown) => selectMessages(selector.agent, ctx.prompt, shown), "the selector's prompt", advice);
    const specs: CallSpec[] = ctx.agents.flatMap((agent, agentIndex) =>
      Array.from({ length: samples }, (_, sample) => ({ agent, agentIndex, round: 1, sample, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) })),
    );
    yield { type: 'round', t: ctx.now(), round: 1, label: `${specs.length} answers` };
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    const ok = succeeded(results, 'round 1');
    yield { type: 'round', t: ctx.now(), round: 2, label: `Selector: ${selector.agent.name}` };
    const fit = fitShown(ctx, selector.agent, ok.map((r) => r.text), ctx.maxTokens, (shown) => selectMessages(selector.agent, ctx.prompt, shown), 'the selector', advice);
    if (fit.warning) yield fit.warning;
    const reply = yield* callOne(ctx, { agent: selector.agent, agentIndex: selector.index, round: 2, sample: 0, purpose: 'select', messages: fit.messages, sees: ok.map((r) => r.msgId) });
    if (ctx.signal.aborted) return;
    const k = reply.error === undefined ? parseSelection(reply.text, ok.length) : undefined;
    const picked = k === undefined ? undefined : ok[k - 1];
    if (picked) {
      yield { type: 'route', t: ctx.now(), from: selector.agent.id, to: picked.spec.agent.id, decision: 'route', reason: `the selector chose Response ${k} of ${ok.length} (${picked.msgId}) as the most consistent` };
      yield { type: 'final', t: ctx.now(), answer: extractAnswer(picked.text, type).answer, text: picked.text, agent: picked.spec.agent.id };
      return;
    }
    const why = reply.error !== undefined ? `failed (${reply.error})` : `named no response from 1 to ${ok.length} (it replied ${JSON.stringify(reply.text.slice(0, 80))})`;
    yield { type: 'error', t: ctx.now(), agent: selector.agent.id, fatal: false, message: `the selector ${why}: falling back to a majority vote over the ${ok.length} answers` };
    yield* voteOnFinals(ctx, ok, type, 2);
  },
};
