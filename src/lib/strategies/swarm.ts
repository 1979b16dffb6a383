/**
 * The pure parts of heterogeneous swarms (Feng et al. 2025, "Heterogeneous Swarms: Jointly
 * Optimizing Model Roles and Weights for Multi-LLM Systems", arXiv 2502.04510; MoCo's
 * `text_heterogeneous_swarms.py` and `utils/numeric_swarm.py`): a particle swarm over continuous
 * N × N edge weights, the decoding of a weight matrix into a DAG of the N models, and its
 * topological order. No model calls here; seeded, so the same seed gives the same search.
 *
 * Decoding (MoCo's graph_decode with its default top-p 0, which is greedy): diagonal weights are
 * ignored; a node's out-weight is the sum of its row. The end node is the one maximising
 * 1 / out-weight (the one that sends least; exact zeros skipped). Then, until every node is placed,
 * the unplaced node with the largest out-weight is added with one edge to the placed node it
 * weighs most. The result is a tree whose edges all lead to the end node, so the end node runs
 * last and its answer is the output. Ties go to the lower index. (MoCo's graph_generate samples
 * this choice with top-p 0.7; greedy decoding makes a candidate's dev score a function of its
 * weights alone.)
 *
 * The swarm (MoCo's NumericSwarm, its defaults): positions and velocities start uniform in
 * [−1, 1]. After each iteration's scores: personal and global bests (and the global worst) are
 * updated; the search stops when the global best did not improve on the best of the previous
 * `patience − 1` iterations; a particle whose own score did not improve on its previous
 * `restartPatience − 1` scores is sent back to its personal best with a fresh random velocity;
 * otherwise v ← w·v + c·(pbest − x) + s·(gbest − x) + r·(x − gworst), with the four weights drawn
 * uniformly times inertia 0.2, cognitive 0.3, social 0.4, repel 0.05 and normalised to sum 1, and
 * x ← x + step·v; the step starts at 0.5 and is multiplied by 0.95 each iteration, down to 0.1.
 */
import { mulberry32 } from '../random.ts';

/** A DAG on nodes 0 … n−1 (node i = agent i): edges [from, to]; `end` is the node whose answer is the output. */
export interface Dag {
  n: number;
  edges: [number, number][];
  end: number;
}

function argmax(values: readonly number[], allowed: (i: number) => boolean): number {
  let best = -1;
  values.forEach((v, i) => {
    if (allowed(i) && (best < 0 || v > values[best]!)) best = i;
  });
  return best;
}

/** Decodes an n × n weight matrix (row-major, length n²) into a DAG by the rule in the file comment. */
export function decodeDag(weights: readonly number[], n: number): Dag {
  if (weights.length !== n * n) throw new Error(`a ${n}-node graph needs ${n * n} weights, got ${weights.length}`);
  const w = (i: number, j: number) => (i === j ? 0 : weights[i * n + j]!);
  const out = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => w(i, j)).reduce((a, b) => a + b, 0));
  const inverse = out.map((o) => (o === 0 ? -Infinity : 1 / o));
  let end = argmax(inverse, () => true);
  if (end < 0 || inverse[end] === -Infinity) end = 0;
  const placed = [end];
  const edges: [number, number][] = [];
  while (placed.length < n) {
    const node = argmax(out, (i) => !placed.includes(i));
    const row = Array.from({ length: n }, (_, j) => w(node, j));
    const target = argmax(row, (j) => placed.includes(j));
    edges.push([node, target]);
    placed.push(node);
  }
  return { n, edges, end };
}

/** Nodes in topological order (Kahn's algorithm, lowest index first among the ready ones). */
export function topologicalOrder(dag: Dag): number[] {
  const indegree = Array.from({ length: dag.n }, (_, i) => dag.edges.filter(([, to]) => to === i).length);
  const order: number[] = [];
  const done = new Set<number>();
  while (order.length < dag.n) {
    const ready = indegree.findIndex((d, i) => d === 0 && !done.has(i));
    if (ready < 0) throw new Error('the graph has a cycle');
    order.push(ready);
    done.add(ready);
    for (const [from, to] of dag.edges) if (from === ready) indegree[to]! -= 1;
  }
  return order;
}

/** The DAG's nodes in waves: each wave's nodes have all their in-edges from earlier waves (they can run at once). */
export function waves(dag: Dag): number[][] {
  const depth = new Array<number>(dag.n).fill(0);
  for (const node of topologicalOrder(dag)) {
    for (const [from, to] of dag.edges) if (from === node) depth[to] = Math.max(depth[to]!, depth[node]! + 1);
  }
  const out: number[][] = [];
  depth.forEach((d, i) => (out[d] ??= []).push(i));
  return out.filter((w) => w !== undefined);
}

/** The fixed DAGs the playground offers: a chain a1 → a2 → … → aN, or every agent into the last. */
export function fixedDag(kind: 'chain' | 'fan-in', n: number): Dag {
  const edges: [number, number][] = Array.from({ length: n - 1 }, (_, i) => (kind === 'chain' ? [i, i + 1] : [i, n - 1]));
  return { n, edges, end: n - 1 };
}

