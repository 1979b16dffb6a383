/**
 * `prompt-router`: a router model reads a numbered list of the agents' models with a short
 * description of each (a built-in model's card summary, or the `descriptions` knob) and the
 * question, and names one; the named agent answers alone. MoCo's API-level "prompt router" (MoCo,
 * arXiv 2601.21257), the zero-training baseline of LLM routing (RouterBench, Hu et al. 2024, arXiv
 * 2403.12031, compares trained routers against it).
 *
 * The router's prompt is cut to fit its context (`routerMessages`: the descriptions and the
 * question by shown.ts's rule, the names never; the trace says when).
 *
 * Reading the choice (`parseRouterChoice`): the earliest mention in the router's reply of a number
 * 1…N (a whole number without sign or decimals) or of a model's name (case ignored) wins. When the reply names nothing
 * valid, the fallback rule: the agent whose number the router gave the highest probability as its
 * first token (from the engine's top alternatives), else agent 1; the route event says which rule
 * applied. The scores shown per model are those first-token probabilities (0 when a number was not
 * among the alternatives).
 */
import type { ChatMessage, TokenLogprob } from '../engines/engine.ts';
import type { TraceEvent } from '../trace.ts';
import type { Agent, Strategy, StrategyContext, StrategyMeta } from './types.ts';
import { fitShown } from './shown.ts';
import { ANSWER_KNOB, agentByNumber, callOne, knob } from './common.ts';
import { bestIndex, answerAlone } from './routing.ts';

/** Tokens the router may write: a number or a name needs only a few. */
const ROUTE_MAX_TOKENS = 8;

/** The name an agent's model is listed under: the agent's display name after "Agent n · ", else its model id. */
export function modelLabel(agent: Agent): string {
  const shown = agent.name.split(' · ').slice(1).join(' · ').trim();
  return shown !== '' ? shown : agent.model;
}

/**
 * The router's choice in its reply: the earliest whole number 1…n or model name (case ignored; a
 * longer name wins over a shorter one starting at the same place). Null when it names nothing valid.
 */
export function parseRouterChoice(reply: string, names: readonly string[]): { index: number; by: 'number' | 'name' } | null {
  const text = reply.toLowerCase();
  let found: { at: number; len: number; index: number; by: 'number' | 'name' } | null = null;
  const offer = (at: number, len: number, index: number, by: 'number' | 'name') => {
    if (at < 0) return;
    if (!found || at < found.at || (at === found.at && len > found.len)) found = { at, len, index, by };
  };
  // Signed and decimal numbers are read whole, so "-1" or "2.5" names no model.
  for (const m of text.matchAll(/-?\d+(?:\.\d+)?/g)) {
    const n = Number(m[0]);
    if (/^\d+$/.test(m[0]) && n >= 1 && n <= names.length) offer(m.index, m[0].length, n - 1, 'number');
  }
  names.forEach((name, i) => {
    const lower = name.toLowerCase().trim();
    if (lower !== '') offer(text.indexOf(lower), lower.length, i, 'name');
  });
  const f = found as { index: number; by: 'number' | 'name' } | null;
  return f ? { index: f.index, by: f.by } : null;
}

/** Each agent's score: the probability the router's first token was its number (0 when not among the alternatives). */
export function numberProbabilities(first: TokenLogprob | undefined, n: number): number[] {
  const scores = Array.from({ length: n }, () => 0);
  if (!first) return scores;
  const alternatives = first.top_logprobs.length > 0 ? first.top_logprobs : [{ token: first.token, logprob: first.logprob }];
  for (const alt of alternatives) {
    const t = alt.token.trim();
    if (!/^\d+$/.test(t)) continue;
    const i = Number(t) - 1;
    if (i >= 0 && i < n) scores[i] = Math.max(scores[i]!, Math.exp(alt.logprob));
  }
  return scores;
}

/** The router's prompt: the numbered models with their descriptions, the question, the instruction (kept short: small models have small contexts). */
export function routerPrompt(names: readonly string[], descriptions: readonly string[], question: string): string {
  const list = names.map((name, i) => `${i + 1}. ${name}${descriptions[i] ? `: ${descriptions[i]}` : ''}`).join('\n');
  return `Models:\n${list}\nQuestion: ${question}\nWhich model (1–${names.length}) should answer? Reply with its number.`;
}

/**
 * The router's conversation, cut to fit its context by the rule of the texts a prompt shows
 * (shown.ts: max-min fair shares, each text's first bytes then "…"): the descriptions given and
 * the question are cut, the names never. Throws, naming the fix, when not even 32 bytes of each fit.
 */
