#!/usr/bin/env node
// Runs every suite the project has and prints one summary line for all of them:
//   1. type check (tsc) and svelte-check: one test each, pass when zero errors and warnings
//   2. unit tests (vitest, Node)
//   3. build of the app (one test), then browser end-to-end tests (Playwright, system Chromium)
//   4. the Firefox end-to-end run (tests/firefox/run.ts: puppeteer-core over WebDriver BiDi, Firefox ESR)
// The last line printed is "N passed, N failed" (", N skipped" when any), alone on its line.
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';

const totals = { passed: 0, failed: 0, skipped: 0 };
const only = process.argv.slice(2); // e.g. `npm test -- unit` runs only the unit suite; suites: check, unit, e2e, firefox
const want = (name) => only.length === 0 || only.includes(name);

function run(cmd, args, extraEnv = {}) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...extraEnv } });
  return r.status === 0;
}
function single(name, ok) {
  ok ? totals.passed++ : totals.failed++;
  console.log(`[${ok ? 'pass' : 'FAIL'}] ${name}`);
}

mkdirSync('test-results', { recursive: true });

if (want('check')) {
  single('tsc --noEmit', run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']));
  single('svelte-check', run('npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human']));
}

if (want('unit')) {
  rmSync('test-results/unit.json', { force: true });
  run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/unit.json']);
  if (existsSync('test-results/unit.json')) {
    const r = JSON.parse(readFileSync('test-results/unit.json', 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests + (r.numFailedTestSuites ?? 0);
    totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } else single('vitest produced a report', false);
}

// One build for the browser suites (e2e and firefox), counted as one test.
let built;
function build() {
  if (built === undefined) {
    built = run('npx', ['vite', 'build']);
    single('vite build', built);
  }
  return built;
}

if (want('e2e')) {
  if (build()) {
    rmSync('test-results/e2e.json', { force: true });
    run('npx', ['playwright', 'test']);
    if (existsSync('test-results/e2e.json')) {
      const r = JSON.parse(readFileSync('test-results/e2e.json', 'utf8'));
      const s = r.stats ?? {};
      totals.passed += (s.expected ?? 0) + (s.flaky ?? 0);
      totals.failed += s.unexpected ?? 0;
      totals.skipped += s.skipped ?? 0;
      if ((r.errors ?? []).length) totals.failed += r.errors.length;
    } else single('playwright produced a report', false);
  }
}

if (want('firefox')) {
  if (build()) {
    rmSync('test-results/firefox.json', { force: true });
    run('npx', ['tsx', 'tests/firefox/run.ts']);
    if (existsSync('test-results/firefox.json')) {
      const r = JSON.parse(readFileSync('test-results/firefox.json', 'utf8'));
      totals.passed += r.passed;
      totals.failed += r.failed;
    } else single('the Firefox run produced a report', false);
  }
}

const line = `${totals.passed} passed, ${totals.failed} failed` + (totals.skipped ? `, ${totals.skipped} skipped` : '');
console.log(`\n${line}`);
process.exit(totals.failed === 0 ? 0 : 1);
