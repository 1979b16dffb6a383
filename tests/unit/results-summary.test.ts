// Every statistic of a results file, recomputed from its items by a separate plain computation
// (written here from the definitions, sharing no code with src/lib/eval/results.ts or stats.ts
// beyond the seeded generator the intervals are defined with) and found equal. The results file is
// a real run of the runner over scripted models (tests/unit/runner.scripted.ts), so the test covers
// the file the CLI writes.
import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { createRunner } from '../../src/lib/eval/runner.ts';
import { summarize, type ResultsFile } from '../../src/lib/eval/results.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { outside, poolTable } from '../../tools/pool/table.ts';
import { ScriptedModel, readToy, toyDataset } from './runner.scripted.ts';

async function results(): Promise<ResultsFile> {
  const experiment = parseExperiment(
    JSON.stringify({
      models: { d: 'd.gguf', n: 'n.gguf', w: 'w.gguf' },
      datasets: [{ path: 'toy', split: 'test' }],
      methods: [
        { method: 'vote', agents: ['d', 'n', 'w'], label: 'vote3' },
        // Two answers: not comparable with three samples of one (the diversity study pairs equal numbers of answers).
        { method: 'vote', agents: ['d', 'n'], label: 'vote2' },
        { method: 'vote', agents: [{ model: 'w', temperature: 0.9 }], knobs: { samples: 3 }, label: 'samples3', baseline: ['d', 'n', 'w'] },
        { method: 'router', agents: ['d', 'n'], label: 'router' },
        { method: 'single', agents: ['w'], members: ['d', 'n'], label: 'w-vs-d-n' },
      ],
      seeds: [3, 4],
    }),
  );
  const d = new ScriptedModel('d', (p) => ({ text: String(readToy(p).x * 2), logprob: -0.2 }), 0);
  const n = new ScriptedModel('n', (p) => ({ text: String(readToy(p).x + 1), logprob: -0.4 }), 0);
  // w: right on some items only, and sampled answers that vary with the seed
  const w = new ScriptedModel('w', (p, req) => {
    const { group, x } = readToy(p);
    const right = group === 'double' ? x * 2 : x + 1;
    const off = (req.temperature ?? 0) > 0 ? (req.seed ?? 0) % 3 : x % 3 === 0 ? 0 : 1;
    return { text: String(right + off), logprob: -0.3 };
  }, 0);
  const engines: Record<string, ScriptedModel> = { d, n, w };
  const out = await createRunner({ experiment, datasets: [toyDataset(10, 24)], models: (id) => ({ engine: engines[id]!, cacheKey: id }) }).run();
  if (out.status !== 'done') throw new Error('run did not finish');
  return out.results;
}

// --- the plain computation ---------------------------------------------------------------------
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
function pct(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
/** Percentile bootstrap of the mean: 2000 resamples drawn with mulberry32(1), 2.5% and 97.5%. */
function plainCI(xs: number[]): [number, number] {
  const rnd = mulberry32(1);
  const means: number[] = [];
  for (let b = 0; b < 2000; b++) {
    let s = 0;
    for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rnd() * xs.length)]!;
    means.push(s / xs.length);
  }
  means.sort((a, b) => a - b);
  return [pct(means, 0.025), pct(means, 0.975)];
}

