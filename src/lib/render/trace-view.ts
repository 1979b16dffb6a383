/**
 * Folds the TraceEvent stream (src/lib/trace.ts) into a view model the playground draws: one lane
 * per agent, sections per round, decisions (votes, routes, scores, errors) where they happened, the
 * final answer and the totals. It knows nothing about which strategy produced the events — that is
 * the point: adding a method never touches the UI.
 *
 * `applyEvent` mutates the view in place so that, in the page, the view can be a Svelte `$state`
 * proxy and each token updates only the text it touches; in Node it is a plain object (tested alone).
 */
import type { AgentInfo, StepEvent, TraceEvent } from '../trace.ts';
import type { ChatMessage, FinishReason, TopLogprob, Usage } from '../engines/engine.ts';

export interface TokenView {
  text: string;
  logprob?: number;
  top?: TopLogprob[];
}

export interface MessageView {
  msgId: string;
  agent: string;
  round: number;
  purpose: string;
  prompt: ChatMessage[];
  tokens: TokenView[];
  text: string;
  /**
   * queued: sent, no token yet (waiting in a shared model's queue, or reading its prompt);
   * streaming: tokens arriving; done.
   */
  status: 'queued' | 'streaming' | 'done';
  finish?: FinishReason;
  usage?: Usage;
  meanProb?: number;
  startedAt: number;
  endedAt?: number;
}

type DecisionEvent = Extract<TraceEvent, { type: 'vote' | 'route' | 'score' | 'error' | 'curve' }>;

/** A vote, route, score, error or cost–quality curve event as the view keeps it: the event's own fields, tagged by `kind`. */
export type DecisionView = { [K in DecisionEvent['type']]: Omit<Extract<DecisionEvent, { type: K }>, 'type'> & { kind: K } }[DecisionEvent['type']];

function decisionOf(ev: DecisionEvent): DecisionView {
  const { type, ...fields } = ev;
  return { kind: type, ...fields } as DecisionView;
}

export interface SectionView {
  round: number;
  label: string;
  /** Message ids per agent id, in arrival order; agents without messages in this section are absent. */
  lanes: Record<string, string[]>;
  decisions: DecisionView[];
}

export type RunStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface TraceView {
  runId: string | null;
  strategy: string | null;
  agents: AgentInfo[];
  knobs: Record<string, number | string | boolean>;
  seed: number | null;
  prompt: string;
  status: RunStatus;
  statusMessage?: string;
  sections: SectionView[];
  messages: Record<string, MessageView>;
  /** `abstained`: no answer could be read from the chosen text (the extracted answer is ""). */
  final: { answer: string; text: string; agent?: string; abstained: boolean } | null;
  usage: { prompt_tokens: number; completion_tokens: number; seconds: number; calls: number } | null;
  /** Time of the latest event (ms since run start). */
  t: number;
  eventCount: number;
  /** Token- and logit-level methods: one row per generated token (the per-token view). */
  steps: Omit<StepEvent, 'type'>[];
}

export function emptyTraceView(): TraceView {
  return {
    runId: null, strategy: null, agents: [], knobs: {}, seed: null, prompt: '', status: 'idle',
    sections: [], messages: {}, final: null, usage: null, t: 0, eventCount: 0, steps: [],
  };
}

// Objects are always read back from the view after being inserted: in the page the view is a
// Svelte $state proxy, and only mutations made through the proxy are seen by the UI.
function sectionFor(view: TraceView, round: number, label?: string): SectionView {
  const found = view.sections.find((x) => x.round === round);
  if (found) {
    if (label) found.label = label;
    return found;
  }
  const fresh: SectionView = { round, label: label ?? (round === 0 ? 'Start' : `Round ${round}`), lanes: {}, decisions: [] };
  // Keep sections in round order even if a strategy announces rounds out of order.
  const at = view.sections.findIndex((x) => x.round > round);
  if (at < 0) view.sections.push(fresh);
  else view.sections.splice(at, 0, fresh);
  return view.sections.find((x) => x.round === round) as SectionView;
}

/** Decisions without a round number belong to the section that was active when they happened. */
function currentSection(view: TraceView): SectionView {
  return view.sections[view.sections.length - 1] ?? sectionFor(view, 0);
}

