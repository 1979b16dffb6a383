/**
 * A dry run: a method's real code (its `run`, through runStrategy) driven by a small deterministic
 * scripted Engine instead of a model, so the methods page can draw a method's message flow and
 * count its calls without loading anything — and the drawing can never disagree with the code.
 * The UI says so: "drawn from a dry run with scripted answers — no model is called".
 *
 * The script: every call answers "The answer is 4." word by word; agent 1 (the cheapest, first in
 * a cascade) does so with token probability 0.5 and every other agent with 0.9, so a cascade with
 * the default threshold shows a deferral. A method that fits something on a dev split (`needs.dev`)
 * is fitted first on a scripted dev split of one item that agent 1 solved. Methods that step token
 * by token get a scripted stepper writing the same answer (`DryRunEngine.stepper`).
 */
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine, EngineInfo } from './engines/engine.ts';
import type { Stepper } from './engines/stepper.ts';
import { collectRun } from './run.ts';
import { resolveKnobs } from './strategies/knobs.ts';
import type { Agent, DevEvidence, KnobValue, Strategy } from './strategies/types.ts';
import type { TraceEvent } from './trace.ts';

export const DRY_RUN_PROMPT = 'What is 2 + 2?';
export const DRY_RUN_ANSWER = 'The answer is 4.';
const UNSURE = Math.log(0.5);
const SURE = Math.log(0.9);

/** The scripted engine of a dry run. Deterministic: same request, same caller → same tokens. */
export class DryRunEngine implements Engine {
  readonly info: EngineInfo = { kind: 'wllama', model: 'dry run', backend: 'cpu', detail: 'scripted answers, no model', supportsLogprobs: true };
  calls = 0;

  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    this.calls += 1;
    const logprob = options.caller === 'a1' ? UNSURE : SURE;
    const tokens = DRY_RUN_ANSWER.match(/\S+\s*/g) ?? [];
    const max = request.max_tokens ?? Infinity;
    let n = 0;
    for (const text of tokens) {
      if (n >= max || options.signal?.aborted) break;
      yield request.logprobs ? { type: 'delta', text, logprobs: [{ token: text, logprob, top_logprobs: [{ token: text, logprob }] }] } : { type: 'delta', text };
      n += 1;
    }
    const finish = options.signal?.aborted ? 'abort' : n < tokens.length ? 'length' : 'stop';
    yield { type: 'done', finish_reason: finish, usage: { prompt_tokens: 0, completion_tokens: n, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 } };
  }

  complete(request: CompletionRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
    const { prompt, ...params } = request;
    return this.chat({ ...params, messages: [{ role: 'user', content: prompt }] }, options);
  }

  async unload(): Promise<void> {}

  /**
   * Token- and logit-level methods step instead: a toy vocabulary of the answer's words (0 BOS,
   * 1 EOS, 2 the prompt, then one token per word); each step gives the next word with
   * probability 0.9 (0.05 for the word after it, 0.05 EOS), then EOS. Every step is a call.
   */
  async stepper(): Promise<Stepper> {
    const words = DRY_RUN_ANSWER.match(/\s*\S+/g) ?? [];
    const pieces = ['', '', DRY_RUN_PROMPT, ...words];
    return {
      vocabulary: { size: pieces.length, fingerprint: 'dry-run', bos: 0, eos: [1] },
      tokenize: async (text, o) => [...(o?.addBos ? [0] : []), ...(text ? [2] : [])],
      detokenize: async (ids) => ids.map((i) => pieces[i] ?? '').join(''),
      next: async (prefix) => {
        this.calls += 1;
        const at = prefix.length - 2;
        const id = at < words.length ? 3 + at : 1;
        const other = id === 1 ? 3 : id + 1 < pieces.length ? id + 1 : 1;
        const cands = [{ id, p: 0.9 }, { id: other, p: 0.05 }, ...(other !== 1 && id !== 1 ? [{ id: 1, p: 0.05 }] : [])];
        return { top: cands.map((c) => ({ id: c.id, text: pieces[c.id]!, logprob: Math.log(c.p) })), exactness: 'top-k' };
      },
      close: async () => undefined,
    };
  }
}

/** The agent count a method is shown with: 3, within what the method takes. */
export function dryRunAgentCount(strategy: Strategy, preferred = 3): number {
  const { minAgents, maxAgents } = strategy.meta.needs;
  return Math.min(Math.max(preferred, minAgents), maxAgents ?? Infinity);
}

export interface DryRun {
  events: TraceEvent[];
  /** Model calls the run made. */
  calls: number;
  /** The knobs it ran with (the defaults, plus what a dev fit chose). */
  knobs: Record<string, KnobValue>;
  agents: number;
  /** Why the dry run did not end with a final answer, if it did not. */
  error?: string;
}

/** Runs `strategy` with its default knobs on `n` scripted agents. */
export async function dryRun(strategy: Strategy, n = dryRunAgentCount(strategy)): Promise<DryRun> {
  const engine = new DryRunEngine();
  let agents: Agent[] = Array.from({ length: n }, (_, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'dry run', engine, temperature: 0 }));
  let knobs = resolveKnobs(strategy.meta, {}).knobs;
  let fitted: unknown;
  if (strategy.meta.needs.dev && strategy.fit) {
    const dev: DevEvidence = {
      agentScores: agents.map((_, i) => (i === 0 ? 1 : 0)),
      items: [{ prompt: DRY_RUN_PROMPT, group: 'dry run', scores: agents.map((_, i) => (i === 0 ? 1 : 0)), confidences: agents.map((_, i) => (i === 0 ? 0.5 : 0.9)) }],
    };
    const fit = strategy.fit(dev, knobs);
    knobs = { ...knobs, ...fit.knobs };
    fitted = fit.state;
  }
  if (strategy.meta.level === 'weight') {
    // A weight-level method answers with the merge its dev search found, as one agent (the
    // experiment runner binds it so): here the uniform average of the n models stands for it.
    fitted = { method: 'linear', base: null, models: agents.map((_, i) => ({ agent: i, parameters: { weight: 1 / n } })), parameters: { normalize: false } };
    agents = [{ id: 'a1', name: `Merge of the ${n} models`, model: 'dry run', engine, temperature: 0 }];
  }
  const events = await collectRun({ strategy, agents, prompt: DRY_RUN_PROMPT, knobs, seed: 1, maxTokens: 16, runId: `dry-run-${strategy.meta.id}`, fitted });
  const end = events.find((e): e is Extract<TraceEvent, { type: 'run-end' }> => e.type === 'run-end');
  const run: DryRun = { events, calls: engine.calls, knobs, agents: n };
  if (end && end.status !== 'done') run.error = end.message ?? end.status;
  return run;
}
