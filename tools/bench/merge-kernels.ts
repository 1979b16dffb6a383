/**
 * The merge's SIMD kernels alone (`npx tsx tools/bench/merge-kernels.ts`; `npm run bench` runs it):
 * nanoseconds per value of an F16 merge of one tensor held in the kernels' memory, no file I/O —
 * TIES (base + 2 fine-tunes, density 0.5, weights 1, normalize), task arithmetic (base + 2) and
 * linear (2 inputs) — on this thread alone and on kernel threads (one per core, as the CLI uses),
 * for a 2^20-entry tensor and an 11.5 M-entry one (2048 × 5632, a 7B model's FFN matrix). Wall time
 * and CPU time (every thread of the process) per value, medians of 9 runs after a warm-up. The
 * fine-tunes are the base plus small Gaussian changes, rounded to fp16 like real ones. Prints a
 * table, then one JSON line (the tools/bench/run.mjs convention). Measures; asserts nothing.
 */
import { availableParallelism } from 'node:os';
import { f32ToF16 } from '../../src/lib/merge/codecs/half.ts';
import { KERNELS_WASM_BASE64 } from '../../src/lib/merge/wasm/kernels.wasm.ts';
import { SimdKernels, type TaskArithmetic2Options } from '../../src/lib/merge/wasm/index.ts';
import { nodeKernelThreads } from '../lib/kernel-threads.ts';

const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
const SIZES = [1 << 20, 2048 * 5632];
const RUNS = 9;

function fineTunes(n: number): [Uint16Array, Uint16Array, Uint16Array] {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const base = new Uint16Array(n), a = new Uint16Array(n), b = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = gauss() * 0.02;
    base[i] = f32ToF16(x);
    a[i] = f32ToF16(x + gauss() * 0.002);
    b[i] = f32ToF16(x + gauss() * 0.002);
  }
  return [a, b, base];
}

const TIES: TaskArithmetic2Options = { sparsify: [{ density: 0.5, rescale: false }, { density: 0.5, rescale: false }], weights: [1, 1], mode: 1, normalize: true, lambda: 1 };
const TASK: TaskArithmetic2Options = { sparsify: [null, null], weights: [1, 1], mode: 0, normalize: false, lambda: 1 };

interface Row { method: string; values: number; threads: number; wallNs: number; cpuNs: number }

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;

async function measure(n: number, run: () => Promise<unknown>): Promise<{ wallNs: number; cpuNs: number }> {
  await run();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    wall.push(((performance.now() - t0) * 1e6) / n);
    const c = process.cpuUsage(c0);
    cpu.push(((c.user + c.system) * 1e3) / n);
  }
  return { wallNs: +median(wall).toFixed(2), cpuNs: +median(cpu).toFixed(2) };
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const single = new SimdKernels(module);
  const threaded = new SimdKernels(module);
  if (cores > 1) await threaded.attachThreads(nodeKernelThreads(cores));
  const rows: Row[] = [];
  for (const n of SIZES) {
    const [a, b, base] = fineTunes(n);
    for (const k of cores > 1 ? [single, threaded] : [single]) {
      k.reserve(n, 3);
      const v = k.slot(0, n);
      v.inputs[0]!.set(a);
      v.inputs[1]!.set(b);
      v.inputs[2]!.set(base);
      const out = v.out;
      const cases: [string, () => Promise<unknown>][] = [
        ['TIES', () => k.taskArithmetic2(v.inputs[0]!, v.inputs[1]!, v.inputs[2]!, out, TIES)],
        ['task arithmetic', () => k.taskArithmetic2(v.inputs[0]!, v.inputs[1]!, v.inputs[2]!, out, TASK)],
        ['linear', () => k.linear2(v.inputs[0]!, v.inputs[1]!, out, 0.5, 0.5, 1)],
      ];
      for (const [method, run] of cases) rows.push({ method, values: n, threads: k.threads, ...(await measure(n, run)) });
      k.release();
    }
  }
  console.log('method            values      threads  wall ns/value  CPU ns/value');
  for (const r of rows) {
    console.log(`${r.method.padEnd(16)}  ${String(r.values).padStart(8)}  ${String(r.threads).padStart(9)}  ${String(r.wallNs).padStart(13)}  ${String(r.cpuNs).padStart(12)}`);
  }
  console.log(JSON.stringify({ unit: 'ns per value (wall, and CPU of all threads)', note: 'F16 tensors in the kernels memory (no I/O); TIES density 0.5 weights 1 normalize; median of 9 runs', cores, rows }));
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
