/**
 * `fusion`: logit fusion, the weighted mean of the models' next-token log-probabilities (a
 * product of experts) or probabilities (a mixture), decoded greedily — MoCo's logit-level
 * ensemble (arXiv 2601.21257). A model fused with itself generates exactly what it generates
 * alone (tests/e2e/stepping.spec.ts).
 */
import type { NextToken } from '../engines/stepper.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { candidateIds, logprobOf } from './tokens.ts';
import { runLogit, type Ranked } from './logit.ts';

/** Parses the weights knob: empty = equal; otherwise one non-negative number per agent, not all 0. */
export function parseWeights(raw: string, n: number): number[] {
  if (raw.trim() === '') return Array.from({ length: n }, () => 1);
  const parts = raw.split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.length !== n || parts.some((w) => !Number.isFinite(w) || w < 0) || parts.every((w) => w === 0)) {
    throw new Error(`Logit fusion: weights "${raw}" must be ${n} non-negative numbers (one per agent, not all 0), e.g. "${Array.from({ length: n }, () => 1).join(', ')}" — or leave it empty for equal weights.`);
  }
  return parts;
}

/** The pure rule: each candidate's weighted mean log-probability ('logprob') or probability ('prob'). */
export function fuse(nexts: readonly NextToken[], weights: readonly number[], mode: 'logprob' | 'prob'): Ranked[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return candidateIds(nexts).map((id) => {
    let v = 0;
    nexts.forEach((n, i) => {
      const lp = logprobOf(n, id);
      v += (weights[i]! / total) * (mode === 'logprob' ? lp : Math.exp(lp));
    });
    return { id, value: v };
  });
}

const meta: StrategyMeta = {
  id: 'fusion',
  name: 'Logit fusion',
  level: 'logit',
  description:
    'Every agent gives its next-token distribution; the token with the highest weighted mean log-probability (product of experts) or probability (mixture) is written, greedily. Exact with full logits; with top-K engines (wllama, HTTP) the candidates are the union of the agents\u2019 top 10, and a token missing from an agent\u2019s list gets that agent\u2019s 10th log-probability (an upper bound). Models must share one vocabulary.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (logit fusion)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    { id: 'mode', label: 'Average of', help: 'log-probabilities: a product of experts (every model must find the token likely); probabilities: a mixture.', type: 'select', default: 'logprob', options: [{ value: 'logprob', label: 'log-probabilities' }, { value: 'prob', label: 'probabilities' }] },
    { id: 'weights', label: 'Weights', help: 'One weight per agent, comma-separated (e.g. "2, 1"); empty = equal.', type: 'text', default: '', maxLength: 200 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N steps per token: 1 step of every agent',
    perToken: true,
    calls: (n) => n,
    tokens: (n, _k, maxTokens, promptTokens) => ({ prompt: n * promptTokens, completion: maxTokens }),
  },
};

export const fusion: Strategy = {
  meta,
  run(ctx) {
    const mode = knob<string>(ctx, meta, 'mode') === 'prob' ? 'prob' : 'logprob';
    const weights = parseWeights(knob<string>(ctx, meta, 'weights'), ctx.agents.length);
    return runLogit(
      ctx,
      meta,
      {
        label: mode === 'prob' ? 'fused probability' : 'fused probability (exp of the weighted mean log-probability)',
        rank: (nexts) => fuse(nexts, weights, mode),
        shown: (v) => (mode === 'prob' ? v : Math.exp(v)),
        reason: (_n, c) => `highest weighted mean ${mode === 'prob' ? 'probability' : 'log-probability'} (${(mode === 'prob' ? c.value : Math.exp(c.value)).toFixed(3)}) over the agents`,
      },
      `Fusing ${ctx.agents.length} agents (${mode === 'prob' ? 'probabilities' : 'log-probabilities'}, weights ${weights.join(', ')})`,
    );
  },
};
