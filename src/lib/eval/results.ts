/**
 * The results file of an experiment and `summarize`, which computes every statistic in it from the
 * per-item rows alone (so a results file can be checked, re-summarised or merged by anyone):
 *
 * - cell score: mean of its items' scores (MoCo's per-item score, 0–1), with a seeded
 *   percentile-bootstrap 95% interval; the same per group (task of a mixed set);
 * - best single member: among a collaboration's `baseline` models, the one whose member cell scores
 *   best on the dev split (ties: the earlier model); chosen on dev, never on test;
 * - gain: collaboration − that member on the same test items, with a paired-bootstrap interval;
 * - emergence: of the items none of the collaboration's `members` solves alone (score 1), the share
 *   the collaboration solves;
 * - win share (MoCo's "share of settings where collaboration beats the best single model"): over
 *   every collaboration cell with a gain, the share whose score is above its best member's;
 * - cost: calls, prompt and completion tokens, and model seconds (each call's time as measured
 *   when it was generated, so a cached rerun reports the same cost), plus how many calls the cache
 *   answered;
 * - diversity: for the same method, data set, split and seed, each cell of N different models
 *   against each cell of one model sampled N times, N the number of answers (agents × samples) on
 *   both sides (paired bootstrap of the difference).
 */
import type { TraceEvent } from '../trace.ts';
import type { AgentSpec, CellRole } from './experiment.ts';
import type { EvalSplit } from './task.ts';
import { bootstrapCI, emergenceRate, mean, pairedBootstrap } from './stats.ts';

export interface Cost {
  calls: number;
  promptTokens: number;
  completionTokens: number;
  seconds: number;
  cachedCalls: number;
}

export interface ItemResult {
  /** Index into `cells`. */
  cell: number;
  id: string;
  group?: string;
  prompt: string;
  reference: string;
  output: string;
  parsed: string;
  score: number;
  metrics?: Record<string, number>;
  /** Why scoring could not run normally (the score is then 0). */
  error?: string;
  /** Mean token probability of the answer (single-model cells with logprobs). */
  confidence?: number;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  seconds: number;
  cachedCalls: number;
  /** The run's TraceEvents (for drill-down), when kept. */
  trace?: TraceEvent[];
}

export interface Stat {
  n: number;
  score: number;
  ci95: [number, number];
}

export interface CellResult extends Stat {
  method: string;
  labels: string[];
  agents: AgentSpec[];
  /** Knobs as given, plus those fitted on dev. */
  knobs: Record<string, unknown>;
  fitted?: { note: string; knobs?: Record<string, unknown> };
  /** The data set's id (e.g. "pool/arithmetic+world"). */
  dataset: string;
  split: EvalSplit;
  seed: number;
  role: CellRole;
  /** Indices of the member cells on this cell's split (emergence) … */
  memberCells: number[];
  /** … and of the baseline models' cells on this split and on dev (best single member). */
  baselineCells: number[];
  baselineDevCells: number[];
  groups?: Record<string, Stat>;
  cost: Cost;
  bestMember?: { model: string; devScore: number; cell: number };
  gain?: { estimate: number; ci95: [number, number]; significant: boolean };
  emergence?: { unsolvedByAll: number; solved: number; rate: number | null };
  /** Per group (task) of a mixed data set: the gain over the best single model on that task's dev items. */
  gainByGroup?: Record<string, { model: string; estimate: number; ci95: [number, number]; significant: boolean }>;
  /** The same emergence within each group (task) of a mixed data set. */
  emergenceByGroup?: Record<string, { unsolvedByAll: number; solved: number; rate: number | null }>;
}

export interface DiversityPair {
  method: string;
  dataset: string;
  split: EvalSplit;
  seed: number;
  /** Cell of N different models, and cell of one model sampled. */
  different: number;
  samples: number;
  differentScore: number;
  samplesScore: number;
  diff: number;
  ci95: [number, number];
}

export interface Summary {
  winShare: { settings: number; wins: number; share: number | null };
  diversity: DiversityPair[];
  cost: Cost;
}

export interface ResultsFile {
  format: 'chorus-experiment-results';
  version: 1;
  experiment: unknown;
  bootstrap: { iterations: number; seed: number; level: number; method: string };
  cells: CellResult[];
  items: ItemResult[];
  summary: Summary;
}

