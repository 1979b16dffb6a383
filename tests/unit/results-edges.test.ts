// summarize()'s edges (src/lib/eval/results.ts) on hand-written cells and items, each figure worked
// by hand: stale statistics dropped, an empty cell, cost summed and rounded to the millisecond, the
// best member on dev (first on ties), gain and its significance, emergence (rate null when every
// item is solved by some member), per-group figures (a group a baseline lacks on dev loses), win
// share, the diversity pairs (same method, data set, split and seed; N different models against N
// samples of one), and the refusals of misaligned or misfiled items.
import { describe, expect, it } from 'vitest';
import { BOOTSTRAP, itemsByCell, summarize, type CellResult, type ItemResult } from '../../src/lib/eval/results.ts';
import { bootstrapCI, pairedBootstrap } from '../../src/lib/eval/stats.ts';

const opts = { iterations: BOOTSTRAP.iterations, seed: BOOTSTRAP.seed, level: BOOTSTRAP.level };
const ci = (xs: number[]): [number, number] => {
  const r = bootstrapCI(xs, opts);
  return [r.lo, r.hi];
};
const pci = (a: number[], b: number[]): [number, number] => {
  const r = pairedBootstrap(a, b, opts);
  return [r.lo, r.hi];
};

function cell(extra: Partial<CellResult>): CellResult {
  return {
    method: 'single', labels: [], agents: [{ model: 'a', temperature: 0 }], knobs: {}, dataset: 'toy', split: 'test', seed: 1, role: 'member',
    memberCells: [], baselineCells: [], baselineDevCells: [], n: 0, score: 0, ci95: [0, 0], cost: { calls: 0, promptTokens: 0, completionTokens: 0, seconds: 0, cachedCalls: 0 }, ...extra,
  };
}
function items(c: number, scores: number[], groups?: string[], extra: Partial<ItemResult> = {}): ItemResult[] {
  return scores.map((score, i) => ({
    cell: c, id: `i${i}`, prompt: 'p', reference: 'r', output: 'o', parsed: 'o', score, calls: 1, promptTokens: 2, completionTokens: 3, seconds: 0.0004, cachedCalls: i % 2,
    ...(groups ? { group: groups[i] } : {}), ...extra,
  }));
}

describe('summarize: cells', () => {
  it('a cell\'s score, interval, n and cost; stale figures of the input dropped; an empty cell is zero', () => {
    const stale = { gain: { estimate: 9, ci95: [0, 0] as [number, number], significant: true }, bestMember: { model: 'z', devScore: 1, cell: 0 }, emergence: { unsolvedByAll: 1, solved: 1, rate: 1 }, groups: { g: { n: 1, score: 1, ci95: [1, 1] as [number, number] } }, gainByGroup: {}, emergenceByGroup: {} };
    const r = summarize({ cells: [cell({ ...stale, role: 'collaboration', method: 'vote' }), cell({ ...stale, n: 5, score: 0.5 })], items: items(0, [1, 0, 1, 1]) });
    const [c0, c1] = r.cells;
    expect(c0).toMatchObject({ n: 4, score: 0.75, ci95: ci([1, 0, 1, 1]) });
    for (const k of ['gain', 'bestMember', 'emergence', 'groups', 'gainByGroup', 'emergenceByGroup']) {
      expect(k in c0!, k).toBe(false);
      expect(k in c1!, k).toBe(false);
    }
    // 4 × 0.0004 s = 0.0016 s, rounded to the millisecond
    expect(c0!.cost).toEqual({ calls: 4, promptTokens: 8, completionTokens: 12, seconds: 0.002, cachedCalls: 2 });
    expect(c1).toMatchObject({ n: 0, score: 0, ci95: [0, 0], cost: { calls: 0, promptTokens: 0, completionTokens: 0, seconds: 0, cachedCalls: 0 } });
    expect(r.summary.cost).toEqual({ calls: 4, promptTokens: 8, completionTokens: 12, seconds: 0.002, cachedCalls: 2 });
    expect(r).toMatchObject({ format: 'chorus-experiment-results', version: 1, experiment: null, bootstrap: { iterations: 2000, seed: 1, level: 0.95, method: 'percentile; paired for differences (Efron & Tibshirani 1993; Koehn 2004)' } });
    // a collaboration without member or baseline cells gets neither emergence nor gain
    expect(r.summary.winShare).toEqual({ settings: 0, wins: 0, share: null });
    expect(summarize({ cells: [], items: [], experiment: { x: 1 } }).experiment).toEqual({ x: 1 });
  });

  it('groups: per group in first-seen order; items without a group are in no group', () => {
    const r = summarize({ cells: [cell({})], items: items(0, [1, 0, 0, 1, 1], ['b', 'a', 'b', undefined as never, 'a']) });
    expect(Object.keys(r.cells[0]!.groups!)).toEqual(['b', 'a']);
    expect(r.cells[0]!.groups).toEqual({ b: { n: 2, score: 0.5, ci95: ci([1, 0]) }, a: { n: 2, score: 0.5, ci95: ci([0, 1]) } });
  });

  it('items naming a cell that does not exist are refused', () => {
    expect(() => itemsByCell({ cells: [cell({})], items: items(1, [1]) })).toThrow(new Error('results: an item names cell 1, and there are 1 cells'));
    expect(itemsByCell({ cells: [cell({}), cell({})], items: [...items(1, [1]), ...items(0, [0])] }).map((l) => l.map((i) => i.score))).toEqual([[0], [1]]);
  });
});

