/**
 * `co-llm`: Co-LLM's token-level deferral, training-free variant. Co-LLM (Shen et al. 2024,
 * "Learning to Decode Collaboratively with Multiple Language Models", arXiv 2403.03870) learns a
 * per-token gate that decides when the generator defers to the mentor; without training data in
 * the tab the gate here is the generator's own confidence (the paper's confidence-threshold
 * baseline): when its top-1 probability is under the threshold, the mentor writes that one token.
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { Answer, closeLanes, finish, isEnd, modelView, openLanes, step, stepPromptText } from './tokens.ts';

/** The pure rule: defer this token to the mentor when the generator's top-1 probability is under the threshold. */
export function shouldDefer(generatorTop1: number, threshold: number): boolean {
  return generatorTop1 < threshold;
}

const meta: StrategyMeta = {
  id: 'co-llm',
  name: 'Co-LLM deferral (training-free)',
  level: 'token',
  description:
    'Agent 1 (the generator) writes greedily; a token whose top-1 probability is under the threshold is written by Agent 2 (the mentor) instead. The training-free variant of Co-LLM: its learned deferral gate is replaced by the generator\u2019s own confidence. Exact on every engine (only top-1 probabilities are used). Models must share one vocabulary.',
  paper: { title: 'Learning to Decode Collaboratively with Multiple Language Models (Co-LLM)', url: 'https://arxiv.org/abs/2403.03870', year: 2024 },
  knobs: [
    { id: 'threshold', label: 'Deferral threshold', help: 'Defer a token to the mentor when the generator\u2019s top-1 probability is under this.', type: 'number', default: 0.5, min: 0, max: 1, step: 0.01 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, maxAgents: 2 },
  cost: {
    formula: 'at most 2 steps per token: 1 generator step, plus 1 mentor step when it defers',
    perToken: true,
    calls: () => 2,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: 2 * promptTokens, completion: maxTokens }),
  },
};

export const coLlm: Strategy = {
  meta,
  async *run(ctx) {
    const threshold = knob<number>(ctx, meta, 'threshold');
    const t0 = ctx.now();
    yield { type: 'round', t: t0, round: 1, label: `${ctx.agents[0]!.name} generates; ${ctx.agents[1]!.name} mentors under ${threshold}` };
    const lanes = await openLanes(ctx, meta, ctx.agents.slice(0, 2));
    try {
      const [gen, mentor] = lanes as [typeof lanes[0], typeof lanes[0]];
      const answer = new Answer(ctx.maxTokens, stepPromptText(gen.agent, ctx.prompt).oneLine);
      while (!answer.done) {
        const g = await step(ctx, gen, answer.ids);
        const top1 = Math.exp(g.top[0]!.logprob);
        if (!shouldDefer(top1, threshold)) {
          const tok = g.top[0]!;
          if (!answer.push(tok.id, tok.text, isEnd(gen, tok.id))) break;
          yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: tok.id, text: tok.text }, by: gen.agent.id, reason: `generator top-1 probability ${top1.toFixed(3)} ≥ ${threshold}: the generator writes`, models: [modelView(gen, g)] };
          continue;
        }
        const m = await step(ctx, mentor, answer.ids);
        const tok = m.top[0]!;
        if (!answer.push(tok.id, tok.text, isEnd(mentor, tok.id))) break;
        yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: tok.id, text: tok.text }, by: mentor.agent.id, reason: `generator top-1 probability ${top1.toFixed(3)} < ${threshold}: defer this token to the mentor`, models: [modelView(gen, g), modelView(mentor, m)] };
      }
      yield* finish(ctx, meta, lanes, answer, t0);
    } finally {
      await closeLanes(lanes);
    }
  },
};