export function routerMessages(ctx: StrategyContext, router: Agent, names: readonly string[], descriptions: readonly string[]): { messages: ChatMessage[]; warning?: TraceEvent } {
  const described = descriptions.flatMap((d, i) => (d !== '' ? [i] : []));
  const build = (shown: string[]): ChatMessage[] => {
    const desc = names.map((_, i) => (described.includes(i) ? shown[described.indexOf(i)]! : ''));
    return [{ role: 'user', content: routerPrompt(names, desc, shown[described.length]!) }];
  };
  return fitShown(ctx, router, [...described.map((i) => descriptions[i]!), ctx.prompt], ROUTE_MAX_TOKENS, build, `the router ${router.name}'s prompt`, ['use fewer agents', 'shorter model descriptions', 'a router model with a larger context']);
}

/** Longest own description shown: the router model's context must hold N of them and the question. */
export const DESCRIPTION_CHARS = 160;

/** The first sentence of a model's own description, at most DESCRIPTION_CHARS characters. */
export function shortDescription(text: string): string {
  const first = text.trim().split(/(?<=[.!?])\s+/)[0] ?? '';
  return first.length <= DESCRIPTION_CHARS ? first : `${first.slice(0, DESCRIPTION_CHARS - 1).trimEnd()}…`;
}

/** Descriptions from the knob ("|" between agents) or, where it gives none, the agents' own (shortened). */
export function descriptionsOf(agents: readonly Agent[], knobText: string): string[] {
  const given = knobText.trim() === '' ? [] : knobText.split('|').map((d) => d.trim());
  if (given.length > agents.length) {
    throw new Error(`the descriptions knob has ${given.length} entries separated by "|" and the setup has ${agents.length} agent(s): give at most one description per agent`);
  }
  return agents.map((a, i) => (given[i] ? given[i]! : shortDescription(a.description ?? '')));
}

const meta: StrategyMeta = {
  id: 'prompt-router',
  name: 'Prompt router',
  level: 'api',
  description:
    'A router model reads a numbered list of the models with a short description of each, and the question, and names the one that should answer; that model answers alone. A reply that names no model falls back to the number the router found most likely.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (prompt router)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    { id: 'router', label: 'Router (agent number)', help: 'The agent whose model reads the list and names one model.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    {
      id: 'descriptions',
      label: 'Model descriptions',
      help: 'One short description per agent, separated by "|". Empty: each model’s own description (a built-in model’s card), or just its name.',
      type: 'text',
      default: '',
      maxLength: 2000,
    },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: '2 calls: the router names a model (a few tokens), the named model answers; the router’s prompt adds a line per model',
    calls: () => 2,
    // Each model's line: its number and name (≤ 64 bytes) and its own description (≤ DESCRIPTION_CHARS), plus the fixed text.
    tokens: (n, _k, maxTokens, promptTokens) => ({ prompt: 2 * promptTokens + n * (64 + DESCRIPTION_CHARS) + 64, completion: ROUTE_MAX_TOKENS + maxTokens }),
  },
};

export const promptRouter: Strategy = {
  meta,
  async *run(ctx) {
    const { agent: routerAgent, index: routerIndex } = agentByNumber(ctx, knob<number>(ctx, meta, 'router'), 'the router');
    const names = ctx.agents.map(modelLabel);
    const descriptions = descriptionsOf(ctx.agents, knob<string>(ctx, meta, 'descriptions'));
    const { messages, warning } = routerMessages(ctx, routerAgent, names, descriptions);
    yield { type: 'round', t: ctx.now(), round: 1, label: `Routing: ${routerAgent.name} names a model` };
    if (warning) yield warning;
    const routed = yield* callOne(ctx, {
      agent: routerAgent,
      agentIndex: routerIndex,
      round: 1,
      sample: 0,
      purpose: 'route',
      messages,
      maxTokens: ROUTE_MAX_TOKENS,
    });
    if (ctx.signal.aborted) return;
    if (routed.error !== undefined) throw new Error(`the router ${routerAgent.name} failed: ${routed.error}`);
    const scores = numberProbabilities(routed.logprobs[0], ctx.agents.length);
    const choice = parseRouterChoice(routed.text, names);
    const reply = JSON.stringify(routed.text.trim().slice(0, 80));
    let index: number;
    let reason: string;
    if (choice) {
      index = choice.index;
      reason = `the router replied ${reply}: ${choice.by === 'number' ? `number ${index + 1}` : `the name ${names[index]}`}`;
    } else if (scores.some((s) => s > 0)) {
      index = bestIndex(scores);
      reason = `the router replied ${reply}, which names no model 1–${names.length}: fallback to the number it found most likely as its first token (${index + 1}, p = ${scores[index]!.toFixed(3)})`;
    } else {
      index = 0;
      reason = `the router replied ${reply}, which names no model 1–${names.length}, and no number was among its likely first tokens: fallback to agent 1`;
    }
    yield* answerAlone(ctx, meta, { index, reason, scores, scoreLabel: 'router’s probability of naming the model’s number first' }, { round: 2, label: `Answer: ${ctx.agents[index]!.name}` });
  },
};
