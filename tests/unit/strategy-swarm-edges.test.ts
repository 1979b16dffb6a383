// The particle swarm (src/lib/strategies/swarm.ts) at its edges, against a reference written from the
// file comment's rules alone (MoCo's NumericSwarm: uniform start, personal/global best and global
// worst, restart of a stalled particle, the normalised velocity update, the step schedule, the
// patience stop), fed score tables with ties, infinities and non-monotone histories; plus small
// cases worked by hand, and the decode of a graph with no nodes.
import { describe, expect, it } from 'vitest';
import { ParticleSwarm, decodeDag, type SwarmOptions } from '../../src/lib/strategies/swarm.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** The swarm as the file comment states it, written independently (plain loops), for replaying. */
class ReferenceSwarm {
  x: number[][] = [];
  v: number[][] = [];
  pbest: number[][] = [];
  pbestScore: number[] = [];
  hist: number[][] = [];
  ghist: number[] = [];
  gbest: number[] = [];
  gbestScore = -Infinity;
  gworst: number[] = [];
  gworstScore = Infinity;
  step: number;
  private readonly r: () => number;
  private readonly c: { inertia: number; cognitive: number; social: number; repel: number; stepFactor: number; minStep: number; patience: number; restartPatience: number };

  constructor(o: SwarmOptions) {
    this.c = { inertia: o.inertia ?? 0.2, cognitive: o.cognitive ?? 0.3, social: o.social ?? 0.4, repel: o.repel ?? 0.05, stepFactor: o.stepFactor ?? 0.95, minStep: o.minStep ?? 0.1, patience: o.patience ?? 5, restartPatience: o.restartPatience ?? 3 };
    this.step = o.step ?? 0.5;
    this.r = mulberry32(o.seed);
    const draw = (): number[] => {
      const p: number[] = [];
      for (let d = 0; d < o.dimension; d++) p.push(2 * this.r() - 1);
      return p;
    };
    if (o.start) {
      this.x = o.start.positions.map((p) => p.slice());
      this.v = o.start.velocities.map((p) => p.slice());
    } else {
      for (let i = 0; i < o.population; i++) this.x.push(draw());
      for (let i = 0; i < o.population; i++) this.v.push(draw());
    }
    for (let i = 0; i < this.x.length; i++) {
      this.pbest.push(this.x[i]!.slice());
      this.pbestScore.push(-Infinity);
      this.hist.push([]);
    }
    this.gbest = this.x[0]!.slice();
    this.gworst = this.x[0]!.slice();
  }

  private static stalled(values: number[], patience: number): boolean {
    if (values.length <= patience) return false;
    const last = values[values.length - 1]!;
    let before = -Infinity;
    for (let j = values.length - patience; j < values.length - 1; j++) before = Math.max(before, values[j]!);
    return last <= before;
  }

  update(scores: number[]): boolean {
    const n = this.x.length;
    for (let i = 0; i < n; i++) {
      this.hist[i]!.push(scores[i]!);
      if (scores[i]! > this.pbestScore[i]!) {
        this.pbestScore[i] = scores[i]!;
        this.pbest[i] = this.x[i]!.slice();
      }
    }
    let top = 0;
    let bottom = 0;
    for (let i = 1; i < n; i++) {
      if (scores[i]! > scores[top]!) top = i;
      if (scores[i]! < scores[bottom]!) bottom = i;
    }
    if (scores[top]! > this.gbestScore) {
      this.gbestScore = scores[top]!;
      this.gbest = this.x[top]!.slice();
    }
    if (scores[bottom]! < this.gworstScore) {
      this.gworstScore = scores[bottom]!;
      this.gworst = this.x[bottom]!.slice();
    }
    this.ghist.push(this.gbestScore);
    if (ReferenceSwarm.stalled(this.ghist, this.c.patience)) return true;
    for (let i = 0; i < n; i++) {
      const x = this.x[i]!;
      if (ReferenceSwarm.stalled(this.hist[i]!, this.c.restartPatience)) {
        this.x[i] = this.pbest[i]!.slice();
        this.v[i] = x.map(() => 2 * this.r() - 1);
        continue;
      }
      const a = this.c.inertia * this.r();
      const b = this.c.cognitive * this.r();
      const s = this.c.social * this.r();
      const rp = this.c.repel * this.r();
      const total = a + b + s + rp === 0 ? 1 : a + b + s + rp;
      const nv: number[] = [];
      const nx: number[] = [];
      for (let d = 0; d < x.length; d++) {
        const vd = (a / total) * this.v[i]![d]! + (b / total) * (this.pbest[i]![d]! - x[d]!) + (s / total) * (this.gbest[d]! - x[d]!) + (rp / total) * (x[d]! - this.gworst[d]!);
        nv.push(vd);
        nx.push(x[d]! + this.step * vd);
      }
      this.v[i] = nv;
      this.x[i] = nx;
    }
    this.step = Math.max(this.step * this.c.stepFactor, this.c.minStep);
    return false;
  }
}

