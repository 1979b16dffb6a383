/**
 * The one event stream of Chorus. A strategy run yields TraceEvents; the playground draws them,
 * the experiment runner scores them, export writes them, tests assert on them. Nothing is logged
 * twice in two formats. Events are plain JSON (they cross worker boundaries and go to IndexedDB).
 *
 * `t` is milliseconds since the run started.
 */
import type { ChatMessage, FinishReason, TopLogprob, Usage } from './engines/engine.ts';

export interface AgentInfo {
  /** Stable id within the run, e.g. "a1". */
  id: string;
  /** What the UI shows, e.g. "Agent 1 · stories260K". */
  name: string;
  model: string;
  temperature: number;
  system?: string;
}

export interface Ballot {
  agent: string;
  /** The answer as extracted and normalised; what is counted. */
  answer: string;
  /** The raw text the answer was extracted from. */
  raw?: string;
}

/** One setting of a cascade's thresholds and what it gives on the items it was computed on. */
export interface CurvePoint {
  /** The threshold (the same for every tier), or a label such as "fitted" for per-model thresholds. */
  threshold: number | string;
  /** Mean score of the accepted answers (0–1). */
  accuracy: number;
  /** Mean model calls per query. */
  calls: number;
}

export interface TallyEntry {
  answer: string;
  count: number;
  agents: string[];
}

export type TraceEvent =
  | {
      type: 'run-start';
      t: number;
      runId: string;
      strategy: string;
      agents: AgentInfo[];
      knobs: Record<string, number | string | boolean>;
      seed: number;
      prompt: string;
    }
  /** A new stage: a debate round, a cascade tier, a judging step. */
  | { type: 'round'; t: number; round: number; label: string }
  | {
      type: 'message-start';
      t: number;
      msgId: string;
      agent: string;
      round: number;
      /** What this message is for in the method: "answer", "revision", "judge", … */
      purpose: string;
      /** The exact conversation sent to the model. */
      messages: ChatMessage[];
      /** msgIds of earlier messages whose text this prompt shows (who sees what; the flow drawing's edges). */
      sees?: string[];
    }
  | {
      type: 'token';
      t: number;
      msgId: string;
      text: string;
      /** Log-probability of the chosen token(s) of this delta, when the engine reports it. */
      logprob?: number;
      top?: TopLogprob[];
    }
  | {
      type: 'message-end';
      t: number;
      msgId: string;
      agent: string;
      text: string;
      finish_reason: FinishReason;
      usage: Usage;
      /** Mean probability of the generated tokens (exp of logprobs), when available. */
      meanProb?: number;
    }
  | {
      type: 'vote';
      t: number;
      round: number;
      ballots: Ballot[];
      tally: TallyEntry[];
      winner: string;
      /** The tie-break rule applied, stated in words ("earliest first vote among tied answers"). */
      rule: string;
      tie: boolean;
    }
  | {
      type: 'route';
      t: number;
      /** Agent whose answer was judged (cascade) or null for up-front routing. */
      from: string | null;
      to: string;
      decision: 'accept' | 'defer' | 'route';
      reason: string;
      confidence?: number;
      threshold?: number;
      /**
       * A router's score for every agent it chose among, in setup order (what the choice was made
       * on: a classifier's log score or probability, a graph's similarity-weighted vote, the router
       * model's probability of naming the agent). `scoreLabel` says which.
       */
      scores?: Array<{ agent: string; score: number }>;
      scoreLabel?: string;
    }
  /**
   * A cost–quality curve (a cascade's accuracy against model calls per query as its threshold
   * moves), computed from dev results before the run; `chosen` is the point the run uses.
   */
  | {
      type: 'curve';
      t: number;
      title: string;
      /** Where the points come from, in words ("28 dev items; each tier's own dev answers"). */
      source: string;
      points: CurvePoint[];
      chosen?: CurvePoint;
    }
  | { type: 'score'; t: number; target: string; metric: string; value: number; detail?: string }
  | { type: 'error'; t: number; message: string; agent?: string; fatal: boolean }
  | {
      type: 'final';
      t: number;
      /** The extracted answer (what is scored). */
      answer: string;
      /** The full text shown as the collaboration's output. */
      text: string;
      /** Agent whose output was chosen, when one was. */
      agent?: string;
    }
  | {
      type: 'usage';
      t: number;
      prompt_tokens: number;
      completion_tokens: number;
      seconds: number;
      calls: number;
    }
  | { type: 'run-end'; t: number; status: 'done' | 'cancelled' | 'error'; message?: string }
  /** One generated token of a token- or logit-level method: the per-token view's row. */
  | StepEvent;

/** A candidate token in the per-token view: its id, its text and its probability (0–1). */
export interface StepCandidate {
  id: number;
  text: string;
  p: number;
}

export interface StepEvent {
  type: 'step';
  t: number;
  /** 0-based position of the token in the answer. */
  index: number;
  token: { id: number; text: string };
  /** The agent that wrote the token. */
  by: string;
  /** Why that agent wrote it, in words ("Agent 1's top probability 0.31 < γ 0.4: the nudging model writes"). */
  reason: string;
  /** Each model consulted for this token: its top candidates (most probable first). */
  models: Array<{ agent: string; top: StepCandidate[]; exactness: 'full' | 'top-k'; note?: string }>;
  /** The combined distribution or score the token was chosen from (logit methods), best first. */
  combined?: { label: string; top: Array<{ id: number; text: string; value: number }> };
  /** Draft tokens rejected at this position (speculative decoding): the target wrote this token instead. */
  rejected?: Array<{ id: number; text: string }>;
}

export type TraceEventType = TraceEvent['type'];
