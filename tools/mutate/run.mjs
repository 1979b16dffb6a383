#!/usr/bin/env node
/**
 * `npm run mutate [-- area…]`: mutation testing (Stryker, https://stryker-mutator.io, with its vitest
 * runner) of the code whose decisions the unit tests must pin down. Not part of `npm test` or CI: a
 * full run takes tens of minutes on two cores. Each area is one Stryker run over its own source
 * globs, tested by its own unit files only (see vitest.mutate.config.ts for why), with its own
 * incremental file, so a second run re-tests only the mutants whose code or tests changed.
 *
 * `npm run mutate -- eval` runs one area; `--concurrency=1` overrides stryker.config.json's 2; `--files=a.ts,b.ts`
 * mutates only those files of the area (a long area measured in parts);
 * `--summary` only rewrites the summary from the reports there are; `--ignore-static` skips static mutants (those in module-level constants, each of which runs every
 * test of its area): Stryker reports them as Ignored and they leave the score, so say so when quoting it.
 * Writes reports/mutation/<area>.html and .json (Stryker's reports), <area>.incremental.json, and
 * reports/mutation/summary.md: per file and per area (every area that has a report), killed /
 * total and the score, and every surviving mutant with its line and replacement. The score is Stryker's mutation score: (killed +
 * timed out) / (killed + timed out + survived + no coverage); mutants that do not compile or that
 * `// Stryker disable` marks as equivalent are not counted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Stryker } from '@stryker-mutator/core';

const AREAS = {
  answers: {
    mutate: ['src/lib/answers.ts'],
    tests: ['tests/unit/answers.test.ts', 'tests/unit/strategies.test.ts', 'tests/unit/strategies-wiring.test.ts'],
  },
  strategies: {
    mutate: ['src/lib/strategies/**/*.ts'],
    // Every unit file that runs the strategies on scripted engines (each text-level method has its
    // strategy-<id> file). Left out: strategy-text-real and experiment-cli, which need the real
    // model under ../shared (absent beside Stryker's copy in .stryker-tmp/) and real llama.cpp.
    tests: [
      'tests/unit/strategies.test.ts', 'tests/unit/strategies-wiring.test.ts', 'tests/unit/run.test.ts', 'tests/unit/url.test.ts',
      'tests/unit/strategy-aggregation.test.ts', 'tests/unit/strategy-blackboard.test.ts', 'tests/unit/strategy-blender.test.ts',
      'tests/unit/strategy-debate-summary.test.ts', 'tests/unit/strategy-feedback.test.ts', 'tests/unit/strategy-hswarm.test.ts',
      'tests/unit/strategy-knowledge-cards.test.ts', 'tests/unit/strategy-moa.test.ts', 'tests/unit/strategy-refine.test.ts',
      'tests/unit/strategy-slm-mux.test.ts', 'tests/unit/strategy-structure.test.ts', 'tests/unit/strategy-text-cost.test.ts',
      'tests/unit/strategy-usc.test.ts', 'tests/unit/runner-search.test.ts', 'tests/unit/first-minutes.test.ts',
      'tests/unit/flow.test.ts', 'tests/unit/methods-cost.test.ts', 'tests/unit/strategy-weight.test.ts', 'tests/unit/runner-weight.test.ts',
      'tests/unit/strategy-tokens.test.ts', 'tests/unit/strategy-query.test.ts',
      'tests/unit/strategy-blackboard-edges.test.ts', 'tests/unit/strategy-tokens-edges.test.ts', 'tests/unit/strategy-routing-edges.test.ts',
      'tests/unit/strategy-feedback-edges.test.ts', 'tests/unit/strategy-misc-edges.test.ts', 'tests/unit/strategy-aggregation-edges.test.ts',
      'tests/unit/strategy-blender-edges.test.ts', 'tests/unit/strategy-failures-edges.test.ts', 'tests/unit/strategy-prompts-edges.test.ts',
      'tests/unit/strategy-cascade-edges.test.ts', 'tests/unit/strategy-budget-edges.test.ts', 'tests/unit/strategy-prompt-router-edges.test.ts',
      'tests/unit/strategy-speculative-edges.test.ts', 'tests/unit/strategy-debate-summary-edges.test.ts',
      'tests/unit/strategy-structure-edges.test.ts', 'tests/unit/strategy-knowledge-cards-edges.test.ts', 'tests/unit/strategy-refine-edges.test.ts',
      'tests/unit/strategy-swarm-edges.test.ts', 'tests/unit/strategy-switch-edges.test.ts', 'tests/unit/strategy-usc-edges.test.ts',
      'tests/unit/strategy-weight-edges.test.ts', 'tests/unit/strategy-single-vote-edges.test.ts', 'tests/unit/strategy-moa-edges.test.ts',
      'tests/unit/strategy-slmmux-edges.test.ts', 'tests/unit/strategy-hswarm-edges.test.ts', 'tests/unit/strategy-debate-edges.test.ts',
      'tests/unit/strategy-lorahub-edges.test.ts',
    ],
  },
  eval: {
    mutate: ['src/lib/eval/**/*.ts', '!src/lib/eval/code.ts'],
    // Every unit file that runs the eval code without the real model, llama.cpp, a browser or the network.
    // Left out: experiment-fleet and experiment-cli (real llama.cpp / the real model under ../shared),
    // sandbox-python (real Pyodide in a child process: about a minute per run; python.ts's pure reader
    // is pinned in python-sandbox-edges), pool and pool2-data (the shipped models' files).
    tests: [
      'tests/unit/stats.test.ts', 'tests/unit/router.test.ts', 'tests/unit/metrics.test.ts', 'tests/unit/datasets.test.ts',
      'tests/unit/runner.test.ts', 'tests/unit/runner-query.test.ts', 'tests/unit/runner-search.test.ts', 'tests/unit/runner-weight.test.ts',
      'tests/unit/results-io.test.ts', 'tests/unit/results-summary.test.ts', 'tests/unit/eval-flips.test.ts', 'tests/unit/moco-scoring.test.ts',
      'tests/unit/moco-coding.test.ts', 'tests/unit/moco-datasets.test.ts', 'tests/unit/experiments-view.test.ts', 'tests/unit/methods-table.test.ts',
      // Edges of each module on hand-written inputs (exact messages, bounds, wiring).
      'tests/unit/eval-cache-edges.test.ts', 'tests/unit/eval-flips-edges.test.ts', 'tests/unit/results-io-edges.test.ts', 'tests/unit/results-edges.test.ts',
      'tests/unit/python-sandbox-edges.test.ts', 'tests/unit/load-edges.test.ts', 'tests/unit/pool-dataset-edges.test.ts', 'tests/unit/moco-dataset-edges.test.ts',
      'tests/unit/user-dataset-edges.test.ts', 'tests/unit/experiment-edges.test.ts', 'tests/unit/moco-scoring-edges.test.ts',
      'tests/unit/runner-edges.test.ts',
    ],
  },
  // The code sandbox on its own: it is being rewritten, and its mutants are slow (real sandboxes).
  code: {
    mutate: ['src/lib/eval/code.ts'],
    tests: ['tests/unit/metrics.test.ts', 'tests/unit/datasets.test.ts', 'tests/unit/sandbox-js.test.ts', 'tests/unit/code-reply.test.ts'],
  },
  merge: {
    mutate: ['src/lib/merge/methods/**/*.ts'],
    // The JavaScript kernels are checked against independent computations (merge-methods); the
    // F16 paths (kernelF16, fused and SIMD) against those kernels (merge-f16-fused,
    // merge-simd-executor). Slow (about 20 s for the lot on two cores), but with per-test coverage a
    // mutant runs only the tests that reach it.
    // mergekit's newer methods (della, sce, nuslerp, karcher, …) are checked against independent
    // computations on real tensors of stories260K and the pool in merge-methods-mergekit.
    tests: ['tests/unit/merge-methods.test.ts', 'tests/unit/merge-f16-fused.test.ts', 'tests/unit/merge-simd-executor.test.ts', 'tests/unit/merge-methods-mergekit.test.ts', 'tests/unit/merge-methods-edges.test.ts'],
  },
};