describe('summarize: best member, gain, emergence', () => {
  // cells: 0 collaboration (test), 1 a test, 2 b test, 3 a dev, 4 b dev
  const layout = (collab: number[], a: number[], b: number[], aDev: number[], bDev: number[], groups?: string[], devGroups?: string[]) => ({
    cells: [
      cell({ role: 'collaboration', method: 'vote', agents: [{ model: 'a', temperature: 0 }, { model: 'b', temperature: 0 }], memberCells: [1, 2], baselineCells: [1, 2], baselineDevCells: [3, 4] }),
      cell({ agents: [{ model: 'a', temperature: 0 }] }),
      cell({ agents: [{ model: 'b', temperature: 0 }] }),
      cell({ agents: [{ model: 'a', temperature: 0 }], split: 'dev' }),
      cell({ agents: [{ model: 'b', temperature: 0 }], split: 'dev' }),
    ],
    items: [...items(0, collab, groups), ...items(1, a, groups), ...items(2, b, groups), ...items(3, aDev, devGroups), ...items(4, bDev, devGroups)],
  });

  it('the best member is the baseline with the higher dev score; the gain is against its test cell', () => {
    const r = summarize(layout([1, 1, 0, 1], [1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1], [1, 0, 1]));
    const c = r.cells[0]!;
    expect(c.bestMember).toEqual({ model: 'b', devScore: 2 / 3, cell: 2 });
    expect(c.gain!.estimate).toBeCloseTo(0.25, 12);
    expect(c.gain!.ci95).toEqual(pci([1, 1, 0, 1], [0, 1, 0, 1]));
    expect(c.gain!.significant).toBe(c.gain!.ci95[0] > 0 || c.gain!.ci95[1] < 0);
    // emergence: items 0 and 2 … item 0 is solved by a, item 2 by nobody, items 1 and 3 by b → 1 unsolved, not solved by the collaboration
    expect(c.emergence).toEqual({ unsolvedByAll: 1, solved: 0, rate: 0 });
    expect(r.summary.winShare).toEqual({ settings: 1, wins: 1, share: 1 });
  });

  it('ties on dev go to the first baseline; a collaboration no better than it is not a win; a clear gain is significant', () => {
    const r = summarize(layout([1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1], [1, 0], [0, 1]));
    expect(r.cells[0]!.bestMember).toEqual({ model: 'a', devScore: 0.5, cell: 1 });
    expect(r.cells[0]!.gain).toEqual({ estimate: 1, ci95: [1, 1], significant: true });
    const even = summarize(layout([1, 0], [1, 0], [1, 1], [1], [0]));
    expect(even.cells[0]!.bestMember!.model).toBe('a');
    expect(even.cells[0]!.gain).toEqual({ estimate: 0, ci95: [0, 0], significant: false });
    expect(even.summary.winShare).toEqual({ settings: 1, wins: 0, share: 0 });
    // worse everywhere: significant with a negative interval
    const worse = summarize(layout([0, 0, 0], [1, 1, 1], [1, 1, 1], [1], [0]));
    expect(worse.cells[0]!.gain).toEqual({ estimate: -1, ci95: [-1, -1], significant: true });
  });

  it('emergence: null when every item is solved by some member; solved items counted at a score of 1', () => {
    const r = summarize(layout([0, 1], [1, 0], [0, 1], [1], [1]));
    expect(r.cells[0]!.emergence).toEqual({ unsolvedByAll: 0, solved: 0, rate: null });
    const half = summarize(layout([1, 0.5, 1], [0, 0, 0.9], [0, 0, 0], [1], [1]));
    expect(half.cells[0]!.emergence).toEqual({ unsolvedByAll: 3, solved: 2, rate: 2 / 3 });
  });

  it('no gain without dev cells, or when dev and test baselines differ in number', () => {
    const base = layout([1, 0], [1, 0], [0, 1], [1], [1]);
    const noDev = summarize({ ...base, cells: base.cells.map((c, i) => (i === 0 ? { ...c, baselineDevCells: [] } : c)) });
    expect('gain' in noDev.cells[0]!).toBe(false);
    expect('bestMember' in noDev.cells[0]!).toBe(false);
    expect(noDev.cells[0]!.emergence).toBeDefined();
    const uneven = summarize({ ...base, cells: base.cells.map((c, i) => (i === 0 ? { ...c, baselineDevCells: [3] } : c)) });
    expect('gain' in uneven.cells[0]!).toBe(false);
    // no member cells: no emergence, the gain still computed
    const noMembers = summarize({ ...base, cells: base.cells.map((c, i) => (i === 0 ? { ...c, memberCells: [] } : c)) });
    expect('emergence' in noMembers.cells[0]!).toBe(false);
    expect(noMembers.cells[0]!.gain).toBeDefined();
    // an empty collaboration: nothing
    const empty = summarize({ ...base, items: base.items.filter((it) => it.cell !== 0) });
    expect(empty.cells[0]).toMatchObject({ n: 0 });
    expect('emergence' in empty.cells[0]!).toBe(false);
  });

  it('per group: each group\'s best baseline on its own dev items; a baseline without the group on dev never wins it', () => {
    const groups = ['x', 'y', 'x', 'y'];
    // a is best on x's dev items, b on y's; b has no dev items of group x
    const r = summarize(layout([1, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0], [1, 1], groups, ['x', 'y']));
    const c = r.cells[0]!;
    expect(Object.keys(c.gainByGroup!)).toEqual(['x', 'y']);
    expect(c.gainByGroup!.x).toEqual({ model: 'a', estimate: -0.5, ci95: pci([1, 0], [1, 1]), significant: pci([1, 0], [1, 1])[0] > 0 || pci([1, 0], [1, 1])[1] < 0 });
    expect(c.gainByGroup!.y!.model).toBe('b');
    expect(c.gainByGroup!.y!.estimate).toBe(0);
    // b's only dev item is of group x: it wins x (1 against a's 0) and never y (no dev items there), where a's 0 wins
    const oneSided = layout([1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0], [1], groups, ['x', 'y']);
    const bOnlyX = summarize({ ...oneSided, items: oneSided.items.map((it) => (it.cell === 4 ? { ...it, group: 'x' } : it)) });
    expect(bOnlyX.cells[0]!.gainByGroup!.x!.model).toBe('b');
    expect(bOnlyX.cells[0]!.gainByGroup!.y!.model).toBe('a');
    // emergence by group: member items aligned by position
    expect(c.emergenceByGroup).toEqual({ x: { unsolvedByAll: 0, solved: 0, rate: null }, y: { unsolvedByAll: 0, solved: 0, rate: null } });
    const e = summarize(layout([1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1], [1], groups));
    expect(e.cells[0]!.emergenceByGroup).toEqual({ x: { unsolvedByAll: 2, solved: 1, rate: 0.5 }, y: { unsolvedByAll: 1, solved: 1, rate: 1 } });
  });

  it('a member cell on other items is refused, naming the cells', () => {
    const base = layout([1, 0], [1, 0], [0, 1], [1], [1]);
    const moved = base.items.map((it) => (it.cell === 1 && it.id === 'i1' ? { ...it, id: 'other' } : it));
    expect(() => summarize({ ...base, items: moved })).toThrow(new Error('results: cell 0 and its member cell 1 were not scored on the same items in the same order'));
    const short = base.items.filter((it) => !(it.cell === 2 && it.id === 'i1'));
    expect(() => summarize({ ...base, items: short })).toThrow(new Error('results: cell 0 and its member cell 2 were not scored on the same items in the same order'));
    const noMembers = { ...base, cells: base.cells.map((c, i) => (i === 0 ? { ...c, memberCells: [] } : c)) };
    expect(() => summarize({ ...noMembers, items: moved })).toThrow(new Error('results: cell 0 and its best member\'s cell 1 were not scored on the same items in the same order'));
  });
});

