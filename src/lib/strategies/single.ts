/** `single`: one agent answers alone — the baseline every collaboration is measured against. */
import { extractAnswer } from '../answers.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callOne, firstMessages, knob } from './common.ts';

const meta: StrategyMeta = {
  id: 'single',
  name: 'Single model',
  level: 'api',
  description: 'One agent answers the prompt alone. The baseline: a collaboration helps only if it beats this.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (single-model baseline)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    { id: 'agent', label: 'Agent', help: 'Which agent (1 = the first in the list) answers.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 1 },
  cost: {
    formula: '1 call, whatever N',
    calls: () => 1,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: promptTokens, completion: maxTokens }),
  },
};

export const single: Strategy = {
  meta,
  async *run(ctx) {
    const { agent, index } = agentByNumber(ctx, knob<number>(ctx, meta, 'agent'), 'The answering agent');
    yield { type: 'round', t: ctx.now(), round: 1, label: `${agent.name} answers` };
    const result = yield* callOne(ctx, {
      agent,
      agentIndex: index,
      round: 1,
      sample: 0,
      purpose: 'answer',
      messages: firstMessages(agent, ctx.prompt),
    });
    if (ctx.signal.aborted) return;
    if (result.error !== undefined) throw new Error(`${agent.name} failed: ${result.error}`);
    const { answer } = extractAnswer(result.text, answerTypeOf(ctx, meta));
    yield { type: 'final', t: ctx.now(), answer, text: result.text, agent: agent.id };
  },
};
