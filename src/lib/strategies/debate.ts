/**
 * `debate`: multiagent debate (Du et al. 2023, "Improving Factuality and Reasoning in Language
 * Models through Multiagent Debate", arXiv 2305.14325). Round 1: every agent answers alone. Each
 * later round: every agent is shown the other agents' answers from the previous round and
 * revises its own; all agents of a round are asked at once. The final answer is a majority vote
 * over the last round (the paper's choice) or the verdict of a judge agent.
 *
 * Prompts, in the style of the paper's released prompts (github.com/composable-models/llm_multiagent_debate,
 * gsm/gen_gsm.py), in our own words and general rather than maths-only:
 *  - revision: "These are the answers to the question from other agents:" then, per other agent,
 *    "One agent's answer: ```…```", then "Using the other agents' answers as additional
 *    information, give your updated answer. The original question is: <prompt>".
 *  - Context: the paper keeps each agent's whole conversation; tiny in-browser models have
 *    contexts of a few hundred tokens, so an agent sees [its system prompt, the question, its own
 *    previous answer, the revision prompt] — only the latest round, so the conversation stays
 *    short. Before the first call the run checks that a revision (and the judge's prompt) can fit
 *    the context with at least MIN_SHOWN_ANSWER_BYTES of each answer, and refuses it otherwise,
 *    naming the knobs that help. Each round, the answers an agent is shown are cut to fit
 *    (budget.ts): the room left by the context minus max tokens minus the rest of the
 *    conversation is shared out (short answers whole, the longer ones an equal share each), each
 *    keeping its first bytes and ending in "…"; a warning in the trace says so.
 *  - judge: the question, every agent's final answer, "Which answer is correct? Reply with the
 *    correct answer only."
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { bestMemberJudge } from './fits.ts';
import { voteOnFinals } from './tally.ts';
import { MIN_SHOWN_ANSWER_BYTES, cutToBytes, fitAdvice, fitProblem, promptTokenBound, shareBytes, utf8Bytes } from './budget.ts';

/** The revision request an agent gets in rounds ≥ 2: the others' previous answers, then the question again. */
export function revisionPrompt(prompt: string, othersAnswers: string[]): string {
  const shown = othersAnswers.map((a) => `One agent's answer: \`\`\`${a.trim()}\`\`\``).join('\n\n');
  return (
    `These are the answers to the question from other agents:\n\n${shown}\n\n` +
    `Using the other agents' answers as additional information, give your updated answer. The original question is: ${prompt}`
  );
}

/** The conversation for one agent's revision: system, question, its own previous answer, the others' answers. */
export function revisionMessages(agent: Agent, prompt: string, ownPrevious: string, othersAnswers: string[]): ChatMessage[] {
  return [
    ...firstMessages(agent, prompt),
    { role: 'assistant', content: ownPrevious },
    { role: 'user', content: revisionPrompt(prompt, othersAnswers) },
  ];
}

export function judgeMessages(judge: Agent, prompt: string, finals: { name: string; text: string }[]): ChatMessage[] {
  const listed = finals.map((f) => `${f.name}: \`\`\`${f.text.trim()}\`\`\``).join('\n\n');
  const messages: ChatMessage[] = [];
  if (judge.system && judge.system.trim() !== '') messages.push({ role: 'system', content: judge.system });
  messages.push({
    role: 'user',
    content: `Question: ${prompt}\n\nAfter a debate, the agents gave these final answers:\n\n${listed}\n\nWhich answer is correct? Reply with the correct answer only.`,
  });
  return messages;
}

/** The knobs that shrink a debate's prompts, with their current values, for refusals. */
function debateAdvice(agents: number, rounds: number, maxTokens: number): string[] {
  return [`use fewer agents (now ${agents})`, `fewer rounds (now ${rounds}; 1 = no revisions)`, `a smaller max tokens (now ${maxTokens})`, 'or a shorter prompt'];
}

/**
 * Cuts the answers one conversation shows (an agent's own previous answer and the others', or the
 * judge's list of finals) so that the conversation plus max tokens fits the agent's context.
 * `build` makes the conversation from the answers. Returns the conversation and whether anything
 * was cut; throws when even MIN_SHOWN_ANSWER_BYTES of each answer cannot fit.
 */
