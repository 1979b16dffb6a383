/**
 * `aggregation`: AggLM-style solution aggregation (Zhao et al. 2025, "The Majority is not always
 * right: RL training for solution aggregation", arXiv 2509.06870; MoCo's text_agglm.py). Round 1:
 * every agent writes `samples` solutions, all at once. Round 2: the aggregator agent is shown every
 * solution, numbered, and writes one final solution, told that any, all or none of them may be
 * right and to correct, fill in and combine rather than pick (AggLM's instruction, in our words).
 *
 * Out of scope: AggLM's training step (MoCo fine-tunes the aggregator with reinforcement learning
 * on dev solutions, GRPO, on GPUs); here the aggregator is an untrained agent, the `aggregator` knob,
 * fitted in experiments to the best member on dev (MoCo's rule for judges), else agent 1.
 *
 * Context: before any call the run checks that the aggregator's prompt fits with at least
 * MIN_SHOWN_ANSWER_BYTES of each of the N × samples solutions, and refuses otherwise naming the
 * knobs; the solutions it is shown are cut by debate's rule (shown.ts), with a warning.
 * Final answer: the aggregator's text, read by the answer-type rules.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, KnobValue, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallSpec } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { fitShown, numbered, refuseUnlessFits, succeeded, withSystem } from './shown.ts';

export function aggregatePrompt(prompt: string, solutions: readonly string[]): string {
  return (
    `The problem:\n${prompt}\n\nSome attempts at solving it:\n\n${numbered('Solution', solutions)}\n\n` +
    'Any, all or none of these attempts may be correct or complete. Review them carefully and use them as starting points: ' +
    'correct their mistakes, fill their gaps and combine their useful ideas into one final, complete and correct solution. ' +
    'Give the final answer in the same form as the attempts.'
  );
}

export function aggregateMessages(agent: Agent, prompt: string, solutions: readonly string[]): ChatMessage[] {
  return withSystem(agent, aggregatePrompt(prompt, solutions));
}

const samplesOf = (knobs: Record<string, KnobValue>): number => (typeof knobs.samples === 'number' ? knobs.samples : 1);

const meta: StrategyMeta = {
  id: 'aggregation',
  name: 'Aggregation (AggLM-style)',
  level: 'text',
  description:
    'Every agent writes a solution; an aggregator agent reads them all and writes one final solution, correcting and combining them rather than picking one. (AggLM also trains the aggregator with RL; that step is not offered here.)',
  paper: { title: 'The Majority is not always right: RL training for solution aggregation', url: 'https://arxiv.org/abs/2509.06870', year: 2025 },
  knobs: [
    { id: 'samples', label: 'Solutions per agent', help: 'How many solutions each agent writes (use temperature > 0 so they differ).', type: 'integer', default: 1, min: 1, max: 4, step: 1 },
    { id: 'aggregator', label: 'Aggregator', help: 'Which agent (1 = first) writes the final solution; in experiments the best member on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 1 },
  cost: {
    formula: 'N × S + 1 calls (S solutions from each of N agents, then the aggregator, whose prompt shows all N × S)',
    calls: (n, knobs) => n * samplesOf(knobs) + 1,
    tokens: (n, knobs, maxTokens, promptTokens) => {
      const shown = n * samplesOf(knobs);
      return { prompt: (shown + 1) * promptTokens + shown * maxTokens, completion: (shown + 1) * maxTokens };
    },
  },
};

export const aggregation: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['aggregator']),
  async *run(ctx) {
    const samples = knob<number>(ctx, meta, 'samples');
    const aggregator = agentByNumber(ctx, knob<number>(ctx, meta, 'aggregator'), 'The aggregator');
    const advice = [`use fewer agents (now ${ctx.agents.length})`, `fewer solutions per agent (now ${samples})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const count = ctx.agents.length * samples;
    refuseUnlessFits(aggregator.agent, count, ctx.maxTokens, (shown) => aggregateMessages(aggregator.agent, ctx.prompt, shown), "the aggregator's prompt", advice);
    const specs: CallSpec[] = ctx.agents.flatMap((agent, agentIndex) =>
      Array.from({ length: samples }, (_, sample) => ({ agent, agentIndex, round: 1, sample, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) })),
    );
    yield { type: 'round', t: ctx.now(), round: 1, label: `${specs.length} solutions` };
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    const ok = succeeded(results, 'round 1');
    yield { type: 'round', t: ctx.now(), round: 2, label: `Aggregator: ${aggregator.agent.name}` };
    const fit = fitShown(ctx, aggregator.agent, ok.map((r) => r.text), ctx.maxTokens, (shown) => aggregateMessages(aggregator.agent, ctx.prompt, shown), 'the aggregator', advice);
    if (fit.warning) yield fit.warning;
    const final = yield* callOne(ctx, { agent: aggregator.agent, agentIndex: aggregator.index, round: 2, sample: 0, purpose: 'aggregate', messages: fit.messages, sees: ok.map((r) => r.msgId) });
    if (ctx.signal.aborted) return;
    if (final.error !== undefined) throw new Error(`the aggregator ${aggregator.agent.name} failed: ${final.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(final.text, answerTypeOf(ctx, meta)).answer, text: final.text, agent: aggregator.agent.id };
  },
};
