/**
 * `knowledge-cards`: Knowledge Card (Feng et al. 2024, "Knowledge Card: Filling LLMs' Knowledge Gaps
 * with Plug-in Specialized Language Models", arXiv 2305.09955), as MoCo runs it
 * (model_collaboration/method/text_knowledge_card.py). Every agent writes a short knowledge paragraph
 * (a "card") for the question, all at once; optionally the answering agent checks each card for
 * relevance (the paper's relevance selector, done here by asking the answerer yes or no); then the
 * answering agent answers with the kept cards in its context.
 *
 * The answerer: the `answerer` knob (agent 1 by default); in experiments the fit sets it to the best
 * agent on the dev split (MoCo's rule). `excludeSelf` (MoCo's exclude_self, off by default) leaves
 * the answerer's own card out — Chorus then does not ask it for one, which saves a call.
 *
 * Stages (the trace's `round`): 1 = cards; 2 = relevance checks (one per card, the answerer's
 * sample j for card j, max tokens RELEVANCE_MAX_TOKENS: the reply is one word), shown as a `score`
 * event per card (metric "relevant", 1 kept / 0 dropped; a reply with neither yes nor no keeps the
 * card and says so); then the answer (stage 3 with pruning, 2 without), which `sees` the kept cards.
 * If every card is dropped the answerer answers the bare question, with a warning in the trace.
 *
 * Prompts, in MoCo's shape and our own words:
 *  - card: "Write a short paragraph of knowledge that would help answer this question. Question: …"
 *  - relevance: "Question: … A knowledge paragraph: ```…``` Is this paragraph relevant and helpful
 *    for answering the question? Reply yes or no."
 *  - answer: "Other assistants wrote these knowledge paragraphs for the question: - ```…``` …
 *    Question: … Using this knowledge where it helps, answer the question."
 * Context: checked before any call (each card prompt, a relevance check with one card, the answer
 * with every card at least MIN_SHOWN_ANSWER_BYTES), then the cards shown are cut per call by
 * debate's rule (shown.ts).
 */
