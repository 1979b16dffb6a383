/**
 * `debate-summary`: debate with a summariser (Du et al. 2023, "Improving Factuality and Reasoning in
 * Language Models through Multiagent Debate", arXiv 2305.14325, §3.3: summarising the other agents'
 * responses instead of showing them whole keeps long debates within the context). Round 1: every
 * agent answers alone. Each later round: first one summariser agent reads every agent's previous
 * answer and writes a short summary; then every agent sees its own previous answer and the summary —
 * not the raw answers — and revises (all at once). The last round is settled by a vote, as in debate.
 *
 * A separate id rather than a knob on `debate`: the flow differs (an extra call per round, other
 * edges in the drawing, its own cost formula and its own fit), and `debate`'s metadata, tests and
 * links stay as they were.
 *
 * Who summarises: the `summariser` knob (agent number, 1 by default); in experiments the fit sets it
 * to the best agent on the dev split (MoCo's "best member" rule, fits.ts). Its summary is its round's
 * sample 1 (its revision is sample 0), so the two calls get different seeds.
 *
 * Prompts, in the paper's style and our own words:
 *  - summary: "Here are the answers several agents gave to a question. Question: … One agent's
 *    answer: ```…``` … Summarise these answers in a few sentences: the answers they give and their
 *    main reasons."
 *  - revision: [system, the question, the agent's own previous answer, "Here is a summary of the
 *    answers from the agents: ```…``` Using the summary as additional information, give your
 *    updated answer. The original question is: …"].
 * Context: checked before any call (the summary prompt with N answers, a revision with its own
 * answer and a summary, each at least MIN_SHOWN_ANSWER_BYTES), then cut per call by debate's rule.
 */
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callOne, firstMessages, knob, type CallResult } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { answerRounds, fitShown, refuseUnlessFits } from './shown.ts';
import { voteOnFinals } from './tally.ts';

export function summaryPrompt(prompt: string, answers: readonly string[]): string {
  const shown = answers.map((a) => `One agent's answer: \`\`\`${a}\`\`\``).join('\n\n');
  return (
    `Here are the answers several agents gave to a question.\n\nQuestion: ${prompt}\n\n${shown}\n\n` +
    `Summarise these answers in a few sentences: the answers they give and their main reasons.`
  );
}

/** A revision that shows the agent its own previous answer and the round's summary. */
export function summaryRevisionMessages(agent: Agent, prompt: string, own: string, summary: string): ChatMessage[] {
  return [
    ...firstMessages(agent, prompt),
    { role: 'assistant', content: own },
    {
      role: 'user',
      content: `Here is a summary of the answers from the agents: \`\`\`${summary}\`\`\`\n\nUsing the summary as additional information, give your updated answer. The original question is: ${prompt}`,
    },
  ];
}

const meta: StrategyMeta = {
  id: 'debate-summary',
  name: 'Debate with a summariser',
  level: 'text',
  description:
    'A debate in which agents do not read each other’s answers whole: each round, one summariser agent sums them up, and every agent revises its answer from that summary. The last round is settled by a vote.',
  paper: { title: 'Improving Factuality and Reasoning in Language Models through Multiagent Debate (summarisation)', url: 'https://arxiv.org/abs/2305.14325', year: 2023 },
  knobs: [
    { id: 'rounds', label: 'Rounds', help: 'Round 1 is the agents answering alone; each further round is a summary and one revision per agent.', type: 'integer', default: 2, min: 1, max: 6, step: 1 },
    { id: 'summariser', label: 'Summariser', help: 'Which agent (1 = first) writes each round’s summary; experiments set it to the best agent on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N × R + (R − 1) calls: N answers, then in each of rounds 2…R one summary (shows N answers) and N revisions (each shows its own answer and the summary)',
    calls: (n, k) => n * Number(k.rounds) + Number(k.rounds) - 1,
    tokens: (n, k, maxTokens, promptTokens) => {
      const r = Number(k.rounds);
      const calls = n * r + r - 1;
      // Shown texts per later round: N answers in the summary, own answer + summary in each revision.
      return { prompt: calls * promptTokens + (r - 1) * 3 * n * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const debateSummary: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['summariser']),
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const type = answerTypeOf(ctx, meta);
    const summariser = agentByNumber(ctx, knob<number>(ctx, meta, 'summariser'), 'The summariser');
    const n = ctx.agents.length;
    const advice = [`use fewer agents (now ${n})`, `fewer rounds (now ${rounds}; 1 = no revisions)`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const summaryBuild = (shown: string[]) => firstMessages(summariser.agent, summaryPrompt(ctx.prompt, shown));
    const revisionBuild = (agent: Agent) => ([own = '', summary = '']: string[]) => summaryRevisionMessages(agent, ctx.prompt, own, summary);
    if (rounds >= 2) {
      refuseUnlessFits(summariser.agent, n, ctx.maxTokens, summaryBuild, 'the summary', advice);
      for (const agent of ctx.agents) refuseUnlessFits(agent, 2, ctx.maxTokens, revisionBuild(agent), 'a revision', advice);
    }
    let summary: CallResult | undefined;
    const latest = yield* answerRounds(
      ctx,
      rounds,
      (round) => (round === 1 ? 'Round 1: answers' : `Round ${round}: summary, then revisions`),
      (round, i, last) => {
        const own = last[i]!;
        const s = summary!;
        const fit = fitShown(ctx, ctx.agents[i]!, [own.text, s.text], ctx.maxTokens, revisionBuild(ctx.agents[i]!), `round ${round}`, advice);
        return { ...fit, sees: [own.msgId, s.msgId] };
      },
      async function* (round, last) {
        const shown = last.filter((r): r is CallResult => r !== undefined);
        const fit = fitShown(ctx, summariser.agent, shown.map((r) => r.text), ctx.maxTokens, summaryBuild, `round ${round}'s summary`, advice);
        if (fit.warning) yield fit.warning;
        summary = yield* callOne(ctx, {
          agent: summariser.agent,
          agentIndex: summariser.index,
          round,
          sample: 1,
          purpose: 'summary',
          messages: fit.messages,
          sees: shown.map((r) => r.msgId),
        });
        if (ctx.signal.aborted) return false;
        if (summary.error !== undefined) throw new Error(`the summariser ${summariser.agent.name} failed in round ${round}: ${summary.error}`);
        return true;
      },
    );
    if (latest === undefined) return;
    yield* voteOnFinals(ctx, latest.filter((r): r is CallResult => r !== undefined), type, rounds);
  },
};
