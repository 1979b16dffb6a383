/**
 * Merge benchmark (`npm run bench` runs it; alone: `npx tsx tools/bench/merge.ts [--sizes 2,6,12]`).
 * Generates llama-shaped F16 models of a few hundred MB with the project's writer in a temp dir
 * (deleted after), then in the same run measures, per size:
 *   - merge throughput (MB of input per second) of linear (2 inputs) and TIES (base + 2, density
 *     0.5) through the real library and Node file I/O, each against a plain read of the same
 *     inputs (2 for linear, 3 for TIES), tensor by tensor with the executor's one-tensor read-ahead,
 *     plus a write of the same number of output bytes to a real file, one write in flight as in
 *     the executor (ratio target ≥ 0.5);
 *   - peak memory of each merge, in a fresh child process (max RSS, and peak heap + ArrayBuffers
 *     sampled per tensor), against model size (target: flat, since only a few tensors are alive).
 * With `--quant` (`npm run bench` runs it as its own entry, merge-quant) it measures instead an
 * end-to-end quantised merge: two Q4_K_M-style models (Q4_K and Q6_K matrices, F32 norms, built
 * with the codecs as llama.cpp's Q4_K_M mixes them; `--quant-layers N`, default 4) merged with
 * linear to the same types (every quantised tensor decoded, merged and re-encoded by the SIMD codecs
 * on the kernel threads), against re-encoding the merge's output alone (its f32 values encoded to
 * the same types, same threads; target merge ≤ 1.2× that) and against a plain read + write of the
 * same bytes. Both the merge and the re-encode are timed from booted kernel threads. MERGE_BENCH_QUANT_ROUNDS rounds (default 3), medians.
 * Prints a table, then one JSON object as the last line of stdout.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMergeConfig } from '../../src/lib/merge/config.ts';
import { readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { decodeWith, encodeWith, executeMerge, startKernelThreads } from '../../src/lib/merge/stream.ts';
import { loadSimdKernels } from '../../src/lib/merge/wasm/index.ts';
import { fileSink, fileSource } from '../lib/node-source.ts';
import { nodeKernelThreads } from '../lib/kernel-threads.ts';
import { writeSyntheticModel } from './merge-model.ts';

const SELF = fileURLToPath(import.meta.url);

type Mode = 'linear' | 'ties' | 'copy-linear' | 'copy-ties' | 'quant-linear' | 'quant-copy' | 'quant-encode';
const isQuant = (m: Mode) => m.startsWith('quant-');
const QUANT_YAML = 'merge_method: linear\nmodels:\n  - model: qa.gguf\n    parameters: {weight: 1}\n  - model: qb.gguf\n    parameters: {weight: 1}\n';

interface ChildResult {
  mode: Mode;
  seconds: number;
  inputBytes: number;
  outputBytes: number;
  mbps: number;
  /** MB of input per second of this process's CPU time (steadier than wall time on a shared machine). */
  cpuMBps: number;
  maxRssMB: number;
  peakHeapMB: number;
  /** Threads that ran the SIMD kernels (0: the merge did not use them). */
  kernelThreads: number;
}

