/**
 * Engine harness: exposes the real engine layer (workers, registry, store) on `window.chorus` so
 * the engines e2e test (tests/e2e/engines.spec.ts) and the engine bench (tools/bench/engine.mjs)
 * drive it in headless Chromium. Nothing here is shipped in the app's dist.
 */
import { Wllama } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { EngineError, collect, type ChatChunk, type ChatRequest, type CompletionRequest, type Engine } from '../../../src/lib/engines/engine.ts';
import { spawnWllamaSet, spawnWllamaWorker, type WorkerEngine } from '../../../src/app/engines.ts';
import type { ReplicaSet } from '../../../src/lib/engines/replicas.ts';
import { ModelRegistry } from '../../../src/app/models.svelte.ts';
import { openChorusDb, DB_VERSION } from '../../../src/lib/store/db.ts';
import { OpfsStore } from '../../../src/lib/store/opfs.ts';
import type { ModelSource } from '../../../workers/engine.api.ts';
import { Connection, openStream, proxy } from '../../../src/lib/rpc.ts';
import type { TokenPathApi } from './rpc.worker.ts';
import { collectRun } from '../../../src/lib/run.ts';
import type { Agent } from '../../../src/lib/strategies/types.ts';
import './onnx.ts';
import { blobSource, GGUFWriter, memorySink, meta, readGGUF, readTensorData, setMeta } from '../../../src/lib/merge/gguf/index.ts';

const engines = new Map<number, Engine>();
const bares = new Map<number, Wllama>();
const bareMessages = new Map<number, { replies: number; logs: number; other: number }>();
/** The most requests a ReplicaSet ran at once, per handle. */
const peaks = new Map<number, number>();
const bareWorkers = new Map<number, Worker>();
const spinWorkers: Worker[] = [];
let nextHandle = 1;

async function fetchBlob(url: string): Promise<Blob> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`harness: ${url} answered ${res.status}`);
  return res.blob();
}

