/**
 * `structure`: structured interaction (MoCo's text_structure.py). The agents are the nodes of a
 * directed graph; round 1: every agent answers alone; each later round: every agent with at least
 * one in-neighbour is shown its own previous answer and the latest answers of its in-neighbours and
 * writes an updated answer (MoCo's re-generation prompt, in our words). An agent with no
 * in-neighbour is not called again and keeps its previous answer (MoCo's rule).
 *
 * Direction: row i, column j of the adjacency matrix is 1 when agent i's answer is shown to agent j
 * (an edge i → j), as in MoCo (`in_edges = structure_matrix[:, i]`). Named topologies over agents
 * 1…N (MoCo's `generate_adj`; every named one is undirected, so each link is two edges):
 *  - chain: k — k+1;
 *  - tree: binary, agent 1 the root, agent k's children 2k and 2k+1;
 *  - star: agent 1 the hub linked to every other agent, and (as MoCo builds it) the other agents
 *    linked in a ring 2 — 3 — … — N — 2 (a wheel; with N ≤ 3 just the hub's links and 2 — 3);
 *  - circle: k — k+1 and N — 1;
 *  - complete: every ordered pair;
 *  - custom: the `matrix` knob, rows separated by ";" or new lines, 0/1 entries by spaces or commas,
 *    N × N with 0 on the diagonal (an agent always sees its own previous answer).
 *
 * One message per edge per round: in round r ≥ 2, the call of agent j `sees` its own previous
 * answer first and then, for each edge i → j, agent i's latest answer — exactly one entry per edge.
 *
 * Final answer (`final` knob): the last answer of one agent (`finalAgent`; MoCo's rule, which takes
 * the best member on dev: `fit` sets it in experiments, else agent 1 — for a chain or tree, pick
 * the sink you mean), or a majority vote over every agent's last answer (tally.ts's rule).
 *
 * Context: before any call the run checks every update prompt fits with at least
 * MIN_SHOWN_ANSWER_BYTES of each shown answer; each call cuts what it shows by debate's rule.
 */
import { extractAnswer } from '../answers.ts';
import type { ChatMessage } from '../engines/engine.ts';
import type { Agent, KnobValue, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, agentByNumber, answerTypeOf, callAll, firstMessages, knob, type CallResult, type CallSpec } from './common.ts';
import { bestMemberAs } from './fits.ts';
import { fitShown, numbered, refuseUnlessFits } from './shown.ts';
import { voteOnFinals } from './tally.ts';