/** Applies one event to the view (in place) and returns it. */
export function applyEvent(view: TraceView, ev: TraceEvent): TraceView {
  view.t = Math.max(view.t, ev.t);
  view.eventCount++;
  switch (ev.type) {
    case 'run-start':
      Object.assign(view, emptyTraceView(), {
        runId: ev.runId, strategy: ev.strategy, agents: ev.agents, knobs: ev.knobs, seed: ev.seed, prompt: ev.prompt,
        status: 'running' as const, t: ev.t, eventCount: 1,
      });
      break;
    case 'round':
      sectionFor(view, ev.round, ev.label);
      break;
    case 'message-start': {
      const s = sectionFor(view, ev.round);
      if (!s.lanes[ev.agent]) s.lanes[ev.agent] = [];
      s.lanes[ev.agent]?.push(ev.msgId);
      view.messages[ev.msgId] = {
        msgId: ev.msgId, agent: ev.agent, round: ev.round, purpose: ev.purpose, prompt: ev.messages,
        tokens: [], text: '', status: 'queued', startedAt: ev.t,
      };
      break;
    }
    case 'token': {
      const m = view.messages[ev.msgId];
      if (!m) break;
      const tok: TokenView = { text: ev.text };
      if (ev.logprob !== undefined) tok.logprob = ev.logprob;
      if (ev.top) tok.top = ev.top;
      m.tokens.push(tok);
      m.text += ev.text;
      m.status = 'streaming';
      break;
    }
    case 'message-end': {
      const m = view.messages[ev.msgId];
      if (!m) break;
      m.status = 'done';
      // The final text is authoritative (a strategy may trim a stop sequence the tokens included).
      m.text = ev.text;
      m.finish = ev.finish_reason;
      m.usage = ev.usage;
      if (ev.meanProb !== undefined) m.meanProb = ev.meanProb;
      m.endedAt = ev.t;
      break;
    }
    case 'vote':
      sectionFor(view, ev.round).decisions.push(decisionOf(ev));
      break;
    case 'route':
    case 'score':
    case 'error':
    case 'curve':
      currentSection(view).decisions.push(decisionOf(ev));
      break;
    case 'final':
      view.final = { answer: ev.answer, text: ev.text, abstained: ev.answer.trim() === '', ...(ev.agent !== undefined && { agent: ev.agent }) };
      break;
    case 'usage':
      view.usage = { prompt_tokens: ev.prompt_tokens, completion_tokens: ev.completion_tokens, seconds: ev.seconds, calls: ev.calls };
      break;
    case 'step': {
      const { type: _type, ...row } = ev;
      view.steps.push(row);
      break;
    }
    case 'run-end':
      view.status = ev.status;
      if (ev.message !== undefined) view.statusMessage = ev.message;
      // A message cut by cancel or error never got its end event; mark it so the UI stops its spinner.
      for (const m of Object.values(view.messages)) if (m.status !== 'done') { m.status = 'done'; m.finish = 'abort'; }
      break;
  }
  return view;
}

/** Display name of an agent id, falling back to the id itself. */
export function agentName(view: TraceView, id: string | null | undefined): string {
  if (!id) return '—';
  return view.agents.find((a) => a.id === id)?.name ?? id;
}

/**
 * What a route decision reads as: "defer Agent 1 → Agent 2" when the question moves on, "accept
 * Agent 2" when an agent's own answer is taken (a cascade's route event then has from = to, and
 * "accept Agent 2 → Agent 2" would suggest a hand-over that did not happen), "route → Agent 3" for
 * up-front routing.
 */
export function routeSummary(view: TraceView, d: { decision: string; from: string | null; to: string }): string {
  if (d.from === null) return `${d.decision} → ${agentName(view, d.to)}`;
  if (d.from === d.to) return `${d.decision} ${agentName(view, d.from)}`;
  return `${d.decision} ${agentName(view, d.from)} → ${agentName(view, d.to)}`;
}

/** Probability (0–1) of a token from its natural-log probability. */
export function tokenProb(logprob: number): number {
  return Math.exp(logprob);
}

/** Tooltip text for one token: its probability and the alternatives the model considered. */
export function tokenTitle(tok: TokenView): string {
  if (tok.logprob === undefined) return '';
  const lines = [`p = ${(tokenProb(tok.logprob) * 100).toFixed(1)}%`];
  for (const alt of tok.top ?? []) lines.push(`${JSON.stringify(alt.token)}  ${(tokenProb(alt.logprob) * 100).toFixed(1)}%`);
  return lines.join('\n');
}

/** A router's scores as table rows: each agent's name and score, the chosen one marked. */
export function routeScoreRows(view: TraceView, d: { to: string; scores?: Array<{ agent: string; score: number }> }): Array<{ agent: string; name: string; score: string; chosen: boolean }> {
  return (d.scores ?? []).map((s) => ({
    agent: s.agent,
    name: agentName(view, s.agent),
    // Log scores run to −40 and beyond; probabilities and similarities live in 0–1.
    score: Math.abs(s.score) >= 10 ? s.score.toFixed(1) : s.score.toFixed(3),
    chosen: s.agent === d.to,
  }));
}
