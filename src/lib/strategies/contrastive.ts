/**
 * `contrastive`: logit contrastive decoding between an expert and an anti-expert: the score of a
 * token is expert + λ(expert − anti-expert) in log-probabilities, among the tokens the expert
 * finds plausible (probability ≥ α × its top probability), decoded greedily. Contrastive decoding:
 * Li et al. 2023, "Contrastive Decoding: Open-ended Text Generation as Optimization",
 * arXiv 2210.15097 (plausibility constraint α); λ = 0.2 is MoCo's default. Log-probabilities differ
 * from logits by one constant per model and step, so the ranking is the same as on logits.
 */
import type { NextToken } from '../engines/stepper.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { logprobOf } from './tokens.ts';
import { runLogit, type Ranked } from './logit.ts';

/** The pure rule: plausible expert candidates, scored (1 + λ)·log p_expert − λ·log p_anti. */
export function contrast(expert: NextToken, anti: NextToken, lambda: number, alpha: number): Ranked[] {
  const ids = expert.full ? Array.from(expert.full.keys()) : expert.top.map((c) => c.id);
  const maxLp = Math.max(...expert.top.map((c) => c.logprob));
  const cut = maxLp + Math.log(alpha);
  return ids
    .filter((id) => logprobOf(expert, id) >= cut)
    .map((id) => ({ id, value: (1 + lambda) * logprobOf(expert, id) - lambda * logprobOf(anti, id) }));
}

const meta: StrategyMeta = {
  id: 'contrastive',
  name: 'Logit contrastive',
  level: 'logit',
  description:
    'Agent 1 is the expert, Agent 2 the anti-expert: among the tokens the expert finds plausible (probability ≥ α × its top one) the token with the highest expert + λ(expert − anti-expert) log-probability is written. Exact with full logits; with top-K engines the expert\u2019s top 10 are the candidates and a candidate missing from the anti-expert\u2019s top 10 gets its 10th log-probability (an upper bound). Models must share one vocabulary.',
  paper: { title: 'Contrastive Decoding: Open-ended Text Generation as Optimization', url: 'https://arxiv.org/abs/2210.15097', year: 2023 },
  knobs: [
    { id: 'lambda', label: 'λ', help: 'Weight of the expert − anti-expert difference (MoCo: 0.2). 0 = the expert alone.', type: 'number', default: 0.2, min: 0, max: 5, step: 0.05 },
    { id: 'alpha', label: 'Plausibility α', help: 'Only tokens with expert probability ≥ α × the expert\u2019s top probability are candidates.', type: 'number', default: 0.1, min: 0, max: 1, step: 0.01 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, maxAgents: 2 },
  cost: {
    formula: '2 steps per token: 1 expert step + 1 anti-expert step',
    perToken: true,
    calls: () => 2,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: 2 * promptTokens, completion: maxTokens }),
  },
};

export const contrastive: Strategy = {
  meta,
  run(ctx) {
    const lambda = knob<number>(ctx, meta, 'lambda');
    const alpha = knob<number>(ctx, meta, 'alpha');
    return runLogit(
      ctx,
      meta,
      {
        label: 'contrastive score (1 + λ)·log p_expert − λ·log p_anti',
        rank: (nexts) => contrast(nexts[0]!, nexts[1]!, lambda, alpha),
        reason: (nexts, c) => `highest contrastive score ${c.value.toFixed(3)} among ${contrast(nexts[0]!, nexts[1]!, lambda, alpha).length} plausible expert tokens (λ ${lambda}, α ${alpha})`,
      },
      `${ctx.agents[0]!.name} (expert) against ${ctx.agents[1]!.name} (anti-expert), λ = ${lambda}`,
    );
  },
};
