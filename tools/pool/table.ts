/**
 * `npm run pool:table -- RESULTS.json [--readme] [--pool2]` — the built-in pool's results table, rendered from
 * the results file `npm run experiment -- experiments/pool.json` writes (no scoring of its own:
 * every number is a statistic the runner's summarize() put in the file). Prints the markdown, writes
 * tools/pool/results.md, and with --readme replaces the table between the README's
 * `<!-- pool-table -->` and `<!-- /pool-table -->` markers. With --pool2 the same for the second
 * pool (experiments/pool2.json): tools/pool/results-pool2.md and the `<!-- pool2-table -->` block.
 *
 * The file is re-summarised with the runner's own summarize() first, so statistics added to the runner
 * after the run (emergence and gain by task) appear without a rerun; the items are not touched.
 *
 * Rows: the method entries of the experiment with a label, in file order, on the test split.
 * Columns: each task of the mixed test set, the whole mixed set, the gain over the best single
 * model chosen on dev (paired bootstrap), and emergence against the row's members.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, type CellResult, type ResultsFile } from '../../src/lib/eval/results.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const pct = (x: number) => (x * 100).toFixed(1);
export const fmt = (s: { score: number; ci95: [number, number] }) => `${pct(s.score)} [${pct(s.ci95[0])}, ${pct(s.ci95[1])}]`;

export function poolTable(r: ResultsFile, source = 'experiments/pool.json', decoding = 'stop at newline, max 16 tokens'): string {
  const rows = r.cells.filter((c) => c.split === 'test' && c.labels.length > 0);
  if (rows.length === 0) throw new Error('the results file has no labelled cells on the test split: is it the pool experiment (experiments/pool.json)?');
  const tasks = Object.keys(rows[0]!.groups ?? {});
  const best = rows.find((c) => c.bestMember)?.bestMember;
  const bestName = best ? r.cells[best.cell]!.agents[0]!.model : 'n/a';
  const head = `| system | ${tasks.join(' | ')} | mixed test (${rows[0]!.n}) | vs best single (${bestName}) | emergence |`;
  const sep = `|${' --- |'.repeat(tasks.length + 4)}`;
  const line = (c: CellResult, label: string) => {
    const g = c.gain;
    const vs = g ? `${g.estimate >= 0 ? '+' : ''}${pct(g.estimate)} [${pct(g.ci95[0])}, ${pct(g.ci95[1])}]${g.significant ? ' *' : ''}` : '';
    const e = c.emergence;
    const em = e ? (e.rate === null ? 'n/a' : `${pct(e.rate)}% (${e.solved}/${e.unsolvedByAll})`) : '';
    return `| ${label} | ${tasks.map((t) => fmt(c.groups![t]!)).join(' | ')} | ${fmt(c)} | ${vs} | ${em} |`;
  };
  const lines = rows.flatMap((c) => c.labels.map((l) => line(c, l)));
  const describe = (c: CellResult, label: string) => {
    const agents = c.agents.map((a) => (a.temperature > 0 ? `${a.model} at temperature ${a.temperature}` : a.model)).join(', ');
    const knobs = Object.entries(c.knobs).map(([k, v]) => `${k} ${String(v)}`).join(', ');
    const parts = [`${c.method} of ${agents}${knobs ? ` (${knobs})` : ''}`];
    if (c.fitted) parts.push(c.fitted.note);
    if (c.role === 'collaboration') parts.push(`members: ${c.memberCells.map((m) => r.cells[m]!.agents[0]!.model).join(', ')}`);
    return `- **${label}**: ${parts.join('; ')}`;
  };
  const notes = rows.flatMap((c) => c.labels.map((l) => describe(c, l)));
  const emRate = (e: { unsolvedByAll: number; solved: number; rate: number | null }) => (e.rate === null ? 'n/a (0/0)' : `${pct(e.rate)}% (${e.solved}/${e.unsolvedByAll})`);
  const byTask = rows.filter((c) => c.emergenceByGroup);
  const emergenceTable = byTask.length === 0 ? [] : [
    'Emergence by task: of the test items of each task that no member solves alone, the share the collaboration solves.',
    '',
    `| system | ${tasks.join(' | ')} |`,
    `|${' --- |'.repeat(tasks.length + 1)}`,
    ...byTask.flatMap((c) => c.labels.map((l) => `| ${l} | ${tasks.map((t) => (c.emergenceByGroup![t] ? emRate(c.emergenceByGroup![t]!) : '')).join(' | ')} |`)),
    '',
  ];
  const s = r.summary;
  return [
    `Accuracy in % with 95% bootstrap intervals (${r.bootstrap.iterations} resamples, seed ${r.bootstrap.seed}); the runner's results of ${source} (wllama 3.13, llama.cpp wasm, CPU, 1 thread, in headless Chromium; greedy unless stated; ${decoding}).`,
    `"vs best single" is the paired-bootstrap difference to the best single model chosen on dev (${bestName}, dev ${best ? pct(best.devScore) : 'n/a'}%) on the mixed test set (* = interval excludes 0).`,
    '"emergence" is the share of test items that no member solves and the collaboration solves.',
    '',
    head,
    sep,
    ...lines,
    '',
    ...emergenceTable,
    ...notes,
    '',
    `Collaboration beats the best single model in ${s.winShare.wins} of ${s.winShare.settings} settings (MoCo's win share). ` +
      outside(r.cells) +
      s.diversity.map((d) => `Different models vs samples of one (${r.cells[d.different]!.labels[0]} − ${r.cells[d.samples]!.labels[0]}): ${d.diff >= 0 ? '+' : ''}${pct(d.diff)} [${pct(d.ci95[0])}, ${pct(d.ci95[1])}].`).join(' ') +
      ` Cost: ${s.cost.calls} model calls, ${s.cost.promptTokens + s.cost.completionTokens} tokens, ${s.cost.seconds.toFixed(0)} s of model time.`,
    '',
  ].join('\n');
}

/** How many settings beat the best single model outside the 95% interval: on the mixed set, and per (method, task). */
export function outside(cells: CellResult[]): string {
  const withGain = cells.filter((c) => c.gain);
  const mixed = withGain.filter((c) => c.gain!.significant && c.gain!.estimate > 0);
  const perTask = withGain.flatMap((c) => Object.entries(c.gainByGroup ?? {}).map(([t, g]) => ({ c, t, g })));
  const wins = perTask.filter((x) => x.g.significant && x.g.estimate > 0);
  const list = wins.map((x) => `${x.c.labels[0] ?? x.c.method} on ${x.t} ${x.g.estimate >= 0 ? '+' : ''}${pct(x.g.estimate)} [${pct(x.g.ci95[0])}, ${pct(x.g.ci95[1])}] over ${x.g.model}`).join(', ');
  return `Outside the 95% interval: ${mixed.length} of ${withGain.length} on the mixed test set` +
    (perTask.length ? `, and ${wins.length} of ${perTask.length} (method, task) settings, each against the best single model on that task's dev items${wins.length ? ` (${list})` : ''}. ` : '. ');
}

