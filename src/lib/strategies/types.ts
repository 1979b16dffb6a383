/**
 * A strategy is one file: metadata plus `run(ctx)` yielding TraceEvents. It depends only on the
 * Engine interface and this file; it never touches the UI. Adding a method never touches the UI:
 * the playground draws knobs from `meta.knobs` and the run from the trace.
 */
import type { Engine } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';

/** MoCo's four levels of collaboration. */
export type MocoLevel = 'api' | 'text' | 'logit' | 'weight';

export type KnobValue = number | string | boolean;

export type Knob =
  | { id: string; label: string; help: string; type: 'number' | 'integer'; default: number; min: number; max: number; step: number }
  | { id: string; label: string; help: string; type: 'boolean'; default: boolean }
  | { id: string; label: string; help: string; type: 'select'; default: string; options: { value: string; label: string }[] };

export interface StrategyMeta {
  id: string;
  name: string;
  level: MocoLevel;
  /** One or two sentences a learner can read. */
  description: string;
  paper: { title: string; url: string; year?: number };
  knobs: Knob[];
  needs: { minAgents: number; maxAgents?: number; logprobs?: boolean; judge?: boolean };
}

export interface Agent {
  id: string;
  name: string;
  /** The model id (agents with the same model share one engine). */
  model: string;
  engine: Engine;
  system?: string;
  temperature: number;
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
}

export interface Strategy {
  meta: StrategyMeta;
  run(ctx: StrategyContext): AsyncIterable<TraceEvent>;
}
