/**
 * `blackboard`: a blackboard multi-agent system (BBMAS: Han & Zhang 2025, "Exploring Advanced LLM
 * Multi-Agent Systems Based on Blackboard Architecture", arXiv 2507.01701; MoCo's
 * `text_bbmas.py`). The board is the shared state: every post is written after reading the
 * board, and every post goes onto it as a numbered entry ("Entry #3").
 *
 * Control loop (MoCo's, sized for models with a context of a few hundred tokens):
 *  - Each round, `actors` agents post at once, all reading the board as it stood when the round
 *    began (MoCo applies a round's posts after all its actions, too). Who posts: a rotation, agents
 *    ((r − 1)·A + j) mod N for j < A in round r, so every agent gets the same number of turns and
 *    a seed fixes the run. MoCo samples the actors at random (default 1 per round).
 *  - What they post: MoCo lets each agent pick its action in an extra call ("I choose to …") and
 *    retries when the phrase is missing; the tiny in-browser models cannot be relied on to write
 *    that phrase, so here the round decides it: round 1 posts are proposals (an approach and an
 *    answer), later posts critique the board's entries by number and give a corrected answer.
 *    One call per post instead of MoCo's two.
 *  - Stopping rule: consensus or max rounds. After each round, each agent's standing answer is the
 *    answer read from its latest post (src/lib/answers.ts). When every agent has posted and all
 *    standing answers agree, the run stops: that answer is final, with no vote (MoCo: a single
 *    conclusion is taken without a vote). Otherwise it stops after `rounds` rounds.
 *  - Final answer rule: the conclusions are the distinct standing answers (in setup order of the
 *    agent whose post first gave it, shown as that agent's latest post). With one conclusion it is
 *    final. With several, every agent votes in one more round ("I vote for Conclusion #k", as in
 *    MoCo), and the ballots are counted by tally.ts's rule (most votes, then summed token
 *    probability, then setup order). A vote that names no listed conclusion abstains (MoCo counts
 *    it for Conclusion #1, which would favour the first one); when every vote abstains, the
 *    standing answers are counted instead, and the vote event says so.
 *
 * Context: the pool's models have 256-token contexts, so the prompts are short (MoCo's run to
 * pages) and end with the question, so a completion-style "Q: …\nA:" prompt still ends in "A:". A
 * post shows the board ("Entry #k (Agent i): ```…```"), one instruction line, then the question.
 * Each entry keeps at least MIN_SHOWN_ANSWER_BYTES; the room left by the context, max tokens and
 * the rest of the prompt is shared among the entries (budget.ts), and when even that cannot fit,
 * the oldest entries are left out; a warning in the trace says which. The vote shows the
 * conclusions as the answers they give ("Conclusion #2: 43"; MoCo shows the whole board and the
 * conclusions' text), cut by the same rule. Before any call, the run checks that a proposal, a
 * critique showing one entry, and a vote over N conclusions of 8 bytes fit, and refuses otherwise;
 * a longer conclusion is cut to fit when the vote comes.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, KnobValue, Strategy, StrategyContext, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callAll, knob, type CallResult, type CallSpec } from './common.ts';
import { countVotes, type ScoredBallot, type VoteOutcome } from './tally.ts';
import { MIN_SHOWN_ANSWER_BYTES, fitProblem } from './budget.ts';
import { fitAnswers } from './debate.ts';

export type PostKind = 'propose' | 'critique';

/** One entry on the board: the post's message, its author and the round it was written in. */
export interface Entry {
  /** 1-based, in the order posts went onto the board (setup order within a round). */
  number: number;
  msgId: string;
  author: Agent;
  round: number;
  kind: PostKind;
  text: string;
}

// Short on purpose: the pool's models have 256-token contexts (see the file comment).
const INSTRUCTIONS: Record<PostKind, string> = {
  propose: 'Solve it; end with "Answer: <answer>".',
  critique: 'Fix any mistake in the entries (cite "Entry #<n>"); end with "Answer: <answer>".',
};