export const TOPOLOGIES = ['chain', 'tree', 'star', 'circle', 'complete', 'custom'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** Parses a custom adjacency matrix for `n` agents; throws naming the row and column at fault. */
export function parseMatrix(text: string, n: number): boolean[][] {
  const fix = `write ${n} rows of ${n} zeros and ones, rows separated by ";" (e.g. "${Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j === (i + 1) % n ? 1 : 0)).join(' ')).join('; ')}")`;
  const rows = text.split(/[;\n]/).map((r) => r.trim()).filter((r) => r !== '');
  if (rows.length !== n) throw new Error(`the custom matrix has ${rows.length} row(s) but the setup has ${n} agents: ${fix}`);
  return rows.map((row, i) => {
    const cells = row.split(/[\s,]+/);
    if (cells.length !== n) throw new Error(`the custom matrix's row ${i + 1} has ${cells.length} entries, not ${n}: ${fix}`);
    return cells.map((c, j) => {
      if (c !== '0' && c !== '1') throw new Error(`the custom matrix's row ${i + 1}, column ${j + 1} is "${c}", not 0 or 1: ${fix}`);
      if (i === j && c === '1') throw new Error(`the custom matrix's row ${i + 1}, column ${j + 1} is 1, a link from agent ${i + 1} to itself: put 0 on the diagonal (every agent already sees its own previous answer)`);
      return c === '1';
    });
  });
}

/** adj[i][j] = agent i's answer is shown to agent j (0-based), for a named topology or the custom matrix. */
export function adjacency(n: number, topology: Topology, matrix = ''): boolean[][] {
  if (topology === 'custom') return parseMatrix(matrix, n);
  const adj = Array.from({ length: n }, () => Array.from({ length: n }, () => false));
  const link = (a: number, b: number) => {
    if (a === b || a < 0 || b < 0 || a >= n || b >= n) return;
    adj[a]![b] = true;
    adj[b]![a] = true;
  };
  for (let i = 0; i < n; i++) {
    if (topology === 'complete') for (let j = 0; j < n; j++) link(i, j);
    if (topology === 'chain') link(i, i + 1);
    if (topology === 'circle') link(i, (i + 1) % n);
    if (topology === 'tree') {
      link(i, 2 * i + 1);
      link(i, 2 * i + 2);
    }
  }
  if (topology === 'star') {
    for (let i = 1; i < n; i++) link(0, i);
    for (let i = 1; i < n - 1; i++) link(i, i + 1);
    link(1, n - 1);
  }
  return adj;
}

/** The 0-based in-neighbours of agent j, in setup order. */
export function inNeighbours(adj: boolean[][], j: number): number[] {
  return adj.flatMap((row, i) => (row[j] ? [i] : []));
}

export function updatePrompt(prompt: string, neighbours: readonly string[]): string {
  return (
    `The task: ${prompt}\n\nOther assistants answered:\n\n${numbered('Assistant', neighbours)}\n\n` +
    'Think again about your previous answer and theirs, then give your updated answer to the task.'
  );
}

/** System, question, own previous answer, then the neighbours' answers. */
export function updateMessages(agent: Agent, prompt: string, own: string, neighbours: readonly string[]): ChatMessage[] {
  return [...firstMessages(agent, prompt), { role: 'assistant', content: own }, { role: 'user', content: updatePrompt(prompt, neighbours) }];
}

const topologyOf = (v: KnobValue | undefined): Topology => (TOPOLOGIES as readonly string[]).includes(String(v)) ? (v as Topology) : 'chain';

/**
 * Rounds, agents with an in-neighbour and edges, for the cost shown before a run. An invalid custom
 * matrix (refused when the run starts) counts as complete: the most it could cost.
 */
function costShape(n: number, knobs: Record<string, KnobValue>): { rounds: number; updating: number; edges: number } {
  const rounds = typeof knobs.rounds === 'number' ? knobs.rounds : 3;
  let adj: boolean[][];
  try {
    adj = adjacency(n, topologyOf(knobs.topology), String(knobs.matrix ?? ''));
  } catch {
    adj = adjacency(n, 'complete');
  }
  const degrees = adj.map((_, j) => inNeighbours(adj, j).length);
  return { rounds, updating: degrees.filter((d) => d > 0).length, edges: degrees.reduce((a, b) => a + b, 0) };
}

const meta: StrategyMeta = {
  id: 'structure',
  name: 'Structured interaction',
  level: 'text',
  description:
    'The agents sit on a graph (chain, tree, star, circle, complete or your own matrix). Each round, every agent reads the latest answers of the agents linked into it and updates its own.',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (structured interaction)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    {
      id: 'topology',
      label: 'Topology',
      help: 'Who reads whom. Named graphs link both ways; tree: agent 1 the root, agent k’s children 2k and 2k+1; star: agent 1 the hub, the others in a ring (MoCo’s).',
      type: 'select',
      default: 'chain',
      options: TOPOLOGIES.map((t) => ({ value: t, label: t === 'custom' ? 'custom matrix' : t })),
    },
    {
      id: 'matrix',
      label: 'Custom matrix',
      help: 'For topology "custom": row i, column j = 1 when agent i’s answer is shown to agent j; rows separated by ";", 0 on the diagonal.',
      type: 'text',
      default: '0 1 0; 0 0 1; 1 0 0',
      maxLength: 400,
    },
    { id: 'rounds', label: 'Rounds', help: 'Round 1 is the agents answering alone; each further round is one update along the edges.', type: 'integer', default: 3, min: 1, max: 6, step: 1 },
    {
      id: 'final',
      label: 'Final answer by',
      help: 'One agent’s last answer (MoCo: the best member on dev), or a majority vote over every agent’s last answer.',
      type: 'select',
      default: 'agent',
      options: [
        { value: 'agent', label: 'one agent' },
        { value: 'vote', label: 'majority vote' },
      ],
    },
    { id: 'finalAgent', label: 'Final agent', help: 'Whose last answer is final when the final answer is by one agent; in experiments the best member on dev.', type: 'integer', default: 1, min: 1, max: 8, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2 },
  cost: {
    formula: 'N + (R − 1) × M calls, M = agents with at least one in-neighbour (N for every named topology); round r ≥ 2 shows one answer per edge',
    calls: (n, knobs) => {
      const { rounds, updating } = costShape(n, knobs);
      return n + (rounds - 1) * updating;
    },
    tokens: (n, knobs, maxTokens, promptTokens) => {
      // Each update shows the agent's own previous answer and one answer per in-edge, each at most max tokens long.
      const { rounds, updating, edges } = costShape(n, knobs);
      const calls = n + (rounds - 1) * updating;
      return { prompt: calls * promptTokens + (rounds - 1) * (updating + edges) * maxTokens, completion: calls * maxTokens };
    },
  },
};

export const structure: Strategy = {
  meta,
  fit: (dev) => bestMemberAs(dev, ['finalAgent']),
  async *run(ctx) {
    const rounds = knob<number>(ctx, meta, 'rounds');
    const topology = topologyOf(knob<string>(ctx, meta, 'topology'));
    const type = answerTypeOf(ctx, meta);
    const byAgent = knob<string>(ctx, meta, 'final') === 'agent';
    const finalAgent = byAgent ? agentByNumber(ctx, knob<number>(ctx, meta, 'finalAgent'), 'The final agent') : undefined;
    const adj = adjacency(ctx.agents.length, topology, knob<string>(ctx, meta, 'matrix'));
    const inN = ctx.agents.map((_, j) => inNeighbours(adj, j));
    const edges = inN.reduce((s, xs) => s + xs.length, 0);
    const advice = [`fewer rounds (now ${rounds}; 1 = no updates)`, `a topology with fewer links (now ${topology})`, `a smaller max tokens (now ${ctx.maxTokens})`, 'or a shorter prompt'];
    ctx.agents.forEach((agent, j) => {
      if (rounds < 2 || inN[j]!.length === 0) return;
      refuseUnlessFits(agent, inN[j]!.length + 1, ctx.maxTokens, ([own = '', ...rest]) => updateMessages(agent, ctx.prompt, own, rest), `${agent.name}'s update prompt`, advice);
    });
    const latest: (CallResult | undefined)[] = ctx.agents.map(() => undefined);
    for (let round = 1; round <= rounds; round++) {
      yield { type: 'round', t: ctx.now(), round, label: round === 1 ? 'Round 1: answers' : `Round ${round}: ${edges} message(s) along the ${topology} graph's edges` };
      const specs: CallSpec[] = [];
      for (const [agentIndex, agent] of ctx.agents.entries()) {
        const own = latest[agentIndex];
        if (round === 1) {
          specs.push({ agent, agentIndex, round, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
          continue;
        }
        const from = inN[agentIndex]!.map((i) => latest[i]).filter((r): r is CallResult => r !== undefined);
        if (own === undefined || from.length === 0) continue;
        const fit = fitShown(ctx, agent, [own.text, ...from.map((r) => r.text)], ctx.maxTokens, ([mine = '', ...rest]) => updateMessages(agent, ctx.prompt, mine, rest), `round ${round}`, advice);
        if (fit.warning) yield fit.warning;
        specs.push({ agent, agentIndex, round, sample: 0, purpose: 'revision', messages: fit.messages, sees: [own.msgId, ...from.map((r) => r.msgId)] });
      }
      const results = yield* callAll(ctx, specs);
      if (ctx.signal.aborted) return;
      for (const r of results) if (r.error === undefined) latest[r.spec.agentIndex] = r;
      if (specs.length > 0 && results.every((r) => r.error !== undefined)) throw new Error(`every call failed in round ${round}; see the errors above`);
    }
    if (finalAgent) {
      const last = latest[finalAgent.index];
      if (!last) throw new Error(`the final agent ${finalAgent.agent.name} has no answer (its calls failed; see the errors above)`);
      yield { type: 'final', t: ctx.now(), answer: extractAnswer(last.text, type).answer, text: last.text, agent: finalAgent.agent.id };
      return;
    }
    yield* voteOnFinals(ctx, latest.filter((r): r is CallResult => r !== undefined), type, rounds);
  },
};
