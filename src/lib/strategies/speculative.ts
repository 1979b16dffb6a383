/**
 * `speculative`: greedy speculative decoding (Leviathan et al. 2023, "Fast Inference from
 * Transformers via Speculative Decoding", arXiv 2211.17192). Agent 1 (the draft) proposes k
 * tokens greedily; Agent 2 (the target) verifies them in order: a proposed token is accepted when
 * it is the target's own greedy choice at that position; at the first mismatch the target's
 * choice is written instead and the rest of the draft is rejected; when all k are accepted the
 * target adds its next token. The answer is therefore exactly the target's greedy answer, and
 * every proposed token is either accepted or rejected (the trace's score event counts both).
 *
 * The speed-up of the paper comes from verifying k tokens in ONE forward pass of the target. The
 * stepping seam verifies one position per call (with the KV cache, one token's forward pass each),
 * so here the target still takes one step per written token: no speed-up is expected through
 * this seam; `npm run bench` measures what it costs (README, Benchmarks).
 */
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { Answer, closeLanes, finish, isEnd, modelView, openLanes, step, stepPromptText } from './tokens.ts';

/**
 * The pure verification rule: how many of the `proposed` tokens the target accepts given its
 * greedy choices at each position (`targetChoices[i]` is its choice after proposed[0..i)).
 */
export function acceptedPrefix(proposed: readonly number[], targetChoices: readonly number[]): number {
  let n = 0;
  while (n < proposed.length && n < targetChoices.length && proposed[n] === targetChoices[n]) n++;
  return n;
}

const meta: StrategyMeta = {
  id: 'speculative',
  name: 'Speculative decoding',
  level: 'token',
  description:
    'Agent 1 (the draft) proposes k tokens greedily; Agent 2 (the target) accepts them while they match its own greedy choice, writes its own token at the first mismatch and rejects the rest. Exact: the answer is the target\u2019s greedy answer; the trace counts accepted and rejected drafts. Through the stepping seam the target checks one position per step, so it is not faster than the target alone. Models must share one vocabulary.',
  paper: { title: 'Fast Inference from Transformers via Speculative Decoding', url: 'https://arxiv.org/abs/2211.17192', year: 2023 },
  knobs: [
    { id: 'draft', label: 'Draft length k', help: 'Tokens the draft proposes before the target verifies them.', type: 'integer', default: 4, min: 1, max: 16, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, maxAgents: 2 },
  cost: {
    formula: 'at most k + 1 steps per token: per round, k draft steps + (accepted + 1) target steps, about 1 + k / (accepted + 1) per token',
    perToken: true,
    calls: (_n, knobs) => Number(knobs.draft) + 1,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: 2 * promptTokens, completion: maxTokens }),
  },
};

export const speculative: Strategy = {
  meta,
  async *run(ctx) {
    const k = knob<number>(ctx, meta, 'draft');
    const t0 = ctx.now();
    yield { type: 'round', t: t0, round: 1, label: `${ctx.agents[0]!.name} drafts ${k} tokens; ${ctx.agents[1]!.name} verifies` };
    const lanes = await openLanes(ctx, meta, ctx.agents.slice(0, 2));
    let proposedTotal = 0;
    let acceptedTotal = 0;
    let rejectedTotal = 0;
    try {
      const [draft, target] = lanes as [typeof lanes[0], typeof lanes[0]];
      const answer = new Answer(ctx.maxTokens, stepPromptText(target.agent, ctx.prompt).oneLine);
      while (!answer.done) {
        // Draft: k greedy tokens (fewer if it ends its answer or the budget would be exceeded).
        const proposed: { id: number; text: string }[] = [];
        const draftSteps = [];
        const room = Math.min(k, ctx.maxTokens - answer.ids.length);
        for (let i = 0; i < room; i++) {
          const d = await step(ctx, draft, [...answer.ids, ...proposed.map((p) => p.id)]);
          draftSteps.push(d);
          const tok = d.top[0]!;
          if (isEnd(draft, tok.id)) break;
          proposed.push({ id: tok.id, text: tok.text });
        }
        proposedTotal += proposed.length;
        const acceptedBefore = acceptedTotal;
        const rejectedBefore = rejectedTotal;
        // Verify in order; the target's choice is written at the first mismatch (or after all).
        let i = 0;
        for (; i <= proposed.length && !answer.done; i++) {
          const v = await step(ctx, target, answer.ids);
          const choice = v.top[0]!;
          const p = proposed[i];
          if (p && p.id === choice.id) {
            acceptedTotal++;
            if (!answer.push(p.id, p.text, false)) break;
            yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: p, by: draft.agent.id, reason: `draft token ${i + 1} of ${proposed.length} accepted: it is the target\u2019s greedy choice`, models: [modelView(draft, draftSteps[i]!), modelView(target, v)] };
            continue;
          }
          const rejected = proposed.slice(i);
          rejectedTotal += rejected.length;
          if (!answer.push(choice.id, choice.text, isEnd(target, choice.id))) break;
          const reason = p ? `draft token ${i + 1} (${JSON.stringify(p.text)}) rejected with the ${rejected.length - 1} after it: the target writes its own choice` : `all ${proposed.length} draft tokens accepted: the target adds its next token`;
          yield { type: 'step', t: ctx.now(), index: answer.ids.length - 1, token: { id: choice.id, text: choice.text }, by: target.agent.id, reason, models: [...(draftSteps[i] ? [modelView(draft, draftSteps[i]!)] : []), modelView(target, v)], ...(rejected.length > 0 && { rejected }) };
          break;
        }
        // The answer ended inside the draft (a stop, the budget): draft tokens never verified are not used, so rejected.
        rejectedTotal += proposed.length - (acceptedTotal - acceptedBefore) - (rejectedTotal - rejectedBefore);
        if (answer.finished) break;
      }
      const rate = proposedTotal === 0 ? 0 : acceptedTotal / proposedTotal;
      yield { type: 'score', t: ctx.now(), target: draft.agent.id, metric: 'acceptance rate', value: rate, detail: `${acceptedTotal} accepted + ${rejectedTotal} rejected = ${proposedTotal} proposed draft tokens` };
      yield* finish(ctx, meta, lanes, answer, t0, target.agent.id);
    } finally {
      await closeLanes(lanes);
    }
  },
};
