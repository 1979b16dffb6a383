/**
 * `refine`: MoCo's "multiagent refine" (model_collaboration/method/text_multiagent_refine.py), the
 * debate family's variant that MoCo runs. Round 1: every agent answers alone. Each later round:
 * every agent is shown, in one prompt, its own previous answer and every other agent's, and writes
 * a refined answer (all agents of a round at once). Then one agent — the best on the dev split when
 * an experiment fits it (MoCo's rule), agent 1 by default in the playground — reads every last answer
 * and writes the final one. Unlike `debate`, the end is a synthesis by one model, not a vote.
 *
 * Prompts, in MoCo's shape and our own words:
 *  - refinement: "You and other assistants answer the same question. Use their answers to refine and
 *    improve your own. Question: … Your previous answer: ```…``` The other assistants' answers:
 *    - ```…``` … Give your refined answer to the question."
 *  - synthesis: "Several assistants answered this question. Use their answers to write one final,
 *    complete answer. Question: … Their answers: - ```…``` … Give the final answer to the question."
 * MoCo's default is 3 rounds (answers + 2 refinements); ours is 2 (answers + 1), since the tiny
 * in-browser models have short contexts; the knob goes to 6.
 * Context: checked before any call with at least MIN_SHOWN_ANSWER_BYTES of each shown answer, then
 * each call's shown answers are cut by debate's rule (shown.ts).
 */
import { extractAnswer } from '../answers.ts';
import type { Agent, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callOne, firstMessages, knob, type CallResult } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { answerRounds, fitShown, refuseUnlessFits } from './shown.ts';

const listed = (texts: readonly string[]) => texts.map((t) => `- \`\`\`${t}\`\`\``).join('\n');

/** The refinement request: the question, the agent's own previous answer, the others' answers. */
export function refinePrompt(prompt: string, own: string, others: readonly string[]): string {
  return (
    `You and other assistants answer the same question. Use their answers to refine and improve your own.\n\n` +
    `Question: ${prompt}\n\nYour previous answer: \`\`\`${own}\`\`\`\n\nThe other assistants' answers:\n${listed(others)}\n\n` +
    `Give your refined answer to the question.`
  );
}

/** The synthesis request: the question and every agent's last answer. */
export function synthesisPrompt(prompt: string, answers: readonly string[]): string {
  return (
    `Several assistants answered this question. Use their answers to write one final, complete answer.\n\n` +
    `Question: ${prompt}\n\nTheir answers:\n${listed(answers)}\n\nGive the final answer to the question.`
  );
}

const meta: StrategyMeta = {
  id: 'refine',
  name: 'Multiagent refine',
  level: 'text',
  description:
    'Every agent answers; then, round after round, each sees its own and the others’ previous answers in one prompt and refines its answer. One agent (the best on dev in experiments) then writes the final answer from all of them.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (multiagent refine)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    { id: 'rounds', label: 'Rounds', help: 'Round 1 is the agents answering alone; each further round is one refinement (MoCo: 3).', type: 'integer', default: 2, min: 1, max: 6, step: 1 },
    { id: 'summariser', label: 'Summariser', help: 'Which agent (1 = first) writes the final answer from the last answers; experiments set it to the best agent on dev (MoCo’s rule).', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N × R + 1 calls: N answers, N refinements in each of rounds 2…R (each shows N answers), one synthesis (shows N answers)',
    calls: (n, k) => n * Number(k.rounds) + 1,
    tokens: (n, k, maxTokens, promptTokens) => {
      const calls = n * Number(k.rounds) + 1;
      // Shown texts: N answers in each refinement of rounds 2…R, N in the synthesis.
      return { prompt: calls * promptTokens + ((Number(k.rounds) - 1) * n * n + n) * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const refine: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['summariser']),
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const type = answerTypeOf(ctx, meta);
    const summariser = agentByNumber(ctx, knob<number>(ctx, meta, 'summariser'), 'The summariser');
    const n = ctx.agents.length;
    const advice = [`use fewer agents (now ${n})`, `fewer rounds (now ${rounds}; 1 = no refinements)`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const refineBuild = (agent: Agent) => ([own = '', ...others]: string[]) => firstMessages(agent, refinePrompt(ctx.prompt, own, others));
    const synthesisBuild = (shown: string[]) => firstMessages(summariser.agent, synthesisPrompt(ctx.prompt, shown));
    // Before any call: a refinement (N answers shown) and the synthesis (N answers) must fit.
    if (rounds >= 2) for (const agent of ctx.agents) refuseUnlessFits(agent, n, ctx.maxTokens, refineBuild(agent), 'a refinement', advice);
    refuseUnlessFits(summariser.agent, n, ctx.maxTokens, synthesisBuild, 'the synthesis', advice);

    const latest = yield* answerRounds(
      ctx,
      rounds,
      (round) => (round === 1 ? 'Round 1: answers' : `Round ${round}: refinements`),
      (round, i, last) => {
        const own = last[i]!;
        const others = last.filter((r, j): r is CallResult => j !== i && r !== undefined);
        const fit = fitShown(ctx, ctx.agents[i]!, [own.text, ...others.map((r) => r.text)], ctx.maxTokens, refineBuild(ctx.agents[i]!), `round ${round}`, advice);
        return { ...fit, sees: [own.msgId, ...others.map((r) => r.msgId)] };
      },
    );
    if (latest === undefined) return;
    const finals = latest.filter((r): r is CallResult => r !== undefined);
    const step = rounds + 1;
    yield { type: 'round', t: ctx.now(), round: step, label: `Synthesis: ${summariser.agent.name}` };
    const fit = fitShown(ctx, summariser.agent, finals.map((r) => r.text), ctx.maxTokens, synthesisBuild, 'the synthesis', advice);
    if (fit.warning) yield fit.warning;
    const out = yield* callOne(ctx, {
      agent: summariser.agent,
      agentIndex: summariser.index,
      round: step,
      sample: 0,
      purpose: 'synthesis',
      messages: fit.messages,
      sees: finals.map((r) => r.msgId),
    });
    if (ctx.signal.aborted) return;
    if (out.error !== undefined) throw new Error(`the summariser ${summariser.agent.name} failed: ${out.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(out.text, type).answer, text: out.text, agent: summariser.agent.id };
  },
};