const chorus = {
  DB_VERSION,
  /** The file chosen through the page's real <input type=file>. */
  picked(): File {
    const f = (document.getElementById('file') as HTMLInputElement).files?.[0];
    if (!f) throw new Error('harness: no file picked');
    return f;
  },
  fetchBlob,
  async spawn(
    source: ModelSource | { kind: 'fetch'; url: string; name: string } | { kind: 'picked' },
    params: { nThreads?: number; gpu?: 'auto' | 'off'; nParallel?: number; cancelAtFirstProgress?: boolean } = {},
  ) {
    const src: ModelSource =
      source.kind === 'fetch'
        ? { kind: 'blob', blob: new File([await fetchBlob(source.url)], source.name), name: source.name }
        : source.kind === 'picked'
          ? { kind: 'blob', blob: chorus.picked(), name: chorus.picked().name }
          : source;
    const progress: [number, number][] = [];
    const ac = new AbortController();
    const engine = await spawnWllamaWorker(
      src,
      { nThreads: params.nThreads ?? 1, gpu: params.gpu ?? 'off', nParallel: params.nParallel ?? 1 },
      {
        signal: ac.signal,
        onProgress: (l, t) => {
          progress.push([l, t]);
          if (params.cancelAtFirstProgress) ac.abort();
        },
      },
    );
    const handle = nextHandle++;
    engines.set(handle, engine);
    return { handle, info: engine.info, progress };
  },
  /**
   * A model loaded as the app loads it (spawnWllamaSet, as the registry does): one instance now,
   * up to `maxInstances` when callers overlap.
   */
  async spawnSet(url: string, name: string, params: { nThreads?: number; maxInstances: number }) {
    const src: ModelSource = { kind: 'blob', blob: new File([await fetchBlob(url)], name), name };
    const set = await spawnWllamaSet(src, { nThreads: params.nThreads ?? 1, gpu: 'off' }, { maxInstances: () => params.maxInstances });
    set.onActivity = (a) => peaks.set(handle, Math.max(peaks.get(handle) ?? 0, a.active));
    const handle = nextHandle++;
    engines.set(handle, set);
    return { handle, info: set.info };
  },
  /** Loads a set's instances up to `count` and waits for them (ReplicaSet.reserve); resets its peak. */
  async reserve(handle: number, count: number) {
    await (engines.get(handle) as ReplicaSet).reserve(count);
    peaks.set(handle, 0);
  },
  /** A set's instances and their counts. */
  setActivity(handle: number) {
    const set = engines.get(handle) as ReplicaSet;
    return { ...set.activity, peakActive: peaks.get(handle) ?? 0, max: set.max, growthError: set.growthError, details: set.engines.map((e) => e.info.detail) };
  },
  /** Runs one request to completion; abortAfter cancels after that many deltas. */
  async run(handle: number, mode: 'chat' | 'complete', request: ChatRequest | CompletionRequest, opts: { abortAfter?: number; abortAfterMs?: number; caller?: string } = {}) {
    const engine = engines.get(handle);
    if (!engine) throw new Error(`harness: no engine ${handle}`);
    const ac = new AbortController();
    // A whole answer (stream: false) has no deltas to count: abort it after a time instead.
    if (opts.abortAfterMs !== undefined) setTimeout(() => ac.abort(), opts.abortAfterMs);
    let deltas = 0;
    const stream = mode === 'chat' ? engine.chat(request as ChatRequest, { signal: ac.signal, caller: opts.caller }) : engine.complete(request as CompletionRequest, { signal: ac.signal, caller: opts.caller });
    const counted = (async function* () {
      for await (const c of stream) {
        if (c.type === 'delta' && ++deltas === opts.abortAfter) ac.abort();
        yield c;
      }
    })();
    const t0 = performance.now();
    const out = await collect(counted);
    return { ...out, deltas, wallMs: performance.now() - t0 };
  },
  /** Opens a handle's stepper, tokenizes `text` with BOS and takes one step: what the seam gives. */
  async stepOnce(handle: number, text: string, topK: number) {
    const stepper = await engines.get(handle)!.stepper!();
    const ids = await stepper.tokenize(text, { addBos: true });
    const t0 = performance.now();
    const next = await stepper.next(ids, { topK });
    return { ids, vocabulary: stepper.vocabulary, next, ms: performance.now() - t0, text: await stepper.detokenize(ids) };
  },
  /**
   * Greedy generation by stepping alone (one step per token, the top candidate written), timed
   * per token as `timedRun` times free generation: the bench's stepping ÷ free generation ratio.
   */
  async stepGreedy(handle: number, prompt: string, maxTokens: number) {
    const stepper = await engines.get(handle)!.stepper!();
    const ids = await stepper.tokenize(prompt, { addBos: true });
    const out: number[] = [];
    const t0 = performance.now();
    let tFirst = 0;
    for (let i = 0; i < maxTokens; i++) {
      const next = await stepper.next([...ids, ...out]);
      const id = next.top[0]!.id;
      if (stepper.vocabulary.eos.includes(id)) break;
      out.push(id);
      if (i === 0) tFirst = performance.now();
    }
    const end = performance.now();
    const calls = 'stats' in stepper ? (stepper.stats as { calls: number }).calls : maxTokens;
    return { text: await stepper.detokenize(out), tokens: out.length, calls, tokensPerSecond: ((out.length - 1) * 1000) / (end - tFirst), wallMs: end - t0 };
  },
  /** Greedy stepping of up to n tokens with a fresh stepper that reads `lookahead` positions per call: every step's candidates and the calls made. */
  async stepTrace(handle: number, prompt: string, n: number, lookahead: number, topK = 5) {
    const e = engines.get(handle) as WorkerEngine;
    const before = e.lookahead;
    e.lookahead = lookahead;
    try {
      const stepper = await e.stepper();
      const ids = await stepper.tokenize(prompt, { addBos: true });
      const steps: { id: number; logprob: number }[][] = [];
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const next = await stepper.next([...ids, ...out], { topK });
        steps.push(next.top.map((c) => ({ id: c.id, logprob: c.logprob })));
        if (stepper.vocabulary.eos.includes(next.top[0]!.id)) break;
        out.push(next.top[0]!.id);
      }
      return { steps, tokens: out, calls: (stepper as unknown as { stats: { calls: number } }).stats.calls };
    } finally {
      e.lookahead = before;
    }
  },
  /** Sets how many positions the handles' steppers read per call from now on (src/lib/engines/lookahead.ts; 1 = off). */
  setLookahead(handles: number[], n: number) {
    for (const h of handles) {
      const e = engines.get(h);
      if (!e || !('lookahead' in e)) throw new Error(`handle ${h} is not a wllama worker engine`);
      (e as WorkerEngine).lookahead = n;
    }
  },
  /** Runs a method (src/lib/run.ts) with one agent per handle, greedy; returns its trace. */
  async runMethod(strategy: string, handles: number[], prompt: string, knobs: Record<string, unknown>, maxTokens: number) {
    const agents: Agent[] = handles.map((h, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: `model ${h}`, engine: engines.get(h)!, temperature: 0 }));
    const t0 = performance.now();
    const events = await collectRun({ strategy, agents, prompt, knobs, seed: 1, maxTokens });
    return { events, wallMs: performance.now() - t0 };
  },
  /** The engine behind a handle, for tests that read its stream chunk by chunk. */
  engine(handle: number): Engine {
    const engine = engines.get(handle);
    if (!engine) throw new Error(`harness: no engine ${handle}`);
    return engine;
  },
  state(handle: number) {
    const e = engines.get(handle) as WorkerEngine | undefined;
    return e ? { active: e.active, queued: e.queued, crashed: e.crashed?.message ?? null } : null;
  },
  crash(handle: number) {
    (engines.get(handle) as WorkerEngine).simulateCrash();
  },
  async unload(handle: number) {
    await engines.get(handle)?.unload();
    engines.delete(handle);
  },
  /** Bare wllama on this page (its own worker, no Chorus layer): the bench's baseline. */
  async bareLoad(modelUrl: string, nThreads: number, nCtx = 2048) {
    const w = new Wllama({ default: wasmUrl }, { suppressNativeLog: true });
    await w.loadModel([await fetchBlob(modelUrl)], { n_ctx: nCtx, n_threads: nThreads, n_gpu_layers: 0, n_parallel: 1 });
    const handle = nextHandle++;
    bares.set(handle, w);
    // Count what wllama's worker posts to this page, by kind: replies to actions, native log lines
    // (console.*) and the rest (tests/e2e/engines.spec.ts, tools/wllama/results-plugin.mjs).
    const counts = { replies: 0, logs: 0, other: 0 };
    bareMessages.set(handle, counts);
    const worker = (w as unknown as { proxy: { worker: Worker } }).proxy.worker;
    const receive = worker.onmessage!;
    worker.onmessage = (e: MessageEvent<{ verb?: string; callbackId?: number }>) => {
      if (e.data?.verb?.startsWith('console.')) counts.logs++;
      else if (e.data?.callbackId !== undefined) counts.replies++;
      else counts.other++;
      receive.call(worker, e);
    };
    return handle;
  },
  /** One greedy completion on bare wllama, timed on the page exactly as `timedRun` times ours. */
  async bareRun(handle: number, prompt: string, maxTokens: number) {
    const w = bares.get(handle)!;
    const t0 = performance.now();
    let tFirst = 0;
    let n = 0;
    let text = '';
    const stream = await w.createCompletion({ prompt, max_tokens: maxTokens, temperature: 0, stream: true });
    for await (const c of stream) {
      const t = c.choices[0]?.text ?? '';
      if (t) {
        if (n === 0) tFirst = performance.now();
        n++;
        text += t;
      }
    }
    const end = performance.now();
    return { text, tokens: n, tokensPerSecond: ((n - 1) * 1000) / (end - tFirst), wallMs: end - t0 };
  },
  /** The same completion on bare wllama without a token stream (stream: false): the whole text at the end. */
  async bareRunWhole(handle: number, prompt: string, maxTokens: number, sampling: { temperature?: number; seed?: number } = {}) {
    const w = bares.get(handle)!;
    const t0 = performance.now();
    const r = (await w.createCompletion({ prompt, max_tokens: maxTokens, temperature: 0, ...sampling, stream: false } as never)) as unknown as { choices: { text: string }[]; timings?: { predicted_n?: number } };
    const end = performance.now();
    const n = r.timings?.predicted_n ?? 0;
    return { text: r.choices[0]?.text ?? '', tokens: n, tokensPerSecond: (n * 1000) / (end - t0), wallMs: end - t0 };
  },
  /**
   * How many actions the bare wllama on the page has sent to its worker so far (wllama's task counter,
   * a private field): with tools/wllama/results-plugin.mjs a whole answer costs a few, not one per token.
   */
  bareActions(handle: number): number {
    return (bares.get(handle) as unknown as { proxy: { taskId: number } }).proxy.taskId;
  },
  /** What the bare wllama's worker has posted to the page since load, by kind (see bareLoad). */
  bareMessages(handle: number): { replies: number; logs: number; other: number } {
    return { ...bareMessages.get(handle)! };
  },
  /** Bare wllama in its own minimal worker (bare.worker.ts), timed on the page the same way. */
  async bareWorkerLoad(modelUrl: string, nThreads: number) {
    const worker = new Worker(new URL('./bare.worker.ts', import.meta.url), { type: 'module' });
    const blob = await fetchBlob(modelUrl);
    await new Promise<void>((res) => {
      worker.onmessage = () => res();
      worker.postMessage({ type: 'load', blob, nThreads });
    });
    const handle = nextHandle++;
    bareWorkers.set(handle, worker);
    return handle;
  },
  bareWorkerRun(handle: number, prompt: string, maxTokens: number) {
    const worker = bareWorkers.get(handle)!;
    const t0 = performance.now();
    let tFirst = 0;
    let n = 0;
    let text = '';
    return new Promise<{ text: string; tokens: number; tokensPerSecond: number; wallMs: number }>((res) => {
      worker.onmessage = (e: MessageEvent<{ type: string; text?: string }>) => {
        if (e.data.type === 'token') {
          if (n === 0) tFirst = performance.now();
          n++;
          text += e.data.text;
        } else {
          const end = performance.now();
          res({ text, tokens: n, tokensPerSecond: ((n - 1) * 1000) / (end - tFirst), wallMs: end - t0 });
        }
      };
      worker.postMessage({ type: 'run', prompt, maxTokens });
    });
  },
  async bareUnload(handle: number) {
    bareWorkers.get(handle)?.terminate();
    bareWorkers.delete(handle);
    await bares.get(handle)?.exit();
    bares.delete(handle);
  },
  /** Starts `n` plain-compute workers (spin.worker.ts) for the bench's host check. */
  spinStart(n: number) {
    chorus.spinStop();
    for (let i = 0; i < n; i++) spinWorkers.push(new Worker(new URL('./spin.worker.ts', import.meta.url), { type: 'module' }));
  },
  /** `iterations` of plain compute on spin worker `i`; resolves with the worker's own milliseconds. */
  spinRun(i: number, iterations: number): Promise<number> {
    const w = spinWorkers[i]!;
    return new Promise((res) => {
      w.onmessage = (e: MessageEvent<{ ms: number }>) => res(e.data.ms);
      w.postMessage(iterations);
    });
  },
  spinStop() {
    for (const w of spinWorkers.splice(0)) w.terminate();
  },
  /** The same greedy completion through Chorus's engine worker, timed on the page. */
  async timedRun(handle: number, prompt: string, maxTokens: number, extra: { temperature?: number; seed?: number; caller?: string; stream?: boolean } = {}) {
    const engine = engines.get(handle)!;
    const t0 = performance.now();
    let tFirst = 0;
    let n = 0;
    let counted = 0;
    let text = '';
    const { caller, ...sampling } = extra;
    for await (const c of engine.complete({ prompt, max_tokens: maxTokens, temperature: 0, ...sampling }, { caller })) {
      if (c.type === 'delta' && c.text) {
        if (n === 0) tFirst = performance.now();
        n++;
        text += c.text;
      } else if (c.type === 'done') counted = c.usage.completion_tokens;
    }
    const end = performance.now();
    // A whole answer (stream: false) is one delta: its tokens are the engine's count.
    const tokens = extra.stream === false ? counted : n;
    return { text, tokens, tokensPerSecond: ((tokens - 1) * 1000) / (end - tFirst), wallMs: end - t0 };
  },
  /**
   * The token path alone (rpc.worker.ts): `n` chunks to the page on a transferred port and through
   * a proxied callback, `rounds` times each in alternation; milliseconds per round, each way.
   */
  async tokenPath(n: number, rounds: number) {
    const worker = new Worker(new URL('./rpc.worker.ts', import.meta.url), { type: 'module' });
    const conn = new Connection<TokenPathApi>(worker, { EngineError });
    const port: number[] = [];
    const callback: number[] = [];
    try {
      for (let r = 0; r < rounds; r++) {
        let got = 0;
        let t0 = performance.now();
        const stream = openStream<ChatChunk>(() => void got++);
        await stream.settle(conn.api.viaPort(n, stream.port));
        port.push(performance.now() - t0);
        if (got !== n) throw new Error(`harness: ${got} of ${n} chunks arrived on the port`);
        got = 0;
        t0 = performance.now();
        await conn.api.viaCallback(n, proxy(() => void got++));
        callback.push(performance.now() - t0);
        if (got !== n) throw new Error(`harness: ${got} of ${n} chunks arrived through the callback`);
      }
    } finally {
      worker.terminate();
    }
    return { port, callback };
  },
  /** web-llm pieces that work without weights (feature detection, list, cache, failing load). */
  async webllm() {
    const w = await import('../../../src/app/webllm.ts');
    const support = await w.detectWebGpuSupport();
    const list = w.listPrebuiltModels();
    const cached = await w.listCachedModels(list.slice(0, 10).map((m) => m.id));
    const attempt = (id: string) =>
      w.spawnWebLLM(id).then(
        () => ({ code: 'loaded', message: '' }),
        (e: Error & { code?: string }) => ({ code: e.code ?? 'none', message: e.message }),
      );
    const f16 = await attempt('Llama-3.2-1B-Instruct-q4f16_1-MLC');
    const f32 = await attempt('SmolLM2-135M-Instruct-q0f32-MLC');
    return { support, count: list.length, cached, f16, f32 };
  },
  /** A copy of a GGUF with `tokenizer.chat_template` set, written with the project's own writer. */
  async withChatTemplate(blob: Blob, name: string, template: string): Promise<File> {
    const src = blobSource(blob, name);
    const file = await readGGUF(src);
    const sink = memorySink();
    const w = new GGUFWriter(sink, { alignment: file.alignment });
    w.addMetadata(setMeta(file.metadata, meta.string('tokenizer.chat_template', template)));
    for (const t of file.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: t.type });
    for (const t of file.tensors) await w.writeTensorData(t.name, await readTensorData(src, file, t));
    await w.finish();
    return new File([sink.bytes() as BlobPart], name);
  },
  registry: null as ModelRegistry | null,
  newRegistry(opts: { dbName: string; manifestUrl?: string | null; modelsDir?: string }) {
    chorus.registry = new ModelRegistry(opts);
    return chorus.registry;
  },
  openChorusDb,
  OpfsStore,
  async opfsList(dir: string) {
    return new OpfsStore(dir).list();
  },
  async opfsListAll(dir: string) {
    const root = await navigator.storage.getDirectory();
    const d = await root.getDirectoryHandle(dir, { create: true });
    const names: string[] = [];
    for await (const [name] of (d as unknown as { entries(): AsyncIterable<[string, unknown]> }).entries()) names.push(name);
    return names.sort();
  },
};

(window as unknown as { chorus: typeof chorus }).chorus = chorus;
document.getElementById('status')!.textContent = 'ready';
