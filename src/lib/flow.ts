/**
 * The message flow of a run, as a graph built from its TraceEvents (the playground draws it live,
 * the methods page from a dry run): one node per message (`message-start`), one edge per message a
 * prompt shows (`sees`: earlier msgId → this message), a link for a cascade's deferral (`route`:
 * the deferring agent's message → the next agent's message), a vote node fed by the ballots'
 * messages, and the final answer fed by the vote or by the chosen agent's last message.
 *
 * It is folded one event at a time (`applyFlowEvent`), so a live view updates as tokens stream; it
 * never asks which method ran. Node states: pending (asked, no token yet: the engine may be busy
 * with another agent), active (tokens arriving), done, failed (ended without finishing: an engine
 * error or a cancel). An edge is "lit" once the message that sees it has begun.
 *
 * Layout: columns by round (a vote and the final answer after the last round), rows by agent in
 * setup order; a judge or aggregator sits in its agent's row. Several samples of one agent in one
 * round stack inside the agent's row.
 */
import type { TraceEvent } from './trace.ts';

export type FlowState = 'pending' | 'active' | 'done' | 'failed';

export interface FlowNode {
  /** The msgId, or "vote.r<round>" / "final". */
  id: string;
  kind: 'message' | 'vote' | 'final';
  /** The agent who wrote it (messages and a final from one agent); "" for a vote. */
  agent: string;
  round: number;
  /** "answer", "revision", "judge", …; "vote" / "final" for those nodes. */
  purpose: string;
  state: FlowState;
}

export interface FlowEdge {
  from: string;
  to: string;
  /** sees: the prompt of `to` shows the text of `from`; route: a deferral; ballot: a vote counts it; final: the answer comes from it. */
  kind: 'sees' | 'route' | 'ballot' | 'final';
  /** True once `to` has begun (its first token, or at once for vote/final). */
  lit: boolean;
}

export interface FlowGraph {
  /** Agent ids in row order: the run's agents, then any id first seen on a message. */
  agents: string[];
  agentNames: Record<string, string>;
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** Each agent's latest message (for route and final links). */
  lastByAgent: Record<string, string>;
  /** A deferral waiting for the next agent's message: [from msgId, to agent]. */
  pendingRoute?: { from: string; to: string };
}

export function emptyFlow(): FlowGraph {
  return { agents: [], agentNames: {}, nodes: [], edges: [], lastByAgent: {} };
}

function nodeById(g: FlowGraph, id: string): FlowNode | undefined {
  return g.nodes.find((n) => n.id === id);
}

function light(g: FlowGraph, to: string): void {
  for (const e of g.edges) if (e.to === to) e.lit = true;
}

/** Folds one event into the graph (mutating it, like render/trace-view.ts) and returns it. A run-start starts afresh. */
export function applyFlowEvent(g: FlowGraph, ev: TraceEvent): FlowGraph {
  switch (ev.type) {
    case 'run-start':
      Object.assign(g, emptyFlow());
      g.agents = ev.agents.map((a) => a.id);
      g.agentNames = Object.fromEntries(ev.agents.map((a) => [a.id, a.name]));
      break;
    case 'message-start': {
      if (nodeById(g, ev.msgId)) break;
      if (!g.agents.includes(ev.agent)) g.agents.push(ev.agent);
      g.nodes.push({ id: ev.msgId, kind: 'message', agent: ev.agent, round: ev.round, purpose: ev.purpose, state: 'pending' });
      for (const from of ev.sees ?? []) if (nodeById(g, from)) g.edges.push({ from, to: ev.msgId, kind: 'sees', lit: false });
      if (g.pendingRoute && g.pendingRoute.to === ev.agent) {
        g.edges.push({ from: g.pendingRoute.from, to: ev.msgId, kind: 'route', lit: false });
        delete g.pendingRoute;
      }
      g.lastByAgent[ev.agent] = ev.msgId;
      break;
    }
    case 'token': {
      const n = nodeById(g, ev.msgId);
      if (n && n.state === 'pending') {
        n.state = 'active';
        light(g, n.id);
      }
      break;
    }
    case 'message-end': {
      const n = nodeById(g, ev.msgId);
      if (n) {
        n.state = ev.finish_reason === 'abort' ? 'failed' : 'done';
        light(g, n.id);
      }
      break;
    }
    case 'route': {
      const from = ev.from === null ? undefined : g.lastByAgent[ev.from];
      if (ev.decision === 'defer' && from !== undefined && ev.to !== ev.from) g.pendingRoute = { from, to: ev.to };
      break;
    }
    case 'vote': {
      const id = `vote.r${ev.round}`;
      if (nodeById(g, id)) break;
      g.nodes.push({ id, kind: 'vote', agent: '', round: ev.round, purpose: 'vote', state: 'done' });
      // A ballot is counted from its agent's messages of the voted round (several with samples), or else its latest one.
      const sources = new Set<string>();
      for (const b of ev.ballots) {
        const inRound = g.nodes.filter((n) => n.kind === 'message' && n.agent === b.agent && n.round === ev.round && n.state === 'done').map((n) => n.id);
        const last = g.lastByAgent[b.agent];
        for (const s of inRound.length > 0 ? inRound : last !== undefined ? [last] : []) sources.add(s);
      }
      for (const from of sources) g.edges.push({ from, to: id, kind: 'ballot', lit: true });
      break;
    }
    case 'final': {
      if (nodeById(g, 'final')) break;
      const vote = [...g.nodes].reverse().find((n) => n.kind === 'vote');
      const last = ev.agent !== undefined ? g.lastByAgent[ev.agent] : undefined;
      const round = Math.max(0, ...g.nodes.map((n) => n.round));
      g.nodes.push({ id: 'final', kind: 'final', agent: ev.agent ?? '', round, purpose: 'final', state: 'done' });
      const from = vote?.id ?? last;
      if (from !== undefined) g.edges.push({ from, to: 'final', kind: 'final', lit: true });
      break;
    }
    case 'run-end':
      // A run that ended leaves no message waiting or streaming: those were stopped.
      for (const n of g.nodes) if (n.state === 'pending' || n.state === 'active') n.state = 'failed';
      break;
    default:
      break;
  }
  return g;
}