/** One measured run, in this (fresh) process: a merge, or the plain read + write baseline. */
async function child(mode: Mode, dir: string): Promise<ChildResult> {
  const yaml = isQuant(mode) ? QUANT_YAML :
    mode === 'ties' || mode === 'copy-ties'
      ? 'merge_method: ties\nbase_model: base.gguf\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1, density: 0.5}\n  - model: b.gguf\n    parameters: {weight: 1, density: 0.5}\n'
      : 'merge_method: linear\nmodels:\n  - model: a.gguf\n    parameters: {weight: 1}\n  - model: b.gguf\n    parameters: {weight: 1}\n';
  // As the CLI does (tools/cli/merge.ts): the kernel threads boot while the headers are read.
  if (mode === 'linear' || mode === 'ties' || mode === 'quant-linear' || mode === 'quant-encode') startKernelThreads(() => nodeKernelThreads()).catch(() => undefined);
  if (mode === 'quant-encode') return quantEncode(dir);
  const cfg = parseMergeConfig(yaml, 'bench');
  const refs = isQuant(mode) ? ['qa.gguf', 'qb.gguf'] : mode === 'ties' || mode === 'copy-ties' ? ['a.gguf', 'b.gguf', 'base.gguf'] : ['a.gguf', 'b.gguf'];
  const sources = await Promise.all(refs.map((r) => fileSource(join(dir, r))));
  const inputs: MergeInput[] = [];
  for (const [i, s] of sources.entries()) inputs.push({ ref: refs[i]!, source: s, file: await readGGUF(s) });
  const plan = planMerge(cfg, inputs);
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
  };
  // The quantised merge is compared with re-encoding alone, which starts from booted threads: so does it.
  if (mode === 'quant-linear') await startKernelThreads(() => nodeKernelThreads());
  const out = join(dir, `out-${mode}.gguf`);
  const sink = await fileSink(out);
  let kernelThreads = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  if (mode === 'copy-linear' || mode === 'copy-ties' || mode === 'quant-copy') {
    // The same reads as the merge, tensor by tensor with the same one-tensor read-ahead, and a
    // write of as many output bytes: pure I/O, the bound the merge is compared with.
    const readTask = (k: number) => Promise.all(plan.inputs.map((inp, i) => readTensorData(inp.source, inp.file, plan.tasks[k]!.inputs[i]!)));
    let next = plan.tasks.length > 0 ? readTask(0) : null;
    let writing: Promise<void> | null = null;
    for (let k = 0; k < plan.tasks.length; k++) {
      const task = plan.tasks[k]!;
      const raw = await next!;
      next = k + 1 < plan.tasks.length ? readTask(k + 1) : null;
      const first = raw[0]!;
      // One write in flight while the next tensor is read, as the executor does.
      if (writing) await writing;
      writing = Promise.resolve(sink.write(first.byteLength === task.outBytes ? first : new Uint8Array(task.outBytes)));
      sample();
    }
    if (writing) await writing;
    await sink.close();
  } else {
    const r = await executeMerge(plan, { sink, onStats: sample, threads: () => nodeKernelThreads() });
    kernelThreads = r.kernels.simdTensors + r.kernels.quantTensors > 0 ? r.kernels.threads : 0;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const outputBytes = statSync(out).size;
  // The quantised merge's output, kept once for quant-encode to re-encode.
  if (process.env.CHORUS_BENCH_KEEP_OUTPUT) renameSync(out, join(dir, 'qout.gguf'));
  else rmSync(out, { force: true });
  await Promise.all(sources.map((s) => s.close()));
  return {
    mode, seconds, inputBytes: plan.inputBytes, outputBytes, mbps: plan.inputBytes / 1e6 / seconds,
    cpuMBps: plan.inputBytes / 1e6 / ((cpu.user + cpu.system) / 1e6),
    maxRssMB: process.resourceUsage().maxRSS / 1024, peakHeapMB: peakHeap / 2 ** 20, kernelThreads,
  };
}

/**
 * Re-encoding the quantised merge's output alone: each tensor of qout.gguf decoded to f32
 * (untimed), then encoded to its type as the executor does (encodeWith: the SIMD codecs on the
 * kernel threads); the time is the sum of the encodes.
 */
async function quantEncode(dir: string): Promise<ChildResult> {
  const simd = await loadSimdKernels();
  await startKernelThreads(() => nodeKernelThreads());
  const source = await fileSource(join(dir, 'qout.gguf'));
  const file = await readGGUF(source);
  let encodeMs = 0;
  let bytes = 0;
  const c0 = process.cpuUsage();
  for (const t of file.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const values = await decodeWith(simd, t.type, await readTensorData(source, file, t), n, new Float32Array(n));
    const t0 = performance.now();
    bytes += (await encodeWith(simd, t.type, values)).byteLength;
    encodeMs += performance.now() - t0;
  }
  const cpu = process.cpuUsage(c0);
  await source.close();
  const seconds = encodeMs / 1000;
  return {
    mode: 'quant-encode', seconds, inputBytes: bytes, outputBytes: bytes, mbps: bytes / 1e6 / seconds, cpuMBps: bytes / 1e6 / ((cpu.user + cpu.system) / 1e6),
    maxRssMB: process.resourceUsage().maxRSS / 1024, peakHeapMB: 0, kernelThreads: simd?.threads ?? 0,
  };
}

