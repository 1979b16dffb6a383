/**
 * `moa` and `self-moa`, one file because they are one flow with two ways of choosing proposers.
 *
 * Mixture-of-Agents (Wang et al. 2024, "Mixture-of-Agents Enhances Large Language Model
 * Capabilities", arXiv 2406.04692): L layers of proposers, then one aggregator. Layer 1: every
 * proposer answers alone. Layer l ≥ 2: every proposer is shown all of layer l − 1's answers and
 * writes a better one. The aggregator is shown the last layer's answers and writes the final
 * response. MoCo's repository has no MoA file; the rules are the paper's (its
 * "Aggregate-and-Synthesize" prompt, in our own words, below).
 *
 * Self-MoA (Li et al. 2025, "Rethinking Mixture-of-Agents: Is Mixing Different Large Language
 * Models Beneficial?", arXiv 2502.00674): the same flow with ONE model as every proposer, sampled S
 * times per layer (each sample its own seed: sample s of layer l is callSeed(seed, agent, l, s)),
 * and the same model as aggregator — the paper finds this often beats mixing weaker models.
 *
 * Who plays which part: MoA's proposers are all agents (one call each per layer); its aggregator is
 * the `aggregator` knob (agent number; in experiments fitted to the best member on dev, MoCo's rule
 * for judges and summarisers, else agent 1). Self-MoA's single agent is the `agent` knob (fitted the
 * same way). Rounds in the trace: layer l is round l, the aggregator is round L + 1.
 *
 * Context: before any call the run checks that a layer-2 proposer's prompt and the aggregator's
 * prompt fit with at least MIN_SHOWN_ANSWER_BYTES of each shown answer (else it is refused, naming
 * the knobs); each call cuts the answers it shows by debate's rule (shown.ts) and says so.
 * Final answer: the aggregator's text, read by the answer-type rules.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, KnobValue, Strategy, StrategyContext, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, callOne, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { fitShown, numbered, refuseUnlessFits, succeeded, withSystem } from './shown.ts';

/** The synthesis request (layers ≥ 2 and the aggregator), after MoA's Aggregate-and-Synthesize prompt. */
export function synthesizePrompt(prompt: string, answers: readonly string[]): string {
  return (
    'You are shown several responses to the question below, written by other assistants. Some may be wrong or biased: ' +
    'judge each one critically, keep what is right, correct what is wrong, and write one response that is better than any of them ' +
    `(do not just copy one).\n\n${numbered('Response', answers)}\n\nThe question: ${prompt}`
  );
}

export function synthesizeMessages(agent: Agent, prompt: string, answers: readonly string[]): ChatMessage[] {
  return withSystem(agent, synthesizePrompt(prompt, answers));
}

/** One proposer slot: an agent and the sample number it uses in every layer. */
interface Proposer {
  agent: Agent;
  agentIndex: number;
  sample: number;
}

/** Layers of proposers, then the aggregator: the flow both methods share. */
async function* layered(ctx: StrategyContext, meta: StrategyMeta, proposers: Proposer[], layers: number, aggregator: { agent: Agent; index: number }, advice: string[]): AsyncGenerator<TraceEvent> {
  const type = answerTypeOf(ctx, meta);
  // Before any call: a synthesis prompt showing every proposer's answer must fit each agent that writes one.
  const writers = new Map<string, Agent>();
  if (layers >= 2) for (const p of proposers) writers.set(p.agent.id, p.agent);
  writers.set(aggregator.agent.id, aggregator.agent);
  for (const agent of writers.values()) {
    refuseUnlessFits(agent, proposers.length, ctx.maxTokens, (shown) => synthesizeMessages(agent, ctx.prompt, shown), `${agent.name}'s synthesis prompt`, advice);
  }
  let previous: CallResult[] = [];
  for (let layer = 1; layer <= layers; layer++) {
    yield { type: 'round', t: ctx.now(), round: layer, label: layer === 1 ? `Layer 1: ${proposers.length} proposals` : `Layer ${layer}: each proposer reads layer ${layer - 1}` };
    const shownTexts = previous.map((r) => r.text);
    const sees = previous.map((r) => r.msgId);
    const specs: CallSpec[] = [];
    for (const p of proposers) {
      if (layer === 1) {
        specs.push({ ...p, round: 1, purpose: 'answer', messages: firstMessages(p.agent, ctx.prompt) });
        continue;
      }
      const fit = fitShown(ctx, p.agent, shownTexts, ctx.maxTokens, (shown) => synthesizeMessages(p.agent, ctx.prompt, shown), `layer ${layer}`, advice);
      if (fit.warning) yield fit.warning;
      specs.push({ ...p, round: layer, purpose: 'revision', messages: fit.messages, sees });
    }
    const results = yield* callAll(ctx, specs);
    if (ctx.signal.aborted) return;
    previous = succeeded(results, `layer ${layer}`);
  }
  const step = layers + 1;
  yield { type: 'round', t: ctx.now(), round: step, label: `Aggregator: ${aggregator.agent.name}` };
  const fit = fitShown(ctx, aggregator.agent, previous.map((r) => r.text), ctx.maxTokens, (shown) => synthesizeMessages(aggregator.agent, ctx.prompt, shown), 'the aggregator', advice);
  if (fit.warning) yield fit.warning;
  const final = yield* callOne(ctx, { agent: aggregator.agent, agentIndex: aggregator.index, round: step, sample: 0, purpose: 'aggregate', messages: fit.messages, sees: previous.map((r) => r.msgId) });
  if (ctx.signal.aborted) return;
  if (final.error !== undefined) throw new Error(`the aggregator ${aggregator.agent.name} failed: ${final.error}`);
  yield { type: 'final', t: ctx.now(), answer: extractAnswer(final.text, type).answer, text: final.text, agent: aggregator.agent.id };
}

