/**
 * `blender`: LLM-Blender (Jiang et al. 2023, "LLM-Blender: Ensembling Large Language Models with
 * Pairwise Ranking and Generative Fusion", arXiv 2306.02561), as MoCo runs it zero-shot
 * (model_collaboration/method/text_llm_blender.py: a causal LM ranks pairs, another fuses the top K;
 * the paper's trained PairRanker and GenFuser are out of scope in the tab). Every agent answers; a
 * ranker agent compares every pair of answers (i < j: N(N − 1)/2 comparisons, or twice that with
 * `bothOrders`); the answers are ranked by wins; a fuser agent writes the final answer from the top K.
 *
 * Reading a comparison: the ranker is asked for one letter, with max tokens COMPARE_MAX_TOKENS and
 * the engine's top log-probabilities for that token. P(A) = p("A") / (p("A") + p("B")), where p(x)
 * sums the probabilities of the top tokens that read x (case and surrounding spaces/punctuation
 * ignored: " A", "a", "A."). When neither letter is among them, or the engine gives no logprobs,
 * the generated letter decides (P(A) = 1 or 0), and the comparison's `score` event says so; a reply
 * with neither letter is a tie (0.5 each, MoCo's rule).
 * Order bias: with `bothOrders` each pair is also asked with A and B swapped (the PairRanker paper
 * scores both orders); off by default, as in MoCo, which asks each pair once.
 * Ranking: a comparison gives 1 win to the answer with P > 0.5 (0.5 each at exactly 0.5); answers are
 * ranked by wins, ties by their summed P over their comparisons, then setup order. Emitted as one
 * `score` event per comparison (metric "P(A)", target: the comparison's msgId) and one per answer
 * (metric "wins", target: the agent, the detail giving its rank and summed P).
 *
 * Stages (the trace's `round`): 1 = answers, 2 = comparisons (the ranker's sample c for comparison
 * c), 3 = fusion, which `sees` the top K answers, best first.
 * Prompts, in MoCo's shape and our own words:
 *  - comparison: "Question: … Answer A: ```…``` Answer B: ```…``` Which answer is better, A or B?
 *    Reply with the letter only."
 *  - fusion: "Here are candidate answers to a question, best first according to a judge. Question: …
 *    Candidate 1: ```…``` … Combine their good parts, leave out their mistakes, and write one final
 *    answer to the question."
 * Context: checked before any call (a comparison with two answers, the fusion with K answers, each at
 * least MIN_SHOWN_ANSWER_BYTES), then cut per call by debate's rule (shown.ts).
 */
import { extractAnswer } from '../answers.ts';
import type { TokenLogprob } from '../engines/engine.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { fitShown, refuseUnlessFits } from './shown.ts';

/** One token: "A" or "B". */
export const COMPARE_MAX_TOKENS = 1;

export function comparePrompt(prompt: string, a: string, b: string): string {
  return `Question: ${prompt}\n\nAnswer A: \`\`\`${a}\`\`\`\n\nAnswer B: \`\`\`${b}\`\`\`\n\nWhich answer is better, A or B? Reply with the letter only.`;
}

export function fusionPrompt(prompt: string, candidates: readonly string[]): string {
  const shown = candidates.map((c, i) => `Candidate ${i + 1}: \`\`\`${c}\`\`\``).join('\n\n');
  return (
    `Here are candidate answers to a question, best first according to a judge.\n\nQuestion: ${prompt}\n\n${shown}\n\n` +
    `Combine their good parts, leave out their mistakes, and write one final answer to the question.`
  );
}

/** "A", "B" or "" for a token or reply: its only letters, case ignored (" a", "B.", "A\n"). */
export function letterOf(text: string): 'A' | 'B' | '' {
  const word = text.trim().match(/^[^A-Za-z]*([A-Za-z]+)/)?.[1]?.toUpperCase();
  return word === 'A' || word === 'B' ? word : '';
}

/**
 * P(A) from the ranker's first generated token: its top alternatives' probabilities for "A" and "B",
 * normalised; undefined when neither letter is among them (or there are no logprobs).
 */
