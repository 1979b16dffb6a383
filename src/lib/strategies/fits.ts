/**
 * Dev-split fit steps shared by methods (see `Strategy.fit`); each is pure and deterministic.
 * - bestMemberJudge / bestMemberAs: the agent with the best dev score judges (or aggregates, selects…) (MoCo uses the best single model on
 *   dev as judge / summariser / base); ties go to the earlier agent.
 * - medianConfidenceThreshold: a cascade's threshold is the median of its first agent's dev
 *   confidences, so about half the prompts are passed on (the agents' own token probabilities are the
 *   only score Chorus has; FrugalGPT fits its threshold on held-out data the same way).
 */
import { quantile } from '../eval/stats.ts';
import type { DevEvidence, Fitted } from './types.ts';

export function bestAgentIndex(dev: DevEvidence): number {
  if (dev.agentScores.length === 0) throw new Error('no agents were scored on dev');
  return dev.agentScores.reduce((best, s, i) => (s > dev.agentScores[best]! ? i : best), 0);
}

/** The best member on dev as the agent-number knob `id` (judge, aggregator, selector…); `role` names it in the note. */
export function bestMemberAs(id: string, role: string): (dev: DevEvidence) => Fitted {
  return (dev) => {
    const i = bestAgentIndex(dev);
    return { knobs: { [id]: i + 1 }, note: `${role} = agent ${i + 1}, the best on dev (${dev.agentScores.map((s, a) => `a${a + 1} ${s.toFixed(3)}`).join(', ')})` };
  };
}

export const bestMemberJudge: (dev: DevEvidence) => Fitted = bestMemberAs('judge', 'judge');

export function medianConfidenceThreshold(dev: DevEvidence): Fitted {
  const conf = dev.items.map((it) => it.confidences[0]).filter((c): c is number => c !== undefined && Number.isFinite(c)).sort((a, b) => a - b);
  if (conf.length === 0) return { note: 'no dev confidences were reported (the engine gives no token probabilities): the threshold keeps its value' };
  const t = Math.round(quantile(conf, 0.5) * 1e6) / 1e6;
  return { knobs: { threshold: t }, note: `threshold ${t} = median of agent 1's mean token probability on ${conf.length} dev items` };
}