describe('a results file’s statistics, recomputed from its items', () => {
  it('cell scores and intervals, per group, cost, best member on dev, gain, emergence, win share and diversity', async () => {
    const r = await results();
    const rows = (ci: number) => r.items.filter((it) => it.cell === ci);
    const scores = (ci: number) => rows(ci).map((it) => it.score);
    let settings = 0;
    let wins = 0;
    for (const [ci, c] of r.cells.entries()) {
      const xs = scores(ci);
      expect(c.n).toBe(xs.length);
      expect(c.score).toBe(avg(xs));
      expect(c.ci95).toEqual(plainCI(xs));
      for (const g of ['double', 'next']) {
        const gx = rows(ci).filter((it) => it.group === g).map((it) => it.score);
        expect(c.groups![g]).toEqual({ n: gx.length, score: avg(gx), ci95: plainCI(gx) });
      }
      const sum = (k: 'calls' | 'promptTokens' | 'completionTokens' | 'cachedCalls') => rows(ci).reduce((s, it) => s + it[k], 0);
      expect(c.cost).toMatchObject({ calls: sum('calls'), promptTokens: sum('promptTokens'), completionTokens: sum('completionTokens'), cachedCalls: sum('cachedCalls') });
      expect(c.cost.seconds).toBeCloseTo(rows(ci).reduce((s, it) => s + it.seconds, 0), 3);
      if (c.role !== 'collaboration') continue;
      // best member: the baseline model with the highest dev score, the first on ties
      const dev = c.baselineDevCells.map((d) => avg(scores(d)));
      let best = 0;
      for (let i = 1; i < dev.length; i++) if (dev[i]! > dev[best]!) best = i;
      const bestCell = c.baselineCells[best]!;
      expect(c.bestMember).toEqual({ model: r.cells[bestCell]!.agents[0]!.model, devScore: dev[best], cell: bestCell });
      const diffs = xs.map((x, i) => x - scores(bestCell)[i]!);
      expect(c.gain!.estimate).toBe(avg(diffs));
      expect(c.gain!.ci95).toEqual(plainCI(diffs));
      // per task: the best baseline on that task's dev items, on that task's test items
      for (const g of ['double', 'next']) {
        const devG = c.baselineDevCells.map((d) => avg(rows(d).filter((it) => it.group === g).map((it) => it.score)));
        let bg = 0;
        for (let i = 1; i < devG.length; i++) if (devG[i]! > devG[bg]!) bg = i;
        const bCell = c.baselineCells[bg]!;
        const at = rows(ci).flatMap((it, i) => (it.group === g ? [i] : []));
        const gd = at.map((i) => xs[i]! - scores(bCell)[i]!);
        const ci95 = plainCI(gd);
        expect(c.gainByGroup![g]).toEqual({ model: r.cells[bCell]!.agents[0]!.model, estimate: avg(gd), ci95, significant: ci95[0] > 0 || ci95[1] < 0 });
      }
      // emergence: items no member solves; the share of them the collaboration solves
      const unsolved = xs.map((_, i) => c.memberCells.every((m) => scores(m)[i]! < 1));
      const nUnsolved = unsolved.filter(Boolean).length;
      const nSolved = xs.filter((x, i) => unsolved[i] && x >= 1).length;
      expect(c.emergence).toEqual({ unsolvedByAll: nUnsolved, solved: nSolved, rate: nUnsolved ? nSolved / nUnsolved : null });
      // the same within each task: only that task's items, members' answers on the same items
      for (const g of ['double', 'next']) {
        const at = rows(ci).flatMap((it, i) => (it.group === g ? [i] : []));
        const u = at.filter((i) => unsolved[i]).length;
        const sv = at.filter((i) => unsolved[i] && xs[i]! >= 1).length;
        expect(c.emergenceByGroup![g]).toEqual({ unsolvedByAll: u, solved: sv, rate: u ? sv / u : null });
      }
      expect(Object.values(c.emergenceByGroup!).reduce((a, e) => a + e.unsolvedByAll, 0)).toBe(nUnsolved);
      settings++;
      if (c.score > r.cells[bestCell]!.score) wins++;
    }
    expect(settings).toBe(10); // five collaborations × two seeds
    expect(r.summary.winShare).toEqual({ settings, wins, share: wins / settings });
    // diversity: vote of three different models against three samples of one, per seed (not vote2: two answers)
    expect(r.summary.diversity).toHaveLength(2);
    for (const p of r.summary.diversity) {
      const diffs = scores(p.different).map((x, i) => x - scores(p.samples)[i]!);
      expect(p.diff).toBe(avg(diffs));
      expect(p.ci95).toEqual(plainCI(diffs));
      expect([r.cells[p.different]!.labels, r.cells[p.samples]!.labels]).toEqual([['vote3'], ['samples3']]);
    }
    const total = r.items.reduce((s, it) => s + it.calls, 0);
    expect(r.summary.cost.calls).toBe(total);
  });

  it('summarize() of a file is the file: a results file re-summarised from its items is unchanged', async () => {
    const r = await results();
    const again = summarize(JSON.parse(JSON.stringify(r)) as ResultsFile);
    expect(again.cells).toEqual(r.cells);
    expect(again.summary).toEqual(r.summary);
  });

  it('a tampered item changes the recomputed statistics', async () => {
    const r = await results();
    const ci = r.cells.findIndex((c) => c.labels.includes('vote3'));
    const copy = JSON.parse(JSON.stringify(r)) as ResultsFile;
    const item = copy.items.find((it) => it.cell === ci && it.score === 1)!;
    item.score = 0;
    const again = summarize(copy);
    expect(again.cells[ci]!.score).toBeCloseTo(r.cells[ci]!.score - 1 / r.cells[ci]!.n, 12);
  });

  it('the pool table shows emergence by task for each collaboration, from the runner\'s statistics', async () => {
    const r = await results();
    const md = poolTable(r);
    expect(md).toContain('| system | double | next |');
    for (const c of r.cells.filter((x) => x.split === 'test' && x.emergenceByGroup)) {
      const cell = (g: string) => {
        const e = c.emergenceByGroup![g]!;
        return e.rate === null ? 'n/a (0/0)' : `${(e.rate * 100).toFixed(1)}% (${e.solved}/${e.unsolvedByAll})`;
      };
      for (const l of c.labels) expect(md).toContain(`| ${l} | ${cell('double')} | ${cell('next')} |`);
    }
  });

  it('the pool table counts the settings that beat the best single model outside the interval, mixed and per task', async () => {
    const r = await results();
    const withGain = r.cells.filter((c) => c.gain);
    const mixed = withGain.filter((c) => c.gain!.ci95[0] > 0).length;
    const perTask = withGain.flatMap((c) => Object.values(c.gainByGroup!));
    const line = outside(r.cells);
    expect(line).toContain(`${mixed} of ${withGain.length} on the mixed test set`);
    expect(line).toContain(`${perTask.filter((g) => g.ci95[0] > 0).length} of ${perTask.length} (method, task) settings`);
    expect(poolTable(r)).toContain(line);
  });
});