export function fitAnswers(
  agent: Agent,
  answers: readonly string[],
  maxTokens: number,
  build: (shown: string[]) => ChatMessage[],
  what: string,
  advice: readonly string[],
): { messages: ChatMessage[]; cut: boolean; capBytes: number } {
  const trimmed = answers.map((a) => a.trim());
  const ctxLen = agent.engine.info.contextLength;
  if (ctxLen === undefined || !(ctxLen > 0)) return { messages: build(trimmed), cut: false, capBytes: Infinity };
  const room = ctxLen - maxTokens - promptTokenBound(build(trimmed.map(() => '')));
  const lengths = trimmed.map(utf8Bytes);
  const caps = shareBytes(lengths, room);
  if (caps.some((c, i) => c < Math.min(MIN_SHOWN_ANSWER_BYTES, lengths[i] ?? 0))) {
    throw new Error(
      `${what}: ${agent.name}'s ${ctxLen}-token context has room for only ${Math.max(0, room)} bytes of the ${trimmed.length} answers ` +
        `it must be shown after max tokens (${maxTokens}) and the rest of the prompt — ${fitAdvice(advice)}`,
    );
  }
  const shown = trimmed.map((a, i) => cutToBytes(a, caps[i] ?? 0));
  const cut = shown.some((a, i) => a !== trimmed[i]);
  return { messages: build(shown), cut, capBytes: Math.max(...caps.filter((c, i) => c < (lengths[i] ?? 0)), 0) };
}

