/**
 * `feedback`: multiagent feedback, as MoCo runs it (model_collaboration/method/text_multiagent_feedback.py):
 * every agent answers; then, for R feedback rounds, each answer is critiqued by k other agents and its
 * author revises it from those critiques. The final answer is a vote over the last revisions (debate's
 * rule) or a judge agent's verdict (the best agent on dev in experiments, MoCo's rule).
 *
 * Who critiques whom (deterministic, unlike MoCo's random draw, so a seed fixes a run): agent i is
 * critiqued by the k agents after it in setup order, cyclically — i+1, …, i+k (mod N). So every agent
 * also writes exactly k critiques a round, of the k agents before it; its critique of the agent d
 * places before it is its sample d − 1 in that stage (distinct seeds). k must be at most N − 1 (an
 * agent never critiques itself); MoCo caps k at N − 1 silently, Chorus refuses before any call.
 *
 * Stages (the trace's `round`, which enters the seed): 1 = answers; for feedback round f = 1…R,
 * stage 2f = the N × k critiques of the latest answers, stage 2f + 1 = the N revisions; the judge,
 * if any, is stage 2R + 2. Each critique `sees` the answer it critiques; each revision `sees` the
 * agent's own latest answer and the critiques of it.
 *
 * Prompts, in MoCo's shape and our own words:
 *  - critique: "You are reviewing another assistant's answer to a question. Question: … The assistant's
 *    answer: ```…``` Give brief, constructive feedback: what is wrong or missing, and how to improve it."
 *  - revision: [system, the question, the agent's own answer, "Other assistants reviewed your answer:
 *    - ```…``` … Use their feedback to refine and improve your answer. The original question is: …"].
 * Context: checked before any call with at least MIN_SHOWN_ANSWER_BYTES of each shown text, then
 * each call's shown texts are cut by debate's rule (shown.ts). A failed critique is left out of the
 * revision; an agent whose critiques all failed keeps its answer for that round.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { bestMemberJudge } from './fits.ts';
import { judgeMessages } from './debate.ts';
import { fitShown, refuseUnlessFits } from './shown.ts';
import { voteOnFinals } from './tally.ts';

export function critiquePrompt(prompt: string, answer: string): string {
  return (
    `You are reviewing another assistant's answer to a question.\n\nQuestion: ${prompt}\n\n` +
    `The assistant's answer: \`\`\`${answer}\`\`\`\n\nGive brief, constructive feedback: what is wrong or missing, and how to improve it.`
  );
}

export function feedbackRevisionMessages(agent: Agent, prompt: string, own: string, critiques: readonly string[]): ChatMessage[] {
  const shown = critiques.map((c) => `- \`\`\`${c}\`\`\``).join('\n');
  return [
    ...firstMessages(agent, prompt),
    { role: 'assistant', content: own },
    { role: 'user', content: `Other assistants reviewed your answer:\n${shown}\n\nUse their feedback to refine and improve your answer. The original question is: ${prompt}` },
  ];
}

/** The 0-based indices of the agents that critique agent `i` among `n`: the k after it, cyclically. */
export function criticsOf(i: number, n: number, k: number): number[] {
  return Array.from({ length: k }, (_, d) => (i + d + 1) % n);
}