export const BOOTSTRAP = { iterations: 2000, seed: 1, level: 0.95 };

const zeroCost = (): Cost => ({ calls: 0, promptTokens: 0, completionTokens: 0, seconds: 0, cachedCalls: 0 });

function stat(scores: number[]): Stat {
  const ci = bootstrapCI(scores, { iterations: BOOTSTRAP.iterations, seed: BOOTSTRAP.seed, level: BOOTSTRAP.level });
  return { n: scores.length, score: ci.estimate, ci95: [ci.lo, ci.hi] };
}

/** Each group's item positions within one cell's items, groups in first-seen order. */
function groupPositions(items: ItemResult[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (it.group !== undefined) (out.get(it.group) ?? out.set(it.group, []).get(it.group)!).push(i);
  });
  return out;
}

/** Emergence of a collaboration's scores over its members' scores on the same items. */
function emergenceOf(scores: number[], members: number[][]): { unsolvedByAll: number; solved: number; rate: number | null } {
  const e = emergenceRate(scores, members);
  return { unsolvedByAll: e.unsolvedByAll, solved: e.solvedByCollaboration, rate: Number.isNaN(e.rate) ? null : e.rate };
}

/** Items of each cell, in file order. */
export function itemsByCell(results: Pick<ResultsFile, 'cells' | 'items'>): ItemResult[][] {
  const by: ItemResult[][] = results.cells.map(() => []);
  for (const it of results.items) {
    const list = by[it.cell];
    if (!list) throw new Error(`results: an item names cell ${it.cell}, and there are ${results.cells.length} cells`);
    list.push(it);
  }
  return by;
}

/** The same items in the same order, or an error naming the first difference. */
function aligned(a: ItemResult[], b: ItemResult[], what: string): void {
  if (a.length !== b.length || a.some((x, i) => x.id !== b[i]!.id)) throw new Error(`results: ${what} were not scored on the same items in the same order`);
}

const significant = (lo: number, hi: number) => lo > 0 || hi < 0;