export function preferenceFromLogprobs(logprobs: readonly TokenLogprob[]): number | undefined {
  const first = logprobs[0];
  if (!first) return undefined;
  // The chosen token is among its own alternatives in llama.cpp's and OpenAI's reports; count it once.
  const alternatives = first.top_logprobs.some((t) => t.token === first.token) ? first.top_logprobs : [{ token: first.token, logprob: first.logprob }, ...first.top_logprobs];
  let pA = 0;
  let pB = 0;
  for (const t of alternatives) {
    const letter = letterOf(t.token);
    if (letter === 'A') pA += Math.exp(t.logprob);
    else if (letter === 'B') pB += Math.exp(t.logprob);
  }
  return pA + pB > 0 ? pA / (pA + pB) : undefined;
}

/** The order of candidates: most wins, then highest summed preference, then setup order. */
export function rankCandidates(wins: readonly number[], summed: readonly number[]): number[] {
  return wins.map((_, i) => i).sort((x, y) => wins[y]! - wins[x]! || summed[y]! - summed[x]! || x - y);
}

const meta: StrategyMeta = {
  id: 'blender',
  name: 'LLM-Blender',
  level: 'text',
  description:
    'Every agent answers; a ranker agent compares every pair of answers (which is better, A or B?, read from its token probabilities); a fuser agent then writes the final answer from the top K.',
  paper: { title: 'LLM-Blender: Ensembling Large Language Models with Pairwise Ranking and Generative Fusion', url: 'https://arxiv.org/abs/2306.02561', year: 2023 },
  knobs: [
    { id: 'ranker', label: 'Ranker', help: 'Which agent (1 = first) compares the answers two by two.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    { id: 'fuser', label: 'Fuser', help: 'Which agent (1 = first) writes the final answer from the top K (MoCo: the first model).', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    { id: 'topK', label: 'Top K', help: 'How many of the best-ranked answers the fuser reads (MoCo: 3; at most the number of answers).', type: 'integer', default: 3, min: 1, max: 8, step: 1 },
    { id: 'bothOrders', label: 'Both orders', help: 'Ask each pair twice, A and B swapped, to cancel the ranker’s position bias (the PairRanker paper does; MoCo asks once).', type: 'boolean', default: false },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N + P + 1 calls, P = N(N − 1)/2 one-token comparisons (twice that with both orders; each shows two answers): N answers, P comparisons, one fusion (shows the top K)',
    calls: (n, k) => n + ((n * (n - 1)) / 2) * (k.bothOrders === true ? 2 : 1) + 1,
    tokens: (n, k, maxTokens, promptTokens) => {
      const compared = ((n * (n - 1)) / 2) * (k.bothOrders === true ? 2 : 1);
      const top = Math.min(Number(k.topK), n);
      // Shown texts: two answers per comparison, the top K in the fusion; a comparison writes COMPARE_MAX_TOKENS.
      return { prompt: (n + compared + 1) * promptTokens + (2 * compared + top) * maxTokens, completion: (n + 1) * maxTokens + compared * COMPARE_MAX_TOKENS };
    },
  },
};

export const blender: Strategy = {
  meta,
  async *run(ctx) {
    const type = answerTypeOf(ctx, meta);
    const both = knob<boolean>(ctx, meta, 'bothOrders');
    const ranker = agentByNumber(ctx, knob<number>(ctx, meta, 'ranker'), 'The ranker');
    const fuser = agentByNumber(ctx, knob<number>(ctx, meta, 'fuser'), 'The fuser');
    const n = ctx.agents.length;
    const topK = Math.min(knob<number>(ctx, meta, 'topK'), n);
    const advice = [`use fewer agents (now ${n})`, `a smaller top K (now ${topK})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const compareBuild = ([a = '', b = '']: string[]) => firstMessages(ranker.agent, comparePrompt(ctx.prompt, a, b));
    const fusionBuild = (shown: string[]) => firstMessages(fuser.agent, fusionPrompt(ctx.prompt, shown));
    refuseUnlessFits(ranker.agent, 2, COMPARE_MAX_TOKENS, compareBuild, 'a comparison', advice);
    refuseUnlessFits(fuser.agent, topK, ctx.maxTokens, fusionBuild, 'the fusion', advice);

    yield { type: 'round', t: ctx.now(), round: 1, label: 'Round 1: answers' };
    const answers = yield* callAll(ctx, ctx.agents.map((agent, agentIndex): CallSpec => ({ agent, agentIndex, round: 1, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) })));
    if (ctx.signal.aborted) return;
    const ok = answers.filter((r) => r.error === undefined);
    if (ok.length === 0) throw new Error('every agent failed to answer; see the errors above');

    // Comparisons over the answers that came back: pairs (i < j) in setup order, then the swapped ones.
    const pairs: [number, number][] = [];
    for (let i = 0; i < ok.length; i++) for (let j = i + 1; j < ok.length; j++) pairs.push([i, j]);
    const asked = both ? [...pairs, ...pairs.map(([i, j]): [number, number] => [j, i])] : pairs;
    yield { type: 'round', t: ctx.now(), round: 2, label: `Round 2: ${asked.length} comparisons by ${ranker.agent.name}` };
    if (asked.length > 0 && !ranker.agent.engine.info.supportsLogprobs) {
      yield { type: 'error', t: ctx.now(), agent: ranker.agent.id, fatal: false, message: `${ranker.agent.name}'s engine gives no token probabilities: each comparison is decided by the letter it writes, not by P("A") vs P("B")` };
    }
    const specs: CallSpec[] = [];
    for (const [c, [a, b]] of asked.entries()) {
      const fit = fitShown(ctx, ranker.agent, [ok[a]!.text, ok[b]!.text], COMPARE_MAX_TOKENS, compareBuild, 'a comparison', advice);
      if (fit.warning) yield fit.warning;
      specs.push({ agent: ranker.agent, agentIndex: ranker.index, round: 2, sample: c, purpose: 'compare', messages: fit.messages, sees: [ok[a]!.msgId, ok[b]!.msgId], maxTokens: COMPARE_MAX_TOKENS });
    }
    const verdicts = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;

    const wins = ok.map(() => 0);
    const summed = ok.map(() => 0);
    for (const [c, [a, b]] of asked.entries()) {
      const v = verdicts[c]!;
      const fromLogprobs = v.error === undefined ? preferenceFromLogprobs(v.logprobs) : undefined;
      const letter = letterOf(v.text);
      // A failed comparison is a tie, whatever it had streamed before failing.
      const pA = v.error !== undefined ? 0.5 : (fromLogprobs ?? (letter === 'A' ? 1 : letter === 'B' ? 0 : 0.5));
      const how =
        v.error !== undefined ? 'the comparison failed: a tie'
        : fromLogprobs !== undefined ? 'from the first token’s probabilities of "A" and "B"'
        : letter === '' ? `no A or B read from "${v.text.trim()}": a tie`
        : `from the letter written (${letter}); no probabilities for "A" or "B"`;
      summed[a]! += pA;
      summed[b]! += 1 - pA;
      if (pA > 0.5) wins[a]! += 1;
      else if (pA < 0.5) wins[b]! += 1;
      else {
        wins[a]! += 0.5;
        wins[b]! += 0.5;
      }
      const nameA = ok[a]!.spec.agent.name;
      const nameB = ok[b]!.spec.agent.name;
      const verdict = pA === 0.5 ? 'a tie' : `prefers ${pA > 0.5 ? nameA : nameB}`;
      yield { type: 'score', t: ctx.now(), target: v.msgId, metric: 'P(A)', value: pA, detail: `A = ${nameA}, B = ${nameB}: ${verdict} (${how})` };
    }
    const order = rankCandidates(wins, summed);
    for (const [rank, i] of order.entries()) {
      yield { type: 'score', t: ctx.now(), target: ok[i]!.spec.agent.id, metric: 'wins', value: wins[i]!, detail: `rank ${rank + 1} of ${ok.length}; summed preference ${summed[i]!.toFixed(3)}${rank < topK ? '; shown to the fuser' : ''}` };
    }

    const top: CallResult[] = order.slice(0, topK).map((i) => ok[i]!);
    yield { type: 'round', t: ctx.now(), round: 3, label: `Fusion: ${fuser.agent.name} reads the top ${top.length}` };
    const fit = fitShown(ctx, fuser.agent, top.map((r) => r.text), ctx.maxTokens, fusionBuild, 'the fusion', advice);
    if (fit.warning) yield fit.warning;
    const out = yield* callOne(ctx, { agent: fuser.agent, agentIndex: fuser.index, round: 3, sample: 0, purpose: 'fusion', messages: fit.messages, sees: top.map((r) => r.msgId) });
    if (ctx.signal.aborted) return;
    if (out.error !== undefined) throw new Error(`the fuser ${fuser.agent.name} failed: ${out.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(out.text, type).answer, text: out.text, agent: fuser.agent.id };
  },
};
