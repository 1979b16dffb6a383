/**
 * `npm run merge -- config.yaml [--out path]` — the merge library (src/lib/merge) in Node, on files.
 * Config: mergekit-style YAML (merge_method, base_model, models[].model/parameters, parameters,
 * dtype, out, seed); model paths are relative to the YAML file, `--out` to the working directory.
 * Output goes to `<out>.part` and is renamed on success; on any failure or Ctrl+C it is removed.
 * Exit 0 on success; otherwise exit 1 with one line on stderr saying what was wrong.
 * SOURCE_DATE_EPOCH (seconds since 1970, the reproducible-builds convention) pins the provenance
 * time, so the same inputs and config give the same bytes.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseMergeConfig, inputRefs } from '../../src/lib/merge/config.ts';
import { readGGUF } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { executeMerge, MergeAbortedError, startKernelThreads } from '../../src/lib/merge/stream.ts';
import { fileSink, fileSource } from '../lib/node-source.ts';
import { nodeKernelThreads } from '../lib/kernel-threads.ts';

class CliError extends Error {}

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
  // The SIMD kernels' threads boot while the config and the inputs' headers are read.
  startKernelThreads(() => nodeKernelThreads()).catch(() => undefined);
  const cfgFile = resolve(configPath);
  const text = await readFile(cfgFile, 'utf8').catch(() => {
    throw new CliError(`config file not found: ${cfgFile}`);
  });
  const cfg = parseMergeConfig(text, configPath);
  const dir = dirname(cfgFile);
  const out = outArg ? resolve(outArg) : cfg.out ? resolve(dir, cfg.out) : undefined;
  if (!out) throw new CliError(`${configPath}: no output path — add "out: merged.gguf" to the config or pass --out`);

  const { refs } = inputRefs(cfg);
  const paths = refs.map((r) => resolve(dir, r));
  for (const [i, p] of paths.entries()) {
    const s = await stat(p).catch(() => null);
    if (!s?.isFile()) throw new CliError(`model file not found: ${p} (${refs[i]} in ${configPath}; paths are relative to the config file)`);
    if (p === out) throw new CliError(`the output ${out} is also an input; choose another output path`);
  }
  for (const note of cfg.notes) process.stderr.write(`note: ${note}\n`);

  const sources = await Promise.all(paths.map((p) => fileSource(p)));
  try {
    const inputs: MergeInput[] = [];
    for (const [i, src] of sources.entries()) inputs.push({ ref: refs[i]!, source: src, file: await readGGUF(src) });
    const plan = planMerge(cfg, inputs, createdFromEnv());
    for (const note of plan.notes.slice(cfg.notes.length)) process.stderr.write(`note: ${note}\n`);

    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    const sink = await fileSink(out);
    const tty = process.stderr.isTTY;
    try {
      const result = await executeMerge(plan, {
        threads: () => nodeKernelThreads(),
        sink,
        signal: controller.signal,
        progressIntervalMs: 200,
        onProgress: tty
          ? (p) => process.stderr.write(`\r${p.tensorsDone}/${p.tensorsTotal} tensors · ${mb(p.bytesRead)} read · ${p.rateMBps.toFixed(1)} MB/s · ETA ${p.etaSeconds === null ? '?' : p.etaSeconds.toFixed(0)} s   `)
          : undefined,
      });
      if (tty) process.stderr.write('\n');
      process.stdout.write(`${plan.method.id}: wrote ${out} (${mb(result.outputSize)}, ${result.tensors} tensors) in ${result.seconds.toFixed(2)} s, ${result.rateMBps.toFixed(1)} MB/s of input\n`);
    } catch (e) {
      await sink.abort();
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
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
