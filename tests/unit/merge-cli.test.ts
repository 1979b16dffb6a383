/**
 * `npm run merge -- config.yaml` end to end, spawning the real CLI (tsx) on real files: success
 * writes a loadable GGUF; every bad input exits non-zero with one line on stderr and leaves no
 * output file (nor its .part).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { storiesBytes, storiesVariant } from './merge-fixtures.ts';
import { GGMLType, GGUFWriter, bytesSource, getMeta, meta, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { fileSink } from '../../tools/lib/node-source.ts';
import { MAX_CONFIG_BYTES } from '../../src/lib/merge/config.ts';
import { readFileSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'chorus-merge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stories = storiesModel();

const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const CLI = join(REPO_ROOT, 'tools/cli/merge.ts');

function cli(yaml: string, args: string[] = [], env: Record<string, string> = {}, cfgName = `cfg-${Math.random().toString(36).slice(2)}.yaml`) {
  const cfg = join(dir, cfgName);
  writeFileSync(cfg, yaml);
  return cliOn(cfg, args, env);
}
function cliOn(cfg: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(TSX, [CLI, cfg, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

/**
 * A synthetic F32 model of `layers` × 4 MB tensors, written with the project's writer through the
 * CLI's own file sink: big enough that a SLERP merge (JavaScript kernels) of two of them runs for
 * a second or more on this machine, so a signal can arrive mid-merge.
 */
