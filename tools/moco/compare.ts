/**
 * Compares Chorus's port of MoCo's scoring (src/lib/eval/moco/) with MoCo's own Python on generated
 * replies: `npx tsx tools/moco/compare.ts PATH/TO/model_collaboration/data/eval.py [N]`.
 * MoCo's file is read where the person keeps it (it is LGPL and not part of this repository);
 * tools/moco/cases.py runs its scoring functions. Prints the mismatches per function and exits 1
 * when there is any.
 */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exactMatch, extractAnswer, f1Score, normalizeAnswer } from '../../src/lib/eval/moco/answer.ts';
import { formatMcq, optionLetter, parseMcq } from '../../src/lib/eval/moco/choice.ts';
import { isNoncompliance } from '../../src/lib/eval/moco/noncompliance.ts';
import { extractCodeBlock, firstFunctionName } from '../../src/lib/eval/moco/coding.ts';

interface Case {
  o: string; r: string; opts: string[]; cat: string;
  extract: string; norm: string; em: number; f1: number; mcq: string | null; fmt: string; nc: boolean; code: string; fn: string | null;
}

const [evalPy, n = '20000'] = process.argv.slice(2);
if (!evalPy) {
  console.error('usage: npx tsx tools/moco/compare.ts PATH/TO/model_collaboration/data/eval.py [N]');
  process.exit(1);
}
const here = dirname(fileURLToPath(import.meta.url));
const cases = JSON.parse(execFileSync('python3', [resolve(here, 'cases.py'), evalPy, n], { maxBuffer: 1 << 30, encoding: 'utf8' })) as Case[];
const mismatches: Record<string, number> = {};
const firstBad: Record<string, unknown> = {};
for (const c of cases) {
  const i = parseMcq(c.o, c.opts);
  const ours = {
    extract: extractAnswer(c.o), norm: normalizeAnswer(c.o), em: exactMatch(c.o, c.r), f1: f1Score(c.o, c.r),
    mcq: i < 0 ? null : optionLetter(i), fmt: formatMcq(c.r, c.opts), nc: isNoncompliance(c.o, c.cat),
    code: extractCodeBlock(c.o), fn: firstFunctionName(c.o),
  };
  for (const [k, v] of Object.entries(ours)) {
    const theirs = c[k as keyof Case];
    const same = typeof v === 'number' ? Math.abs(v - (theirs as number)) < 1e-12 : v === theirs;
    if (!same) {
      mismatches[k] = (mismatches[k] ?? 0) + 1;
      firstBad[k] ??= { reply: c.o, reference: c.r, moco: theirs, chorus: v };
    }
  }
}
const total = Object.values(mismatches).reduce((a, b) => a + b, 0);
console.log(`${cases.length} replies × 9 functions: ${total} mismatches`);
for (const [k, v] of Object.entries(firstBad)) console.log(`${k}: ${mismatches[k]} — first: ${JSON.stringify(v)}`);
process.exit(total === 0 ? 0 : 1);