export function flowFromEvents(events: Iterable<TraceEvent>): FlowGraph {
  const g = emptyFlow();
  for (const ev of events) applyFlowEvent(g, ev);
  return g;
}

export interface PlacedNode extends FlowNode {
  /** 0-based column (rounds in order, then the vote, then the final answer). */
  col: number;
  /** 0-based row among the stacked rows (an agent's row is as tall as its most samples in one round). */
  row: number;
}

export interface FlowLayout {
  nodes: PlacedNode[];
  columns: number;
  rows: number;
  /** The first row of each agent and how many rows it spans. */
  agentRows: { agent: string; row: number; span: number }[];
  /** The rounds of the message columns, in order. */
  rounds: number[];
}

/** Grid positions for a graph: columns by round, rows by agent; vote and final centred after the last round. */
export function layoutFlow(g: FlowGraph): FlowLayout {
  const messages = g.nodes.filter((n) => n.kind === 'message');
  const rounds = [...new Set(messages.map((n) => n.round))].sort((a, b) => a - b);
  const colOf = new Map(rounds.map((r, i) => [r, i]));
  const agentRows: FlowLayout['agentRows'] = [];
  let row = 0;
  for (const agent of g.agents) {
    const mine = messages.filter((n) => n.agent === agent);
    if (mine.length === 0) continue;
    const span = Math.max(...rounds.map((r) => mine.filter((n) => n.round === r).length));
    agentRows.push({ agent, row, span });
    row += span;
  }
  const rows = Math.max(1, row);
  const placed: PlacedNode[] = [];
  for (const n of messages) {
    const a = agentRows.find((r) => r.agent === n.agent);
    const slot = messages.filter((m) => m.agent === n.agent && m.round === n.round).indexOf(n);
    placed.push({ ...n, col: colOf.get(n.round) ?? 0, row: (a?.row ?? 0) + slot });
  }
  let col = rounds.length;
  const middle = Math.floor((rows - 1) / 2);
  for (const n of g.nodes) {
    if (n.kind === 'message') continue;
    placed.push({ ...n, col, row: middle });
    col += 1;
  }
  return { nodes: placed, columns: Math.max(1, col), rows, agentRows, rounds };
}

/** One sentence summarising a graph, for the drawing's accessible name. */
export function describeFlow(g: FlowGraph): string {
  const messages = g.nodes.filter((n) => n.kind === 'message');
  const rounds = new Set(messages.map((n) => n.round)).size;
  const agents = new Set(messages.map((n) => n.agent)).size;
  const sees = g.edges.filter((e) => e.kind === 'sees').length;
  const streaming = messages.filter((n) => n.state === 'active').length;
  const parts = [
    `${messages.length} message${messages.length === 1 ? '' : 's'} from ${agents} agent${agents === 1 ? '' : 's'} in ${rounds} round${rounds === 1 ? '' : 's'}`,
    `${sees} shown-answer link${sees === 1 ? '' : 's'}`,
  ];
  if (g.nodes.some((n) => n.kind === 'vote')) parts.push('a vote');
  if (g.nodes.some((n) => n.kind === 'final')) parts.push('a final answer');
  if (streaming > 0) parts.push(`${streaming} streaming now`);
  return `Message flow: ${parts.join(', ')}`;
}

/** A node's label for people: "Agent 2 · round 3 revision", "vote", "final answer". */
export function nodeLabel(g: FlowGraph, id: string): string {
  const n = nodeById(g, id);
  if (!n) return id;
  if (n.kind === 'vote') return `vote (round ${n.round})`;
  if (n.kind === 'final') return 'final answer';
  const sample = /\.s(\d+)/.exec(n.id)?.[1];
  const name = g.agentNames[n.agent] ?? n.agent;
  return `${name}, round ${n.round} ${n.purpose}${sample !== undefined && sample !== '0' ? ` (sample ${Number(sample) + 1})` : ''}`;
}
