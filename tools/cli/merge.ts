/**
 * `npm run merge -- config.yaml [--out path]` — the merge library (src/lib/merge) in Node, on files.
 * Config: mergekit-style YAML (merge_method, base_model, models[].model/parameters or
 * slices[].sources[].model/layer_range, parameters, dtype, out, seed, tokenizer_source, chat_template); model paths are relative to the YAML file, `--out` to the working directory.
 * Output goes to `<out>.part` and is renamed on success; on any failure, Ctrl+C (SIGINT), SIGTERM or
 * SIGHUP it is removed. The output may not be the config or any input, compared by real path and
 * by inode (symlinks, symlinked directories and hard links all count), nor an existing directory.
 * Exit 0 on success; otherwise exit 1 with one line on stderr saying what was wrong.
 * SOURCE_DATE_EPOCH (seconds since 1970, the reproducible-builds convention) pins the provenance
 * time, so the same inputs and config give the same bytes.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MAX_CONFIG_BYTES, parseMergeConfig, inputRefs } from '../../src/lib/merge/config.ts';
import { readGGUF } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { executeMerge, MergeAbortedError, startKernelThreads } from '../../src/lib/merge/stream.ts';
import { fileSink, fileSource } from '../lib/node-source.ts';
import { nodeKernelThreads } from '../lib/kernel-threads.ts';

class CliError extends Error {}

/** The signals that stop a merge; each removes the partial output before the process exits. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * What a path names on disk: its real path (symlinks and symlinked directories resolved; for a
 * file not yet there, its real directory plus its name) and, when it exists, its device and inode
 * (so two hard links to one file are one file).
 */
async function identity(path: string): Promise<{ real: string; inode: string | null; isDir: boolean }> {
  const s = await stat(path).catch(() => null);
  if (s) return { real: await realpath(path), inode: `${s.dev}:${s.ino}`, isDir: s.isDirectory() };
  const dir = await realpath(dirname(path)).catch(() => dirname(path));
  return { real: join(dir, basename(path)), inode: null, isDir: false };
}
const sameFile = (a: Awaited<ReturnType<typeof identity>>, b: Awaited<ReturnType<typeof identity>>): boolean =>
  a.real === b.real || (a.inode !== null && a.inode === b.inode);

function usage(): never {
  throw new CliError('usage: npm run merge -- config.yaml [--out path]');
}