function expectClose(actual: number[][], expected: number[][], where: string): void {
  expect(actual.length, where).toBe(expected.length);
  actual.forEach((p, i) => {
    expect(p.length, where).toBe(expected[i]!.length);
    p.forEach((x, d) => {
      expect(Number.isFinite(x), `${where}: particle ${i} dim ${d} is ${x}`).toBe(true);
      expect(Math.abs(x - expected[i]![d]!), `${where}: particle ${i} dim ${d}: ${x} vs ${expected[i]![d]}`).toBeLessThan(1e-9);
    });
  });
}

/** Replays `table` (one row of scores per iteration) through the swarm and the reference, comparing every move. */
function replay(options: SwarmOptions, table: number[][]): { stops: boolean[]; swarm: ParticleSwarm; ref: ReferenceSwarm } {
  const swarm = new ParticleSwarm(options);
  const ref = new ReferenceSwarm(options);
  expectClose(swarm.particles, ref.x, 'start');
  const stops: boolean[] = [];
  for (const [t, scores] of table.entries()) {
    const stop = swarm.update(scores);
    const refStop = ref.update(scores);
    expect(stop, `stop after iteration ${t}`).toBe(refStop);
    stops.push(stop);
    expectClose(swarm.particles, ref.x, `after iteration ${t}`);
    expect(swarm.globalBestScore, `global best score after iteration ${t}`).toBe(ref.gbestScore);
    expectClose([swarm.globalBest], [ref.gbest], `global best after iteration ${t}`);
    if (stop) break;
  }
  return { stops, swarm, ref };
}

describe('swarm: the uniform start', () => {
  it('positions are drawn first, particle by particle, each coordinate 2u − 1 of the seeded generator', () => {
    const r = mulberry32(5);
    const u = Array.from({ length: 4 }, () => r());
    const swarm = new ParticleSwarm({ dimension: 2, population: 2, seed: 5 });
    expectClose(swarm.particles, [[2 * u[0]! - 1, 2 * u[1]! - 1], [2 * u[2]! - 1, 2 * u[3]! - 1]], 'start');
    for (const p of new ParticleSwarm({ dimension: 8, population: 16, seed: 9 }).particles) for (const x of p) expect(x >= -1 && x <= 1 && x !== 0).toBe(true);
    expect(new ParticleSwarm({ dimension: 8, population: 16, seed: 9 }).particles.flat().some((x) => x < 0)).toBe(true);
  });

  it('the global best starts as a copy of particle 1, not the particle itself', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 2, seed: 5 });
    expect(swarm.globalBest).toEqual(swarm.particles[0]);
    expect(swarm.globalBest).not.toBe(swarm.particles[0]);
    expect(swarm.globalBestScore).toBe(-Infinity);
  });
});

