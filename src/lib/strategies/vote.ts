/**
 * `vote`: majority vote / self-consistency (Wang et al. 2022, arXiv 2203.11171). Every agent
 * answers `samples` times, all calls at once; each answer is extracted and normalised
 * (src/lib/answers.ts) and the most frequent answer wins, ties broken by the rule in tally.ts.
 * With one agent and several samples at temperature > 0 this is self-consistency proper; with
 * several agents it is MoCo's API-level majority vote.
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callAll, firstMessages, knob, type CallSpec } from './common.ts';
import { voteOnFinals } from './tally.ts';

const meta: StrategyMeta = {
  id: 'vote',
  name: 'Majority vote',
  level: 'api',
  description:
    'Every agent answers (several samples each if you like); the answers are normalised and the most common one wins. Self-consistency when one agent samples many times.',
  paper: { title: 'Self-Consistency Improves Chain of Thought Reasoning in Language Models', url: 'https://arxiv.org/abs/2203.11171', year: 2022 },
  knobs: [
    { id: 'samples', label: 'Samples per agent', help: 'How many answers each agent gives (use temperature > 0 so they differ).', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 1 },
  cost: {
    formula: 'N × S calls (S = samples per agent), all at once; no prompt shows another answer',
    calls: (n, k) => n * Number(k.samples),
    tokens: (n, k, maxTokens, promptTokens) => ({ prompt: n * Number(k.samples) * promptTokens, completion: n * Number(k.samples) * maxTokens }),
  },
};

export const vote: Strategy = {
  meta,
  async *run(ctx) {
    const samples = knob<number>(ctx, meta, 'samples');
    const type = answerTypeOf(ctx, meta);
    const specs: CallSpec[] = [];
    ctx.agents.forEach((agent, agentIndex) => {
      for (let sample = 0; sample < samples; sample++) {
        specs.push({ agent, agentIndex, round: 1, sample, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
      }
    });
    yield { type: 'round', t: ctx.now(), round: 1, label: `${specs.length} answers` };
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    const ok = results.filter((r) => r.error === undefined);
    if (ok.length === 0) throw new Error('every agent failed to answer; see the errors above');
    // The shown text is the earliest (setup order) answer that gave the winning answer.
    yield* voteOnFinals(ctx, ok, type, 1);
  },
};
