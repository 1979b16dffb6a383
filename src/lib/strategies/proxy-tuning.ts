/**
 * `proxy-tuning`: Liu et al. 2024, "Tuning Language Models by Proxy", arXiv 2401.08565. A base
 * model is steered by the difference a tuning made to a small model: score = base + (tuned small −
 * untuned small), in log-probabilities (the paper adds logits; per-model constants do not change
 * the ranking), decoded greedily.
 */
import type { NextToken } from '../engines/stepper.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB } from './common.ts';
import { candidateIds, logprobOf } from './tokens.ts';
import { runLogit, type Ranked } from './logit.ts';

/** The pure rule: log p_base + log p_tuned − log p_untuned over the candidates. */
export function proxyTune(base: NextToken, tuned: NextToken, untuned: NextToken): Ranked[] {
  return candidateIds([base, tuned, untuned]).map((id) => ({ id, value: logprobOf(base, id) + logprobOf(tuned, id) - logprobOf(untuned, id) }));
}

const meta: StrategyMeta = {
  id: 'proxy-tuning',
  name: 'Proxy tuning',
  level: 'logit',
  description:
    'Agent 1 is the base, Agent 2 a small tuned model and Agent 3 the same small model untuned: the token with the highest base + (tuned − untuned) log-probability is written. Exact with full logits; with top-K engines the candidates are the union of the three top-10 lists, and a missing token gets that model\u2019s 10th log-probability (an upper bound). Models must share one vocabulary.',
  paper: { title: 'Tuning Language Models by Proxy', url: 'https://arxiv.org/abs/2401.08565', year: 2024 },
  knobs: [ANSWER_KNOB],
  needs: { minAgents: 3, maxAgents: 3 },
  cost: {
    formula: '3 steps per token: 1 step of each of the 3 models',
    perToken: true,
    calls: () => 3,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: 3 * promptTokens, completion: maxTokens }),
  },
};

export const proxyTuning: Strategy = {
  meta,
  run(ctx) {
    return runLogit(
      ctx,
      meta,
      {
        label: 'proxy-tuned score log p_base + log p_tuned − log p_untuned',
        rank: (nexts) => proxyTune(nexts[0]!, nexts[1]!, nexts[2]!),
        reason: (_n, c) => `highest proxy-tuned score ${c.value.toFixed(3)}`,
      },
      `${ctx.agents[0]!.name} steered by ${ctx.agents[1]!.name} − ${ctx.agents[2]!.name}`,
    );
  },
};