/** Replaces the README's text between `<!-- NAME -->` and `<!-- /NAME -->` with `md` (written to a temporary file, then renamed). */
export function replaceReadmeBlock(name: string, md: string): void {
  const readme = resolve(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(`<!-- ${name} -->`);
  const end = text.indexOf(`<!-- /${name} -->`);
  if (start < 0 || end < start) throw new Error(`README.md has no <!-- ${name} --> … <!-- /${name} --> block to replace`);
  writeFileSync(`${readme}.tmp`, `${text.slice(0, start)}<!-- ${name} -->\n${md}${text.slice(end)}`);
  renameSync(`${readme}.tmp`, readme);
}

function main(argv: string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  if (!file) throw new Error('usage: npm run pool:table -- RESULTS.json [--readme] [--pool2]');
  const pool2 = argv.includes('--pool2');
  const md = poolTable(summarize(JSON.parse(readFileSync(file, 'utf8')) as ResultsFile), pool2 ? 'experiments/pool2.json' : undefined, pool2 ? 'single-prompt items stop at newline, max 8 tokens (public/pool2/datasets/index.json)' : undefined);
  writeFileSync(resolve(ROOT, pool2 ? 'tools/pool/results-pool2.md' : 'tools/pool/results.md'), md);
  if (argv.includes('--readme')) replaceReadmeBlock(pool2 ? 'pool2-table' : 'pool-table', md);
  process.stdout.write(md);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`pool:table: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
