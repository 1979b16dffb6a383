/**
 * `nudging`: the base model writes; when its top-1 next-token probability falls under γ, the
 * nudging model writes the next word (Fei et al. 2024, "Nudging: Inference-time Alignment of LLMs
 * via Guided Decoding", arXiv 2410.09300). Greedy throughout. A word is the nudging model's next
 * token and its continuation tokens up to the next one that starts with a space or a line break
 * (at most WORD_LIMIT tokens). γ = 0 never nudges (the base alone); γ = 1 nudges at every word
 * (the nudging model alone, token for token), as the e2e test checks on the pool.
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { Answer, closeLanes, finish, isEnd, modelView, openLanes, step, stepPromptText } from './tokens.ts';

/** The longest word the nudging model writes in one go. */
export const WORD_LIMIT = 16;

/** The pure rule: nudge when the base's top-1 probability is under γ. */
export function shouldNudge(baseTop1: number, gamma: number): boolean {
  return baseTop1 < gamma;
}

/** Whether a token starts a new word (and so ends the nudging model's word before it). */
export function startsWord(text: string): boolean {
  return /^[\s]/.test(text);
}

const meta: StrategyMeta = {
  id: 'nudging',
  name: 'Nudging',
  level: 'token',
  description:
    'Agent 1 (the base) writes greedily; whenever its most probable next token has probability under γ, Agent 2 (the nudging model) writes the next word. Exact: the decisions use the engines\u2019 own top-1 probabilities (wllama and HTTP report top-K; only the top-1 is needed). Models must share one vocabulary (token IDs pass between them).',
  paper: { title: 'Nudging: Inference-time Alignment of LLMs via Guided Decoding', url: 'https://arxiv.org/abs/2410.09300', year: 2024 },
  knobs: [
    { id: 'gamma', label: 'γ (nudge threshold)', help: 'The nudging model writes the next word when the base\u2019s top-1 probability is under γ. 0 = never (base alone), 1 = always.', type: 'number', default: 0.4, min: 0, max: 1, step: 0.01 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, maxAgents: 2 },
  cost: {
    formula: 'at most 3 steps per token: 1 base step per word or base token, and for a nudged word of m tokens m + 1 nudging-model steps (the last one finds the next word)',
    perToken: true,
    calls: () => 3,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: 2 * promptTokens, completion: maxTokens }),
  },
};

export const nudging: Strategy = {
  meta,
  async *run(ctx) {
    const gamma = knob<number>(ctx, meta, 'gamma');
    const t0 = ctx.now();
    yield { type: 'round', t: t0, round: 1, label: `${ctx.agents[0]!.name} writes; ${ctx.agents[1]!.name} nudges under γ = ${gamma}` };
    const lanes = await openLanes(ctx, meta, ctx.agents.slice(0, 2));
    try {
      const [base, nudger] = lanes as [typeof lanes[0], typeof lanes[0]];
      const answer = new Answer(ctx.maxTokens, stepPromptText(base.agent, ctx.prompt).oneLine);
      while (!answer.done) {
        const b = await step(ctx, base, answer.ids);
        const top1 = Math.exp(b.top[0]!.logprob);
        if (!shouldNudge(top1, gamma)) {
          const tok = b.top[0]!;
          if (!answer.push(tok.id, tok.text, isEnd(base, tok.id))) break;
          yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: tok.id, text: tok.text }, by: base.agent.id, reason: `base top-1 probability ${top1.toFixed(3)} ≥ γ ${gamma}: the base writes`, models: [modelView(base, b)] };
          continue;
        }
        // The nudging model writes one word: its first token, then tokens until one starts a new word.
        for (let w = 0; w < WORD_LIMIT && !answer.done; w++) {
          const n = await step(ctx, nudger, answer.ids);
          const tok = n.top[0]!;
          if (w > 0 && startsWord(tok.text)) break;
          if (!answer.push(tok.id, tok.text, isEnd(nudger, tok.id))) break;
          const reason = w === 0 ? `base top-1 probability ${top1.toFixed(3)} < γ ${gamma}: the nudging model writes the next word` : 'the nudging model continues its word';
          yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: tok.id, text: tok.text }, by: nudger.agent.id, reason, models: w === 0 ? [modelView(base, b), modelView(nudger, n)] : [modelView(nudger, n)] };
        }
      }
      yield* finish(ctx, meta, lanes, answer, t0);
    } finally {
      await closeLanes(lanes);
    }
  },
};