/** The end-to-end quantised merge (--quant): see the header. */
async function quantBench(layers: number): Promise<void> {
  const rounds = Number(process.env.MERGE_BENCH_QUANT_ROUNDS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'chorus-merge-quant-'));
  try {
    for (const [name, seed] of [['qa.gguf', 2], ['qb.gguf', 3]] as const) await writeSyntheticModel(await fileSink(join(dir, name)), { layers, seed, type: 'Q4_K_M' });
    const inputs = await Promise.all(['qa.gguf', 'qb.gguf'].map(async (r) => {
      const s = await fileSource(join(dir, r));
      const f = await readGGUF(s);
      await s.close();
      return f;
    }));
    const types: Record<string, number> = {};
    for (const t of inputs[0]!.tensors) types[String(t.type)] = (types[String(t.type)] ?? 0) + 1;
    const modelMB = statSync(join(dir, 'qa.gguf')).size / 1e6;
    runChild('quant-linear', dir, { CHORUS_BENCH_KEEP_OUTPUT: '1' });
    const merge: number[] = [], encode: number[] = [], copy: number[] = [], vsEncode: number[] = [], vsCopy: number[] = [];
    let threads = 0;
    for (let r = 0; r < rounds; r++) {
      const c = runChild('quant-copy', dir);
      const e = runChild('quant-encode', dir);
      const m = runChild('quant-linear', dir);
      threads = m.kernelThreads;
      copy.push(c.seconds);
      encode.push(e.seconds);
      merge.push(m.seconds);
      vsEncode.push(m.seconds / e.seconds);
      vsCopy.push(m.seconds / c.seconds);
    }
    const r2 = (x: number) => +x.toFixed(2);
    const row = {
      layers, modelMB: +modelMB.toFixed(1), rounds, kernelThreads: threads, tensorTypes: types,
      mergeSeconds: r2(median(merge)), reencodeSeconds: r2(median(encode)), readWriteSeconds: r2(median(copy)),
      mergeVsReencode: r2(median(vsEncode)), targetMergeVsReencode: 1.2, targetMet: median(vsEncode) <= 1.2,
      mergeVsReadWrite: r2(median(vsCopy)), mergeVsReencodeRounds: vsEncode.map(r2),
    };
    console.log(`Q4_K_M-style linear merge of 2 × ${row.modelMB} MB (${layers} layers; tensors by GGML type id: ${JSON.stringify(types)}), medians of ${rounds} rounds, ${threads} kernel threads:`);
    console.log(`  merge ${row.mergeSeconds} s; re-encoding its output alone ${row.reencodeSeconds} s (merge / re-encode ${row.mergeVsReencode}, target ≤ 1.2: ${row.targetMet ? 'met' : 'NOT met'}); plain read + write ${row.readWriteSeconds} s (merge / read+write ${row.mergeVsReadWrite})`);
    console.log(JSON.stringify({ unit: 'seconds', note: 'linear merge of two Q4_K_M-style synthetic models (dim 1024, ffn 2816, vocab 8192) to the same types, against re-encoding its output alone and a plain read + write; ratios = median of per-round ratios', quantised: row }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measured pairs (baseline, merge) per size; the table shows medians. */
const ROUNDS = Number(process.env.MERGE_BENCH_ROUNDS ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(mode: Mode, dir: string, env: Record<string, string> = {}): ChildResult {
  const r = spawnSync(process.execPath, [...process.execArgv, SELF, '--child', mode, dir], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(argv[1] as Mode, argv[2]!)) + '\n');
    return;
  }
  if (argv.includes('--quant')) {
    const qi = argv.indexOf('--quant-layers');
    await quantBench(qi >= 0 ? Number(argv[qi + 1]) : 4);
    return;
  }
  const si = argv.indexOf('--sizes');
  const sizes = si >= 0 ? argv[si + 1]!.split(',').map(Number) : [2, 6, 12];
  const rows: Record<string, unknown>[] = [];
  for (const layers of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-merge-bench-'));
    try {
      for (const [name, seed] of [['base.gguf', 1], ['a.gguf', 2], ['b.gguf', 3]] as const) {
        const sink = await fileSink(join(dir, name));
        await writeSyntheticModel(sink, { layers, seed });
      }
      const modelMB = statSync(join(dir, 'a.gguf')).size / 1e6;
      // Warm the page cache once so the first measurement is not the only one reading from disk.
      runChild('copy-ties', dir);
      // Each merge right after its own I/O baseline (same inputs), so both see the same machine
      // load; ROUNDS such pairs, and the median of the per-pair ratios (this machine is noisy).
      const runs: Record<'copy-linear' | 'linear' | 'copy-ties' | 'ties' | 'ties-1', ChildResult[]> = { 'copy-linear': [], linear: [], 'copy-ties': [], ties: [], 'ties-1': [] };
      const ratios = { linear: [] as number[], ties: [] as number[] };
      for (let r = 0; r < ROUNDS; r++) {
        const copy = runChild('copy-linear', dir);
        const linear = runChild('linear', dir);
        const copyTies = runChild('copy-ties', dir);
        const ties = runChild('ties', dir);
        // The same TIES merge with the SIMD kernels on this thread alone: what the kernel threads add.
        runs['ties-1'].push(runChild('ties', dir, { CHORUS_MERGE_THREADS: '1' }));
        runs['copy-linear'].push(copy);
        runs.linear.push(linear);
        runs['copy-ties'].push(copyTies);
        runs.ties.push(ties);
        ratios.linear.push(linear.mbps / copy.mbps);
        ratios.ties.push(ties.mbps / copyTies.mbps);
      }
      const med = (mode: keyof typeof runs, f: (c: ChildResult) => number) => median(runs[mode].map(f));
      rows.push({
        layers, modelMB: +modelMB.toFixed(1), rounds: ROUNDS,
        copyMBps: +med('copy-linear', (c) => c.mbps).toFixed(1), copyTiesMBps: +med('copy-ties', (c) => c.mbps).toFixed(1),
        linearMBps: +med('linear', (c) => c.mbps).toFixed(1), linearRatio: +median(ratios.linear).toFixed(2),
        tiesMBps: +med('ties', (c) => c.mbps).toFixed(1), tiesRatio: +median(ratios.ties).toFixed(2),
        linearRatios: ratios.linear.map((x) => +x.toFixed(2)), tiesRatios: ratios.ties.map((x) => +x.toFixed(2)),
        tiesOneThreadMBps: +med('ties-1', (c) => c.mbps).toFixed(1), kernelThreads: runs.ties[0]!.kernelThreads,
        cpuMBps: {
          copyLinear: Math.round(med('copy-linear', (c) => c.cpuMBps)), linear: Math.round(med('linear', (c) => c.cpuMBps)),
          copyTies: Math.round(med('copy-ties', (c) => c.cpuMBps)), ties: Math.round(med('ties', (c) => c.cpuMBps)),
        },
        linearMaxRssMB: Math.round(med('linear', (c) => c.maxRssMB)), tiesMaxRssMB: Math.round(med('ties', (c) => c.maxRssMB)), copyMaxRssMB: Math.round(med('copy-linear', (c) => c.maxRssMB)),
        linearPeakHeapMB: Math.round(med('linear', (c) => c.peakHeapMB)), tiesPeakHeapMB: Math.round(med('ties', (c) => c.peakHeapMB)),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`medians of ${ROUNDS} rounds; ratio = median of the per-round ratios`);
  console.log('layers  model MB  read+write MB/s (2 / 3 inputs)  linear MB/s (ratio)  TIES MB/s (ratio)  TIES on 1 thread MB/s  peak RSS linear/TIES/copy MB');
  for (const r of rows) {
    console.log(
      `${String(r.layers).padStart(6)}  ${String(r.modelMB).padStart(8)}  ${`${r.copyMBps} / ${r.copyTiesMBps}`.padStart(31)}  ${`${r.linearMBps} (${r.linearRatio})`.padStart(19)}  ${`${r.tiesMBps} (${r.tiesRatio})`.padStart(17)}  ${String(r.tiesOneThreadMBps).padStart(21)}  ${`${r.linearMaxRssMB}/${r.tiesMaxRssMB}/${r.copyMaxRssMB}`.padStart(27)}`,
    );
  }
  console.log(JSON.stringify({ unit: 'MB of input per second; memory in MB', note: 'F16 llama-shaped synthetic models (dim 1024, ffn 2816, vocab 8192); linear: 2 inputs; TIES: base + 2, density 0.5; merges through the WebAssembly SIMD kernels on kernelThreads threads (one per core); ratio = median over rounds of merge / (plain read of the same inputs + write of as many output bytes, same read-ahead) measured just before it', rows }));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
