/**
 * `hswarm`: heterogeneous swarms (Feng et al. 2025, arXiv 2502.04510; MoCo's
 * `text_heterogeneous_swarms.py`). The agents are the nodes of a DAG; each node answers after the
 * nodes with an edge into it, shown their answers; the end node's answer is the output.
 *
 * Which DAG: in an experiment, the one found on the dev split by `search` — a particle swarm over
 * N × N edge weights (swarm.ts: MoCo's NumericSwarm and its defaults), each particle decoded into
 * a DAG and scored by really running that DAG on the dev items (the caller's `evaluate`); a DAG
 * several particles decode to is run once. MoCo's defaults: 5 particles, at most 5 iterations. In
 * the playground there is no dev split, so the DAG is the `graph` knob's fixed one (a chain, or
 * every agent into the last), and the first round's label says so.
 *
 * Prompts, MoCo's in our own words: a node with no in-edges is asked the question alone (as
 * `single` asks it; MoCo adds "Please answer the following question."); any other node is shown
 * "Node k: ```…```" for each in-edge, told to use them if they help and ignore wrong ones, and the
 * end node is asked for a final answer; the question comes last (short prompts: the pool's models
 * have 256-token contexts, and a completion-style "Q: …\nA:" prompt still ends in "A:"). Nodes whose in-edges are all
 * answered run at once (one round per wave). Context: the responses a node is shown are cut by
 * debate's rule (fitAnswers, budget.ts; the trace says so, as debate's does), and a DAG whose widest node cannot show
 * MIN_SHOWN_ANSWER_BYTES of each response is refused before any call.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import { fnv1a } from '../random.ts';
import type { Agent, Fitted, SearchContext, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callAll, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { MIN_SHOWN_ANSWER_BYTES, fitProblem } from './budget.ts';
import { fitAnswers } from './debate.ts';
import { ParticleSwarm, dagText, decodeDag, fixedDag, waves, type Dag } from './swarm.ts';

/** The conversation for a node with in-edges: the earlier responses, then the question. */
export function nodeMessages(agent: Agent, prompt: string, shown: readonly { node: number; text: string }[], isEnd: boolean): ChatMessage[] {
  const listed = shown.map((s) => `Node ${s.node + 1}: \`\`\`${s.text.trim()}\`\`\``).join('\n\n');
  const messages: ChatMessage[] = [];
  if (agent.system && agent.system.trim() !== '') messages.push({ role: 'system', content: agent.system });
  messages.push({ role: 'user', content: `Earlier responses:\n\n${listed}\n\nUse them if they help; ignore wrong ones.${isEnd ? ' Give a final answer.' : ''}\n\n${prompt}` });
  return messages;
}

/** A fitted DAG from the search, if `state` is one for `n` agents. */
function fittedDag(state: unknown, n: number): Dag | undefined {
  if (typeof state !== 'object' || state === null) return undefined;
  const d = state as Partial<Dag>;
  return d.n === n && Array.isArray(d.edges) && typeof d.end === 'number' ? (d as Dag) : undefined;
}

function advice(agents: number, maxTokens: number): string[] {
  return [`use fewer agents (now ${agents})`, 'the fan-in graph sends every answer to one node: a chain shows one', `a smaller max tokens (now ${maxTokens})`, 'or a shorter prompt'];
}