const meta: StrategyMeta = {
  id: 'feedback',
  name: 'Multiagent feedback',
  level: 'text',
  description:
    'Every agent answers; then each answer is critiqued by k other agents and its author revises it from their feedback, for R rounds. The last revisions are settled by a vote or a judge agent.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (multiagent feedback)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    { id: 'rounds', label: 'Feedback rounds', help: 'How many times every answer is critiqued and revised (MoCo: 2, after the first answers).', type: 'integer', default: 2, min: 1, max: 4, step: 1 },
    { id: 'critics', label: 'Critics per answer (k)', help: 'Agent i is critiqued by the k agents after it in setup order, cyclically; at most the number of agents − 1 (MoCo: 3).', type: 'integer', default: 1, min: 1, max: 7, step: 1 },
    {
      id: 'final',
      label: 'Final answer by',
      help: 'Majority vote over the last revisions, or a judge agent who reads them all.',
      type: 'select',
      default: 'vote',
      options: [
        { value: 'vote', label: 'majority vote' },
        { value: 'judge', label: 'judge agent' },
      ],
    },
    { id: 'judge', label: 'Judge', help: 'Which agent (1 = first) judges when the final answer is by a judge; experiments set it to the best agent on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N + R × (N × k + N) calls, + 1 with a judge: N answers, then per feedback round N × k critiques (each shows one answer) and N revisions (each shows its own answer and k critiques)',
    calls: (n, k) => n + Number(k.rounds) * (n * Number(k.critics) + n) + (k.final === 'judge' ? 1 : 0),
    tokens: (n, k, maxTokens, promptTokens) => {
      const [r, c, judge] = [Number(k.rounds), Number(k.critics), k.final === 'judge' ? 1 : 0];
      const calls = n + r * (n * c + n) + judge;
      // Shown texts: one answer per critique, own answer + k critiques per revision, N answers for the judge.
      const shown = r * (n * c + n * (1 + c)) + judge * n;
      return { prompt: calls * promptTokens + shown * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const feedback: Strategy = {
  meta,
  fit: (dev) => bestMemberJudge(dev),
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const k = knob<number>(ctx, meta, 'critics');
    const byJudge = knob<string>(ctx, meta, 'final') === 'judge';
    const type = answerTypeOf(ctx, meta);
    const n = ctx.agents.length;
    if (k > n - 1) {
      throw new Error(`each answer is to get ${k} critic(s), but with ${n} agents each answer has only ${n - 1} other agent(s) to critique it: lower "Critics per answer" to ${n - 1} or fewer, or add agents`);
    }
    const judge = byJudge ? agentByNumber(ctx, knob<number>(ctx, meta, 'judge'), 'The judge') : undefined;
    const advice = [`use fewer critics per answer (now ${k})`, `fewer agents (now ${n})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const critiqueBuild = (critic: Agent) => ([answer = '']: string[]) => firstMessages(critic, critiquePrompt(ctx.prompt, answer));
    const revisionBuild = (agent: Agent) => ([own = '', ...critiques]: string[]) => feedbackRevisionMessages(agent, ctx.prompt, own, critiques);
    const judgeBuild = (j: Agent, names: readonly string[]) => (shown: string[]) => judgeMessages(j, ctx.prompt, shown.map((text, i) => ({ name: names[i] ?? '', text })));
    // Before any call: a critique (one answer), a revision (own answer + k critiques) and the judge (N answers) must fit.
    for (const agent of ctx.agents) {
      refuseUnlessFits(agent, 1, ctx.maxTokens, critiqueBuild(agent), 'a critique', advice);
      refuseUnlessFits(agent, 1 + k, ctx.maxTokens, revisionBuild(agent), 'a revision', advice);
    }
    if (judge) refuseUnlessFits(judge.agent, n, ctx.maxTokens, judgeBuild(judge.agent, ctx.agents.map((a) => a.name)), "the judge's prompt", advice);

    yield { type: 'round', t: ctx.now(), round: 1, label: 'Round 1: answers' };
    const first = yield* callAll(ctx, ctx.agents.map((agent, agentIndex): CallSpec => ({ agent, agentIndex, round: 1, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) })));
    if (ctx.signal.aborted) return;
    if (first.every((r) => r.error !== undefined)) throw new Error('every agent failed to answer; see the errors above');
    const latest: (CallResult | undefined)[] = first.map((r) => (r.error === undefined ? r : undefined));

    for (let f = 1; f <= rounds; f++) {
      const critiqueStage = 2 * f;
      yield { type: 'round', t: ctx.now(), round: critiqueStage, label: `Feedback round ${f}: critiques` };
      const warnings: TraceEvent[] = [];
      const critiqueSpecs: { target: number; spec: CallSpec }[] = [];
      latest.forEach((answer, target) => {
        if (answer === undefined) return;
        criticsOf(target, n, k).forEach((c, d) => {
          const critic = ctx.agents[c]!;
          const fit = fitShown(ctx, critic, [answer.text], ctx.maxTokens, critiqueBuild(critic), `feedback round ${f}`, advice);
          if (fit.warning) warnings.push(fit.warning);
          critiqueSpecs.push({ target, spec: { agent: critic, agentIndex: c, round: critiqueStage, sample: d, purpose: 'critique', messages: fit.messages, sees: [answer.msgId] } });
        });
      });
      for (const w of warnings) yield w;
      const critiques = yield* callAll(ctx, critiqueSpecs.map((c) => c.spec));
      if (ctx.signal.aborted) return;
      if (critiques.every((r) => r.error !== undefined)) throw new Error(`every critique failed in feedback round ${f}; see the errors above`);

      const revisionStage = critiqueStage + 1;
      yield { type: 'round', t: ctx.now(), round: revisionStage, label: `Feedback round ${f}: revisions` };
      const revisions: { agentIndex: number; spec: CallSpec }[] = [];
      warnings.length = 0;
      latest.forEach((own, i) => {
        const agent = ctx.agents[i]!;
        if (own === undefined) {
          // It failed every earlier call: it answers afresh.
          revisions.push({ agentIndex: i, spec: { agent, agentIndex: i, round: revisionStage, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) } });
          return;
        }
        const mine = critiques.filter((r, j) => critiqueSpecs[j]?.target === i && r.error === undefined);
        if (mine.length === 0) return;
        const fit = fitShown(ctx, agent, [own.text, ...mine.map((r) => r.text)], ctx.maxTokens, revisionBuild(agent), `feedback round ${f}`, advice);
        if (fit.warning) warnings.push(fit.warning);
        revisions.push({ agentIndex: i, spec: { agent, agentIndex: i, round: revisionStage, sample: 0, purpose: 'revision', messages: fit.messages, sees: [own.msgId, ...mine.map((r) => r.msgId)] } });
      });
      for (const w of warnings) yield w;
      const revised = yield* callAll(ctx, revisions.map((r) => r.spec));
      if (ctx.signal.aborted) return;
      revised.forEach((r, j) => {
        if (r.error === undefined) latest[revisions[j]!.agentIndex] = r;
      });
      if (revised.length > 0 && revised.every((r) => r.error !== undefined)) throw new Error(`every revision failed in feedback round ${f}; see the errors above`);
    }

    const finals = latest.filter((r): r is CallResult => r !== undefined);
    if (!judge) {
      yield* voteOnFinals(ctx, finals, type, 2 * rounds + 1);
      return;
    }
    const step = 2 * rounds + 2;
    yield { type: 'round', t: ctx.now(), round: step, label: `Judge: ${judge.agent.name}` };
    const fit = fitShown(ctx, judge.agent, finals.map((r) => r.text), ctx.maxTokens, judgeBuild(judge.agent, finals.map((r) => r.spec.agent.name)), 'the judge', advice);
    if (fit.warning) yield fit.warning;
    const verdict = yield* callOne(ctx, { agent: judge.agent, agentIndex: judge.index, round: step, sample: 0, purpose: 'judge', messages: fit.messages, sees: finals.map((r) => r.msgId) });
    if (ctx.signal.aborted) return;
    if (verdict.error !== undefined) throw new Error(`the judge ${judge.agent.name} failed: ${verdict.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(verdict.text, type).answer, text: verdict.text, agent: judge.agent.id };
  },
};
