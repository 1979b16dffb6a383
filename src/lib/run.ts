/**
 * runStrategy: runs one strategy and frames its trace so every consumer (playground, experiment
 * runner, export, tests) gets the same shape:
 *
 *   run-start → [warnings as non-fatal error events] → the strategy's events → usage → run-end
 *
 * - Checks the request first (method exists, agent count and logprob needs, prompt, seed, max
 *   tokens, and that every agent's prompt plus max tokens fits its engine's context: budget.ts); a bad request ends as run-end 'error' with a message saying what to change. Knob
 *   values are resolved against the method's declared knobs (defaults filled, out-of-range values
 *   clamped — each fix reported as a non-fatal error event); run-start carries the knobs used.
 * - Cancel: `signal` reaches every engine call, which ends its stream promptly with finish
 *   'abort'. runStrategy waits at most `cancelGraceMs` after the abort for the strategy to wind
 *   down; messages still open then are closed here (message-end, finish 'abort', the text so far).
 *   The run ends with run-end 'cancelled'.
 * - A strategy that throws ends the run with a fatal error event and run-end 'error'; nothing is
 *   thrown to the caller. A strategy that finishes without a `final` event is an error too.
 * - `usage` totals every message-end of the run: prompt and completion tokens, calls, wall seconds;
 *   a method that steps models token by token reports its steps in a `usage` event of its own,
 *   which is added to the totals instead of being passed on.
 *
 * Usage (page or Node):
 *   const agents = agentsFromSetup(setup.agents, (model) => registry.engineFor(model)!);
 *   for await (const e of runStrategy({ strategy: setup.method, agents, prompt: setup.prompt,
 *     knobs: setup.knobs, seed: setup.seed, maxTokens: setup.maxTokens, signal })) draw(e);
 */
import type { Engine } from './engines/engine.ts';
import type { AgentInfo, TraceEvent } from './trace.ts';
import type { Agent, KnobValue, Strategy, StrategyContext } from './strategies/types.ts';
import { getStrategy, strategyIds } from './strategies/registry.ts';
import { resolveKnobs } from './strategies/knobs.ts';
import { fitProblem } from './strategies/budget.ts';
import { firstMessages } from './strategies/common.ts';

export interface RunRequest {
  /** A strategy id from the registry, or a strategy object. */
  strategy: string | Strategy;
  prompt: string;
  agents: Agent[];
  knobs?: Record<string, unknown>;
  /** Integer 0 … 2^31−1; each call's seed is derived from it (src/lib/strategies/seeds.ts). */
  seed: number;
  maxTokens: number;
  signal?: AbortSignal;
  runId?: string;
  /** How long to wait after an abort for the strategy to end on its own (ms). Default 250. */
  cancelGraceMs?: number;
  /** What the method's `fit` learned on a dev split (the experiment runner passes it). */
  fitted?: unknown;
}

export const MAX_SEED = 2 ** 31 - 1;

/** The agent list of a setup bound to engines: ids a1, a2, …; names "Agent 1 · <model>". */
export function agentsFromSetup(
  agents: readonly { model: string; system?: string; temperature: number }[],
  engineFor: (model: string) => Engine,
): Agent[] {
  return agents.map((a, i) => {
    const agent: Agent = { id: `a${i + 1}`, name: `Agent ${i + 1} · ${a.model}`, model: a.model, engine: engineFor(a.model), temperature: a.temperature };
    if (a.system !== undefined && a.system !== '') agent.system = a.system;
    return agent;
  });
}

function agentInfo(a: Agent): AgentInfo {
  const info: AgentInfo = { id: a.id, name: a.name, model: a.model, temperature: a.temperature };
  if (a.system !== undefined) info.system = a.system;
  return info;
}

function newRunId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  return `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

/** Problems with the request that stop the run before any call; each names what to change. */
function checkRequest(strategy: Strategy, req: RunRequest): string[] {
  const problems: string[] = [];
  const { needs, name } = strategy.meta;
  const n = req.agents.length;
  // A weight-level method with its searched merge answers with that one merged model
  // (src/lib/strategies/weight.ts); its minimum counts the models merged, which the search checked.
  const least = strategy.meta.level === 'weight' && req.fitted !== undefined ? 1 : needs.minAgents;
  if (n < least) problems.push(`${name} needs at least ${least} agent(s) and the setup has ${n}: add agents`);
  if (needs.maxAgents !== undefined && n > needs.maxAgents) problems.push(`${name} takes at most ${needs.maxAgents} agent(s) and the setup has ${n}: remove agents`);
  if (needs.logprobs) {
    for (const a of req.agents) {
      if (!a.engine.info.supportsLogprobs) {
        problems.push(`${name} needs token probabilities, and ${a.name} runs on an engine that does not report them (${a.engine.info.kind}): choose another model for it`);
      }
    }
  }
  if (req.prompt.trim() === '') problems.push('the prompt is empty: type a prompt');
  if (!Number.isInteger(req.seed) || req.seed < 0 || req.seed > MAX_SEED) problems.push(`the seed must be a whole number from 0 to ${MAX_SEED} (got ${req.seed})`);
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) problems.push(`max tokens must be a whole number ≥ 1 (got ${req.maxTokens})`);
  else {
    // Every agent's first conversation must fit its engine's context (src/lib/strategies/budget.ts);
    // one message per model and text, not one per agent.
    const seen = new Set<string>();
    for (const a of req.agents) {
      const what = a.system ? `${a.name}'s system prompt and the prompt` : 'the prompt';
      const p = fitProblem(firstMessages(a, req.prompt), req.maxTokens, a.engine.info.contextLength, a.engine.info.model, what, ['shorten the prompt or system prompt']);
      if (p !== null && !seen.has(p)) problems.push(p);
      if (p !== null) seen.add(p);
    }
  }
  return problems;
}

