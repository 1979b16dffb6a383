/**
 * `cascade`: FrugalGPT-style LLM cascade (Chen et al. 2023, arXiv 2305.05176).
 * Agents are tried in the order of the setup — put the cheapest first. Each answers; its
 * confidence is the mean token probability of its answer, defined as exp(mean natural-log
 * probability of the generated tokens), i.e. the geometric mean of the token probabilities
 * (FrugalGPT learns a small scoring model; with no training data in the tab the score is the
 * answering model's own token probabilities, as reported by the engine). Confidence ≥ threshold → accept; under
 * it → defer to the next agent. The last agent's answer is accepted whatever its confidence.
 */
import { extractAnswer } from '../answers.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callOne, firstMessages, knob } from './common.ts';
import { medianConfidenceThreshold } from './fits.ts';

export interface CascadeDecision {
  decision: 'accept' | 'defer';
  reason: string;
}

/**
 * The pure decision rule. `confidence` is undefined when the engine reported no token
 * probabilities (or no tokens were generated): such an answer cannot be trusted, so it defers.
 */
export function decideCascade(confidence: number | undefined, threshold: number, isLast: boolean): CascadeDecision {
  const c = confidence === undefined || Number.isNaN(confidence) ? undefined : confidence;
  const shown = c === undefined ? 'unknown' : c.toFixed(3);
  if (c !== undefined && c >= threshold) {
    return { decision: 'accept', reason: `mean token probability ${shown} ≥ threshold ${threshold}: accept` };
  }
  const why = c === undefined ? 'no token probabilities were reported' : `mean token probability ${shown} < threshold ${threshold}`;
  if (isLast) return { decision: 'accept', reason: `${why}, but this is the last agent: accept its answer` };
  return { decision: 'defer', reason: `${why}: defer to the next agent` };
}

const meta: StrategyMeta = {
  id: 'cascade',
  name: 'Cascade',
  level: 'api',
  description:
    'The first (cheapest) agent answers; if its mean token probability is under the threshold, the next agent is asked, and so on. The last agent always answers.',
  paper: { title: 'FrugalGPT: How to Use Large Language Models While Reducing Cost and Improving Performance', url: 'https://arxiv.org/abs/2305.05176', year: 2023 },
  knobs: [
    {
      id: 'threshold',
      label: 'Confidence threshold',
      help: 'Accept an answer when its mean token probability (exp of the mean logprob) is at least this; otherwise defer to the next agent.',
      type: 'number',
      default: 0.6,
      min: 0,
      max: 1,
      step: 0.01,
    },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, logprobs: true },
  cost: {
    formula: 'at most N calls: 1 when the first agent is sure enough, N when every agent but the last defers; each tier answers alone',
    calls: (n) => n,
    tokens: (n, _k, maxTokens, promptTokens) => ({ prompt: n * promptTokens, completion: n * maxTokens }),
  },
};

export const cascade: Strategy = {
  meta,
  fit: (dev) => medianConfidenceThreshold(dev),
  async *run(ctx) {
    const threshold = knob<number>(ctx, meta, 'threshold');
    const type = answerTypeOf(ctx, meta);
    for (let i = 0; i < ctx.agents.length; i++) {
      const agent = ctx.agents[i];
      if (!agent) break;
      const next = ctx.agents[i + 1];
      yield { type: 'round', t: ctx.now(), round: i + 1, label: `Tier ${i + 1}: ${agent.name}` };
      const result = yield* callOne(ctx, { agent, agentIndex: i, round: i + 1, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
      if (ctx.signal.aborted) return;
      const failed = result.error !== undefined;
      if (failed && !next) throw new Error(`${agent.name}, the last agent of the cascade, failed: ${result.error}`);
      const { decision, reason } = failed
        ? { decision: 'defer' as const, reason: `${agent.name} failed (${result.error}): defer to the next agent` }
        : decideCascade(result.meanProb, threshold, !next);
      yield {
        type: 'route',
        t: ctx.now(),
        from: agent.id,
        to: decision === 'accept' || !next ? agent.id : next.id,
        decision,
        reason,
        ...(result.meanProb !== undefined ? { confidence: result.meanProb } : {}),
        threshold,
      };
      if (decision === 'accept') {
        yield { type: 'final', t: ctx.now(), answer: extractAnswer(result.text, type).answer, text: result.text, agent: agent.id };
        return;
      }
    }
  },
};
