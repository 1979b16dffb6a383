#!/usr/bin/env node
/**
 * `npm run mutate [-- area…]`: mutation testing (Stryker, https://stryker-mutator.io, with its vitest
 * runner) of the code whose decisions the unit tests must pin down. Not part of `npm test` or CI: a
 * full run takes tens of minutes on two cores. Each area is one Stryker run over its own source
 * globs, tested by its own unit files only (see vitest.mutate.config.ts for why), with its own
 * incremental file, so a second run re-tests only the mutants whose code or tests changed.
 *
 * `npm run mutate -- eval` runs one area; `--concurrency=1` overrides stryker.config.json's 2;
 * `--ignore-static` skips static mutants (those in module-level constants, each of which runs every
 * test of its area): Stryker reports them as Ignored and they leave the score, so say so when quoting it.
 * Writes reports/mutation/<area>.html and .json (Stryker's reports), <area>.incremental.json, and
 * reports/mutation/summary.md: per file and per area (every area that has a report), killed /
 * total and the score, and every surviving mutant with its line and replacement. The score is Stryker's mutation score: (killed +
 * timed out) / (killed + timed out + survived + no coverage); mutants that do not compile or that
 * `// Stryker disable` marks as equivalent are not counted.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Stryker } from '@stryker-mutator/core';

const AREAS = {
  strategies: {
    mutate: ['src/lib/strategies/**/*.ts', 'src/lib/answers.ts'],
    tests: ['tests/unit/answers.test.ts', 'tests/unit/strategies.test.ts', 'tests/unit/strategies-wiring.test.ts', 'tests/unit/run.test.ts', 'tests/unit/url.test.ts'],
  },
  eval: {
    mutate: ['src/lib/eval/**/*.ts'],
    tests: ['tests/unit/stats.test.ts', 'tests/unit/router.test.ts', 'tests/unit/metrics.test.ts', 'tests/unit/datasets.test.ts'],
  },
  merge: {
    mutate: ['src/lib/merge/methods/**/*.ts'],
    // The methods' JavaScript kernels are the reference the SIMD kernels are checked against
    // (merge-f16-fused, merge-simd-executor); those two files take minutes per run on two cores, so
    // the mutants here are judged by the direct kernel tests.
    tests: ['tests/unit/merge-methods.test.ts'],
  },
};

const args = process.argv.slice(2);
const concurrencyArg = args.find((a) => a.startsWith('--concurrency='));
const asked = args.filter((a) => !a.startsWith('--'));
for (const a of asked) {
  if (!(a in AREAS)) {
    console.error(`npm run mutate: unknown area "${a}": choose from ${Object.keys(AREAS).join(', ')} (none = all)`);
    process.exit(1);
  }
}
const areas = asked.length > 0 ? asked : Object.keys(AREAS);
const OUT = 'reports/mutation';
mkdirSync(OUT, { recursive: true });

for (const area of areas) {
  const { mutate, tests } = AREAS[area];
  // The vitest runner's workers are forked by Stryker after this point and inherit the variable.
  process.env.CHORUS_MUTATE_TESTS = tests.join(',');
  await new Stryker({
    mutate,
    ...(concurrencyArg ? { concurrency: Number(concurrencyArg.split('=')[1]) } : {}),
    ...(args.includes('--ignore-static') ? { ignoreStatic: true } : {}),
    incrementalFile: `${OUT}/${area}.incremental.json`,
    // event-recorder writes each tested mutant to <area>.events/ as it goes, so an interrupted run
    // still shows what it found.
    reporters: ['progress', 'html', 'json', 'event-recorder'],
    eventReporter: { baseDir: `${OUT}/${area}.events` },
    htmlReporter: { fileName: `${OUT}/${area}.html` },
    jsonReporter: { fileName: `${OUT}/${area}.json` },
  }).runMutationTest();
}

// The summary covers every area that has a report, this run's and earlier ones (each dated).
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const pct = (k, n) => (n === 0 ? 'n/a' : `${((100 * k) / n).toFixed(1)}%`);
const lines = ['# Mutation testing', ''];
const overall = { killed: 0, total: 0 };
for (const area of Object.keys(AREAS)) {
  const file = `${OUT}/${area}.json`;
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const files = Object.entries(report.files)
    .map(([name, f]) => {
      const valid = f.mutants.filter((m) => DETECTED.has(m.status) || UNDETECTED.has(m.status));
      const ignored = f.mutants.filter((m) => m.status === 'Ignored').length;
      const survivors = valid
        .filter((m) => UNDETECTED.has(m.status))
        .map((m) => `  - ${name}:${m.location.start.line} ${m.mutatorName} (${m.status}): ${JSON.stringify(m.replacement ?? '')}`);
      return { name, killed: valid.length - survivors.length, total: valid.length, ignored, survivors };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const killed = files.reduce((s, f) => s + f.killed, 0);
  const total = files.reduce((s, f) => s + f.total, 0);
  overall.killed += killed;
  overall.total += total;
  const when = new Date(statSync(file).mtime).toISOString();
  const ignored = files.reduce((s, f) => s + f.ignored, 0);
  lines.push(`## ${area}: ${killed}/${total} killed, ${pct(killed, total)}${ignored > 0 ? `, ${ignored} ignored (static or disabled)` : ''} (${when})`, '', '| file | killed / mutants | score | ignored |', '|---|---|---|---|');
  for (const f of files) lines.push(`| ${f.name} | ${f.killed}/${f.total} | ${pct(f.killed, f.total)} | ${f.ignored} |`);
  const survivors = files.flatMap((f) => f.survivors);
  lines.push('', survivors.length > 0 ? 'Survivors:' : 'No survivors.', ...survivors, '');
}
lines.push(`All areas with a report: ${overall.killed}/${overall.total} killed, ${pct(overall.killed, overall.total)}`, '');
const summary = lines.join('\n');
writeFileSync(`${OUT}/summary.md`, summary);
console.log(summary);
