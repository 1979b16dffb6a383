/**
 * The GGUF reader under seeded mutation (tools/fuzz/gguf-fuzz.ts) of real files: the built-in pool
 * and stories260K. Every case parses into a consistent structure or throws a GGUFError with a
 * code, each within a time bound and with heap growth bounded by the file's size. `npm run fuzz`
 * runs many more of the same cases.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { DEFAULT_LIMITS, failures, fieldsOf, inconsistency, mutate, prepare, runCase, type CaseResult } from '../../tools/fuzz/gguf-fuzz.ts';
import { bytesSource, readGGUF } from '../../src/lib/merge/gguf/index.ts';

const pool = join(REPO_ROOT, 'public/models');
const files = [...readdirSync(pool).filter((f) => f.endsWith('.gguf')).map((f) => join(pool, f)), storiesModel()];

describe('GGUF reader fuzzing (seeded mutations of real files)', () => {
  it('400 mutations: each parses consistently or throws a coded GGUFError, within time and heap bounds', async () => {
    const bases = await Promise.all(files.map((p) => prepare(p.split('/').pop()!, new Uint8Array(readFileSync(p)))));
    const results: CaseResult[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 400; i++) {
      const b = bases[i % bases.length]!;
      results.push(await runCase(b.name, b.bytes, b.fields, b.headerEnd, 20261203 + i));
    }
    const seconds = (performance.now() - t0) / 1000;
    expect(failures(results, DEFAULT_LIMITS)).toEqual([]);
    // The mutations reach both sides: some files still parse, most are refused, for several reasons.
    const outcomes = new Set(results.map((r) => r.outcome));
    expect(outcomes.has('ok')).toBe(true);
    expect([...outcomes].filter((o) => o !== 'ok').length).toBeGreaterThanOrEqual(3);
    expect(seconds).toBeLessThan(20);
  }, 60_000);

  it('the mutator is deterministic per seed and the field walk finds every tensor offset', async () => {
    const bytes = new Uint8Array(readFileSync(storiesModel()));
    const f = await readGGUF(bytesSource(bytes, 'stories260K.gguf'));
    const fields = fieldsOf(bytes);
    expect(fields.filter((x) => x.kind === 'tensor-offset').map((x) => Number(new DataView(bytes.buffer).getBigUint64(x.at, true)))).toEqual(f.tensors.map((t) => t.offset));
    const a = mutate(bytes, fields, f.dataOffset, 7), b = mutate(bytes, fields, f.dataOffset, 7);
    expect(a.what).toBe(b.what);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it('the consistency check catches a parsed file whose offsets break llama.cpp\'s rule', async () => {
    const bytes = new Uint8Array(readFileSync(storiesModel()));
    const f = await readGGUF(bytesSource(bytes, 'stories260K.gguf'));
    expect(inconsistency(f, bytes.length)).toBeNull();
    const swapped = { ...f, tensors: f.tensors.map((t, i) => (i === 1 ? { ...t, offset: f.tensors[2]!.offset } : i === 2 ? { ...t, offset: f.tensors[1]!.offset } : t)) };
    expect(inconsistency(swapped, bytes.length)).toMatch(/^tensor .* at \d+, expected \d+$/);
  });
});