const num = (knobs: Record<string, KnobValue>, id: string, fallback: number): number => (typeof knobs[id] === 'number' ? (knobs[id] as number) : fallback);

const layersKnob = (def: number) =>
  ({ id: 'layers', label: 'Layers', help: 'Layers of proposers: layer 1 answers alone, each later layer reads all of the previous layer’s answers.', type: 'integer', default: def, min: 1, max: 4, step: 1 }) as const;

const moaMeta: StrategyMeta = {
  id: 'moa',
  name: 'Mixture-of-Agents',
  level: 'text',
  description:
    'Every agent proposes an answer; in each further layer every agent reads all the previous layer’s answers and writes a better one; finally an aggregator agent reads the last layer and writes the response.',
  paper: { title: 'Mixture-of-Agents Enhances Large Language Model Capabilities', url: 'https://arxiv.org/abs/2406.04692', year: 2024 },
  knobs: [
    layersKnob(2),
    { id: 'aggregator', label: 'Aggregator', help: 'Which agent (1 = first) writes the final response; in experiments the best member on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N × L + 1 calls (N proposers in each of L layers, then the aggregator); layers ≥ 2 and the aggregator each show N answers',
    calls: (n, knobs) => n * num(knobs, 'layers', 2) + 1,
    tokens: (n, knobs, maxTokens, promptTokens) => {
      const layers = num(knobs, 'layers', 2);
      const calls = n * layers + 1;
      return { prompt: calls * promptTokens + (n * (layers - 1) + 1) * n * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const moa: Strategy = {
  meta: moaMeta,
  fit: (dev) => bestMemberAs(dev, ['aggregator']),
  async *run(ctx) {
    const layers = knob<number>(ctx, moaMeta, 'layers');
    const aggregator = agentByNumber(ctx, knob<number>(ctx, moaMeta, 'aggregator'), 'The aggregator');
    const advice = [`use fewer agents (now ${ctx.agents.length})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const proposers = ctx.agents.map((agent, agentIndex) => ({ agent, agentIndex, sample: 0 }));
    yield* layered(ctx, moaMeta, proposers, layers, aggregator, advice);
  },
};

const selfMeta: StrategyMeta = {
  id: 'self-moa',
  name: 'Self-MoA',
  level: 'text',
  description:
    'Mixture-of-Agents with one model: the chosen agent is sampled several times as the proposers of each layer, then aggregates its own answers into the response.',
  paper: { title: 'Rethinking Mixture-of-Agents: Is Mixing Different Large Language Models Beneficial?', url: 'https://arxiv.org/abs/2502.00674', year: 2025 },
  knobs: [
    { id: 'agent', label: 'Agent', help: 'Which agent (1 = first) proposes and aggregates; in experiments the best member on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    { id: 'samples', label: 'Samples per layer', help: 'How many answers the agent proposes in each layer (use temperature > 0 so they differ).', type: 'integer', default: 4, min: 2, max: 8, step: 1 },
    layersKnob(1),
    ANSWER_KNOB,
  ],
  needs: { minAgents: 1 },
  cost: {
    formula: 'S × L + 1 calls (S samples of one agent in each of L layers, then it aggregates); layers ≥ 2 and the aggregator each show S answers',
    calls: (_n, knobs) => num(knobs, 'samples', 4) * num(knobs, 'layers', 1) + 1,
    tokens: (_n, knobs, maxTokens, promptTokens) => {
      const s = num(knobs, 'samples', 4);
      const layers = num(knobs, 'layers', 1);
      const calls = s * layers + 1;
      return { prompt: calls * promptTokens + (s * (layers - 1) + 1) * s * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const selfMoa: Strategy = {
  meta: selfMeta,
  fit: (dev) => bestMemberAs(dev, ['agent']),
  async *run(ctx) {
    const layers = knob<number>(ctx, selfMeta, 'layers');
    const samples = knob<number>(ctx, selfMeta, 'samples');
    const chosen = agentByNumber(ctx, knob<number>(ctx, selfMeta, 'agent'), 'The Self-MoA agent');
    const advice = [`fewer samples per layer (now ${samples})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    const proposers = Array.from({ length: samples }, (_, sample) => ({ agent: chosen.agent, agentIndex: chosen.index, sample }));
    yield* layered(ctx, selfMeta, proposers, layers, chosen, advice);
  },
};
