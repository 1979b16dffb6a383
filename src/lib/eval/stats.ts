/**
 * Statistics for collaboration results, MoCo-style (arXiv 2601.21257): accuracy with a seeded
 * percentile-bootstrap 95% confidence interval (Efron & Tibshirani 1993, ch. 13), a paired bootstrap
 * of the difference between two systems on the same items, gain over the best member, win rate
 * over settings, and the emergence rate (share of the items no member solves that the collaboration
 * solves). Pure functions on arrays of per-item scores (0/1 or fractions).
 */
import { mulberry32 } from '../random.ts';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  n: number;
}

export interface BootstrapOptions {
  iterations?: number;
  seed?: number;
  level?: number;
}

/** The q-quantile of sorted values, linear interpolation between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const f = pos - i;
  const a = sorted[i]!;
  const b = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return a + (b - a) * f;
}

function percentileInterval(estimate: number, stats: number[], level: number, n: number): Interval {
  stats.sort((x, y) => x - y);
  const alpha = (1 - level) / 2;
  return { estimate, lo: quantile(stats, alpha), hi: quantile(stats, 1 - alpha), level, n };
}

/** Mean of `scores` with a percentile-bootstrap interval (seeded: same input, same interval). */
export function bootstrapCI(scores: readonly number[], opts: BootstrapOptions = {}): Interval {
  const { iterations = 2000, seed = 1, level = 0.95 } = opts;
  const n = scores.length;
  if (n === 0) throw new Error('bootstrapCI: no scores — evaluate at least one item');
  const rnd = mulberry32(seed);
  const stats: number[] = new Array<number>(iterations);
  for (let b = 0; b < iterations; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += scores[Math.floor(rnd() * n)]!;
    stats[b] = s / n;
  }
  return percentileInterval(mean(scores), stats, level, n);
}

export interface PairedInterval extends Interval {
  /** Share of resamples in which a scored higher than b. */
  shareAbove: number;
}

/**
 * Difference of means a − b on the same items, resampling items jointly (paired bootstrap,
 * Koehn 2004 "Statistical significance tests for machine translation evaluation").
 * The difference is significant at `level` when the interval excludes 0.
 */
export function pairedBootstrap(a: readonly number[], b: readonly number[], opts: BootstrapOptions = {}): PairedInterval {
  const { iterations = 2000, seed = 1, level = 0.95 } = opts;
  if (a.length !== b.length) throw new Error(`pairedBootstrap: the systems were scored on different item counts (${a.length} vs ${b.length})`);
  const n = a.length;
  if (n === 0) throw new Error('pairedBootstrap: no scores — evaluate at least one item');
  const d = a.map((x, i) => x - b[i]!);
  const rnd = mulberry32(seed);
  const stats: number[] = new Array<number>(iterations);
  let above = 0;
  for (let k = 0; k < iterations; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rnd() * n)]!;
    stats[k] = s / n;
    if (s > 0) above++;
  }
  return { ...percentileInterval(mean(d), stats, level, n), shareAbove: above / iterations };
}

export interface Gain {
  collaboration: number;
  bestMember: number;
  /** Index of the best member in the members array. */
  bestIndex: number;
  /** collaboration − best member, in score units. */
  absolute: number;
  /** absolute / best member (NaN when the best member scores 0). */
  relative: number;
}

/** Gain of a collaboration over its best member (MoCo's "improvement over the best single model"). */
export function gainOverBestMember(collaboration: readonly number[], members: ReadonlyArray<readonly number[]>): Gain {
  if (members.length === 0) throw new Error('gainOverBestMember: no members');
  const c = mean(collaboration);
  let bestIndex = 0;
  let best = -Infinity;
  members.forEach((m, i) => {
    const v = mean(m);
    if (v > best) {
      best = v;
      bestIndex = i;
    }
  });
  return { collaboration: c, bestMember: best, bestIndex, absolute: c - best, relative: best === 0 ? NaN : (c - best) / best };
}

/** Share of settings (task × pool × method) in which the collaboration beats its best member. */
export function winRate(settings: ReadonlyArray<{ collaboration: number; bestMember: number }>): number {
  if (settings.length === 0) return NaN;
  return settings.filter((s) => s.collaboration > s.bestMember).length / settings.length;
}

export interface Emergence {
  /** Items that no member solves. */
  unsolvedByAll: number;
  /** Of those, the items the collaboration solves. */
  solvedByCollaboration: number;
  /** solvedByCollaboration / unsolvedByAll (NaN when every item is solved by some member). */
  rate: number;
}

/**
 * Emergence (MoCo): among the items that no single member solves, the share the collaboration
 * solves. Scores are per item; an item counts as solved when its score is ≥ `threshold` (default 1).
 */
export function emergenceRate(collaboration: readonly number[], members: ReadonlyArray<readonly number[]>, threshold = 1): Emergence {
  for (const m of members) {
    if (m.length !== collaboration.length) throw new Error(`emergenceRate: a member was scored on ${m.length} items, the collaboration on ${collaboration.length}`);
  }
  let unsolved = 0;
  let solved = 0;
  collaboration.forEach((c, i) => {
    if (members.every((m) => m[i]! < threshold)) {
      unsolved++;
      if (c >= threshold) solved++;
    }
  });
  return { unsolvedByAll: unsolved, solvedByCollaboration: solved, rate: unsolved === 0 ? NaN : solved / unsolved };
}

/**
 * Plurality vote over answer keys: the most frequent non-empty key wins; ties go to the key that
 * appeared first (the caller orders voters, e.g. by dev score). Returns the index of the first
 * voter that gave the winning key, or -1 when every key is empty.
 */
export function majorityVote(keys: readonly string[]): number {
  const count = new Map<string, number>();
  for (const k of keys) if (k !== '') count.set(k, (count.get(k) ?? 0) + 1);
  let best = -1;
  let bestCount = 0;
  keys.forEach((k, i) => {
    const c = count.get(k) ?? 0;
    if (k !== '' && c > bestCount) {
      best = i;
      bestCount = c;
    }
  });
  return best;
}
