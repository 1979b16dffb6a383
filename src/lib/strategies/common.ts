/**
 * What every strategy shares: one engine call turned into trace events (message-start, token…,
 * message-end), several calls issued at once with their events interleaved as they arrive, and
 * knob access. Strategies depend on the Engine interface only.
 */
import type { ChatMessage, FinishReason, TokenLogprob, Usage } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, Knob, KnobValue, StrategyContext, StrategyMeta } from './types.ts';
import { isAnswerType, type AnswerType } from '../answers.ts';
import { callSeed } from './seeds.ts';
import { COMPLETION_STOP, completionPromptOf } from '../engines/prompt.ts';

type TokenEvent = Extract<TraceEvent, { type: 'token' }>;
type MessageEndEvent = Extract<TraceEvent, { type: 'message-end' }>;

/** Alternatives asked for per token when the engine reports logprobs (the UI shows them on hover). */
export const TOP_LOGPROBS = 5;

export interface CallSpec {
  agent: Agent;
  /** 0-based position of the agent in the setup (enters the seed). */
  agentIndex: number;
  /** 1-based stage: debate round, cascade tier, judge step. */
  round: number;
  /** 0-based sample of this agent in this round. */
  sample: number;
  purpose: string;
  messages: ChatMessage[];
  /**
   * The msgIds of earlier messages whose text this prompt shows (a peer's answer, a critique, a
   * card): who sees what. The flow drawing (src/lib/flow.ts) draws its edges from it, and tests of
   * a method's wiring check it. Absent = the prompt shows no other message.
   */
  sees?: string[];
  /**
   * This call's max tokens, when it differs from the run's (`ctx.maxTokens`): a ranker that answers
   * with one letter (LLM-Blender's "A" or "B") or a yes/no relevance check needs only a token or two,
   * so the run's budget would only add time. Absent = the run's max tokens.
   */
  maxTokens?: number;
}

export interface CallResult {
  spec: CallSpec;
  msgId: string;
  text: string;
  logprobs: TokenLogprob[];
  /** exp(mean natural-log probability of the generated tokens): their geometric-mean probability. */
  meanProb?: number;
  finish: FinishReason;
  usage: Usage;
  /** Set when the call failed (the error event was emitted); the text is what came before. */
  error?: string;
}

export const ZERO_USAGE: Usage = {
  prompt_tokens: 0,
  completion_tokens: 0,
  time_to_first_token_ms: 0,
  total_ms: 0,
  tokens_per_second: 0,
};

/** Mean token probability as Chorus defines it: exp of the mean logprob (geometric mean), or undefined for no tokens. */
export function meanTokenProb(logprobs: readonly { logprob: number }[]): number | undefined {
  if (logprobs.length === 0) return undefined;
  let sum = 0;
  for (const lp of logprobs) sum += lp.logprob;
  return Math.exp(sum / logprobs.length);
}

export function msgIdFor(spec: CallSpec): string {
  // "a1.r2.s0" for answers and revisions; other purposes are named ("a2.r3.s0.judge", "a1.r1.s1.critique").
  const named = spec.purpose === 'answer' || spec.purpose === 'revision' ? '' : `.${spec.purpose}`;
  return `${spec.agent.id}.r${spec.round}.s${spec.sample}${named}`;
}

/** The conversation for a first answer: the agent's system prompt (if any), then the user's prompt. */
export function firstMessages(agent: Agent, prompt: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (agent.system && agent.system.trim() !== '') messages.push({ role: 'system', content: agent.system });
  messages.push({ role: 'user', content: prompt });
  return messages;
}

/**
 * Runs one chat call and reports it through `emit`. Never throws: an engine error becomes a
 * non-fatal `error` event and a result with `error` set, so the other agents of a round go on.
 */