/** Every statistic of the results file, recomputed from its items (cells keep their identity fields). */
export function summarize(results: Pick<ResultsFile, 'cells' | 'items'> & Partial<ResultsFile>): ResultsFile {
  const by = itemsByCell(results);
  const scores = by.map((items) => items.map((it) => it.score));
  const positions = by.map(groupPositions);
  const pick = (xs: number[], at: number[]) => at.map((i) => xs[i]!);
  const cells: CellResult[] = results.cells.map((c, ci) => {
    const items = by[ci]!;
    const out: CellResult = { ...c };
    delete out.groups;
    delete out.bestMember;
    delete out.gain;
    delete out.emergence;
    delete out.emergenceByGroup;
    delete out.gainByGroup;
    Object.assign(out, items.length > 0 ? stat(scores[ci]!) : { n: 0, score: 0, ci95: [0, 0] });
    const cost = zeroCost();
    for (const it of items) {
      cost.calls += it.calls;
      cost.promptTokens += it.promptTokens;
      cost.completionTokens += it.completionTokens;
      cost.seconds += it.seconds;
      cost.cachedCalls += it.cachedCalls;
    }
    cost.seconds = Math.round(cost.seconds * 1000) / 1000;
    out.cost = cost;
    if (positions[ci]!.size > 0) out.groups = Object.fromEntries([...positions[ci]!].map(([g, at]) => [g, stat(pick(scores[ci]!, at))]));
    return out;
  });
  for (const [ci, c] of cells.entries()) {
    if (c.role !== 'collaboration' || c.n === 0) continue;
    if (c.memberCells.length > 0) {
      for (const m of c.memberCells) aligned(by[ci]!, by[m]!, `cell ${ci} and its member cell ${m}`);
      c.emergence = emergenceOf(scores[ci]!, c.memberCells.map((m) => scores[m]!));
      // The same within each group (task); member items are aligned with this cell's, so positions carry over.
      if (positions[ci]!.size > 0) {
        c.emergenceByGroup = Object.fromEntries([...positions[ci]!].map(([g, at]) => [g, emergenceOf(pick(scores[ci]!, at), c.memberCells.map((m) => pick(scores[m]!, at)))]));
      }
    }
    if (c.baselineDevCells.length > 0 && c.baselineDevCells.length === c.baselineCells.length) {
      let best = 0;
      c.baselineDevCells.forEach((d, i) => {
        if (mean(scores[d]!) > mean(scores[c.baselineDevCells[best]!]!)) best = i;
      });
      const bestCell = c.baselineCells[best]!;
      aligned(by[ci]!, by[bestCell]!, `cell ${ci} and its best member's cell ${bestCell}`);
      c.bestMember = { model: cells[bestCell]!.agents[0]!.model, devScore: mean(scores[c.baselineDevCells[best]!]!), cell: bestCell };
      const d = pairedBootstrap(scores[ci]!, scores[bestCell]!, { iterations: BOOTSTRAP.iterations, seed: BOOTSTRAP.seed, level: BOOTSTRAP.level });
      c.gain = { estimate: d.estimate, ci95: [d.lo, d.hi], significant: significant(d.lo, d.hi) };
      // Per group (task), as MoCo counts (method, task) settings: the best single model on that task's
      // dev items (first on ties), against the collaboration on that task's test items.
      if (positions[ci]!.size > 0) {
        const groupMean = (cell: number, g: string) => {
          const at = positions[cell]!.get(g);
          return at ? mean(pick(scores[cell]!, at)) : -1;
        };
        c.gainByGroup = Object.fromEntries([...positions[ci]!].map(([g, at]) => {
          let bg = 0;
          c.baselineDevCells.forEach((d, i) => {
            if (groupMean(d, g) > groupMean(c.baselineDevCells[bg]!, g)) bg = i;
          });
          const cell = c.baselineCells[bg]!;
          const dg = pairedBootstrap(pick(scores[ci]!, at), pick(scores[cell]!, at), { iterations: BOOTSTRAP.iterations, seed: BOOTSTRAP.seed, level: BOOTSTRAP.level });
          return [g, { model: cells[cell]!.agents[0]!.model, estimate: dg.estimate, ci95: [dg.lo, dg.hi] as [number, number], significant: significant(dg.lo, dg.hi) }];
        }));
      }
    }
  }
  const settings = cells.filter((c) => c.gain && c.bestMember);
  const wins = settings.filter((c) => c.score > cells[c.bestMember!.cell]!.score).length;
  const diversity: DiversityPair[] = [];
  const distinct = (c: CellResult) => new Set(c.agents.map((a) => a.model)).size;
  const answers = (c: CellResult) => c.agents.length * (typeof c.knobs.samples === 'number' ? c.knobs.samples : 1);
  cells.forEach((a, ai) => {
    if (a.role !== 'collaboration' || distinct(a) < 2 || a.n === 0) return;
    cells.forEach((b, bi) => {
      if (b.role !== 'collaboration' || distinct(b) !== 1 || answers(b) < 2 || b.n === 0) return;
      if (a.method !== b.method || a.dataset !== b.dataset || a.split !== b.split || a.seed !== b.seed) return;
      if (answers(a) !== answers(b)) return; // N different models against N samples: the same number of answers
      aligned(by[ai]!, by[bi]!, `cells ${ai} and ${bi}`);
      const d = pairedBootstrap(scores[ai]!, scores[bi]!, { iterations: BOOTSTRAP.iterations, seed: BOOTSTRAP.seed, level: BOOTSTRAP.level });
      diversity.push({ method: a.method, dataset: a.dataset, split: a.split, seed: a.seed, different: ai, samples: bi, differentScore: a.score, samplesScore: b.score, diff: d.estimate, ci95: [d.lo, d.hi] });
    });
  });
  const cost = zeroCost();
  for (const c of cells) for (const k of Object.keys(cost) as (keyof Cost)[]) cost[k] += c.cost[k];
  cost.seconds = Math.round(cost.seconds * 1000) / 1000;
  return {
    format: 'chorus-experiment-results',
    version: 1,
    experiment: results.experiment ?? null,
    bootstrap: { ...BOOTSTRAP, method: 'percentile; paired for differences (Efron & Tibshirani 1993; Koehn 2004)' },
    cells,
    items: results.items,
    summary: { winShare: { settings: settings.length, wins, share: settings.length ? wins / settings.length : null }, diversity, cost },
  };
}
