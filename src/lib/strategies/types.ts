/**
 * A strategy is one file: metadata plus `run(ctx)` yielding TraceEvents. It depends only on the
 * Engine interface and this file; it never touches the UI. Adding a method never touches the UI:
 * the playground draws knobs from `meta.knobs` and the run from the trace.
 */
import type { Engine } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';

/** MoCo's four levels of collaboration, with token-level methods (models take turns writing tokens) apart from logit-level ones. */
export type MocoLevel = 'api' | 'text' | 'token' | 'logit' | 'weight';

export type KnobValue = number | string | boolean;

export type Knob =
  | { id: string; label: string; help: string; type: 'number' | 'integer'; default: number; min: number; max: number; step: number }
  | { id: string; label: string; help: string; type: 'boolean'; default: boolean }
  | { id: string; label: string; help: string; type: 'select'; default: string; options: { value: string; label: string }[] }
  /** Free text (structured interaction's custom adjacency matrix); the strategy validates it when it runs. */
  | { id: string; label: string; help: string; type: 'text'; default: string; maxLength: number };

/**
 * What a run costs, before it starts (shown in the playground and on the methods page): model calls
 * as a function of the number of agents N and the knobs, and the same in words.
 */
export interface CostModel {
  /** E.g. "N × R calls; each revision shows N − 1 answers". N = agents, knob ids as letters named in `where`. */
  formula: string;
  /** Model calls for `n` agents with these knobs (defaults filled in); per generated token when `perToken`. */
  calls(n: number, knobs: Record<string, KnobValue>): number;
  /** Token- and logit-level methods: `calls` counts steps (one-token calls) per generated token. */
  perToken?: boolean;
  /**
   * Upper bound on tokens for `n` agents: generated tokens (calls × max tokens) and prompt tokens
   * given the prompt's length in tokens (`promptTokens`), counting the answers each prompt shows.
   */
  tokens?(n: number, knobs: Record<string, KnobValue>, maxTokens: number, promptTokens: number): { prompt: number; completion: number };
}

export interface StrategyMeta {
  id: string;
  name: string;
  level: MocoLevel;
  /** One or two sentences a learner can read. */
  description: string;
  paper: { title: string; url: string; year?: number };
  knobs: Knob[];
  needs: { minAgents: number; maxAgents?: number; logprobs?: boolean; judge?: boolean; dev?: boolean };
  /** Model calls and tokens as a function of N and the knobs (issue 13: every method states it). */
  cost?: CostModel;
}

export interface Agent {
  id: string;
  name: string;
  /** The model id (agents with the same model share one engine). */
  model: string;
  engine: Engine;
  system?: string;
  temperature: number;
  /** What the model is good at, in a sentence (a built-in's model card); the prompt router shows it. */
  description?: string;
}

export interface StrategyContext {
  runId: string;
  prompt: string;
  agents: Agent[];
  knobs: Record<string, KnobValue>;
  seed: number;
  maxTokens: number;
  signal: AbortSignal;
  /** Milliseconds since the run started; strategies stamp events with it. */
  now(): number;
  /** What the method's `fit` learned on a dev split (experiments only; absent in the playground). */
  fitted?: unknown;
}

/**
 * What a dev split says about a setup's agents, for methods that fit something on dev (MoCo uses
 * the dev split this way: best member as judge, thresholds and router weights fitted on dev, never
 * on test). Each agent's model answered every dev item alone, greedily (the `single` method).
 */
export interface DevEvidence {
  /** Mean dev score of each agent, in setup order. */
  agentScores: number[];
  /** Per dev item: its prompt, its group (task of a mixed set), and each agent's score and confidence. */
  items: Array<{ prompt: string; group: string; scores: number[]; confidences: Array<number | undefined> }>;
}

export interface Fitted {
  /** Knob values chosen on dev (they override the defaults, never a value the user set). */
  knobs?: Record<string, KnobValue>;
  /** Anything else the method's run needs (a trained router); passed as `ctx.fitted`. */
  state?: unknown;
  /** One line saying what was fitted, for the results file ("threshold 0.42 = median of …"). */
  note: string;
}

/**
 * What a method's search on the dev split gets (`Strategy.search`): unlike `fit`, a search runs
 * the method itself on dev items. `evaluate(state)` runs the method with `ctx.fitted = state` on
 * the dev items and resolves to the mean dev score (the caller caches calls like any other, so a
 * resumed search costs nothing twice); `progress` is told each iteration's scores so a plot can
 * follow the search. Deterministic for a given seed; stops with an AbortError when `signal` aborts.
 */
export interface SearchContext {
  agents: number;
  knobs: Record<string, KnobValue>;
  seed: number;
  signal: AbortSignal;
  /** What the member cells said on dev (the same evidence `fit` gets). */
  dev: DevEvidence;
  /**
   * `onItem`, when given, gets each dev item's trace with its index in `dev.items` (a cascade reads
   * the confidences its tiers stated on dev from it).
   */
  evaluate(state: unknown, onItem?: (index: number, trace: readonly TraceEvent[]) => void): Promise<number>;
  progress(step: SearchStep): void;
}

/** One iteration of a search: each candidate's dev score and the best so far. */
export interface SearchStep {
  iteration: number;
  scores: number[];
  best: number;
  /** The best candidate so far, in words ("a1 → a3, a2 → a3 (end a3)"). */
  bestLabel: string;
  /**
   * The best candidate so far itself (what `evaluate` took). A weight-level search sets it: when the
   * run is cancelled mid-search, the runner saves this merge as the best model so far.
   */
  bestState?: unknown;
}

/**
 * A weight-level candidate: a mergekit-style merge of the cell's agents' models, named by agent
 * index (0 = the first agent). The experiment runner turns it into a merge of the agents' model
 * files (src/lib/merge/recipe.ts), merges it when a call first needs it, and gives the method that
 * merged model as its only agent.
 */
export interface MergeRecipe {
  /** A merge method id of src/lib/merge/methods (linear, dare_ties, expo, task_arithmetic, …). */
  method: string;
  /** The agent whose model is mergekit's base_model, or null. */
  base: number | null;
  /** The other inputs, each with its per-model parameters (weight, density, …). */
  models: { agent: number; parameters: Record<string, number> }[];
  /** Global parameters of the method (normalize, alpha, …). */
  parameters: Record<string, number | boolean>;
  /** mergekit's seed for the random drops of DARE and DELLA (default 0). */
  seed?: number;
}

export interface Strategy {
  meta: StrategyMeta;
  run(ctx: StrategyContext): AsyncIterable<TraceEvent>;
  /**
   * Optional fit step on the dev split, run by the experiment runner (src/lib/eval/runner.ts) before
   * the method's test cells. Pure and deterministic, so a resumed run fits the same thing again.
   */
  fit?(dev: DevEvidence, knobs: Record<string, KnobValue>): Fitted;
  /**
   * Optional search on the dev split that runs the method on dev items (heterogeneous swarms'
   * particle swarm over DAGs); resolves to what `run` then gets as `ctx.fitted` (Fitted.state).
   */
  search?(ctx: SearchContext): Promise<Fitted>;
}