export async function runCall(ctx: StrategyContext, spec: CallSpec, emit: (e: TraceEvent) => void): Promise<CallResult> {
  const { agent } = spec;
  const msgId = msgIdFor(spec);
  const wantLogprobs = agent.engine.info.supportsLogprobs;
  emit({
    type: 'message-start',
    t: ctx.now(),
    msgId,
    agent: agent.id,
    round: spec.round,
    purpose: spec.purpose,
    messages: spec.messages,
    ...(spec.sees !== undefined && { sees: spec.sees }),
  });
  let text = '';
  const logprobs: TokenLogprob[] = [];
  let finish: FinishReason | undefined;
  let usage: Usage = ZERO_USAGE;
  let error: string | undefined;
  try {
    const params = {
      temperature: agent.temperature,
      seed: callSeed(ctx.seed, spec.agentIndex, spec.round, spec.sample),
      max_tokens: spec.maxTokens ?? ctx.maxTokens,
      ...(wantLogprobs ? { logprobs: true, top_logprobs: TOP_LOGPROBS } : {}),
    };
    // caller: the engine queues agents sharing one model round-robin (src/lib/engines/queue.ts).
    const options = { signal: ctx.signal, caller: agent.id };
    // A prompt already in the data sets' completion format goes out raw (the rule: prompt.ts).
    const completion = completionPromptOf(spec.messages);
    const stream =
      completion === null
        ? agent.engine.chat({ messages: spec.messages, ...params }, options)
        : agent.engine.complete({ prompt: completion, stop: COMPLETION_STOP, ...params }, options);
    for await (const chunk of stream) {
      if (chunk.type === 'delta') {
        text += chunk.text;
        const lps = chunk.logprobs ?? [];
        logprobs.push(...lps);
        const event: TokenEvent = { type: 'token', t: ctx.now(), msgId, text: chunk.text };
        if (lps.length > 0) {
          event.logprob = lps.reduce((s, lp) => s + lp.logprob, 0);
          if (lps.length === 1 && lps[0] && lps[0].top_logprobs.length > 0) event.top = lps[0].top_logprobs;
        }
        emit(event);
        // The engine changed something for this delta on (fewer alternatives): a warning in the trace.
        if (chunk.note !== undefined) emit({ type: 'error', t: ctx.now(), agent: agent.id, fatal: false, message: chunk.note });
      } else {
        finish = chunk.finish_reason;
        usage = chunk.usage;
        break;
      }
    }
    if (finish === undefined) {
      if (ctx.signal.aborted) finish = 'abort';
      else throw new Error('the engine stream ended without a final "done" chunk');
    }
  } catch (e) {
    finish = 'abort';
    if (!ctx.signal.aborted) {
      error = withoutModelPrefix(e instanceof Error ? e.message : String(e), agent.engine.info.model);
      // The event names the agent (`agent`), and the agent's name names its model: the message
      // carries neither again, so the trace reads "Warning (Agent 1 · m): generation failed …".
      emit({ type: 'error', t: ctx.now(), agent: agent.id, fatal: false, message: error });
    }
  }
  const meanProb = meanTokenProb(logprobs);
  const end: MessageEndEvent = { type: 'message-end', t: ctx.now(), msgId, agent: agent.id, text, finish_reason: finish, usage };
  if (meanProb !== undefined) end.meanProb = meanProb;
  emit(end);
  const result: CallResult = { spec, msgId, text, logprobs, finish, usage };
  if (meanProb !== undefined) result.meanProb = meanProb;
  if (error !== undefined) result.error = error;
  return result;
}

/** An engine error without the "<model>: " its engine puts first (the agent's name already says it). */
export function withoutModelPrefix(message: string, model: string): string {
  const prefix = `${model}: `;
  return model !== '' && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/**
 * Issues every call at once (the engine queues calls to a shared model fairly) and yields their
 * events in arrival order; returns the results in `specs` order. Use as
 * `const results = yield* callAll(ctx, specs)`.
 */
export async function* callAll(ctx: StrategyContext, specs: CallSpec[]): AsyncGenerator<TraceEvent, CallResult[]> {
  const queue: TraceEvent[] = [];
  let wake: (() => void) | undefined;
  const emit = (e: TraceEvent) => {
    queue.push(e);
    wake?.();
  };
  let pending = specs.length;
  const results = specs.map((spec) =>
    runCall(ctx, spec, emit).finally(() => {
      pending -= 1;
      wake?.();
    }),
  );
  while (pending > 0 || queue.length > 0) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  return Promise.all(results);
}

/** One call, as a generator (same event shape as callAll). */
export async function* callOne(ctx: StrategyContext, spec: CallSpec): AsyncGenerator<TraceEvent, CallResult> {
  const [result] = yield* callAll(ctx, [spec]);
  if (!result) throw new Error('internal: callAll returned no result for one call');
  return result;
}

/** The knob's value from the (already resolved) knobs, or its default from the meta. */
export function knob<T extends KnobValue>(ctx: StrategyContext, meta: StrategyMeta, id: string): T {
  const value = ctx.knobs[id];
  if (value !== undefined) return value as T;
  const spec = meta.knobs.find((k) => k.id === id);
  if (!spec) throw new Error(`internal: strategy "${meta.id}" has no knob "${id}"`);
  return spec.default as T;
}

/** The answer-type knob every answering strategy has (see src/lib/answers.ts for the rules). */
export const ANSWER_KNOB: Knob = {
  id: 'answerType',
  label: 'Answer type',
  help: 'How answers are read from the text before they are compared: auto picks number, letter, yes/no or phrase per answer.',
  type: 'select',
  default: 'auto',
  options: [
    { value: 'auto', label: 'auto' },
    { value: 'number', label: 'number' },
    { value: 'choice', label: 'multiple-choice letter' },
    { value: 'yesno', label: 'yes / no' },
    { value: 'text', label: 'short phrase' },
  ],
};

export function answerTypeOf(ctx: StrategyContext, meta: StrategyMeta): AnswerType {
  const v = knob<string>(ctx, meta, ANSWER_KNOB.id);
  return isAnswerType(v) ? v : 'auto';
}

/** The 1-based agent-number knob (single's "who answers", debate's judge) checked against the setup. */
export function agentByNumber(ctx: StrategyContext, n: number, role: string): { agent: Agent; index: number } {
  const index = n - 1;
  const agent = ctx.agents[index];
  if (!agent) {
    throw new Error(`${role} is agent ${n}, but the setup has ${ctx.agents.length} agent(s): add an agent or choose a number from 1 to ${ctx.agents.length}`);
  }
  return { agent, index };
}