describe('summarize: diversity', () => {
  const agents = (...m: string[]) => m.map((model) => ({ model, temperature: model.endsWith('*') ? 0.7 : 0 }));
  const collab = (extra: Partial<CellResult>) => cell({ role: 'collaboration', method: 'vote', ...extra });

  it('N different models against one model sampled N times: same method, data set, split and seed, equal answers', () => {
    const cells = [
      collab({ agents: agents('a', 'b', 'c') }),
      collab({ agents: agents('a*'), knobs: { samples: 3 } }),
      collab({ agents: agents('a*', 'a*', 'a*') }),
      collab({ agents: agents('a*'), knobs: { samples: 2 } }), // 2 answers: not comparable with 3
      collab({ agents: agents('a*'), knobs: { samples: 3 }, seed: 2 }),
      collab({ agents: agents('a*'), knobs: { samples: 3 }, split: 'dev' }),
      collab({ agents: agents('a*'), knobs: { samples: 3 }, dataset: 'other' }),
      collab({ agents: agents('a*'), knobs: { samples: 3 }, method: 'debate' }),
      cell({ agents: agents('a'), knobs: { samples: 3 } }), // a member cell, not a collaboration
      collab({ agents: agents('a*'), knobs: { samples: '3' } }), // samples not a number: 1 answer
    ];
    const scores = [[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]];
    const r = summarize({ cells, items: scores.flatMap((s, c) => items(c, s)) });
    expect(r.summary.diversity.map((p) => [p.different, p.samples])).toEqual([[0, 1], [0, 2]]);
    expect(r.summary.diversity[0]).toEqual({ method: 'vote', dataset: 'toy', split: 'test', seed: 1, different: 0, samples: 1, differentScore: 2 / 3, samplesScore: 1 / 3, diff: 1 / 3, ci95: pci([1, 1, 0], [1, 0, 0]) });
    expect(r.summary.diversity[1]!.diff).toBeCloseTo(2 / 3, 12);
  });

  it('no pair with an empty cell, a single sample, or two models on the sampled side', () => {
    const cells = [
      collab({ agents: agents('a', 'b') }),
      collab({ agents: agents('a*', 'b*') }), // two distinct models: not "one model"
      collab({ agents: agents('a*') }), // one answer
      collab({ agents: agents('a', 'a') }), // one model twice: a pair with cell 0
      collab({ agents: agents('b*', 'b*') }), // no items
    ];
    const scores = [[1, 0], [1, 1], [1, 1], [0, 0], []];
    const r = summarize({ cells, items: scores.flatMap((s, c) => items(c, s)) });
    expect(r.summary.diversity.map((p) => [p.different, p.samples])).toEqual([[0, 3], [1, 3]]);
    const emptyDifferent = summarize({ cells: [collab({ agents: agents('a', 'b') }), collab({ agents: agents('a', 'a') })], items: items(1, [1, 1]) });
    expect(emptyDifferent.summary.diversity).toEqual([]);
  });

  it('a pair scored on different items is refused', () => {
    const cells = [collab({ agents: agents('a', 'b') }), collab({ agents: agents('a', 'a') })];
    expect(() => summarize({ cells, items: [...items(0, [1, 0]), ...items(1, [1])] })).toThrow(new Error('results: cells 0 and 1 were not scored on the same items in the same order'));
  });
});
