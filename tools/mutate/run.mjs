#!/usr/bin/env node
/**
 * `npm run mutate [-- area…]`: mutation testing (Stryker, https://stryker-mutator.io, with its vitest
 * runner) of the code whose decisions the unit tests must pin down. Not part of `npm test` or CI: a
 * full run takes tens of minutes on two cores. Each area is one Stryker run over its own source
 * globs, tested by its own unit files only (see vitest.mutate.config.ts for why), with its own
 * incremental file, so a second run re-tests only the mutants whose code or tests changed.
 *
 * Writes reports/mutation/<area>.html and .json (Stryker's reports), <area>.incremental.json, and
 * reports/mutation/summary.md: per file and per area, killed / total and the score, and every
 * surviving mutant with its line and replacement. The score is Stryker's mutation score: (killed +
 * timed out) / (killed + timed out + survived + no coverage); mutants that do not compile or that
 * `// Stryker disable` marks as equivalent are not counted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
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
    tests: ['tests/unit/merge-methods.test.ts', 'tests/unit/merge-f16-fused.test.ts', 'tests/unit/merge-simd-executor.test.ts'],
  },
};

const asked = process.argv.slice(2);
for (const a of asked) {
  if (!(a in AREAS)) {
    console.error(`npm run mutate: unknown area "${a}": choose from ${Object.keys(AREAS).join(', ')} (none = all)`);
    process.exit(1);
  }
}
const areas = asked.length > 0 ? asked : Object.keys(AREAS);
const OUT = 'reports/mutation';
mkdirSync(OUT, { recursive: true });

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const pct = (k, n) => (n === 0 ? 'n/a' : `${((100 * k) / n).toFixed(1)}%`);

const lines = [`# Mutation testing (${new Date().toISOString()})`, ''];
let failed = false;
for (const area of areas) {
  const { mutate, tests } = AREAS[area];
  // The vitest runner's workers are forked by Stryker after this point and inherit the variable.
  process.env.CHORUS_MUTATE_TESTS = tests.join(',');
  const results = await new Stryker({
    mutate,
    incrementalFile: `${OUT}/${area}.incremental.json`,
    reporters: ['progress', 'html', 'json'],
    htmlReporter: { fileName: `${OUT}/${area}.html` },
    jsonReporter: { fileName: `${OUT}/${area}.json` },
  }).runMutationTest();
  const byFile = new Map();
  for (const r of results) {
    const file = relative(process.cwd(), r.fileName);
    const f = byFile.get(file) ?? { killed: 0, total: 0, survivors: [] };
    if (DETECTED.has(r.status)) f.killed++;
    if (DETECTED.has(r.status) || UNDETECTED.has(r.status)) f.total++;
    if (UNDETECTED.has(r.status)) f.survivors.push(`  - ${file}:${r.location.start.line} ${r.mutatorName} (${r.status}): ${JSON.stringify(r.replacement ?? '')}`);
    byFile.set(file, f);
  }
  const files = [...byFile.entries()].sort(([a], [b]) => a.localeCompare(b));
  const killed = files.reduce((s, [, f]) => s + f.killed, 0);
  const total = files.reduce((s, [, f]) => s + f.total, 0);
  lines.push(`## ${area}: ${killed}/${total} killed, ${pct(killed, total)}`, '', '| file | killed / mutants | score |', '|---|---|---|');
  for (const [file, f] of files) lines.push(`| ${file} | ${f.killed}/${f.total} | ${pct(f.killed, f.total)} |`);
  const survivors = files.flatMap(([, f]) => f.survivors);
  lines.push('', survivors.length > 0 ? 'Survivors:' : 'No survivors.', ...survivors, '');
  if (total === 0) failed = true;
}
const summary = lines.join('\n');
writeFileSync(`${OUT}/summary.md`, summary);
console.log(summary);
process.exit(failed ? 1 : 0);