type Step = { kind: 'event'; result: IteratorResult<TraceEvent, void> } | { kind: 'error'; error: unknown } | { kind: 'cancel' };

export async function* runStrategy(req: RunRequest): AsyncGenerator<TraceEvent, void> {
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 10) / 10;
  const signal = req.signal ?? new AbortController().signal;
  const runId = req.runId ?? newRunId();
  let strategy: Strategy | undefined;
  let lookupError: string | undefined;
  try {
    strategy = typeof req.strategy === 'string' ? getStrategy(req.strategy) : req.strategy;
  } catch (e) {
    lookupError = e instanceof Error ? e.message : String(e);
  }
  const resolved = strategy ? resolveKnobs(strategy.meta, req.knobs ?? {}) : { knobs: {} as Record<string, KnobValue>, warnings: [] };
  yield {
    type: 'run-start',
    t: now(),
    runId,
    strategy: strategy?.meta.id ?? String(req.strategy),
    agents: req.agents.map(agentInfo),
    knobs: resolved.knobs,
    seed: req.seed,
    prompt: req.prompt,
  };

  let promptTokens = 0;
  let completionTokens = 0;
  let calls = 0;
  const totals = (): TraceEvent => ({
    type: 'usage',
    t: now(),
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    seconds: Math.round(now()) / 1000,
    calls,
  });

  const problems = strategy ? checkRequest(strategy, req) : [lookupError ?? `unknown method; choose one of ${strategyIds.join(', ')}`];
  if (!strategy || problems.length > 0) {
    const message = problems.join('; ');
    yield { type: 'error', t: now(), message, fatal: true };
    yield totals();
    yield { type: 'run-end', t: now(), status: 'error', message };
    return;
  }
  for (const w of resolved.warnings) yield { type: 'error', t: now(), message: `warning: ${w}`, fatal: false };
  if (signal.aborted) {
    yield totals();
    yield { type: 'run-end', t: now(), status: 'cancelled' };
    return;
  }

  const ctx: StrategyContext = {
    runId,
    prompt: req.prompt,
    agents: req.agents,
    knobs: resolved.knobs,
    seed: req.seed,
    maxTokens: req.maxTokens,
    signal,
    now,
    ...(req.fitted !== undefined ? { fitted: req.fitted } : {}),
  };

  // The cancel timer: resolves `cancelGraceMs` after the abort, so a strategy whose engine is slow
  // to stop cannot hold the run open.
  const grace = req.cancelGraceMs ?? 250;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<Step>((resolve) => {
    onAbort = () => {
      graceTimer = setTimeout(() => resolve({ kind: 'cancel' }), grace);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });

  const open = new Map<string, { agent: string; text: string; tokens: number }>();
  let sawFinal = false;
  let end: { status: 'done' | 'cancelled' | 'error'; message?: string } | undefined;
  const it = strategy.run(ctx)[Symbol.asyncIterator]();
  try {
    while (!end) {
      const next = it.next().then(
        (result): Step => ({ kind: 'event', result }),
        (error: unknown): Step => ({ kind: 'error', error }),
      );
      const step = await Promise.race([next, cancelled]);
      if (step.kind === 'cancel') {
        // The strategy did not wind down in time; its pending call is left to finish on its own.
        for (const [msgId, m] of open) {
          yield {
            type: 'message-end',
            t: now(),
            msgId,
            agent: m.agent,
            text: m.text,
            finish_reason: 'abort',
            usage: { prompt_tokens: 0, completion_tokens: m.tokens, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 },
          };
          calls += 1;
          completionTokens += m.tokens;
        }
        open.clear();
        end = { status: 'cancelled' };
      } else if (step.kind === 'error') {
        if (signal.aborted) end = { status: 'cancelled' };
        else {
          const message = step.error instanceof Error ? step.error.message : String(step.error);
          yield { type: 'error', t: now(), message, fatal: true };
          end = { status: 'error', message };
        }
      } else if (step.result.done) {
        if (signal.aborted) end = { status: 'cancelled' };
        else if (!sawFinal) {
          const message = `${strategy.meta.name} ended without a final answer (internal error in the method)`;
          yield { type: 'error', t: now(), message, fatal: true };
          end = { status: 'error', message };
        } else end = { status: 'done' };
      } else {
        const e = step.result.value;
        if (e.type === 'message-start') open.set(e.msgId, { agent: e.agent, text: '', tokens: 0 });
        else if (e.type === 'token') {
          const m = open.get(e.msgId);
          if (m) {
            m.text += e.text;
            m.tokens += 1;
          }
        } else if (e.type === 'message-end') {
          open.delete(e.msgId);
          calls += 1;
          promptTokens += e.usage.prompt_tokens;
          completionTokens += e.usage.completion_tokens;
        } else if (e.type === 'final') sawFinal = true;
        // Token-level methods make no message calls: they report their steps as a usage event,
        // added to the run's totals (yielded once, below).
        if (e.type === 'usage') {
          calls += e.calls;
          promptTokens += e.prompt_tokens;
          completionTokens += e.completion_tokens;
          continue;
        }
        yield e;
      }
    }
  } finally {
    // Ended early (cancel past the grace time, or the consumer stopped reading): let the strategy's
    // own finally blocks run when it next reaches a yield.
    if (end?.status !== 'done') void it.return?.(undefined).catch(() => undefined);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  yield totals();
  yield end.message === undefined ? { type: 'run-end', t: now(), status: end.status } : { type: 'run-end', t: now(), status: end.status, message: end.message };
}

/** Runs to the end and returns every event (tests, CLI, experiment runner). */
export async function collectRun(req: RunRequest): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  for await (const e of runStrategy(req)) events.push(e);
  return events;
}
