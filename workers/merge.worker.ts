/**
 * The merge worker: plans and runs merges off the page's thread (src/lib/merge), reading inputs as
 * Blob slices and writing the output to OPFS through a sync access handle (only available in
 * workers; fast, no copies). The output goes to a temporary name `.partial-<random>-<name>` and is
 * renamed only when the last byte is written; on failure or cancel the temporary file is deleted,
 * so a cancelled or failed merge leaves nothing behind. It serves MergeWorkerApi (./merge.api.ts)
 * over comlink; every failure leaves as a MergeError with a code (`classify`).
 *
 * MLC (web-llm) inputs are read from web-llm's Cache Storage (src/lib/merge/mlc/cache.ts) and the
 * merged model is written there, under a URL of our own, as web-llm itself would have cached it:
 * the base parent's mlc-chat-config.json and tokenizer first, then the weight shards as they
 * fill, tensor-cache.json last (so web-llm's hasModelInCache sees no model until the end). On
 * failure or cancel every key under that URL is deleted.
 */
/// <reference lib="webworker" />
import { MergeConfigError } from '../src/lib/merge/config.ts';
import { GGUFError, blobSource, ggmlTypeName, readGGUF, type ByteSink } from '../src/lib/merge/gguf/index.ts';
import { MergeMethodError, type TensorStats } from '../src/lib/merge/methods/index.ts';
import { MergePlanError, planMerge, type MergeInput, type MergePlan } from '../src/lib/merge/plan.ts';
import { MergeAbortedError, executeMerge, type MergeProgress } from '../src/lib/merge/stream.ts';
import { MAX_THREADS } from '../src/lib/merge/wasm/index.ts';
import type { ThreadPort } from '../src/lib/merge/wasm/thread.ts';
import { MlcCacheError, mergeIntoWebLLMCache, openCachedCheckpoint, type CachedCheckpoint } from '../src/lib/merge/mlc/cache.ts';
import { MlcFormatError } from '../src/lib/merge/mlc/format.ts';
import { mergedModelRecord } from '../src/lib/merge/mlc/merge.ts';
import { MlcPlanError, oneFormat, planMlcMerge, type MlcPlan } from '../src/lib/merge/mlc/plan.ts';
import { CallbackSink, exposeApi } from '../src/lib/rpc.ts';
import { MergeError, type MergeInputRef, type MergeWorkerApi, type MlcRunResult, type PlanSummary, type ProgressCallback, type RunResult, type StatsCallback } from './merge.api.ts';
import type { MergeConfig } from '../src/lib/merge/config.ts';

const running = new Map<number, AbortController>();

/** Runs one merge call: `id` registered for `cancel`, reports forwarded, failures classified. */
async function withRun<R>(id: number, onProgress: ProgressCallback, onStats: StatsCallback, work: (signal: AbortSignal, report: Report) => Promise<R>): Promise<R> {
  const ctl = new AbortController();
  running.set(id, ctl);
  const progress = new CallbackSink(onProgress);
  const stats = new CallbackSink(onStats);
  try {
    return await work(ctl.signal, { onProgress: (p) => progress.send(p), onStats: (s) => stats.send(s) });
  } catch (err) {
    throw classify(err);
  } finally {
    running.delete(id);
    await Promise.all([progress.end(), stats.end()]);
  }
}

type Report = { onProgress(p: MergeProgress): void; onStats(s: TensorStats): void };

const api: MergeWorkerApi = {
  async plan(config, inputs) {
    try {
      return oneFormat(inputs) === 'mlc' ? summarizeMlc(await planMlc(config, inputs)) : summarize(await plan(config, inputs));
    } catch (err) {
      throw classify(err);
    }
  },
  run: (id, config, inputs, dir, fileName, onProgress, onStats) =>
    withRun(id, onProgress, onStats, (signal, report) => run(config, inputs, dir, fileName, signal, report)),
  runMlc: (id, config, inputs, modelId, baseUrl, onProgress, onStats) =>
    withRun(id, onProgress, onStats, (signal, report) => runMlc(config, inputs, modelId, baseUrl, signal, report)),
  cancel(id) {
    running.get(id)?.abort();
  },
  kernelPorts(ports) {
    kernelPortList = ports;
  },
};