/** Whether a repository path is one of the area's mutate globs (** = any folders, * = any name part, ! = not). */
function inArea(area, file) {
  const re = (g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*/g, '[^/]*')}$`);
  const globs = AREAS[area].mutate;
  return globs.some((g) => !g.startsWith('!') && re(g).test(file)) && !globs.some((g) => g.startsWith('!') && re(g.slice(1)).test(file));
}

const args = process.argv.slice(2);
const concurrencyArg = args.find((a) => a.startsWith('--concurrency='));
// --files=a.ts,b.ts: mutate only these files of the area (a long area measured in parts).
const filesArg = args.find((a) => a.startsWith('--files='));
const asked = args.filter((a) => !a.startsWith('--'));
for (const a of asked) {
  if (!(a in AREAS)) {
    console.error(`npm run mutate: unknown area "${a}": choose from ${Object.keys(AREAS).join(', ')} (none = all)`);
    process.exit(1);
  }
}
// --summary: no run, only the summary of the reports there are.
const areas = args.includes('--summary') ? [] : asked.length > 0 ? asked : Object.keys(AREAS);
const OUT = 'reports/mutation';
mkdirSync(OUT, { recursive: true });

for (const area of areas) {
  const { tests } = AREAS[area];
  let { mutate } = AREAS[area];
  if (filesArg) {
    const files = filesArg.slice('--files='.length).split(',').filter(Boolean);
    const outside = files.filter((f) => !inArea(area, f));
    if (outside.length > 0) {
      console.error(`npm run mutate: ${outside.join(', ')} not in the ${area} area (${AREAS[area].mutate.join(' ')})`);
      process.exit(1);
    }
    mutate = files;
  }
  // Stryker runs the tests in a copy of the repository, .stryker-tmp/sandbox-…/, where the real
  // model's ../shared is .stryker-tmp/shared: link it there, so tests on real tensors and the real
  // model run in the sandbox as they do in the repository.
  mkdirSync('.stryker-tmp', { recursive: true });
  if (existsSync('../shared') && !existsSync('.stryker-tmp/shared')) symlinkSync(resolve('../shared'), '.stryker-tmp/shared');
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

// The summary covers every area that has a report, this run's and earlier ones (each dated). An area
// whose run was interrupted has no JSON report; its tested mutants are read from its event files
// and the area is marked partial.
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const pct = (k, n) => (n === 0 ? 'n/a' : `${((100 * k) / n).toFixed(1)}%`);

function areaMutants(area) {
  const json = `${OUT}/${area}.json`;
  const events = `${OUT}/${area}.events`;
  const jsonTime = existsSync(json) ? statSync(json).mtimeMs : -1;
  const eventsTime = existsSync(events) ? statSync(events).mtimeMs : -1;
  if (jsonTime < 0 && eventsTime < 0) return undefined;
  if (jsonTime >= eventsTime) {
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const mutants = Object.entries(report.files).flatMap(([name, f]) => f.mutants.map((m) => ({ ...m, file: name })));
    return { mutants, partial: undefined, when: new Date(jsonTime).toISOString() };
  }
  const names = readdirSync(events);
  const read = (n) => JSON.parse(readFileSync(`${events}/${n}`, 'utf8'));
  const planFile = names.find((n) => n.endsWith('-onMutationTestingPlanReady.json'));
  const plans = planFile ? read(planFile).mutantPlans : [];
  const early = plans.filter((p) => p.plan === 'EarlyResult').map((p) => p.mutant);
  const tested = names.filter((n) => n.endsWith('-onMutantTested.json')).map(read);
  const done = tested.filter((m) => !early.some((e) => e.id === m.id));
  const mutants = [...early, ...done].map((m) => ({ ...m, file: relative(process.cwd(), m.fileName) })).filter((m) => inArea(area, m.file));
  const toRunHere = plans.filter((p) => p.plan === 'Run' && inArea(area, relative(process.cwd(), p.mutant.fileName))).length;
  const doneHere = done.filter((m) => inArea(area, relative(process.cwd(), m.fileName))).length;
  const partial = doneHere < toRunHere ? `${doneHere} of ${toRunHere} mutants to run were tested before the run stopped` : undefined;
  return { mutants, partial, when: new Date(eventsTime).toISOString() };
}

const lines = ['# Mutation testing', ''];
const overall = { killed: 0, total: 0 };
for (const area of Object.keys(AREAS)) {
  const found = areaMutants(area);
  if (!found) continue;
  const byFile = new Map();
  for (const m of found.mutants) {
    const f = byFile.get(m.file) ?? { name: m.file, killed: 0, total: 0, ignored: 0, survivors: [] };
    if (DETECTED.has(m.status)) f.killed++;
    if (DETECTED.has(m.status) || UNDETECTED.has(m.status)) f.total++;
    if (m.status === 'Ignored') f.ignored++;
    if (UNDETECTED.has(m.status)) f.survivors.push(`  - ${m.file}:${m.location.start.line} ${m.mutatorName} (${m.status}): ${JSON.stringify(m.replacement ?? '')}`);
    byFile.set(m.file, f);
  }
  const files = [...byFile.values()].sort((a, b) => a.name.localeCompare(b.name));
  const killed = files.reduce((s, f) => s + f.killed, 0);
  const total = files.reduce((s, f) => s + f.total, 0);
  const ignored = files.reduce((s, f) => s + f.ignored, 0);
  overall.killed += killed;
  overall.total += total;
  lines.push(
    `## ${area}: ${killed}/${total} killed, ${pct(killed, total)}${ignored > 0 ? `, ${ignored} ignored (static or disabled)` : ''} (${found.when})`,
    ...(found.partial ? ['', `Partial: ${found.partial}.`] : []),
    '',
    '| file | killed / mutants | score | ignored |',
    '|---|---|---|---|',
  );
  for (const f of files) lines.push(`| ${f.name} | ${f.killed}/${f.total} | ${pct(f.killed, f.total)} | ${f.ignored} |`);
  const survivors = files.flatMap((f) => f.survivors);
  lines.push('', survivors.length > 0 ? 'Survivors:' : 'No survivors.', ...survivors, '');
}
lines.push(`All areas with a report: ${overall.killed}/${overall.total} killed, ${pct(overall.killed, overall.total)}`, '');
const summary = lines.join('\n');
writeFileSync(`${OUT}/summary.md`, summary);
console.log(summary);