/** The provenance time from SOURCE_DATE_EPOCH, when it is set. */
function createdFromEnv(): { created?: string } {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === '') return {};
  const seconds = Number(epoch);
  if (!/^\d+$/.test(epoch.trim()) || !Number.isSafeInteger(seconds) || seconds * 1000 > 8.64e15) {
    throw new CliError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (got "${epoch}"); unset it for the current time`);
  }
  return { created: new Date(seconds * 1000).toISOString() };
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
}

async function main(argv: string[]): Promise<void> {
  let configPath: string | undefined;
  let outArg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' || a === '-o') {
      outArg = argv[++i];
      if (!outArg) usage();
    } else if (a.startsWith('--out=')) outArg = a.slice(6);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run merge -- config.yaml [--out path]\n');
      return;
    } else if (a.startsWith('-')) throw new CliError(`unknown option ${a}; usage: npm run merge -- config.yaml [--out path]`);
    else if (configPath === undefined) configPath = a;
    else throw new CliError(`unexpected argument ${a}; give one config file`);
  }
  if (!configPath) usage();
  // Installed first, so a signal at any point (reading headers, merging, renaming) ends the same
  // way: the merge stops at its next check, the .part is removed, one line says so.
  const controller = new AbortController();
  let stoppedBy: string | null = null;
  const onSignal = (sig: string) => {
    stoppedBy ??= sig;
    controller.abort();
  };
  const handlers = STOP_SIGNALS.map((sig) => [sig, () => onSignal(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const stopped = () => {
    if (stoppedBy) throw new CliError(`cancelled (${stoppedBy}); no output was written`);
  };
  try {
    await run(configPath, outArg, controller.signal, stopped);
  } catch (e) {
    if (e instanceof MergeAbortedError && stoppedBy) stopped();
    throw e;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

async function run(configPath: string, outArg: string | undefined, signal: AbortSignal, stopped: () => void): Promise<void> {
  // The SIMD kernels' threads boot while the config and the inputs' headers are read.
  startKernelThreads(() => nodeKernelThreads()).catch(() => undefined);
  const cfgFile = resolve(configPath);
  const cfgStat = await stat(cfgFile).catch(() => null);
  if (!cfgStat?.isFile()) throw new CliError(`config file not found: ${cfgFile}`);
  // Refused before it is read: a config of tens of MB is not a mergekit config, and parsing it
  // ran the CLI out of memory.
  if (cfgStat.size > MAX_CONFIG_BYTES) throw new CliError(`${configPath} is ${cfgStat.size} bytes; a merge config may have at most ${MAX_CONFIG_BYTES} bytes — is this the right file?`);
  const text = await readFile(cfgFile, 'utf8').catch(() => {
    throw new CliError(`config file not found: ${cfgFile}`);
  });
  const cfg = parseMergeConfig(text, configPath);
  const dir = dirname(cfgFile);
  const out = outArg ? resolve(outArg) : cfg.out ? resolve(dir, cfg.out) : undefined;
  if (!out) throw new CliError(`${configPath}: no output path — add "out: merged.gguf" to the config or pass --out`);

  const outId = await identity(out);
  if (outId.isDir) throw new CliError(`the output ${out} is a directory; name a file (e.g. ${join(out, 'merged.gguf')})`);
  if (sameFile(outId, await identity(cfgFile))) throw new CliError(`the output ${out} is the config file; choose another output path`);
  const { refs } = inputRefs(cfg);
  const paths = refs.map((r) => resolve(dir, r));
  for (const [i, p] of paths.entries()) {
    const s = await stat(p).catch(() => null);
    if (!s?.isFile()) throw new CliError(`model file not found: ${p} (${refs[i]} in ${configPath}; paths are relative to the config file)`);
    if (sameFile(outId, await identity(p))) throw new CliError(`the output ${out} is also an input (${refs[i]}); choose another output path`);
  }
  for (const note of cfg.notes) process.stderr.write(`note: ${note}\n`);

  const sources = await Promise.all(paths.map((p) => fileSource(p)));
  try {
    const inputs: MergeInput[] = [];
    for (const [i, src] of sources.entries()) inputs.push({ ref: refs[i]!, source: src, file: await readGGUF(src) });
    const plan = planMerge(cfg, inputs, createdFromEnv());
    for (const note of plan.notes.slice(cfg.notes.length)) process.stderr.write(`note: ${note}\n`);

    stopped();
    const sink = await fileSink(out);
    const tty = process.stderr.isTTY;
    try {
      const result = await executeMerge(plan, {
        threads: () => nodeKernelThreads(),
        sink,
        signal,
        progressIntervalMs: 200,
        onProgress: tty
          ? (p) => process.stderr.write(`\r${p.tensorsDone}/${p.tensorsTotal} tensors · ${mb(p.bytesRead)} read · ${p.rateMBps.toFixed(1)} MB/s · ETA ${p.etaSeconds === null ? '?' : p.etaSeconds.toFixed(0)} s   `)
          : undefined,
      });
      if (tty) process.stderr.write('\n');
      process.stdout.write(`${plan.method.id}: wrote ${out} (${mb(result.outputSize)}, ${result.tensors} tensors, ${plan.blockCount} layers) in ${result.seconds.toFixed(2)} s, ${result.rateMBps.toFixed(1)} MB/s of input; tokenizer of ${plan.tokenizerFrom}, chat template ${plan.chatTemplateFrom === null ? 'none (no input has one)' : `of ${plan.chatTemplateFrom}`}\n`);
    } catch (e) {
      await sink.abort();
      throw e;
    }
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    const msg = e instanceof MergeAbortedError ? 'cancelled; no output was written' : e instanceof Error ? e.message : String(e);
    process.stderr.write(`merge: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(1);
  },
);
