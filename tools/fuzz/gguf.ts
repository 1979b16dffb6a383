/**
 * `npm run fuzz -- [--count N] [--seed S]`: N seeded mutations (default 5000) of every real GGUF at
 * hand (the built-in pool in public/models and ../shared/models/stories260K.gguf) through the GGUF
 * reader; prints a summary (outcomes by GGUFError code, slowest case, largest heap growth) and
 * every failure with the seed that reproduces it. Exit 1 on any failure.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, failures, prepare, runCase, type CaseResult } from './gguf-fuzz.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} must be a whole number, got "${raw}"\n`);
    process.exit(1);
  }
  return n;
}

const count = arg('count', 5000);
const seed = arg('seed', 1);
const pool = join(ROOT, 'public/models');
const paths = [...readdirSync(pool).filter((f) => f.endsWith('.gguf')).map((f) => join(pool, f)), resolve(ROOT, '../shared/models/stories260K.gguf')].filter((p) => existsSync(p));
const bases = await Promise.all(paths.map((p) => prepare(p.split('/').pop()!, new Uint8Array(readFileSync(p)))));

const results: CaseResult[] = [];
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const b = bases[i % bases.length]!;
  results.push(await runCase(b.name, b.bytes, b.fields, b.headerEnd, seed + i));
}
const seconds = (performance.now() - t0) / 1000;
const byOutcome = new Map<string, number>();
for (const r of results) byOutcome.set(r.outcome.startsWith('FAIL') ? 'FAIL' : r.outcome, (byOutcome.get(r.outcome.startsWith('FAIL') ? 'FAIL' : r.outcome) ?? 0) + 1);
const slowest = results.reduce((a, r) => (r.ms > a.ms ? r : a), results[0]!);
const heaviest = results.reduce((a, r) => (r.heapGrowth > a.heapGrowth ? r : a), results[0]!);
const bad = failures(results, DEFAULT_LIMITS);
process.stdout.write(
  `${count} mutations (seeds ${seed}..${seed + count - 1}) of ${bases.length} files in ${seconds.toFixed(1)} s\n` +
    [...byOutcome].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${k.padEnd(20)} ${n}`).join('\n') + '\n' +
    `slowest: ${slowest.ms.toFixed(1)} ms (seed ${slowest.seed}, ${slowest.what})\n` +
    `largest heap growth: ${(heaviest.heapGrowth / 1e6).toFixed(1)} MB = ${(heaviest.heapGrowth / heaviest.size).toFixed(1)}x the file (seed ${heaviest.seed}, ${heaviest.what}); limit ${DEFAULT_LIMITS.heapFactor}x + ${DEFAULT_LIMITS.heapSlackBytes >> 20} MB\n` +
    `${bad.length} failures\n` + bad.slice(0, 50).map((x) => `  ${x}\n`).join(''),
);
process.exit(bad.length ? 1 : 0);
