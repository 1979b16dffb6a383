/**
 * The playground setup and its one declarative schema (name, URL key, type, default, range). The
 * URL codec (url.ts) and the UI both read this table; method knobs come from each strategy's
 * `meta.knobs`, which are declared the same way. Pure; no DOM.
 */
import type { KnobValue } from '../strategies/types.ts';
import { getStrategy, strategyIds } from '../strategies/registry.ts';
import { defaultKnobs } from '../strategies/knobs.ts';
import { MAX_SEED } from '../run.ts';

export interface AgentSetup {
  /** Model id in the model registry; "" = not chosen yet. */
  model: string;
  /** "" = none. */
  system: string;
  temperature: number;
}

export interface Setup {
  agents: AgentSetup[];
  /** Strategy id (src/lib/strategies/registry.ts). */
  method: string;
  /** The method's knobs, every declared one present. */
  knobs: Record<string, KnobValue>;
  prompt: string;
  seed: number;
  maxTokens: number;
  /**
   * The data-set item the prompt came from ("arithmetic-dev-1": task, split, index), so the
   * playground can show its reference answer and score the final answer; absent for a typed prompt.
   */
  item?: string;
}

/** URL key of the data-set item, and the shape of an item id: <task>-<split>-<index>. */
export const ITEM_KEY = 'i';
export const ITEM_ID = /^([a-z0-9-]+)-(train|dev|test)-(\d+)$/;

export type Field =
  | { name: string; key: string; label: string; type: 'integer' | 'number'; default: number; min: number; max: number; step: number }
  | { name: string; key: string; label: string; type: 'string'; default: string; maxLength: number }
  | { name: string; key: string; label: string; type: 'enum'; default: string; options: () => readonly string[] };

export const DEFAULT_PROMPT = 'Once upon a time, there was a little cat. What did the cat like?';

/** Top-level fields, in URL order. */
export const SETUP_FIELDS = {
  method: { name: 'method', key: 'm', label: 'Method', type: 'enum', default: 'vote', options: () => strategyIds },
  seed: { name: 'seed', key: 's', label: 'Seed', type: 'integer', default: 42, min: 0, max: MAX_SEED, step: 1 },
  maxTokens: { name: 'maxTokens', key: 'n', label: 'Max tokens', type: 'integer', default: 48, min: 1, max: 4096, step: 1 },
  prompt: { name: 'prompt', key: 'p', label: 'Prompt', type: 'string', default: DEFAULT_PROMPT, maxLength: 20_000 },
} satisfies Record<string, Field>;

/** Per-agent fields. In the URL each agent is `a=<model>@<temperature>`, its system prompt `sys<N>=` (N from 1). */
export const AGENT_FIELDS = {
  model: { name: 'model', key: 'a', label: 'Model', type: 'string', default: '', maxLength: 300 },
  temperature: { name: 'temperature', key: 't', label: 'Temperature', type: 'number', default: 0.7, min: 0, max: 2, step: 0.05 },
  system: { name: 'system', key: 'sys', label: 'System prompt', type: 'string', default: '', maxLength: 4_000 },
} satisfies Record<string, Field>;

export const MIN_AGENTS = 1;
export const MAX_AGENTS = 8;
/** How many agents a fresh setup has: three, so vote and debate work out of the box. */
export const DEFAULT_AGENT_COUNT = 3;

export function defaultAgent(model = AGENT_FIELDS.model.default): AgentSetup {
  return { model, system: AGENT_FIELDS.system.default, temperature: AGENT_FIELDS.temperature.default };
}

/** A fresh setup: the default method with its default knobs; `model` fills every agent's model. */
export function defaultSetup(model = ''): Setup {
  const method = SETUP_FIELDS.method.default;
  return {
    agents: Array.from({ length: DEFAULT_AGENT_COUNT }, () => defaultAgent(model)),
    method,
    knobs: defaultKnobs(getStrategy(method).meta),
    prompt: SETUP_FIELDS.prompt.default,
    seed: SETUP_FIELDS.seed.default,
    maxTokens: SETUP_FIELDS.maxTokens.default,
  };
}

/**
 * Switches method keeping the knobs both methods share (same id, still valid), the rest at their
 * defaults: what the UI calls when the method picker changes.
 */
export function withMethod(setup: Setup, method: string): Setup {
  const meta = getStrategy(method).meta;
  const knobs = defaultKnobs(meta);
  for (const k of meta.knobs) {
    const old = setup.knobs[k.id];
    if (old !== undefined && typeof old === typeof k.default) {
      if (k.type === 'select' && !k.options.some((o) => o.value === old)) continue;
      if ((k.type === 'number' || k.type === 'integer') && (typeof old !== 'number' || old < k.min || old > k.max)) continue;
      knobs[k.id] = old;
    }
  }
  return { ...setup, method, knobs };
}
