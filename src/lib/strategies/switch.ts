/**
 * `switch`: switch generation / mentor collaboration. The answer is written in patches of k
 * tokens; before each patch a selector picks which model writes it. Switch generation (Feng et
 * al. 2025, "Don't Throw Away Your Pretrained Model", arXiv 2510.09913) trains the selector; the
 * training-free selector here picks the model most confident about the patch's first token (the
 * highest top-1 probability, ties to the earlier agent), which then writes k tokens greedily.
 */
import type { NextToken } from '../engines/stepper.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { Answer, closeLanes, finish, isEnd, modelView, openLanes, step, stepPromptText } from './tokens.ts';

/** The pure selector: the index of the highest top-1 probability, the earliest on ties. */
export function selectWriter(top1: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < top1.length; i++) if (top1[i]! > top1[best]!) best = i;
  return best;
}

const meta: StrategyMeta = {
  id: 'switch',
  name: 'Switch generation',
  level: 'token',
  description:
    'The answer is written in patches of k tokens; before each patch every agent is asked for the next token, and the one most confident about it (highest top-1 probability) writes the patch greedily. Training-free selector (switch generation trains one). Exact on every engine (only top-1 probabilities are used). Models must share one vocabulary.',
  paper: { title: 'Don\u2019t Throw Away Your Pretrained Model (switch generation)', url: 'https://arxiv.org/abs/2510.09913', year: 2025 },
  knobs: [
    { id: 'patch', label: 'Patch length k', help: 'Tokens written by the selected model before the selector picks again.', type: 'integer', default: 4, min: 1, max: 64, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'at most N steps per token: per patch of k tokens, N selector steps (one per agent) + k − 1 steps of the writer, i.e. (N + k − 1) / k per token',
    perToken: true,
    calls: (n) => n,
    tokens: (n, _k, maxTokens, promptTokens) => ({ prompt: n * promptTokens, completion: maxTokens }),
  },
};

export const switchGeneration: Strategy = {
  meta,
  async *run(ctx) {
    const k = knob<number>(ctx, meta, 'patch');
    const t0 = ctx.now();
    yield { type: 'round', t: t0, round: 1, label: `Patches of ${k} tokens; the most confident agent writes each` };
    const lanes = await openLanes(ctx, meta);
    try {
      const answer = new Answer(ctx.maxTokens, stepPromptText(lanes[0]!.agent, ctx.prompt).oneLine);
      while (!answer.done) {
        const nexts: NextToken[] = [];
        for (const lane of lanes) nexts.push(await step(ctx, lane, answer.ids));
        const top1 = nexts.map((n) => Math.exp(n.top[0]!.logprob));
        const w = selectWriter(top1);
        const writer = lanes[w]!;
        let next = nexts[w]!;
        for (let i = 0; i < k && !answer.done; i++) {
          if (i > 0) next = await step(ctx, writer, answer.ids);
          const tok = next.top[0]!;
          if (!answer.push(tok.id, tok.text, isEnd(writer, tok.id))) break;
          const reason =
            i === 0
              ? `selector: ${writer.agent.name} is the most confident (top-1 ${top1.map((p) => p.toFixed(3)).join(' vs ')}); it writes the next ${k} tokens`
              : `${writer.agent.name} continues its patch (${i + 1} of ${k})`;
          yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: tok.id, text: tok.text }, by: writer.agent.id, reason, models: i === 0 ? lanes.map((l, j) => modelView(l, nexts[j]!)) : [modelView(writer, next)] };
        }
        if (answer.finished) break;
      }
      yield* finish(ctx, meta, lanes, answer, t0);
    } finally {
      await closeLanes(lanes);
    }
  },
};
