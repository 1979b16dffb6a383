/**
 * Dev-split fit steps shared by methods (see `Strategy.fit`); each is pure and deterministic.
 * - bestMemberJudge: the agent with the best dev score judges (MoCo uses the best single model on
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

export function bestMemberJudge(dev: DevEvidence): Fitted {
  return bestMemberAs(dev, ['judge']);
}

/**
 * The best member on dev fills each of these agent-number knobs (a judge, a summariser, the model
 * that answers from knowledge cards): MoCo picks its summariser / final model this way
 * (text_multiagent_refine.py, text_multiagent_feedback.py, text_knowledge_card.py).
 */
export function bestMemberAs(dev: DevEvidence, knobIds: readonly string[]): Fitted {
  const i = bestAgentIndex(dev);
  const knobs = Object.fromEntries(knobIds.map((id) => [id, i + 1]));
  return { knobs, note: `${knobIds.join(', ')} = agent ${i + 1}, the best on dev (${dev.agentScores.map((s, a) => `a${a + 1} ${s.toFixed(3)}`).join(', ')})` };
}

export function medianConfidenceThreshold(dev: DevEvidence): Fitted {
  const conf = dev.items.map((it) => it.confidences[0]).filter((c): c is number => c !== undefined && Number.isFinite(c)).sort((a, b) => a - b);
  if (conf.length === 0) return { note: 'no dev confidences were reported (the engine gives no token probabilities): the threshold keeps its value' };
  const t = Math.round(quantile(conf, 0.5) * 1e6) / 1e6;
  return { knobs: { threshold: t }, note: `threshold ${t} = median of agent 1's mean token probability on ${conf.length} dev items` };
}
