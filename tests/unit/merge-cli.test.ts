/**
 * `npm run merge -- config.yaml` end to end, spawning the real CLI (tsx) on real files: success
 * writes a loadable GGUF; every bad input exits non-zero with one line on stderr and leaves no
 * output file (nor its .part).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { storiesBytes, storiesVariant } from './merge-fixtures.ts';
import { bytesSource, getMeta, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { readFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'chorus-merge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stories = storiesModel();

function cli(yaml: string, args: string[] = [], env: Record<string, string> = {}) {
  const cfg = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(cfg, yaml);
  const r = spawnSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(REPO_ROOT, 'tools/cli/merge.ts'), cfg, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}
function expectCleanFailure(r: ReturnType<typeof cli>, out: string, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
}

describe('npm run merge', () => {
  it('merges stories260K with itself (linear, equal weights): exit 0, identical tensors, provenance', async () => {
    const out = join(dir, 'self.gguf');
    const r = cli(`merge_method: linear\nmodels:\n  - model: ${stories}\n    parameters: {weight: 0.5}\n  - model: ${stories}\n    parameters: {weight: 0.5}\nout: self.gguf\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/linear: wrote .*self\.gguf/);
    const a = bytesSource(storiesBytes(), 'a');
    const b = bytesSource(new Uint8Array(readFileSync(out)), 'b');
    const fa = await readGGUF(a), fb = await readGGUF(b);
    expect(getMeta(fb, 'chorus.provenance.method')).toBe('linear');
    for (const t of fa.tensors) {
      const tb = fb.tensors.find((x) => x.name === t.name)!;
      expect(Buffer.from(await readTensorData(b, fb, tb)).equals(Buffer.from(await readTensorData(a, fa, t))), t.name).toBe(true);
    }
  });

  it('SOURCE_DATE_EPOCH pins the provenance time: the same merge twice gives the same bytes; a bad value is refused', async () => {
    const yaml = `merge_method: linear\nmodels:\n  - model: ${stories}\n    parameters: {weight: 0.3}\n  - model: ${stories}\n    parameters: {weight: 0.7}\n`;
    const env = { SOURCE_DATE_EPOCH: '1767225600' };
    expect(cli(yaml, ['--out', 'same-1.gguf'], env).code).toBe(0);
    expect(cli(yaml, ['--out', 'same-2.gguf'], env).code).toBe(0);
    const one = readFileSync(join(dir, 'same-1.gguf'));
    expect(one.equals(readFileSync(join(dir, 'same-2.gguf')))).toBe(true);
    expect(getMeta(await readGGUF(bytesSource(new Uint8Array(one), 'one')), 'chorus.provenance.created')).toBe('2026-01-01T00:00:00.000Z');
    expectCleanFailure(cli(yaml, ['--out', 'bad-epoch.gguf'], { SOURCE_DATE_EPOCH: 'yesterday' }), join(dir, 'bad-epoch.gguf'), /SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 \(got "yesterday"\)/);
  });

  it('--out overrides out: and is relative to the working directory', () => {
    const r = cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}]\nout: ignored.gguf\n`, ['--out', 'chosen.gguf']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'chosen.gguf'))).toBe(true);
    expect(existsSync(join(dir, 'ignored.gguf'))).toBe(false);
  });

  it('missing model file', () => {
    const out = join(dir, 'm1.gguf');
    expectCleanFailure(cli(`merge_method: linear\nmodels: [{model: nowhere.gguf, parameters: {weight: 1}}]\nout: m1.gguf\n`), out, /^merge: model file not found: .*nowhere\.gguf/);
  });

  it('not a GGUF file', () => {
    writeFileSync(join(dir, 'notes.gguf'), 'this is not a model\n'.repeat(10));
    expectCleanFailure(cli(`merge_method: linear\nmodels: [{model: notes.gguf, parameters: {weight: 1}}]\nout: m2.gguf\n`), join(dir, 'm2.gguf'), /notes\.gguf is not a GGUF file/);
  });

  it('truncated GGUF file', () => {
    writeFileSync(join(dir, 'cut.gguf'), storiesBytes().subarray(0, 600_000));
    expectCleanFailure(cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}, {model: cut.gguf, parameters: {weight: 1}}]\nout: m3.gguf\n`), join(dir, 'm3.gguf'), /cut\.gguf is truncated/);
  });

  it('incompatible checkpoints (different shapes)', async () => {
    writeFileSync(join(dir, 'reshaped.gguf'), await storiesVariant({ replace: { 'blk.3.attn_q.weight': { shape: [32, 64], data: new Float32Array(2048) } } }));
    expectCleanFailure(cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}, {model: reshaped.gguf, parameters: {weight: 1}}]\nout: m4.gguf\n`), join(dir, 'm4.gguf'), /reshaped\.gguf: tensor blk\.3\.attn_q\.weight is \[32, 64\] here and \[64, 64\] in stories260K\.gguf/);
  });

  it('bad parameters: out of range, unknown name, missing required, unknown method', () => {
    expectCleanFailure(cli(`merge_method: ties\nbase_model: ${stories}\nmodels: [{model: ${stories}}, {model: x.gguf, parameters: {weight: 1, density: 1.5}}]\nout: m5.gguf\n`), join(dir, 'm5.gguf'), /model file not found|density/);
    writeFileSync(join(dir, 'x2.gguf'), readFileSync(stories));
    expectCleanFailure(cli(`merge_method: ties\nbase_model: ${stories}\nmodels: [{model: x2.gguf, parameters: {weight: 1, density: 1.5}}]\nout: m5.gguf\n`), join(dir, 'm5.gguf'), /"density" for x2\.gguf must lie in \[0, 1\], got 1\.5/);
    expectCleanFailure(cli(`merge_method: ties\nbase_model: ${stories}\nmodels: [{model: x2.gguf, parameters: {weight: 1, densty: 0.5}}]\nout: m6.gguf\n`), join(dir, 'm6.gguf'), /unknown parameter "densty" for ties/);
    expectCleanFailure(cli(`merge_method: linear\nmodels: [{model: x2.gguf}]\nout: m7.gguf\n`), join(dir, 'm7.gguf'), /parameter "weight" is required for x2\.gguf/);
    expectCleanFailure(cli(`merge_method: frankenmerge\nmodels: [{model: x2.gguf}]\nout: m8.gguf\n`), join(dir, 'm8.gguf'), /unknown merge_method "frankenmerge"/);
  });

  it('no output path', () => {
    const r = cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}]\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no output path/);
  });
});