async function bigModel(path: string, layers: number, scale: number): Promise<void> {
  const w = new GGUFWriter(await fileSink(path));
  w.addMetadata([meta.string('general.architecture', 'test'), meta.u32('test.block_count', layers)]);
  for (let i = 0; i < layers; i++) w.addTensorInfo({ name: `blk.${i}.ffn.weight`, shape: [1024, 1024], type: GGMLType.F32 });
  const data = new Float32Array(1024 * 1024);
  for (let i = 0; i < layers; i++) {
    for (let k = 0; k < data.length; k++) data[k] = Math.sin(k * scale + i);
    await w.writeTensorData(`blk.${i}.ffn.weight`, new Uint8Array(data.buffer));
  }
  await w.finish();
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

  it('mergekit\'s newer methods and slices in YAML: della (seeded) and a layer-stacking passthrough merge; a della density ± epsilon outside (0, 1) is refused with one line', async () => {
    const arith = join(REPO_ROOT, 'public/models/arithmetic-specialist.gguf');
    const della = `merge_method: della\nbase_model: ${stories}\nmodels:\n  - {model: ${arith}, parameters: {weight: 1, density: 0.5, epsilon: 0.1}}\nseed: 3\nout: della.gguf\n`;
    const r = cli(della);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^della: wrote .*della\.gguf \(.*, 48 tensors, 5 layers\).*chat template of arithmetic-specialist\.gguf/);
    const out = await readGGUF(bytesSource(new Uint8Array(readFileSync(join(dir, 'della.gguf'))), 'della.gguf'));
    expect(getMeta(out, 'chorus.provenance.method')).toBe('della');
    const stack = cli(`merge_method: passthrough\nslices:\n  - sources: [{model: ${stories}, layer_range: [0, 5]}]\n  - sources: [{model: ${arith}, layer_range: [2, 5]}]\nout: stacked.gguf\n`);
    expect(stack.code, stack.stderr).toBe(0);
    expect(stack.stdout).toMatch(/passthrough: wrote .*stacked\.gguf \(.*, 75 tensors, 8 layers\)/);
    expect(stack.stderr).toMatch(/note: the output has 8 layers \(blk\.0 … blk\.7\), stacked from 2 slices/);
    expectCleanFailure(cli(della.replace('epsilon: 0.1', 'epsilon: 0.5').replace('della.gguf', 'bad-della.gguf')), join(dir, 'bad-della.gguf'), /della, tensor .*: density 0\.5 ± epsilon 0\.5 must lie inside \(0, 1\)/);
  }, 60_000);

  it('no output path', () => {
    const r = cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}]\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no output path/);
  });

  it('refuses an output that is the config file itself; the config is left as it was', () => {
    const yaml = `merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}]\nout: self-out.yaml\n`;
    const r = cli(yaml, [], {}, 'self-out.yaml');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^merge: the output .*self-out\.yaml is the config file; choose another output path$/);
    expect(readFileSync(join(dir, 'self-out.yaml'), 'utf8')).toBe(yaml);
    const viaFlag = cli(yaml.replace('out: self-out.yaml', 'out: x.gguf'), ['--out', 'flag-out.yaml'], {}, 'flag-out.yaml');
    expect(viaFlag.stderr).toMatch(/is the config file/);
  });

  it('refuses an output that is an input reached through a symlink, a symlinked directory or a hard link', () => {
    const real = join(dir, 'real-input.gguf');
    writeFileSync(real, readFileSync(stories));
    const before = readFileSync(real);
    symlinkSync(real, join(dir, 'link-input.gguf'));
    mkdirSync(join(dir, 'models-real'), { recursive: true });
    writeFileSync(join(dir, 'models-real', 'in.gguf'), before);
    symlinkSync(join(dir, 'models-real'), join(dir, 'models-link'));
    const viaLink = cli(`merge_method: linear\nmodels: [{model: link-input.gguf, parameters: {weight: 1}}]\nout: real-input.gguf\n`);
    expect(viaLink.code, viaLink.stderr).toBe(1);
    expect(viaLink.stderr).toMatch(/the output .*real-input\.gguf is also an input \(link-input\.gguf\); choose another output path/);
    const viaDir = cli(`merge_method: linear\nmodels: [{model: models-link/in.gguf, parameters: {weight: 1}}]\nout: models-real/in.gguf\n`);
    expect(viaDir.stderr).toMatch(/is also an input \(models-link\/in\.gguf\)/);
    const outLink = cli(`merge_method: linear\nmodels: [{model: real-input.gguf, parameters: {weight: 1}}]\nout: link-input.gguf\n`);
    expect(outLink.stderr).toMatch(/is also an input \(real-input\.gguf\)/);
    linkSync(real, join(dir, 'hard-input.gguf'));
    const viaHardLink = cli(`merge_method: linear\nmodels: [{model: hard-input.gguf, parameters: {weight: 1}}]\nout: real-input.gguf\n`);
    expect(viaHardLink.stderr).toMatch(/is also an input \(hard-input\.gguf\)/);
    expect(readFileSync(real).equals(before)).toBe(true);
    expect(readFileSync(join(dir, 'models-real', 'in.gguf')).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('an output that is an existing directory fails with one line and leaves no .part', () => {
    mkdirSync(join(dir, 'out-dir.gguf'), { recursive: true });
    const r = cli(`merge_method: linear\nmodels: [{model: ${stories}, parameters: {weight: 1}}]\nout: out-dir.gguf\n`);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^merge: the output .*out-dir\.gguf is a directory; name a file/);
    expect(statSync(join(dir, 'out-dir.gguf')).isDirectory()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('the file sink removes its .part when the final rename fails (it is not marked closed first)', async () => {
    mkdirSync(join(dir, 'rename-target'), { recursive: true });
    mkdirSync(join(dir, 'rename-target', 'x'), { recursive: true });
    const sink = await fileSink(join(dir, 'rename-target'));
    await sink.write(new Uint8Array(10));
    await expect(sink.close()).rejects.toThrow();
    expect(existsSync(join(dir, 'rename-target.part'))).toBe(false);
  });

  it(`a config over ${MAX_CONFIG_BYTES} bytes is refused before it is read, with one line`, () => {
    const big = join(dir, 'huge.yaml');
    writeFileSync(big, 'merge_method: linear\nmodels:\n' + `  - {model: ${stories}, parameters: {weight: 1}}\n`.repeat(Math.ceil((2 * MAX_CONFIG_BYTES) / 60)));
    const r = cliOn(big, ['--out', 'huge.gguf']);
    expectCleanFailure(r, join(dir, 'huge.gguf'), new RegExp(`^merge: .*huge\\.yaml is \\d+ bytes; a merge config may have at most ${MAX_CONFIG_BYTES} bytes`));
  });

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} during a merge removes the .part and exits 1 with one line`, async () => {
      const a = join(dir, `sig-a.gguf`), b = join(dir, `sig-b.gguf`);
      if (!existsSync(a)) await bigModel(a, 24, 0.001);
      if (!existsSync(b)) await bigModel(b, 24, 0.002);
      const cfg = join(dir, `sig-${signal}.yaml`);
      writeFileSync(cfg, `merge_method: slerp\nbase_model: sig-a.gguf\nmodels: [{model: sig-b.gguf}]\nparameters: {t: 0.3}\nout: sig-${signal}.gguf\n`);
      // As `npm run merge` runs it: one node process with tsx's loader, which gets the signal
      // itself (the tsx CLI's relay SIGKILLs a child that does not answer within 30 ms, which a
      // CLI busy computing a tensor cannot).
      const child = spawn(process.execPath, ['--import', pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href, CLI, cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const part = join(dir, `sig-${signal}.gguf.part`);
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      // Wait for the merge to start writing, then signal it mid-merge.
      const t0 = Date.now();
      while (!(existsSync(part) && statSync(part).size > 8e6) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(part), 'the merge never started writing').toBe(true);
      child.kill(signal);
      const code = await exited;
      expect(code, stderr).toBe(1);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(new RegExp(`merge: cancelled \\(${signal}\\); no output was written`));
      expect(existsSync(part)).toBe(false);
      expect(existsSync(join(dir, `sig-${signal}.gguf`))).toBe(false);
    }, 120_000);
  }
});
