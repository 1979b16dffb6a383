/**
 * Flips: how revising changes agents' answers in methods where agents answer and then revise
 * (debate, multiagent feedback, layered methods). For each agent of each item, its answers in round
 * order (the messages whose purpose is "answer" or "revision"; an agent with several answers in
 * one round is sampling, not revising, and is left out); each consecutive pair is one transition,
 * scored with the data set's own metric: right → wrong, wrong → right, or unchanged correctness.
 * Debate's right-to-wrong rate (the share of right answers that a revision turned wrong) is the
 * conformity the literature warns about: a right agent pulled along by wrong peers.
 *
 * "Right" is an item score of at least 0.5 (every pool metric and MoCo's exact/choice metrics are
 * 0 or 1; for token F1 it means more than half the tokens match).
 *
 * Pure: the caller passes the scoring function (src/lib/eval/task.ts `EvalDataset.score`).
 */
import type { TraceEvent } from '../trace.ts';

export interface AgentTurn {
  agent: string;
  round: number;
  msgId: string;
  text: string;
}

export interface FlipCounts {
  /** Consecutive (answer, revision) pairs of one agent on one item. */
  transitions: number;
  rightToWrong: number;
  wrongToRight: number;
  rightToRight: number;
  wrongToWrong: number;
  /** rightToWrong ÷ (rightToWrong + rightToRight); null when no answer before a revision was right. */
  rightToWrongRate: number | null;
  /** wrongToRight ÷ (wrongToRight + wrongToWrong); null when none was wrong. */
  wrongToRightRate: number | null;
  /** Items with at least one transition. */
  items: number;
}

const TURN_PURPOSES = new Set(['answer', 'revision']);

/** Each agent's finished answers and revisions in a trace, in round order (failed calls left out). */
export function agentTurns(trace: readonly TraceEvent[]): Map<string, AgentTurn[]> {
  const started = new Map<string, { agent: string; round: number }>();
  const byAgent = new Map<string, AgentTurn[]>();
  for (const e of trace) {
    if (e.type === 'message-start' && TURN_PURPOSES.has(e.purpose)) started.set(e.msgId, { agent: e.agent, round: e.round });
    else if (e.type === 'message-end' && e.finish_reason !== 'abort') {
      const s = started.get(e.msgId);
      if (!s) continue;
      const list = byAgent.get(s.agent) ?? [];
      list.push({ agent: s.agent, round: s.round, msgId: e.msgId, text: e.text });
      byAgent.set(s.agent, list);
    }
  }
  for (const list of byAgent.values()) list.sort((a, b) => a.round - b.round);
  return byAgent;
}

/** Counts the transitions of every agent on every item; `score` scores one text on one item (0–1). */
export async function countFlips<I>(items: readonly { item: I; trace: readonly TraceEvent[] }[], score: (item: I, text: string) => Promise<number>): Promise<FlipCounts> {
  const c = { transitions: 0, rightToWrong: 0, wrongToRight: 0, rightToRight: 0, wrongToWrong: 0, items: 0 };
  for (const { item, trace } of items) {
    let any = false;
    for (const turns of agentTurns(trace).values()) {
      // Several answers of one agent in one round are samples (self-consistency, SLM-MUX), not revisions.
      if (new Set(turns.map((t) => t.round)).size < turns.length) continue;
      let before: boolean | undefined;
      for (const t of turns) {
        const right = (await score(item, t.text)) >= 0.5;
        if (before !== undefined) {
          any = true;
          c.transitions += 1;
          if (before && !right) c.rightToWrong += 1;
          else if (!before && right) c.wrongToRight += 1;
          else if (before) c.rightToRight += 1;
          else c.wrongToWrong += 1;
        }
        before = right;
      }
    }
    if (any) c.items += 1;
  }
  const rate = (x: number, y: number) => (x + y === 0 ? null : x / (x + y));
  return { ...c, rightToWrongRate: rate(c.rightToWrong, c.rightToRight), wrongToRightRate: rate(c.wrongToRight, c.wrongToWrong) };
}
