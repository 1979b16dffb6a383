/**
 * `slm-mux`: SLM-MUX (Wang et al. 2025, "SLM-MUX: Orchestrating Small Language Models for
 * Reasoning", arXiv 2510.05077; MoCo's text_slm_mux.py). Every agent answers k times at the
 * method's own temperature (MoCo's defaults: k = 5, temperature 0.3 in the paper's setting), all
 * calls at once. Per agent: its majority answer and its self-consistency = the majority's count /
 * the number of its non-empty answers (MoCo's `_consistency`). The agent with the highest
 * self-consistency wins and its majority answer is the final answer.
 *
 * Ties (MoCo's "dev-based" default): among agents tied on self-consistency, the higher dev accuracy
 * wins (`fit` keeps each agent's mean dev score; experiments only), then setup order — without a dev
 * split (the playground) ties go by setup order alone (MoCo's "model-order"). Within one agent, a
 * tie between two majority answers is broken by tally.ts's rule (MoCo picks at random; ours is
 * deterministic, so a run is repeatable).
 *
 * Trace: one `vote` per agent (its k ballots; round = the agent's 1-based number), one `score` per
 * agent (metric "self-consistency"), then a `route` naming the chosen agent and why.
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callAll, firstMessages, knob, type CallSpec } from './common.ts';
import { ballotsOf } from './tally.ts';
import { countVotes } from './tally.ts';

/** What `fit` keeps: each agent's mean dev score, in setup order. */
interface MuxFitted {
  devScores: number[];
}

function devScoresOf(fitted: unknown): number[] | undefined {
  const f = fitted as Partial<MuxFitted> | undefined;
  return Array.isArray(f?.devScores) ? f.devScores : undefined;
}

const meta: StrategyMeta = {
  id: 'slm-mux',
  name: 'SLM-MUX',
  level: 'text',
  description:
    'Every agent answers several times; the agent whose answers agree most with each other (the most self-consistent) is trusted, and its majority answer is the final one. Ties go to the agent better on the dev split.',
  paper: { title: 'SLM-MUX: Orchestrating Small Language Models for Reasoning', url: 'https://arxiv.org/abs/2510.05077', year: 2025 },
  knobs: [
    { id: 'samples', label: 'Samples per agent (k)', help: 'How many answers each agent gives; its self-consistency is the share that agree with its majority.', type: 'integer', default: 5, min: 2, max: 10, step: 1 },
    { id: 'temperature', label: 'Sampling temperature', help: 'Used for every sample instead of the agents’ own temperatures (0.3 in MoCo’s setting).', type: 'number', default: 0.3, min: 0, max: 2, step: 0.1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N × k calls (k samples from each of N agents); no prompt shows another answer',
    calls: (n, knobs) => n * (typeof knobs.samples === 'number' ? knobs.samples : 5),
    tokens: (n, knobs, maxTokens, promptTokens) => {
      const calls = n * (typeof knobs.samples === 'number' ? knobs.samples : 5);
      return { prompt: calls * promptTokens, completion: calls * maxTokens };
    },
  },
};

export const slmMux: Strategy = {
  meta,
  fit: (dev) => ({
    state: { devScores: [...dev.agentScores] } satisfies MuxFitted,
    note: `ties in self-consistency go to the better dev score (${dev.agentScores.map((s, a) => `a${a + 1} ${s.toFixed(3)}`).join(', ')})`,
  }),
  async *run(ctx) {
    const k = knob<number>(ctx, meta, 'samples');
    const temperature = knob<number>(ctx, meta, 'temperature');
    const type = answerTypeOf(ctx, meta);
    const devScores = devScoresOf(ctx.fitted);
    const specs: CallSpec[] = ctx.agents.flatMap((agent, agentIndex) =>
      Array.from({ length: k }, (_, sample) => ({ agent: { ...agent, temperature }, agentIndex, round: 1, sample, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) })),
    );
    yield { type: 'round', t: ctx.now(), round: 1, label: `${k} samples from each agent at temperature ${temperature}` };
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    if (results.every((r) => r.error !== undefined)) throw new Error('every call failed; see the errors above');
    const perAgent = ctx.agents.map((agent, i) => {
      const own = results.filter((r) => r.spec.agentIndex === i && r.error === undefined);
      const ballots = ballotsOf(own, type);
      const outcome = countVotes(ballots);
      const counted = ballots.filter((b) => b.answer !== '').length;
      const top = outcome.tally[0]?.count ?? 0;
      const consistency = counted === 0 ? 0 : top / counted;
      const text = own[ballots.findIndex((b) => b.answer === outcome.winner)]?.text ?? '';
      return { agent, index: i, outcome, top, counted, consistency, text };
    });
    for (const m of perAgent) {
      yield { type: 'vote', t: ctx.now(), round: m.index + 1, ballots: m.outcome.ballots, tally: m.outcome.tally, winner: m.outcome.winner, rule: m.outcome.rule, tie: m.outcome.tie };
      yield { type: 'score', t: ctx.now(), target: m.agent.id, metric: 'self-consistency', value: m.consistency, detail: m.counted === 0 ? `${m.agent.name} gave no answer` : `${m.top} of ${m.counted} answers agree on "${m.outcome.winner}"` };
    }
    const best = Math.max(...perAgent.map((m) => m.consistency));
    const tied = perAgent.filter((m) => m.consistency === best);
    const dev = (i: number) => devScores?.[i] ?? -Infinity;
    // Highest dev score among the tied, then setup order (reduce keeps the earlier on equal scores).
    const winner = tied.reduce((a, b) => (dev(b.index) > dev(a.index) ? b : a));
    const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
    const reason =
      tied.length === 1
        ? `most self-consistent: ${pct(best)} of its answers agree`
        : devScores !== undefined
          ? `${tied.length} agents tied at ${pct(best)} self-consistency; the best on dev wins (${tied.map((m) => `${m.agent.id} ${dev(m.index).toFixed(3)}`).join(', ')}), then setup order`
          : `${tied.length} agents tied at ${pct(best)} self-consistency and there is no dev split: the first in setup order wins`;
    yield { type: 'route', t: ctx.now(), from: null, to: winner.agent.id, decision: 'route', reason, confidence: best };
    yield { type: 'final', t: ctx.now(), answer: winner.outcome.winner, text: winner.text, agent: winner.agent.id };
  },
};
