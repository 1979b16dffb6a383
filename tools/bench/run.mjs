#!/usr/bin/env node
// `npm run bench`: runs every benchmark of the project, one after another, and writes one JSON
// report (bench/results.json, overwritten each run). Benchmarks measure ratios taken side by side
// within one run, because these machines are noisy; they are not tests and assert nothing.
// Each sub-benchmark prints human-readable lines and, as its LAST line on stdout, one JSON object.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const BENCHES = [
  { id: 'engine', cmd: ['node', 'tools/bench/engine.mjs'] },
  { id: 'stepping', cmd: ['node', 'tools/bench/stepping.mjs'] },
  { id: 'codecs', cmd: ['npx', 'tsx', 'tools/bench/codecs.ts'] },
  { id: 'kernels', cmd: ['npx', 'tsx', 'tools/bench/merge-kernels.ts'] },
  { id: 'runner', cmd: ['npx', 'tsx', 'tools/bench/runner.ts'] },
  { id: 'fleet', cmd: ['npx', 'tsx', 'tools/bench/fleet.ts'] },
  { id: 'methods', cmd: ['npx', 'tsx', 'tools/bench/methods.ts'] },
  { id: 'merge', cmd: existsSync('tools/bench/merge.ts') ? ['npx', 'tsx', 'tools/bench/merge.ts'] : ['node', 'tools/bench/merge.mjs'] },
  { id: 'merge-quant', cmd: ['npx', 'tsx', 'tools/bench/merge.ts', '--quant'] },
];
const only = process.argv.slice(2);

const date = new Date().toISOString();
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
// A run of some benchmarks (`npm run bench -- methods`) replaces only their entries; each entry
// carries the date it was measured.
let previous = {};
if (only.length && existsSync('bench/results.json')) {
  try {
    previous = JSON.parse(readFileSync('bench/results.json', 'utf8')).results ?? {};
  } catch {
    previous = {};
  }
}
const report = { date, machine, results: { ...previous } };
let failed = 0;
for (const b of BENCHES) {
  if (only.length && !only.includes(b.id)) continue;
  console.log(`\n=== bench: ${b.id} (${b.cmd.join(' ')}) ===`);
  const r = spawnSync(b.cmd[0], b.cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  process.stdout.write(r.stdout ?? '');
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    if (r.status !== 0) throw new Error(`exited with ${r.status}`);
    report.results[b.id] = { measured: date, ...JSON.parse(last) };
  } catch (err) {
    failed++;
    report.results[b.id] = { error: `bench ${b.id} failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
mkdirSync('bench', { recursive: true });
writeFileSync('bench/results.json', JSON.stringify(report, null, 2) + '\n');
console.log(`\nwrote bench/results.json${failed ? ` (${failed} benchmark(s) failed)` : ''}`);
process.exit(failed ? 1 : 0);