const meta: StrategyMeta = {
  id: 'hswarm',
  name: 'Heterogeneous swarms',
  level: 'text',
  description:
    'The agents form a graph: each answers after reading the answers of the agents that point to it, and the last agent’s answer is the output. In an experiment the graph is searched on the dev split by a particle swarm; in the playground it is a fixed chain or fan-in.',
  paper: { title: 'Heterogeneous Swarms: Jointly Optimizing Model Roles and Weights for Multi-LLM Systems', url: 'https://arxiv.org/abs/2502.04510', year: 2025 },
  knobs: [
    {
      id: 'graph',
      label: 'Graph (without a dev search)',
      help: 'The graph used when no search on a dev split has found one (the playground): a chain a1 → a2 → … → aN, or every agent into the last.',
      type: 'select',
      default: 'chain',
      options: [
        { value: 'chain', label: 'chain' },
        { value: 'fan-in', label: 'fan-in to the last agent' },
      ],
    },
    { id: 'population', label: 'Swarm particles', help: 'Candidate graphs per search iteration on dev (MoCo: 5).', type: 'integer', default: 5, min: 1, max: 20, step: 1 },
    { id: 'iterations', label: 'Search iterations', help: 'Most particle-swarm iterations on dev (MoCo: 5); the search stops earlier when the best stops improving.', type: 'integer', default: 5, min: 1, max: 20, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, dev: true },
  cost: {
    formula: 'N calls per query (one per node); the dev search runs at most P × I graphs × dev items × N calls (P particles, I iterations), each distinct graph once',
    calls: (n) => n,
  },
};

export const hswarm: Strategy = {
  meta,
  async *run(ctx) {
    const type = answerTypeOf(ctx, meta);
    const n = ctx.agents.length;
    const found = fittedDag(ctx.fitted, n);
    const kind = knob<string>(ctx, meta, 'graph') === 'fan-in' ? 'fan-in' : 'chain';
    const dag = found ?? fixedDag(kind, n);
    const source = found ? 'found on dev by the particle swarm' : `the fixed ${kind} (no dev search here)`;
    const tips = advice(n, ctx.maxTokens);
    const inputs = (node: number) => dag.edges.filter(([, to]) => to === node).map(([from]) => from);
    // Before any call: each node must fit its in-edges' responses with at least a little of each.
    const least = 'x'.repeat(MIN_SHOWN_ANSWER_BYTES);
    for (let node = 0; node < n; node++) {
      const from = inputs(node);
      if (from.length === 0) continue;
      const agent = ctx.agents[node]!;
      const p = fitProblem(nodeMessages(agent, ctx.prompt, from.map((f) => ({ node: f, text: least })), node === dag.end), ctx.maxTokens, agent.engine.info.contextLength, agent.engine.info.model, `node ${node + 1} (${from.length} responses shown, at least ${MIN_SHOWN_ANSWER_BYTES} bytes each)`, tips);
      if (p !== null) throw new Error(p);
    }
    const results: (CallResult | undefined)[] = ctx.agents.map(() => undefined);
    const plan = waves(dag);
    for (const [w, nodes] of plan.entries()) {
      const round = w + 1;
      yield { type: 'round', t: ctx.now(), round, label: `${round === 1 ? `Graph ${dagText(dag)}, ${source}. ` : ''}Wave ${round}: ${nodes.map((i) => ctx.agents[i]!.name).join(', ')}` };
      const cuts: { agent: string; node: number; capBytes: number }[] = [];
      const specs: CallSpec[] = nodes.map((node) => {
        const agent = ctx.agents[node]!;
        const from = inputs(node).filter((f) => results[f] !== undefined);
        if (from.length === 0) return { agent, agentIndex: node, round, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) };
        const texts = from.map((f) => results[f]!.text);
        const fit = fitAnswers(agent, texts, ctx.maxTokens, (shown) => nodeMessages(agent, ctx.prompt, from.map((f, i) => ({ node: f, text: shown[i] ?? '' })), node === dag.end), `node ${node + 1}`, tips);
        if (fit.cut) cuts.push({ agent: agent.id, node, capBytes: fit.capBytes });
        return { agent, agentIndex: node, round, sample: 0, purpose: 'answer', messages: fit.messages, sees: from.map((f) => results[f]!.msgId) };
      });
      // As debate and moa do: say in the trace when a node was shown shortened responses.
      for (const c of cuts) {
        yield { type: 'error', t: ctx.now(), agent: c.agent, fatal: false, message: `node ${c.node + 1}: the responses shown were cut to ${c.capBytes} bytes each (their first bytes, then "…") to fit the context with max tokens ${ctx.maxTokens}` };
      }
      const done = yield* callAll(ctx, specs);
      if (ctx.signal.aborted) return;
      done.forEach((r, i) => {
        if (r.error === undefined) results[nodes[i]!] = r;
      });
    }
    const last = results[dag.end];
    if (last === undefined) throw new Error(`the end node (agent ${dag.end + 1}) failed; see the errors above`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(last.text, type).answer, text: last.text, agent: last.spec.agent.id };
  },
  search: (sctx) => searchDag(sctx),
};

/** The particle-swarm search over DAGs on dev (see the file comment); resolves to the best DAG as Fitted.state. */
export async function searchDag(sctx: SearchContext): Promise<Fitted> {
  const n = sctx.agents;
  const population = Number(sctx.knobs.population ?? 5);
  const iterations = Number(sctx.knobs.iterations ?? 5);
  // The search's own random stream, apart from the calls' seeds (which come from callSeed).
  const swarm = new ParticleSwarm({ dimension: n * n, population, seed: (sctx.seed ^ fnv1a('hswarm')) >>> 0 });
  const scored = new Map<string, number>();
  let ran = 0;
  for (let iteration = 1; iteration <= iterations; iteration++) {
    const scores: number[] = [];
    for (const particle of swarm.particles) {
      if (sctx.signal.aborted) throw new DOMException('the search was cancelled', 'AbortError');
      const dag = decodeDag(particle, n);
      const key = dagText(dag);
      let score = scored.get(key);
      if (score === undefined) {
        score = await sctx.evaluate(dag);
        scored.set(key, score);
        ran = iteration;
      }
      scores.push(score);
    }
    const stop = swarm.update(scores);
    sctx.progress({ iteration, scores, best: swarm.globalBestScore, bestLabel: dagText(decodeDag(swarm.globalBest, n)) });
    if (stop) break;
  }
  const best = decodeDag(swarm.globalBest, n);
  return {
    state: best,
    note: `graph ${dagText(best)} found by particle swarm on dev: mean dev score ${swarm.globalBestScore.toFixed(3)}; ${scored.size} distinct graphs run (last new one in iteration ${ran}), ${population} particles`,
  };
}