/** The board as a post shows it: each entry with its number and author. */
export function boardText(entries: readonly { number: number; author: string }[], shown: readonly string[]): string {
  if (entries.length === 0) return 'Shared board: (empty)';
  return `Shared board:\n\n${entries.map((e, i) => `Entry #${e.number} (${e.author}): \`\`\`${(shown[i] ?? '').trim()}\`\`\``).join('\n\n')}`;
}

/** The conversation for one post: the agent's system prompt, then the board, the instruction and the question (last, so a completion-style "A:" ends it). */
export function postMessages(agent: Agent, prompt: string, kind: PostKind, entries: readonly Entry[], shown: readonly string[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (agent.system && agent.system.trim() !== '') messages.push({ role: 'system', content: agent.system });
  const board = boardText(entries.map((e) => ({ number: e.number, author: e.author.name })), shown);
  messages.push({ role: 'user', content: `${board}\n\n${INSTRUCTIONS[kind]}\n\n${prompt}` });
  return messages;
}

/** The conversation for one vote: the numbered conclusions (each an answer the board arrived at), then the question. */
export function voteMessages(agent: Agent, prompt: string, conclusions: readonly string[]): ChatMessage[] {
  const listed = conclusions.map((c, i) => `Conclusion #${i + 1}: ${c.trim()}`).join('\n');
  const messages: ChatMessage[] = [];
  if (agent.system && agent.system.trim() !== '') messages.push({ role: 'system', content: agent.system });
  messages.push({ role: 'user', content: `Conclusions:\n${listed}\n\nReply "I vote for Conclusion #<n>".\n\n${prompt}` });
  return messages;
}

/** The conclusion a vote names (1-based), or undefined when it names none of 1…count. */
export function votedConclusion(text: string, count: number): number | undefined {
  const m = /conclusion\s*#?\s*(\d+)/i.exec(text) ?? /#\s*(\d+)/.exec(text);
  const k = m ? Number(m[1]) : NaN;
  return Number.isInteger(k) && k >= 1 && k <= count ? k : undefined;
}

/** The 0-based agents that post in `round` (1-based): a rotation of `actors` agents among `n`. */
export function actorsOf(round: number, actors: number, n: number): number[] {
  const a = Math.min(actors, n);
  return Array.from({ length: a }, (_, j) => ((round - 1) * a + j) % n);
}

function advice(agents: number, rounds: number, maxTokens: number): string[] {
  return [`use fewer agents (now ${agents})`, `fewer rounds (now ${rounds})`, `a smaller max tokens (now ${maxTokens})`, 'or a shorter prompt'];
}

function actorsOfKnobs(n: number, knobs: Record<string, KnobValue>): number {
  return Math.min(Number(knobs.actors ?? 2), n);
}

const meta: StrategyMeta = {
  id: 'blackboard',
  name: 'Blackboard (BBMAS)',
  level: 'text',
  description:
    'Agents take turns posting to a shared board: proposals first, then critiques of numbered entries with corrected answers. The run stops when every agent’s latest answer agrees, or after the last round; then the agents vote for one of the board’s conclusions.',
  paper: { title: 'Exploring Advanced LLM Multi-Agent Systems Based on Blackboard Architecture', url: 'https://arxiv.org/abs/2507.01701', year: 2025 },
  knobs: [
    { id: 'rounds', label: 'Max rounds', help: 'The board closes after this many rounds unless every agent agrees earlier (round 1 = proposals, later rounds = critiques).', type: 'integer', default: 3, min: 1, max: 8, step: 1 },
    { id: 'actors', label: 'Posts per round', help: 'How many agents post each round, in turn (more than the number of agents = all of them).', type: 'integer', default: 2, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'at most R × min(A, N) posts + N votes (R = max rounds, A = posts per round); fewer when the agents agree early, and no vote then',
    calls: (n, knobs) => Number(knobs.rounds ?? 3) * actorsOfKnobs(n, knobs) + n,
  },
};

export const blackboard: Strategy = {
  meta,
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const actors = knob<number>(ctx, meta, 'actors');
    const type = answerTypeOf(ctx, meta);
    const n = ctx.agents.length;
    const tips = advice(n, rounds, ctx.maxTokens);
    preflight(ctx, rounds, tips);

    const board: Entry[] = [];
    const latest: (Entry | undefined)[] = ctx.agents.map(() => undefined);
    const standing = () => latest.map((e) => (e === undefined ? '' : extractAnswer(e.text, type).answer));
    let consensusRound: number | undefined;
    for (let round = 1; round <= rounds; round++) {
      const kind: PostKind = round === 1 ? 'propose' : 'critique';
      const who = actorsOf(round, actors, n);
      yield { type: 'round', t: ctx.now(), round, label: `Round ${round}: ${kind === 'propose' ? 'proposals' : 'critiques'} by ${who.map((i) => ctx.agents[i]!.name).join(', ')}` };
      const specs: CallSpec[] = [];
      for (const agentIndex of who) {
        const agent = ctx.agents[agentIndex]!;
        const shown = showBoard(ctx, agent, kind, board, tips, round);
        if (shown.warning) yield { type: 'error', t: ctx.now(), agent: agent.id, fatal: false, message: shown.warning };
        specs.push({ agent, agentIndex, round, sample: 0, purpose: kind, messages: shown.messages, ...(shown.entries.length > 0 && { sees: shown.entries.map((e) => e.msgId) }) });
      }
      const results = yield* callAll(ctx, specs);
      if (ctx.signal.aborted) return;
      if (results.every((r) => r.error !== undefined)) throw new Error(`every post failed in round ${round}; see the errors above`);
      for (const r of results) {
        if (r.error !== undefined) continue;
        const entry: Entry = { number: board.length + 1, msgId: r.msgId, author: r.spec.agent, round, kind, text: r.text };
        board.push(entry);
        latest[r.spec.agentIndex] = entry;
      }
      const answers = standing();
      if (answers.every((a) => a !== '' && a === answers[0])) {
        consensusRound = round;
        break;
      }
    }

    const answers = standing();
    if (consensusRound !== undefined) {
      const outcome = countVotes(latest.map((e, i) => ({ agent: ctx.agents[i]!.id, answer: answers[i] ?? '', raw: e?.text ?? '' })));
      yield { type: 'vote', t: ctx.now(), round: consensusRound, ballots: outcome.ballots, tally: outcome.tally, winner: outcome.winner, tie: false, rule: `consensus after round ${consensusRound}: every agent's latest post gives this answer, so no vote is held` };
      const last = [...board].reverse().find((e) => extractAnswer(e.text, type).answer === outcome.winner);
      yield { type: 'final', t: ctx.now(), answer: outcome.winner, text: last?.text ?? '', ...(last && { agent: last.author.id }) };
      return;
    }
    // Conclusions: the distinct standing answers, each shown as the latest post of the first agent that holds it.
    const conclusions: { answer: string; entry: Entry }[] = [];
    latest.forEach((e, i) => {
      const a = answers[i] ?? '';
      if (e !== undefined && a !== '' && !conclusions.some((c) => c.answer === a)) conclusions.push({ answer: a, entry: e });
    });
    if (conclusions.length <= 1) {
      const only = conclusions[0];
      const last = board.at(-1);
      yield { type: 'final', t: ctx.now(), answer: only?.answer ?? '', text: (only?.entry ?? last)?.text ?? '', ...((only?.entry ?? last) && { agent: (only?.entry ?? last)!.author.id }) };
      return;
    }
    const voteRound = rounds + 1;
    yield { type: 'round', t: ctx.now(), round: voteRound, label: `Vote: ${conclusions.length} conclusions` };
    const specs: CallSpec[] = ctx.agents.map((agent, agentIndex) => ({
      agent,
      agentIndex,
      round: voteRound,
      sample: 0,
      purpose: 'vote',
      messages: fitAnswers(agent, conclusions.map((c) => c.answer), ctx.maxTokens, (shown) => voteMessages(agent, ctx.prompt, shown), 'the vote', tips).messages,
      sees: conclusions.map((c) => c.entry.msgId),
    }));
    const votes = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    const ballots: ScoredBallot[] = votes.map((v: CallResult) => {
      const k = v.error === undefined ? votedConclusion(v.text, conclusions.length) : undefined;
      const b: ScoredBallot = { agent: v.spec.agent.id, answer: k === undefined ? '' : conclusions[k - 1]!.answer, raw: v.text };
      if (v.meanProb !== undefined) b.meanProb = v.meanProb;
      return b;
    });
    let outcome: VoteOutcome = countVotes(ballots);
    if (outcome.winner === '') {
      const fallback = countVotes(latest.map((e, i) => ({ agent: ctx.agents[i]!.id, answer: answers[i] ?? '', raw: e?.text ?? '' })));
      outcome = { ...fallback, rule: `no vote named a listed conclusion, so the agents' standing answers were counted: ${fallback.rule}` };
    }
    yield { type: 'vote', t: ctx.now(), round: voteRound, ballots: outcome.ballots, tally: outcome.tally, winner: outcome.winner, rule: outcome.rule, tie: outcome.tie };
    const chosen = conclusions.find((c) => c.answer === outcome.winner)?.entry;
    yield { type: 'final', t: ctx.now(), answer: outcome.winner, text: chosen?.text ?? '', ...(chosen && { agent: chosen.author.id }) };
  },
};

/** What the vote's check before the run assumes of each conclusion (an extracted answer: a number, a letter, a short phrase). */
const SHORT_ANSWER_BYTES = 8;

/** Refuses, before any call, a run whose posts or vote cannot fit with MIN_SHOWN_ANSWER_BYTES of each entry shown. */
function preflight(ctx: StrategyContext, rounds: number, tips: string[]): void {
  const least = 'x'.repeat(MIN_SHOWN_ANSWER_BYTES);
  const shortAnswer = 'x'.repeat(SHORT_ANSWER_BYTES);
  for (const agent of ctx.agents) {
    const { contextLength, model } = agent.engine.info;
    const first = fitProblem(postMessages(agent, ctx.prompt, 'propose', [], []), ctx.maxTokens, contextLength, model, 'a proposal on an empty board', tips);
    if (first !== null) throw new Error(first);
    if (rounds >= 2) {
      const one: Entry = { number: 1, msgId: '', author: agent, round: 1, kind: 'propose', text: least };
      const p = fitProblem(postMessages(agent, ctx.prompt, 'critique', [one], [least]), ctx.maxTokens, contextLength, model, `a critique showing one board entry (at least ${MIN_SHOWN_ANSWER_BYTES} bytes)`, tips);
      if (p !== null) throw new Error(p);
    }
    const v = fitProblem(voteMessages(agent, ctx.prompt, ctx.agents.map(() => shortAnswer)), ctx.maxTokens, contextLength, model, `the vote (${ctx.agents.length} conclusions of ${SHORT_ANSWER_BYTES} bytes)`, tips);
    if (v !== null) throw new Error(v);
  }
}

/**
 * The board one post shows: every entry if each keeps at least MIN_SHOWN_ANSWER_BYTES (cut by
 * budget.ts's rule), else the latest entries that fit; a warning names what was cut or left out.
 */
function showBoard(ctx: StrategyContext, agent: Agent, kind: PostKind, board: readonly Entry[], tips: string[], round: number): { messages: ChatMessage[]; entries: Entry[]; warning?: string } {
  for (let from = 0; from < Math.max(1, board.length); from++) {
    const entries = board.slice(from);
    try {
      const fit = fitAnswers(agent, entries.map((e) => e.text), ctx.maxTokens, (shown) => postMessages(agent, ctx.prompt, kind, entries, shown), `round ${round}`, tips);
      const notes: string[] = [];
      if (from > 0) notes.push(`the board showed only its latest ${entries.length} of ${board.length} entries (from Entry #${entries[0]!.number})`);
      if (fit.cut) notes.push(`entries were cut to ${fit.capBytes} bytes each (their first bytes, then "…")`);
      return { messages: fit.messages, entries, ...(notes.length > 0 && { warning: `round ${round}: ${notes.join('; ')} to fit the context with max tokens ${ctx.maxTokens}` }) };
    } catch (e) {
      if (from === board.length - 1) throw e;
    }
  }
  // Unreachable: an empty board returns on its first pass (fitAnswers of no entries cannot refuse), a non-empty one returns or rethrows on its last.
  // Stryker disable next-line all: unreachable (see above), so no test can tell its mutants apart
  return { messages: postMessages(agent, ctx.prompt, kind, [], []), entries: [] };
}