describe('swarm: moves worked by hand', () => {
  const start = (positions: number[][], velocities: number[][]) => ({ positions, velocities });

  it('inertia alone keeps the velocity; x ← x + step·v, the step × 0.95 each iteration', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 1, seed: 3, cognitive: 0, social: 0, repel: 0, start: start([[0, 0]], [[1, -1]]) });
    swarm.update([1]);
    expectClose(swarm.particles, [[0.5, -0.5]], 'first move, step 0.5');
    swarm.update([2]);
    expectClose(swarm.particles, [[0.975, -0.975]], 'second move, step 0.475');
    swarm.update([3]);
    expectClose(swarm.particles, [[0.975 + 0.45125, -0.975 - 0.45125]], 'third move, step 0.45125');
  });

  it('the step stops shrinking at the minimum step', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 1, seed: 3, cognitive: 0, social: 0, repel: 0, stepFactor: 0.5, minStep: 0.4, start: start([[0]], [[1]]) });
    swarm.update([1]);
    expectClose(swarm.particles, [[0.5]], 'step 0.5');
    swarm.update([2]);
    expectClose(swarm.particles, [[0.9]], 'step max(0.25, 0.4) = 0.4');
    swarm.update([3]);
    expectClose(swarm.particles, [[1.3]], 'still 0.4');
  });

  it('all four weights zero: the weights stay zero (no division by a zero sum) and nothing moves', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 2, seed: 3, inertia: 0, cognitive: 0, social: 0, repel: 0, start: start([[0.25, -0.5], [1, 1]], [[1, 1], [-1, 2]]) });
    swarm.update([1, 2]);
    expectClose(swarm.particles, [[0.25, -0.5], [1, 1]], 'after one update');
  });

  it('social alone: each particle moves step × (global best − x); the best stays', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 3, seed: 3, inertia: 0, cognitive: 0, repel: 0, start: start([[0], [1], [-2]], [[5], [5], [5]]) });
    swarm.update([0, 1, -1]);
    expectClose(swarm.particles, [[0.5], [1], [-0.5]], 'toward a2');
  });

  it('repel alone: each particle moves step × (x − global worst), away from the worst', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 3, seed: 3, inertia: 0, cognitive: 0, social: 0, start: start([[0], [1], [-2]], [[5], [5], [5]]) });
    swarm.update([0, 1, -1]);
    expectClose(swarm.particles, [[1], [2.5], [-2]], 'away from a3');
  });

  it('a tie for the global best keeps the earlier particle that reached it; a tie for the worst keeps the earlier worst', () => {
    // Iteration 1: a1 best (5) at 0, a2 worst (−5) at 10. Iteration 2: a2 ties the best, a1 the worst.
    const swarm = new ParticleSwarm({ dimension: 1, population: 3, seed: 3, inertia: 0, cognitive: 0, repel: 0, start: start([[0], [10], [4]], [[0], [0], [0]]) });
    swarm.update([5, -5, 0]);
    expect(swarm.globalBest).toEqual([0]);
    expectClose(swarm.particles, [[0], [5], [2]], 'toward 0');
    swarm.update([-5, 5, 0]);
    expect(swarm.globalBest).toEqual([0]);
    expect(swarm.globalBestScore).toBe(5);
    // Social pulls toward 0 (not toward a2's new place 5): step 0.475.
    expectClose(swarm.particles, [[0], [5 - 0.475 * 5], [2 - 0.475 * 2]], 'still toward 0');
  });

  it('a lower best later does not replace the global best', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 2, seed: 3, inertia: 0, cognitive: 0, repel: 0, start: start([[0], [2]], [[0], [0]]) });
    swarm.update([3, 1]);
    swarm.update([2, 1]);
    expect(swarm.globalBestScore).toBe(3);
    expect(swarm.globalBest).toEqual([0]);
  });

  it('the worst is the lowest score, not the highest', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 3, seed: 3, inertia: 0, cognitive: 0, social: 0, start: start([[0], [1], [3]], [[0], [0], [0]]) });
    swarm.update([2, 1, 3]);
    // Worst a2 at 1: a1 moves 0 + 0.5 × (0 − 1), a3 3 + 0.5 × (3 − 1).
    expectClose(swarm.particles, [[-0.5], [1], [4]], 'away from a2');
    // A later, higher worst does not replace it.
    swarm.update([1.5, 1.5, 1.5]);
    expectClose(swarm.particles, [[-0.5 + 0.475 * -1.5], [1], [4 + 0.475 * 3]], 'still away from 1');
  });

  it('repel ties: a later score equal to the worst does not move the global worst', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 3, seed: 3, inertia: 0, cognitive: 0, social: 0, start: start([[0], [10], [4]], [[0], [0], [0]]) });
    swarm.update([5, -5, 0]);
    expectClose(swarm.particles, [[-5], [10], [1]], 'away from 10');
    swarm.update([-5, 5, 0]);
    expectClose(swarm.particles, [[-5 + 0.475 * -15], [10], [1 + 0.475 * -9]], 'still away from 10');
  });

  it('cognitive and inertia: a particle whose score fell is pulled back toward where its best (first) score was reached', () => {
    const { ref } = replay({ dimension: 1, population: 1, seed: 3, social: 0, repel: 0, restartPatience: 99, start: start([[0]], [[1]]) }, [1, 1, 0.5, 2, 2, 0].map((s) => [s]));
    expect(ref.pbestScore).toEqual([2]);
    expect(ref.pbest[0]![0]).not.toBe(ref.x[0]![0]);
  });
});

