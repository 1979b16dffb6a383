/**
 * `npm run methods:table -- RESULTS.json [--experiment FILE.json] [--readme]` — the methods table:
 * every collaboration of an experiment (by default experiments/methods.json) against the best
 * single member chosen on dev, from the results file `npm run experiment` wrote, plus the
 * right-to-wrong and wrong-to-right flips of methods whose agents revise (debate, feedback).
 *
 * Scores, intervals, gains and emergence are the runner's (summarize() in src/lib/eval/results.ts);
 * this tool adds the per-query cost and the flips, which it scores itself: each agent's answer of
 * each round, from the kept traces, with the data set's own metric (src/lib/eval/flips.ts). Prints
 * the markdown, and with --readme replaces the README's `<!-- methods-table -->` block.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CellResult, ResultsFile } from '../../src/lib/eval/results.ts';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import { loadDataset } from '../../src/lib/eval/load.ts';
import { countFlips, type FlipCounts } from '../../src/lib/eval/flips.ts';
import type { EvalItem } from '../../src/lib/eval/task.ts';
import { nodeSandbox } from '../lib/node-sandbox.ts';
import { fmt, pct, replaceReadmeBlock } from '../pool/table.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const signed = (g: { estimate: number; ci95: [number, number]; significant: boolean }) =>
  `${g.estimate >= 0 ? '+' : ''}${pct(g.estimate)} [${pct(g.ci95[0])}, ${pct(g.ci95[1])}]${g.significant ? ' *' : ''}`;

export async function methodsTable(r: ResultsFile, experimentPath: string): Promise<string> {
  const experiment = parseExperiment(readFileSync(experimentPath, 'utf8'), experimentPath);
  if (experiment.datasets.length !== 1) throw new Error(`${experimentPath}: the methods table reads one data set (found ${experiment.datasets.length})`);
  const spec = experiment.datasets[0]!;
  const ds = await loadDataset({ ...spec, split: 'test' }, async (p) => new Uint8Array(await readFile(resolve(dirname(experimentPath), p))));
  const byId = new Map((ds.splits.test ?? []).map((i) => [i.id, i] as const));
  const test = r.cells.filter((c) => c.split === 'test');
  const collab = test.filter((c) => c.role === 'collaboration');
  if (collab.length === 0) throw new Error('the results file has no collaboration on the test split');
  const members = test.filter((c) => c.role === 'member');
  const best = collab.find((c) => c.bestMember)?.bestMember;
  const tasks = Object.keys(collab[0]!.groups ?? {});
  const perQuery = (c: CellResult) => `${(c.cost.calls / c.n).toFixed(1)} · ${Math.round((c.cost.promptTokens + c.cost.completionTokens) / c.n)}`;
  const row = (name: string, c: CellResult, vs: string, em: string) =>
    `| ${name} | ${tasks.map((t) => pct(c.groups![t]!.score)).join(' | ')} | ${fmt(c)} | ${vs} | ${em} | ${perQuery(c)} |`;
  const lines = [
    `| method | ${tasks.join(' | ')} | mixed test (${collab[0]!.n}) | vs best single member | emergence | calls · tokens per query |`,
    `|${' --- |'.repeat(tasks.length + 5)}`,
    ...members.map((c) => row(`${c.agents[0]!.model} (member${best && r.cells[best.cell]!.agents[0]!.model === c.agents[0]!.model ? ', best on dev' : ''})`, c, '', '')),
    ...collab.map((c) => {
      const e = c.emergence;
      return row(c.labels[0] ?? c.method, c, c.gain ? signed(c.gain) : '', e ? (e.rate === null ? 'n/a' : `${pct(e.rate)}% (${e.solved}/${e.unsolvedByAll})`) : '');
    }),
  ];
  // Flips, for every collaboration whose agents revised at least once.
  const js = nodeSandbox();
  const flipRows: string[] = [];
  for (const c of collab) {
    const ci = r.cells.indexOf(c);
    const rows = r.items.filter((i) => i.cell === ci && i.trace);
    const f: FlipCounts = await countFlips(rows.map((i) => ({ item: byId.get(i.id)!, trace: i.trace! })), async (item: EvalItem, text) => (await ds.score(item, text, { js })).score);
    if (f.transitions === 0) continue;
    const rate = (x: number | null, n: number, d: number) => (x === null ? 'n/a' : `${pct(x)}% (${n}/${d})`);
    flipRows.push(`| ${c.labels[0] ?? c.method} | ${f.transitions} | ${rate(f.rightToWrongRate, f.rightToWrong, f.rightToWrong + f.rightToRight)} | ${rate(f.wrongToRightRate, f.wrongToRight, f.wrongToRight + f.wrongToWrong)} |`);
  }
  const s = r.summary;
  return [
    `Accuracy in % on ${[...new Set(tasks.map((t) => collab[0]!.groups![t]!.n))].join('/')} test items of each task; mixed test with 95% bootstrap intervals (${r.bootstrap.iterations} resamples, seed ${r.bootstrap.seed}); the runner's results of ${experimentPath.replace(`${ROOT}/`, '')} (wllama 3.13, llama.cpp wasm, CPU, 1 thread, in headless Chromium; greedy unless stated).`,
    `"vs best single member" is the paired-bootstrap difference to the member chosen on dev (${best ? `${r.cells[best.cell]!.agents[0]!.model}, dev ${pct(best.devScore)}%` : 'n/a'}) on the same test items (* = interval excludes 0); "emergence" is the share of test items no member solves that the method solves; cost per query counts every model call and token of the method on test (the dev fit or search not included).`,
    '',
    ...lines,
    '',
    `Collaboration beats the best single member in ${s.winShare.wins} of ${s.winShare.settings} settings.`,
    '',
    'Revisions: each agent\'s answer in one round against its own answer in the next, scored with the task\'s metric (src/lib/eval/flips.ts); right → wrong is the share of right answers a revision made wrong.',
    '',
    '| method | transitions | right → wrong | wrong → right |',
    '| --- | --- | --- | --- |',
    ...flipRows,
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const file = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--experiment');
  const ei = argv.indexOf('--experiment');
  const experimentPath = resolve(ei >= 0 ? argv[ei + 1]! : resolve(ROOT, 'experiments/methods.json'));
  if (!file) throw new Error('usage: npm run methods:table -- RESULTS.json [--experiment FILE.json] [--readme]');
  const md = await methodsTable(JSON.parse(readFileSync(file, 'utf8')) as ResultsFile, experimentPath);
  if (argv.includes('--readme')) replaceReadmeBlock('methods-table', md);
  process.stdout.write(md);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`methods:table: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