const meta: StrategyMeta = {
  id: 'debate',
  name: 'Debate',
  level: 'text',
  description:
    'Every agent answers; then, round after round, each sees the others’ previous answers and revises its own. The last round is settled by a vote or by a judge agent.',
  paper: { title: 'Improving Factuality and Reasoning in Language Models through Multiagent Debate', url: 'https://arxiv.org/abs/2305.14325', year: 2023 },
  knobs: [
    { id: 'rounds', label: 'Rounds', help: 'Round 1 is the agents answering alone; each further round is one revision.', type: 'integer', default: 2, min: 1, max: 6, step: 1 },
    {
      id: 'final',
      label: 'Final answer by',
      help: 'Majority vote over the last round (as in the paper), or a judge agent who reads every final answer.',
      type: 'select',
      default: 'vote',
      options: [
        { value: 'vote', label: 'majority vote' },
        { value: 'judge', label: 'judge agent' },
      ],
    },
    { id: 'judge', label: 'Judge', help: 'Which agent (1 = first) judges when the final answer is by a judge.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N × R calls (R = rounds), plus 1 when a judge gives the final answer; each revision shows the agent its own and the N − 1 other previous answers',
    calls: (n, k) => n * Number(k.rounds) + (k.final === 'judge' ? 1 : 0),
    tokens: (n, k, maxTokens, promptTokens) => {
      const rounds = Number(k.rounds);
      // Round 1: the question. A revision: the question twice (asked, then restated) and N answers of at most maxTokens each.
      const revision = 2 * promptTokens + n * maxTokens;
      const judge = k.final === 'judge' ? promptTokens + n * maxTokens : 0;
      const calls = n * rounds + (k.final === 'judge' ? 1 : 0);
      return { prompt: n * promptTokens + n * (rounds - 1) * revision + judge, completion: calls * maxTokens };
    },
  },
};

export const debate: Strategy = {
  meta,
  fit: (dev) => bestMemberJudge(dev),
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const byJudge = knob<string>(ctx, meta, 'final') === 'judge';
    const type = answerTypeOf(ctx, meta);
    // Check the judge before spending any tokens.
    const judge = byJudge ? agentByNumber(ctx, knob<number>(ctx, meta, 'judge'), 'The judge') : undefined;
    // Before any call: a revision and the judge's prompt must fit with at least a little of each answer.
    const advice = debateAdvice(ctx.agents.length, rounds, ctx.maxTokens);
    const least = 'x'.repeat(MIN_SHOWN_ANSWER_BYTES);
    for (const agent of ctx.agents) {
      if (rounds < 2) break;
      const p = fitProblem(revisionMessages(agent, ctx.prompt, least, ctx.agents.slice(1).map(() => least)), ctx.maxTokens, agent.engine.info.contextLength, agent.engine.info.model, `a revision round (${ctx.agents.length - 1} other answers shown, at least ${MIN_SHOWN_ANSWER_BYTES} bytes each)`, advice);
      if (p !== null) throw new Error(p);
    }
    if (judge) {
      const finals = ctx.agents.map((a) => ({ name: a.name, text: least }));
      const p = fitProblem(judgeMessages(judge.agent, ctx.prompt, finals), ctx.maxTokens, judge.agent.engine.info.contextLength, judge.agent.engine.info.model, `the judge's prompt (${finals.length} answers, at least ${MIN_SHOWN_ANSWER_BYTES} bytes each)`, advice);
      if (p !== null) throw new Error(p);
    }
    // Each agent's latest successful answer (undefined until it has one).
    const latest: (CallResult | undefined)[] = ctx.agents.map(() => undefined);
    for (let round = 1; round <= rounds; round++) {
      yield { type: 'round', t: ctx.now(), round, label: round === 1 ? 'Round 1: answers' : `Round ${round}: revisions` };
      const cuts: { agent: string; capBytes: number }[] = [];
      const specs: CallSpec[] = ctx.agents.map((agent, agentIndex) => {
        const own = latest[agentIndex];
        const others = latest.filter((r, j): r is CallResult => j !== agentIndex && r !== undefined).map((r) => r.text);
        const revise = round > 1 && own !== undefined && others.length > 0;
        let messages = firstMessages(agent, ctx.prompt);
        if (revise) {
          const fit = fitAnswers(agent, [own.text, ...others], ctx.maxTokens, ([mine = '', ...rest]) => revisionMessages(agent, ctx.prompt, mine, rest), `round ${round}`, advice);
          messages = fit.messages;
          if (fit.cut) cuts.push({ agent: agent.id, capBytes: fit.capBytes });
        }
        // Who sees what: a revision shows the agent's own previous answer and the others' (latest successful ones).
        const sees = revise ? [own.msgId, ...latest.filter((r, j): r is CallResult => j !== agentIndex && r !== undefined).map((r) => r.msgId)] : undefined;
        return { agent, agentIndex, round, sample: 0, purpose: revise ? 'revision' : 'answer', messages, ...(sees && { sees }) };
      });
      for (const c of cuts) {
        yield { type: 'error', t: ctx.now(), agent: c.agent, fatal: false, message: `round ${round}: the answers shown were cut to ${c.capBytes} bytes each (their first bytes, then "…") to fit the context with max tokens ${ctx.maxTokens}` };
      }
      const results = yield* callAll(ctx, specs);
      if (ctx.signal.aborted) return;
      results.forEach((r, i) => {
        if (r.error === undefined) latest[i] = r;
      });
      if (results.every((r) => r.error !== undefined)) throw new Error(`every agent failed in round ${round}; see the errors above`);
    }
    const finals = latest.filter((r): r is CallResult => r !== undefined);
    if (judge) {
      const step = rounds + 1;
      yield { type: 'round', t: ctx.now(), round: step, label: `Judge: ${judge.agent.name}` };
      const verdict = yield* callOne(ctx, {
        agent: judge.agent,
        agentIndex: judge.index,
        round: step,
        sample: 0,
        purpose: 'judge',
        sees: finals.map((r) => r.msgId),
        messages: fitAnswers(judge.agent, finals.map((r) => r.text), ctx.maxTokens, (shown) => judgeMessages(judge.agent, ctx.prompt, finals.map((r, i) => ({ name: r.spec.agent.name, text: shown[i] ?? '' }))), 'the judge', advice).messages,
      });
      if (ctx.signal.aborted) return;
      if (verdict.error !== undefined) throw new Error(`the judge ${judge.agent.name} failed: ${verdict.error}`);
      yield { type: 'final', t: ctx.now(), answer: extractAnswer(verdict.text, type).answer, text: verdict.text, agent: judge.agent.id };
      return;
    }
    // Each agent's latest answer (the last round's, unless the agent failed in it).
    yield* voteOnFinals(ctx, finals, type, rounds);
  },
};