describe('swarm: restarts and the stop', () => {
  const start = (positions: number[][], velocities: number[][]) => ({ positions, velocities });

  it('a particle whose score did not beat its previous two goes back to its personal best with a fresh velocity in [−1, 1]', () => {
    const swarm = new ParticleSwarm({ dimension: 1, population: 1, seed: 3, cognitive: 0, social: 0, repel: 0, start: start([[0]], [[1]]) });
    swarm.update([2]); // best at 0 → 0.5
    swarm.update([1]); // → 0.975
    swarm.update([1]); // → 1.42625
    expectClose(swarm.particles, [[1.42625]], 'three moves');
    swarm.update([1.5]); // 1.5 ≤ max(1, 1): no; 1.5 > 1 → not stalled → moves on
    expect(swarm.particles[0]![0]).toBeGreaterThan(1.42625);
    const before = swarm.particles[0]![0]!;
    swarm.update([1.5]); // history 1, 1.5, 1.5: 1.5 ≤ 1.5 → stalled: back to the personal best, 0
    expect(swarm.particles).toEqual([[0]]);
    expect(before).not.toBe(0);
    // Inertia alone next: the fresh velocity moves it by step × v, |v| ≤ 1, step 0.5 × 0.95⁵.
    swarm.update([3]);
    const moved = Math.abs(swarm.particles[0]![0]!);
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThanOrEqual(0.5 * 0.95 ** 5);
  });

  it('not stalled while the latest beats the best of the previous two, even below older scores; stalled when it beats only the older one', () => {
    // History 5, 1, 2, 3: 3 > max(1, 2) → moves on (a rule over the whole history would restart).
    const a = new ParticleSwarm({ dimension: 1, population: 1, seed: 3, cognitive: 0, social: 0, repel: 0, start: start([[0]], [[1]]) });
    for (const s of [5, 1, 2, 3]) a.update([s]);
    expectClose(a.particles, [[0.5 + 0.475 + 0.45125 + 0.4286875]], 'four moves');
    // History 0, 1, 3, 2: 2 ≤ max(1, 3) → stalled (2 > 1, the older or the least, would not be): back to 0.975, where it scored 3.
    const b = new ParticleSwarm({ dimension: 1, population: 1, seed: 3, cognitive: 0, social: 0, repel: 0, start: start([[0]], [[1]]) });
    for (const s of [0, 1, 3]) b.update([s]);
    expectClose(b.particles, [[1.42625]], 'three moves');
    b.update([2]);
    expect(b.particles).toEqual([[0.975]]);
  });

  it('stops when the global best did not beat the best of the previous patience − 1 iterations (default patience 5)', () => {
    const swarm = new ParticleSwarm({ dimension: 2, population: 2, seed: 4, restartPatience: 99 });
    const tops = [1, 2, 3, 3, 3, 4, 4];
    const stops = tops.map((t) => swarm.update([t, t - 10]));
    // Global history 1,2,3,3,3,4,4: iteration 6 (4 > max of 2,3,3,3) goes on; 7 (4 ≤ max of 3,3,3,4) stops.
    expect(stops).toEqual([false, false, false, false, false, false, true]);
    const flat = new ParticleSwarm({ dimension: 2, population: 2, seed: 4, restartPatience: 99 });
    expect([1, 1, 1, 1, 1, 1].map((t) => flat.update([t, t]))).toEqual([false, false, false, false, false, true]);
  });
});

describe('swarm: replayed against the reference', () => {
  /** Integer scores with many ties across particles and iterations, non-monotone per particle. */
  const table = (rows: number, cols: number, phase: number) =>
    Array.from({ length: rows }, (_, t) => Array.from({ length: cols }, (_, i) => Math.round(3 * Math.sin(t * 1.7 + i * 2.3 + phase))));

  it('defaults, 4 particles × 3 dimensions, 40 iterations of tied, rising and falling scores (restarts, the minimum step)', () => {
    const { stops, ref } = replay({ dimension: 3, population: 4, seed: 7, patience: 60 }, table(40, 4, 0).map((row, t) => row.map((s, i) => (i === 0 ? s + t / 8 : s))));
    expect(stops).toHaveLength(40);
    expect(ref.step).toBe(0.1);
  });

  it('other seeds and phases, with the default patience stop', () => {
    for (const [seed, phase] of [[1, 0.4], [11, 1.1], [23, 2.9]] as const) {
      const { stops } = replay({ dimension: 2, population: 5, seed }, table(30, 5, phase));
      expect(stops.at(-1), `seed ${seed}`).toBe(true);
    }
  });

  it('a particle scored −∞ keeps its start as its personal best; all −∞ keeps particle 1’s start as the global best', () => {
    const rows = [[-Infinity, -Infinity, -Infinity], [1, -Infinity, 0], [2, 0, -1], [0, 3, 1], [1, 1, 1]];
    const { swarm } = replay({ dimension: 2, population: 3, seed: 13, patience: 60 }, rows);
    expect(swarm.globalBestScore).toBe(3);
  });

  it('a first iteration all +∞ keeps particle 1’s start as the global worst', () => {
    replay({ dimension: 2, population: 3, seed: 17, patience: 60 }, [[Infinity, Infinity, Infinity], [1, 0, 2], [0, 2, 1], [2, 1, 0]]);
  });

  it('a constant score: the personal best stays where the score was first reached, and the particle is sent back there', () => {
    const { ref } = replay({ dimension: 2, population: 2, seed: 19, patience: 60 }, Array.from({ length: 8 }, (_, t) => [0.5, t]));
    expect(ref.pbestScore[0]).toBe(0.5);
  });
});

describe('swarm: decoding a graph with no nodes', () => {
  it('zero nodes decode to no edges, ending at node 0', () => {
    expect(decodeDag([], 0)).toEqual({ n: 0, edges: [], end: 0 });
  });
});
