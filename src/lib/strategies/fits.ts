/**
 * Dev-split fit steps shared by methods (see `Strategy.fit`); each is pure and deterministic.
 * - bestMemberJudge: the agent with the best dev score judges (MoCo uses the best single model on
 *   dev as judge / summariser / base); ties go to the earlier agent.
 * (A cascade's per-agent thresholds, the medians of each agent's dev confidences, are fitted in
 * cascade.ts, which also needs them for its cost–quality curve.)
 */
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