import { extractAnswer, readYesNo } from '../answers.ts';
import type { Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { fitShown, refuseUnlessFits } from './shown.ts';

/** A yes/no reply needs a token or two; a little room for a leading space or "Yes,". */
export const RELEVANCE_MAX_TOKENS = 4;

export function cardPrompt(prompt: string): string {
  return `Write a short paragraph of knowledge that would help answer this question.\n\nQuestion: ${prompt}`;
}

export function relevancePrompt(prompt: string, card: string): string {
  return `Question: ${prompt}\n\nA knowledge paragraph: \`\`\`${card}\`\`\`\n\nIs this paragraph relevant and helpful for answering the question? Reply yes or no.`;
}

export function cardsAnswerPrompt(prompt: string, cards: readonly string[]): string {
  const shown = cards.map((c) => `- \`\`\`${c}\`\`\``).join('\n');
  return `Other assistants wrote these knowledge paragraphs for the question:\n${shown}\n\nQuestion: ${prompt}\n\nUsing this knowledge where it helps, answer the question.`;
}

const meta: StrategyMeta = {
  id: 'knowledge-cards',
  name: 'Knowledge cards',
  level: 'text',
  description:
    'Every agent writes a short knowledge paragraph (a card) about the question; optionally the answering agent drops the cards it finds irrelevant; then it answers with the kept cards in its context.',
  paper: { title: "Knowledge Card: Filling LLMs' Knowledge Gaps with Plug-in Specialized Language Models", url: 'https://arxiv.org/abs/2305.09955', year: 2024 },
  knobs: [
    { id: 'answerer', label: 'Answerer', help: 'Which agent (1 = first) answers with the cards; experiments set it to the best agent on dev (MoCo’s rule).', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    { id: 'prune', label: 'Relevance pruning', help: 'Ask the answerer, card by card, whether the card is relevant (yes/no) and drop the ones it rejects.', type: 'boolean', default: false },
    { id: 'excludeSelf', label: 'Leave out the answerer’s card', help: 'The answerer writes no card of its own (MoCo’s exclude_self).', type: 'boolean', default: false },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'C + 1 calls, + C with pruning: C = N cards (N − 1 when the answerer’s own is left out), C yes/no relevance checks (each shows one card, a few tokens), one answer (shows the kept cards)',
    calls: (n, k) => {
      const cards = k.excludeSelf === true ? n - 1 : n;
      return cards + (k.prune === true ? cards : 0) + 1;
    },
    tokens: (n, k, maxTokens, promptTokens) => {
      const cards = k.excludeSelf === true ? n - 1 : n;
      const checks = k.prune === true ? cards : 0;
      // Shown texts: one card per relevance check, every card in the answer; a check writes RELEVANCE_MAX_TOKENS at most.
      return { prompt: (cards + checks + 1) * promptTokens + (checks + cards) * maxTokens, completion: (cards + 1) * maxTokens + checks * RELEVANCE_MAX_TOKENS };
    },
  },
};

export const knowledgeCards: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['answerer']),
  async *run(ctx) {
    const type = answerTypeOf(ctx, meta);
    const prune = knob<boolean>(ctx, meta, 'prune');
    const excludeSelf = knob<boolean>(ctx, meta, 'excludeSelf');
    const answerer = agentByNumber(ctx, knob<number>(ctx, meta, 'answerer'), 'The answerer');
    const writers = ctx.agents.map((agent, agentIndex) => ({ agent, agentIndex })).filter((w) => !(excludeSelf && w.agentIndex === answerer.index));
    const advice = [`use fewer agents (now ${ctx.agents.length})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const answerBuild = (shown: string[]) => firstMessages(answerer.agent, cardsAnswerPrompt(ctx.prompt, shown));
    const relevanceBuild = ([card = '']: string[]) => firstMessages(answerer.agent, relevancePrompt(ctx.prompt, card));
    for (const w of writers) refuseUnlessFits(w.agent, 0, ctx.maxTokens, () => firstMessages(w.agent, cardPrompt(ctx.prompt)), 'a card', advice);
    if (prune) refuseUnlessFits(answerer.agent, 1, RELEVANCE_MAX_TOKENS, relevanceBuild, 'a relevance check', advice);
    refuseUnlessFits(answerer.agent, writers.length, ctx.maxTokens, answerBuild, 'the answer with the cards', advice);

    yield { type: 'round', t: ctx.now(), round: 1, label: `Round 1: ${writers.length} knowledge cards` };
    const written = yield* callAll(
      ctx,
      writers.map((w): CallSpec => ({ agent: w.agent, agentIndex: w.agentIndex, round: 1, sample: 0, purpose: 'card', messages: firstMessages(w.agent, cardPrompt(ctx.prompt)) })),
    );
    if (ctx.signal.aborted) return;
    let kept: CallResult[] = written.filter((r) => r.error === undefined && r.text.trim() !== '');
    let step = 2;
    if (prune && kept.length > 0) {
      yield { type: 'round', t: ctx.now(), round: step, label: `Round 2: relevance checks by ${answerer.agent.name}` };
      const checks: CallSpec[] = [];
      for (const [j, card] of kept.entries()) {
        const fit = fitShown(ctx, answerer.agent, [card.text], RELEVANCE_MAX_TOKENS, relevanceBuild, 'a relevance check', advice);
        if (fit.warning) yield fit.warning;
        checks.push({ agent: answerer.agent, agentIndex: answerer.index, round: step, sample: j, purpose: 'relevance', messages: fit.messages, sees: [card.msgId], maxTokens: RELEVANCE_MAX_TOKENS });
      }
      const verdicts = yield* callAll(ctx, checks);
      if (ctx.signal.aborted) return;
      const keep: boolean[] = [];
      for (const [j, v] of verdicts.entries()) {
        const card = kept[j]!;
        const said = v.error === undefined ? readYesNo(v.text) : '';
        const ok = said !== 'no';
        keep.push(ok);
        const detail = said === '' ? `no yes/no read from "${v.text.trim()}": card kept` : `${answerer.agent.name} said ${said}: card ${ok ? 'kept' : 'dropped'}`;
        yield { type: 'score', t: ctx.now(), target: card.msgId, metric: 'relevant', value: ok ? 1 : 0, detail };
      }
      kept = kept.filter((_, j) => keep[j]);
      step += 1;
    }
    if (kept.length === 0) {
      yield { type: 'error', t: ctx.now(), agent: answerer.agent.id, fatal: false, message: 'no knowledge card is left (every card failed, was empty or was judged irrelevant): the answerer answers the bare question' };
    }
    yield { type: 'round', t: ctx.now(), round: step, label: `Answer: ${answerer.agent.name} with ${kept.length} card(s)` };
    const fit = kept.length > 0 ? fitShown(ctx, answerer.agent, kept.map((r) => r.text), ctx.maxTokens, answerBuild, 'the answer with the cards', advice) : { messages: firstMessages(answerer.agent, ctx.prompt) };
    if (fit.warning) yield fit.warning;
    const out = yield* callOne(ctx, {
      agent: answerer.agent,
      agentIndex: answerer.index,
      round: step,
      sample: 0,
      purpose: 'answer',
      messages: fit.messages,
      ...(kept.length > 0 && { sees: kept.map((r) => r.msgId) }),
    });
    if (ctx.signal.aborted) return;
    if (out.error !== undefined) throw new Error(`the answerer ${answerer.agent.name} failed: ${out.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(out.text, type).answer, text: out.text, agent: answerer.agent.id };
  },
};
