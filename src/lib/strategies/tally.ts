/**
 * Vote counting with a stated tie rule. `countVotes` is pure; `voteOnFinals` turns a round's answers
 * into the vote and final events of `vote`, `debate`, `debate-summary` and `feedback`.
 *
 * Tie rule (the words below are what the trace's vote event reports in `rule`):
 *   1. most votes;
 *   2. among answers tied on votes, the highest SUM of the ballots' mean token probabilities
 *      (a ballot without a probability adds 0) — the answer the models were jointly surest of;
 *   3. then the answer whose first ballot comes earliest in ballot order.
 * Ballot order is the order of the setup (agent 1's samples, then agent 2's, …), never the order
 * in which concurrent calls happened to finish, so the same run always elects the same winner.
 *
 * Empty answers are abstentions: they are listed among the ballots but not counted.
 */
import type { Ballot, TallyEntry, TraceEvent } from '../trace.ts';
import { extractAnswer, type AnswerType } from '../answers.ts';
import type { CallResult } from './common.ts';
import type { StrategyContext } from './types.ts';

export interface ScoredBallot extends Ballot {
  /** Mean token probability of the message the answer came from (exp of mean logprob), if known. */
  meanProb?: number;
}

export interface VoteOutcome {
  ballots: Ballot[];
  /** Counted answers, most votes first, then by the tie rule. */
  tally: TallyEntry[];
  /** "" when every ballot abstained. */
  winner: string;
  tie: boolean;
  rule: string;
}

export const TIE_RULE =
  'most votes; ties → highest summed mean token probability among the tied answers, then earliest first ballot (setup order)';

interface Group {
  entry: TallyEntry;
  probSum: number;
  first: number;
}

/** Counts `ballots` (in setup order) and elects a winner by the tie rule above. */
export function countVotes(ballots: ScoredBallot[]): VoteOutcome {
  const groups = new Map<string, Group>();
  ballots.forEach((b, i) => {
    if (b.answer === '') return;
    let g = groups.get(b.answer);
    if (!g) {
      g = { entry: { answer: b.answer, count: 0, agents: [] }, probSum: 0, first: i };
      groups.set(b.answer, g);
    }
    g.entry.count += 1;
    g.entry.agents.push(b.agent);
    g.probSum += b.meanProb !== undefined && Number.isFinite(b.meanProb) ? b.meanProb : 0;
  });
  const ordered = [...groups.values()].sort(
    (x, y) => y.entry.count - x.entry.count || y.probSum - x.probSum || x.first - y.first,
  );
  const plain: Ballot[] = ballots.map(({ agent, answer, raw }) => (raw === undefined ? { agent, answer } : { agent, answer, raw }));
  const top = ordered[0];
  if (!top) {
    return { ballots: plain, tally: [], winner: '', tie: false, rule: 'no ballot had an answer: nothing to count' };
  }
  const tiedOnVotes = ordered.filter((g) => g.entry.count === top.entry.count);
  let rule = TIE_RULE;
  if (tiedOnVotes.length > 1) {
    const tiedOnProb = tiedOnVotes.filter((g) => g.probSum === top.probSum);
    rule +=
      tiedOnProb.length > 1
        ? ` — applied: ${tiedOnVotes.length} answers tied at ${top.entry.count} vote(s) and on probability; earliest first ballot wins`
        : ` — applied: ${tiedOnVotes.length} answers tied at ${top.entry.count} vote(s); highest summed probability (${top.probSum.toFixed(3)}) wins`;
  }
  return {
    ballots: plain,
    tally: ordered.map((g) => g.entry),
    winner: top.entry.answer,
    tie: tiedOnVotes.length > 1,
    rule,
  };
}

/**
 * The vote over a round's answers (extracted with `type`, counted by the tie rule above), as the
 * `vote` then `final` events; the final's text is the earliest answer (setup order) that won.
 */
export function* voteOnFinals(ctx: StrategyContext, finals: readonly CallResult[], type: AnswerType, round: number): Generator<TraceEvent> {
  const ballots = ballotsOf(finals, type);
  const outcome = countVotes(ballots);
  yield { type: 'vote', t: ctx.now(), round, ballots: outcome.ballots, tally: outcome.tally, winner: outcome.winner, rule: outcome.rule, tie: outcome.tie };
  const chosen = outcome.winner === '' ? finals[0] : finals[ballots.findIndex((b) => b.answer === outcome.winner)];
  yield { type: 'final', t: ctx.now(), answer: outcome.winner, text: chosen?.text ?? '', ...(chosen ? { agent: chosen.spec.agent.id } : {}) };
}

/** Each result's extracted answer as a ballot, with its mean token probability (for the tie rule). */
export function ballotsOf(results: readonly CallResult[], type: AnswerType): ScoredBallot[] {
  return results.map((r) => {
    const b: ScoredBallot = { agent: r.spec.agent.id, answer: extractAnswer(r.text, type).answer, raw: r.text };
    if (r.meanProb !== undefined) b.meanProb = r.meanProb;
    return b;
  });
}
