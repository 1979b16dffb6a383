/**
 * What the token- and logit-level methods share: every agent's stepper (src/lib/engines/stepper.ts)
 * opened with its prompt as token IDs, the vocabulary check, one greedy step of a model, the stop
 * rule, distributions over a top-K union, and the closing events. The methods (nudging, co-llm,
 * switch, speculative, fusion, contrastive, proxy tuning) are pure decision rules on top.
 *
 * Token IDs, never re-tokenised text, pass between models, so every method here needs its agents
 * to share one vocabulary (`sameVocabulary`), checked before the first step.
 *
 * Stopping: an end-of-sequence token of the writing model ends the answer (it is not written); in
 * the data sets' completion format (`Q: …\nA:`, prompt.ts) the answer also ends at its first line
 * break, as a free generation with COMPLETION_STOP does; otherwise at max tokens.
 */
import { EngineError } from '../engines/engine.ts';
import { completionPromptOf } from '../engines/prompt.ts';
import { sameVocabulary, type NextToken, type Stepper, type TokenCandidate } from '../engines/stepper.ts';
import { extractAnswer } from '../answers.ts';
import type { StepCandidate, StepEvent, TraceEvent } from '../trace.ts';
import type { Agent, StrategyContext, StrategyMeta } from './types.ts';
import { answerTypeOf, firstMessages } from './common.ts';

/** Candidates asked of each model per step. */
export const STEP_TOP_K = 10;

export interface Lane {
  agent: Agent;
  index: number;
  stepper: Stepper;
  /** The agent's prompt as token IDs (BOS first when the model has one). */
  prompt: number[];
  /** Steps taken (the cost). */
  steps: number;
}

/** The prompt text a stepper continues: the data-set completion form, or the prompt as written. */
export function stepPromptText(agent: Agent, prompt: string): { text: string; oneLine: boolean } {
  const completion = completionPromptOf(firstMessages(agent, prompt));
  if (completion !== null) return { text: completion, oneLine: true };
  const system = agent.system?.trim();
  return { text: system ? `${system}\n${prompt}` : prompt, oneLine: false };
}

/** Opens a stepper per agent and checks that they share one vocabulary; the error names the fix. */
export async function openLanes(ctx: StrategyContext, meta: StrategyMeta, agents: readonly Agent[] = ctx.agents): Promise<Lane[]> {
  const lanes: Lane[] = [];
  for (const [index, agent] of agents.entries()) {
    if (!agent.engine.stepper) {
      throw new Error(`${meta.name} steps models token by token, and ${agent.name} runs on an engine that cannot (${agent.engine.info.kind}) — choose a GGUF model or an OpenAI-compatible server.`);
    }
    const stepper = await agent.engine.stepper();
    const prompt = await stepper.tokenize(stepPromptText(agent, ctx.prompt).text, { addBos: true });
    lanes.push({ agent, index, stepper, prompt, steps: 0 });
  }
  const first = lanes[0];
  for (const l of lanes.slice(1)) {
    if (first && !sameVocabulary(first.stepper.vocabulary, l.stepper.vocabulary)) {
      throw new Error(
        `${meta.name} passes token IDs between models, so they must share one vocabulary: ${first.agent.name} has ${first.stepper.vocabulary.size} tokens (${first.stepper.vocabulary.fingerprint.slice(0, 19)}…) and ${l.agent.name} ${l.stepper.vocabulary.size} (${l.stepper.vocabulary.fingerprint.slice(0, 19)}…) — choose models of one family (the built-in pool shares stories260K's vocabulary).`,
      );
    }
  }
  return lanes;
}

/** One step of `lane` after the answer so far. */
export async function step(ctx: StrategyContext, lane: Lane, answer: readonly number[], topK = STEP_TOP_K): Promise<NextToken> {
  if (ctx.signal.aborted) throw new EngineError('aborted', 'the run was cancelled.');
  lane.steps++;
  const next = await lane.stepper.next([...lane.prompt, ...answer], { topK, signal: ctx.signal });
  if (next.top.length === 0) throw new Error(`${lane.agent.name} returned no candidates for the next token.`);
  return next;
}

