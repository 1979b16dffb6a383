/**
 * `graph-router`: routing on a query–model graph built from dev results, after GraphRouter (Feng et
 * al. 2025, "GraphRouter: A Graph-based Router for LLM Selections", ICLR, arXiv 2410.03834; MoCo's
 * API-level graph router). The graph: every dev query is a node linked to each agent with its dev
 * score on that query (1 = the agent answered it right). A new query is linked to the dev queries
 * by TF-IDF cosine similarity of word 1–2-grams (src/lib/eval/router.ts); each agent's score is the
 * similarity-weighted mean of its edges over the `neighbours` most similar dev queries, and the
 * highest-scoring agent answers alone. GraphRouter learns the edge features with a graph neural
 * network; this training-free version propagates over one hop, which a learner can follow by hand.
 *
 * Ties go to the agent with the better mean dev score, then setup order. A query that shares no
 * feature with any dev query (every similarity 0) gets the agent best on dev, and the trace says so.
 */
import { dot, fitTfidf, type SparseVector, type Tfidf } from '../eval/router.ts';
import type { DevEvidence, Fitted, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { bestAgentIndex } from './fits.ts';
import { answerAlone } from './routing.ts';

/** What `fit` keeps: the dev queries' vectors, their edges to the agents, and the agents' dev scores. */
export interface GraphState {
  tfidf: Tfidf;
  queries: Array<{ v: SparseVector; scores: number[] }>;
  agentScores: number[];
}

export interface GraphScores {
  scores: number[];
  /** How many dev queries with similarity > 0 were used. */
  linked: number;
}

/** Each agent's similarity-weighted mean dev score over the `neighbours` dev queries most similar to `prompt`. */
export function graphScores(state: GraphState, prompt: string, neighbours: number): GraphScores {
  const q = state.tfidf.vector(prompt);
  const near = state.queries
    .map((d, i) => ({ sim: dot(q, d.v), i }))
    .filter((n) => n.sim > 0)
    .sort((a, b) => b.sim - a.sim || a.i - b.i)
    .slice(0, neighbours);
  const total = near.reduce((s, n) => s + n.sim, 0);
  const scores = state.agentScores.map((_, a) => (total === 0 ? 0 : near.reduce((s, n) => s + n.sim * (state.queries[n.i]!.scores[a] ?? 0), 0) / total));
  return { scores, linked: near.length };
}

/** The agent with the highest graph score; ties → better dev score, then setup order. */
export function graphChoice(scores: readonly number[], agentScores: readonly number[]): number {
  return scores.reduce((best, s, i) => (s > scores[best]! || (s === scores[best]! && agentScores[i]! > agentScores[best]!) ? i : best), 0);
}

export function fitGraph(dev: DevEvidence): Fitted {
  if (dev.items.length === 0) throw new Error('the graph router needs dev items to build its graph: give the data set a dev split');
  const tfidf = fitTfidf(dev.items.map((it) => it.prompt));
  const queries = dev.items.map((it) => ({ v: tfidf.vector(it.prompt), scores: [...it.scores] }));
  const edges = dev.items.reduce((n, it) => n + it.scores.filter((s) => s > 0).length, 0);
  return {
    state: { tfidf, queries, agentScores: [...dev.agentScores] } satisfies GraphState,
    note: `query–model graph of ${dev.items.length} dev queries and ${dev.agentScores.length} agents, ${edges} right-answer edges`,
  };
}

const meta: StrategyMeta = {
  id: 'graph-router',
  name: 'Graph router',
  level: 'api',
  description:
    'A graph links every dev question to the agents that answered it right. A new question is linked to the most similar dev questions (shared words); each agent scores the similarity-weighted share of those it solved, and the best-scoring agent answers alone. Needs a dev split (experiments only).',
  paper: { title: 'GraphRouter: A Graph-based Router for LLM Selections', url: 'https://arxiv.org/abs/2410.03834', year: 2025 },
  knobs: [
    { id: 'neighbours', label: 'Similar dev questions', help: 'How many of the most similar dev questions (TF-IDF cosine of word 1–2-grams) the scores are taken over.', type: 'integer', default: 10, min: 1, max: 200, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, dev: true },
  cost: {
    formula: '1 call: the graph picks the agent without calling a model',
    calls: () => 1,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: promptTokens, completion: maxTokens }),
  },
};

export const graphRouter: Strategy = {
  meta,
  fit: (dev) => fitGraph(dev),
  async *run(ctx) {
    const state = ctx.fitted as Partial<GraphState> | undefined;
    if (!state?.tfidf || !state.queries || !state.agentScores) {
      throw new Error('the graph router builds its graph from a dev split: run it in an experiment (npm run experiment, or the Experiments tab)');
    }
    if (state.agentScores.length !== ctx.agents.length) throw new Error(`the graph was built for ${state.agentScores.length} agents and this setup has ${ctx.agents.length}: build it again on this setup`);
    const graph = state as GraphState;
    const { scores, linked } = graphScores(graph, ctx.prompt, knob<number>(ctx, meta, 'neighbours'));
    const shown = ctx.agents.map((a, i) => `${a.id} ${scores[i]!.toFixed(3)}`).join(', ');
    if (linked === 0) {
      const index = bestAgentIndex({ agentScores: graph.agentScores, items: [] });
      yield* answerAlone(ctx, meta, { index, reason: `no dev question shares a word with this one: the agent best on dev answers (${shown})`, scores, scoreLabel: 'graph score' });
      return;
    }
    const index = graphChoice(scores, graph.agentScores);
    yield* answerAlone(ctx, meta, { index, reason: `similarity-weighted share of the ${linked} most similar dev questions each agent solved: ${shown}`, scores, scoreLabel: 'graph score' });
  },
};