exposeApi(api);

function classify(err: unknown): MergeError {
  if (err instanceof MergeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof MergeAbortedError) return new MergeError('cancelled', message);
  if (err instanceof MergeConfigError || err instanceof MergeMethodError) return new MergeError('config', message);
  if (err instanceof MergePlanError) return new MergeError(err.code === 'parameter' || err.code === 'inputs' ? 'config' : 'incompatible', message);
  if (err instanceof MlcPlanError) return new MergeError(err.code === 'parameter' || err.code === 'inputs' ? 'config' : 'incompatible', message);
  if (err instanceof GGUFError || err instanceof MlcCacheError || err instanceof MlcFormatError) return new MergeError('file', message);
  if (err instanceof DOMException && (err.name === 'QuotaExceededError' || err.name === 'NoModificationAllowedError')) {
    return new MergeError('storage', `the browser refused to store the merged model (${err.name}: ${err.message}); free space in the model manager and try again`);
  }
  return new MergeError('internal', message);
}

async function plan(config: MergeConfig, refs: MergeInputRef[]): Promise<MergePlan> {
  oneFormat(refs);
  const inputs: MergeInput[] = [];
  for (const r of refs) {
    if (r.format !== 'gguf') continue;
    const source = blobSource(r.blob, r.name);
    inputs.push({ ref: r.ref, source, file: await readGGUF(source) });
  }
  return planMerge(config, inputs);
}

function summarize(p: MergePlan): PlanSummary {
  return {
    format: 'gguf',
    method: p.method.id,
    inputs: p.inputs.map((i) => ({ ref: i.ref, name: i.source.name, size: i.source.size })),
    baseIndex: p.baseIndex,
    tensors: p.tasks.map((t) => ({
      name: t.name, shape: t.shape, inTypes: t.inputs.map((i) => ggmlTypeName(i.type)), outType: ggmlTypeName(t.outType),
      inBytes: t.inBytes, outBytes: t.outBytes,
    })),
    inputBytes: p.inputBytes,
    outputSize: p.outputSize,
    estimatedSeconds: p.estimatedSeconds,
    notes: p.notes,
  };
}

type SyncHandle = {
  write(buffer: Uint8Array, options?: { at?: number }): number;
  flush(): void;
  close(): void;
  truncate(size: number): void;
};
type MovableHandle = FileSystemFileHandle & { move(name: string): Promise<void>; createSyncAccessHandle(): Promise<SyncHandle> };

async function freeName(dir: FileSystemDirectoryHandle, fileName: string): Promise<string> {
  const dot = fileName.lastIndexOf('.');
  const stem = dot > 0 ? fileName.slice(0, dot) : fileName;
  const ext = dot > 0 ? fileName.slice(dot) : '';
  for (let i = 1; ; i++) {
    const name = i === 1 ? fileName : `${stem}-${i}${ext}`;
    try {
      await dir.getFileHandle(name);
    } catch {
      return name;
    }
  }
}

async function run(config: MergeConfig, refs: MergeInputRef[], dirName: string, fileName: string, signal: AbortSignal, report: Report): Promise<RunResult> {
  // Plan first: an incompatible merge fails here, before any file exists.
  const p = await plan(config, refs);
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(dirName, { create: true });
  const finalName = await freeName(dir, fileName);
  const tmpName = `.partial-${Math.random().toString(36).slice(2)}-${finalName}`;
  const handle = (await dir.getFileHandle(tmpName, { create: true })) as MovableHandle;
  let access: SyncHandle | null = null;
  try {
    access = await handle.createSyncAccessHandle();
    const h = access;
    let at = 0;
    const sink: ByteSink = {
      write(bytes) {
        let done = 0;
        while (done < bytes.byteLength) done += h.write(bytes.subarray(done), { at: at + done });
        at += bytes.byteLength;
      },
      close() {
        h.flush();
      },
    };
    const result = await executeMerge(p, {
      sink,
      signal,
      threads: kernelThreads,
      progressIntervalMs: 100,
      onProgress: report.onProgress,
      onStats: report.onStats,
    });
    access.close();
    access = null;
    await handle.move(finalName);
    return {
      fileName: finalName, dir: dirName, size: result.outputSize, seconds: result.seconds, rateMBps: result.rateMBps, kernels: result.kernels,
      provenance: { method: p.method.id, inputs: p.inputs.map((i) => i.source.name), config, chatTemplateFrom: p.chatTemplateFrom },
    };
  } catch (err) {
    try {
      access?.close();
    } catch {
      // already closed
    }
    await dir.removeEntry(tmpName).catch(() => undefined);
    throw err;
  }
}