export function probs(top: readonly TokenCandidate[], n = 5): StepCandidate[] {
  return top.slice(0, n).map((c) => ({ id: c.id, text: c.text, p: Math.exp(c.logprob) }));
}

export function modelView(lane: Lane, next: NextToken): StepEvent['models'][number] {
  return { agent: lane.agent.id, top: probs(next.top), exactness: next.exactness, ...(next.note !== undefined && { note: next.note }) };
}

/** Whether `id` ends the answer: an end-of-sequence token of the lane's model. */
export function isEnd(lane: Lane, id: number): boolean {
  return lane.stepper.vocabulary.eos.includes(id);
}

/**
 * The log-probability a model gives `id`: exact with full logits; with top-K, a token outside the
 * K candidates gets the K-th (lowest shown) log-probability — an upper bound on its true value,
 * the floor the methods' descriptions state.
 */
export function logprobOf(next: NextToken, id: number): number {
  if (next.full) return next.full[id] ?? Number.NEGATIVE_INFINITY;
  const found = next.top.find((c) => c.id === id);
  if (found) return found.logprob;
  return next.top[next.top.length - 1]?.logprob ?? Number.NEGATIVE_INFINITY;
}

/** The candidate tokens a combination ranks: the union of every model's top-K (all tokens with full logits). */
export function candidateIds(nexts: readonly NextToken[]): number[] {
  const full = nexts.find((n) => n.full);
  if (full?.full && nexts.every((n) => n.full)) return Array.from(full.full.keys());
  const ids: number[] = [];
  for (const n of nexts) for (const c of n.top) if (!ids.includes(c.id)) ids.push(c.id);
  return ids;
}

/** The text of a token id, from whichever model listed it. */
export function textOf(nexts: readonly NextToken[], id: number): string {
  for (const n of nexts) for (const c of n.top) if (c.id === id) return c.text;
  return '';
}

/** Accumulates the answer: token IDs, the one-line stop of the completion format, max tokens. */
export class Answer {
  readonly ids: number[] = [];
  #text = '';
  #ended = false;

  constructor(
    readonly maxTokens: number,
    readonly oneLine: boolean,
  ) {}

  get done(): boolean {
    return this.#ended || this.ids.length >= this.maxTokens;
  }

  /** Appends a written token; returns false (and ends) if it ends the answer instead. */
  push(id: number, text: string, end: boolean): boolean {
    if (end || (this.oneLine && text.includes('\n'))) {
      this.#ended = true;
      return false;
    }
    this.ids.push(id);
    this.#text += text;
    return true;
  }

  get finished(): boolean {
    return this.#ended;
  }
}

/** The closing events: the answer's text (detokenised by the first model), its extracted answer, and the cost in steps. */
export async function* finish(ctx: StrategyContext, meta: StrategyMeta, lanes: readonly Lane[], answer: Answer, t0: number, by?: string): AsyncGenerator<TraceEvent> {
  const first = lanes[0]!;
  const text = await first.stepper.detokenize(answer.ids);
  const { answer: extracted } = extractAnswer(text, answerTypeOf(ctx, meta));
  yield { type: 'final', t: ctx.now(), answer: extracted, text, ...(by !== undefined && { agent: by }) };
  const calls = lanes.reduce((n, l) => n + l.steps, 0);
  yield {
    type: 'usage',
    t: ctx.now(),
    prompt_tokens: lanes.reduce((n, l) => n + l.prompt.length, 0),
    completion_tokens: answer.ids.length,
    seconds: (ctx.now() - t0) / 1000,
    calls,
  };
}

/** The closing stepper calls, whatever happened. */
export async function closeLanes(lanes: readonly Lane[]): Promise<void> {
  await Promise.all(lanes.map((l) => l.stepper.close().catch(() => undefined)));
}