/** A DAG in words: "a1 → a3, a2 → a3 (end a3)". */
export function dagText(dag: Dag): string {
  const edges = dag.edges.map(([f, t]) => `a${f + 1} → a${t + 1}`).join(', ');
  return `${edges === '' ? 'no edges' : edges} (end a${dag.end + 1})`;
}

export interface SwarmOptions {
  dimension: number;
  population: number;
  seed: number;
  inertia?: number;
  cognitive?: number;
  social?: number;
  repel?: number;
  step?: number;
  stepFactor?: number;
  minStep?: number;
  patience?: number;
  restartPatience?: number;
  /**
   * Where the particles start instead of uniform in [−1, 1] (model swarms: each particle starts at
   * one model, MoCo's `utils/swarm.py`); `population` is then the number of positions given.
   */
  start?: { positions: number[][]; velocities: number[][] };
}

/** Particle swarm optimisation, maximising a score (rules and defaults: the file comment). */
export class ParticleSwarm {
  readonly particles: number[][];
  private readonly velocities: number[][];
  private readonly personalBest: number[][];
  private readonly personalBestScore: number[];
  private readonly history: number[][];
  private readonly globalHistory: number[] = [];
  globalBest: number[];
  globalBestScore = -Infinity;
  private globalWorst: number[];
  private globalWorstScore = Infinity;
  private step: number;
  private readonly random: () => number;
  private readonly o: Required<Omit<SwarmOptions, 'start'>>;

  constructor(options: SwarmOptions) {
    this.o = { inertia: 0.2, cognitive: 0.3, social: 0.4, repel: 0.05, step: 0.5, stepFactor: 0.95, minStep: 0.1, patience: 5, restartPatience: 3, ...options };
    this.random = mulberry32(options.seed);
    const uniform = () => Array.from({ length: this.o.dimension }, () => this.random() * 2 - 1);
    const start = options.start;
    if (start && (start.positions.length !== start.velocities.length || [...start.positions, ...start.velocities].some((p) => p.length !== this.o.dimension))) {
      throw new Error(`the swarm's start needs as many velocities as positions, each of ${this.o.dimension} numbers`);
    }
    this.particles = start ? start.positions.map((p) => [...p]) : Array.from({ length: this.o.population }, uniform);
    this.velocities = start ? start.velocities.map((v) => [...v]) : Array.from({ length: this.o.population }, uniform);
    this.personalBest = this.particles.map((p) => [...p]);
    this.personalBestScore = this.particles.map(() => -Infinity);
    this.history = this.particles.map(() => []);
    this.globalBest = [...this.particles[0]!];
    this.globalWorst = [...this.particles[0]!];
    this.step = this.o.step;
  }

  /** Takes one score per particle (in `particles` order) and moves the swarm; true = stop (no improvement for `patience` iterations). */
  update(scores: readonly number[]): boolean {
    if (scores.length !== this.particles.length) throw new Error(`the swarm has ${this.particles.length} particles, got ${scores.length} scores`);
    scores.forEach((s, i) => {
      this.history[i]!.push(s);
      if (s > this.personalBestScore[i]!) {
        this.personalBestScore[i] = s;
        this.personalBest[i] = [...this.particles[i]!];
      }
    });
    const top = Math.max(...scores);
    if (top > this.globalBestScore) {
      this.globalBestScore = top;
      this.globalBest = [...this.particles[scores.indexOf(top)]!];
    }
    const bottom = Math.min(...scores);
    if (bottom < this.globalWorstScore) {
      this.globalWorstScore = bottom;
      this.globalWorst = [...this.particles[scores.indexOf(bottom)]!];
    }
    this.globalHistory.push(this.globalBestScore);
    if (stalled(this.globalHistory, this.o.patience)) return true;
    this.particles.forEach((x, i) => {
      if (stalled(this.history[i]!, this.o.restartPatience)) {
        this.particles[i] = [...this.personalBest[i]!];
        this.velocities[i] = x.map(() => this.random() * 2 - 1);
        return;
      }
      const raw = [this.o.inertia * this.random(), this.o.cognitive * this.random(), this.o.social * this.random(), this.o.repel * this.random()];
      const sum = raw.reduce((a, b) => a + b, 0) || 1;
      const [wv, wc, ws, wr] = raw.map((r) => r / sum) as [number, number, number, number];
      const v = this.velocities[i]!.map((vd, d) => vd * wv + (this.personalBest[i]![d]! - x[d]!) * wc + (this.globalBest[d]! - x[d]!) * ws + (x[d]! - this.globalWorst[d]!) * wr);
      this.velocities[i] = v;
      this.particles[i] = x.map((xd, d) => xd + v[d]! * this.step);
    });
    this.step = Math.max(this.step * this.o.stepFactor, this.o.minStep);
    return false;
  }
}

/** True when the latest of more than `patience` values is no better than the best of the `patience − 1` before it (MoCo's rule). */
function stalled(values: readonly number[], patience: number): boolean {
  if (values.length <= patience) return false;
  const recent = values.slice(-patience);
  return recent.at(-1)! <= Math.max(...recent.slice(0, -1));
}