/** Ports to the kernel workers the page started for this worker (`kernelPorts`), if any. */
let kernelPortList: MessagePort[] = [];

/**
 * Kernel threads for the SIMD kernels: the page's kernel workers, one per core (this worker hands out
 * chunks and does the file I/O), reached through the MessagePorts the page sent; none on a single
 * core, where this worker runs the kernels itself. The page starts them, not this worker: Firefox
 * under load has hung in `new Worker` called inside a worker (workers/engine.worker.ts), so the merge
 * creates no worker of its own. Errors of a kernel worker reach the page, not this port: one that
 * never answers is given up by the kernel threads' start bound (THREAD_START_TIMEOUT_MS).
 */
function kernelThreads(): ThreadPort[] {
  return kernelPortList.slice(0, MAX_THREADS).map((port) => ({
    post: (m: unknown) => port.postMessage(m),
    onMessage: (h: (data: unknown) => void) => {
      port.onmessage = (e: MessageEvent) => h(e.data);
    },
    terminate: () => port.close(),
  }));
}

async function planMlc(config: MergeConfig, refs: MergeInputRef[]): Promise<MlcPlan<CachedCheckpoint>> {
  oneFormat(refs);
  const inputs: CachedCheckpoint[] = [];
  for (const r of refs) if (r.format === 'mlc') inputs.push(await openCachedCheckpoint(caches, r.record, r.ref));
  return planMlcMerge(config, inputs);
}

function summarizeMlc(p: MlcPlan<CachedCheckpoint>): PlanSummary {
  return {
    format: 'mlc',
    method: p.method.id,
    inputs: p.inputs.map((i) => ({ ref: i.ref, name: i.name, size: i.weightBytes })),
    baseIndex: p.baseIndex,
    tensors: p.tasks.map((t) => ({ name: t.name, shape: t.shape, inTypes: t.inputs.map((q) => q.kind), outType: t.kind, inBytes: t.inBytes, outBytes: t.outBytes })),
    inputBytes: p.inputBytes,
    outputSize: p.outputSize,
    estimatedSeconds: p.estimatedSeconds,
    notes: p.notes,
  };
}

async function runMlc(config: MergeConfig, refs: MergeInputRef[], modelId: string, baseUrl: string, signal: AbortSignal, report: Report): Promise<MlcRunResult> {
  // Plan first: an incompatible merge fails here, before any key is written.
  const p = await planMlc(config, refs);
  const base = p.inputs[p.baseIndex ?? 0]!;
  const record = refs.find((r) => r.ref === base.ref);
  if (record?.format !== 'mlc') throw new MlcPlanError('inputs', `the base input ${base.name} is not an MLC model`);
  const t0 = performance.now();
  await mergeIntoWebLLMCache(caches, p, baseUrl, {
    signal,
    progressIntervalMs: 100,
    onProgress: report.onProgress,
    onStats: report.onStats,
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    modelId, baseUrl, record: mergedModelRecord(record.record, modelId, baseUrl), size: p.outputSize, seconds,
    rateMBps: seconds > 0 ? p.inputBytes / 1e6 / seconds : 0,
    provenance: { method: p.method.id, inputs: p.inputs.map((i) => i.name), config },
  };
}
