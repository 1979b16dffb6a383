/**
 * Page side of the engine workers: one Web Worker per loaded wllama model, wrapped in an object
 * that implements the Engine interface (src/lib/engines/engine.ts), so strategies never know a
 * worker is involved. The worker serves EngineWorkerApi (workers/engine.api.ts) over comlink
 * (src/lib/rpc.ts); tokens come back on a transferred MessagePort, errors as EngineErrors.
 *
 *   const engine = await spawnWllamaWorker({ kind: 'blob', blob: file, name: file.name },
 *     { nThreads: 1, gpu: 'auto' }, { onProgress: (l, t) => …, signal, onCrash: (err) => … });
 *   for await (const chunk of engine.chat({ messages, temperature: 0 }, { signal, caller: 'a1' })) …
 *
 * Sharing: agents that use the same model call the same WorkerEngine. Requests go through a
 * FairQueue (round-robin between `caller`s, FIFO within one); a request cancelled while queued is
 * dropped there and never reaches the worker. At most `concurrency` (= the model's n_parallel
 * slots) run in the worker at once.
 *
 * Crashes: if the worker dies (uncaught error, out of memory), every pending and queued call
 * fails with EngineError('crashed', …) and `onCrash` tells the registry, which marks the model
 * errored and offers a reload.
 */
import {
  EngineError,
  abortedBeforeStart,
  type CallOptions,
  type ChatChunk,
  type ChatRequest,
  type CompletionRequest,
  type Engine,
  type EngineInfo,
} from '../lib/engines/engine.ts';
import { Channel } from '../lib/engines/channel.ts';
import { DEFAULT_LOOKAHEAD, LookaheadStepper } from '../lib/engines/lookahead.ts';
import type { Stepper, VocabularyInfo } from '../lib/engines/stepper.ts';
import { FairQueue, QueueAbortedError } from '../lib/engines/queue.ts';
import { ReplicaSet } from '../lib/engines/replicas.ts';
import { Connection, openStream, proxy } from '../lib/rpc.ts';
import type { EngineWorkerApi, Generation, LoadParams, LoadStage, ModelSource } from '../../workers/engine.api.ts';

export interface SpawnOptions {
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
  onCrash?: (err: EngineError) => void;
  /** Milliseconds llama.cpp's worker may take to start (default ENGINE_START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Starts the engine worker (default: the wllama engine worker); tests pass their own. */
  makeWorker?: () => Worker;
}

/**
 * How long llama.cpp's own worker may take to send its first message once a load starts it
 * (workers/engine.worker.ts): milliseconds normally, seconds on a loaded machine. Firefox under load
 * has left that start hanging for good; a load that does not get past it in time is ended and run
 * again in a fresh worker, up to START_ATTEMPTS times in all.
 */
export const ENGINE_START_TIMEOUT_MS = 20_000;
export const START_ATTEMPTS = 3;

/** A load whose llama.cpp worker did not start in time (retried by spawnWllamaWorker). */
class StartStalled extends Error {}

/** What every engine worker serves besides `load` (the wllama worker, the ONNX worker: workers/onnx.api.ts). */
export type GenerateApi = Pick<EngineWorkerApi, 'generate' | 'cancel' | 'unload' | 'stepperOpen' | 'step' | 'tokenize' | 'detokenize'>;

/**
 * One engine worker and its comlink connection; turns a dead worker into failed calls. `makeWorker`
 * starts the worker (default: the wllama engine worker).
 */
export class WorkerLink<Api extends GenerateApi = EngineWorkerApi> {
  readonly worker: Worker;
  readonly #conn: Connection<Api>;
  #nextId = 1;
  #onCrash: ((err: EngineError) => void) | undefined;

  constructor(
    onCrash?: (err: EngineError) => void,
    makeWorker: () => Worker = () => new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'chorus-engine' }),
  ) {
    this.#onCrash = onCrash;
    this.worker = makeWorker();
    this.#conn = new Connection<Api>(this.worker, { EngineError });
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.crash(e.message || 'uncaught error');
    };
    this.worker.onmessageerror = () => this.crash('it sent a message that could not be read');
  }

  get dead(): EngineError | null {
    return this.#conn.failure as EngineError | null;
  }

  set onCrash(fn: ((err: EngineError) => void) | undefined) {
    this.#onCrash = fn;
  }

  /** A fresh id for a call that `cancel` may name. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Calls the worker's API; rejects with the worker's EngineError, or 'crashed'/'unloaded' if it is gone. */
  call<R>(fn: (api: Connection<Api>['api']) => Promise<R>): Promise<R> {
    return this.#conn.guard(() => fn(this.#conn.api));
  }

  /** Fire-and-forget cancel of call `id`: nothing to wait for. */
  cancel(id: number): void {
    if (!this.dead) this.call((api) => api.cancel(id)).catch(() => undefined);
  }

  crash(why: string): void {
    if (this.dead) return;
    const err = new EngineError('crashed', `the engine worker crashed (${why}); its model was dropped — reload the model to continue.`);
    this.#conn.fail(err);
    this.worker.terminate();
    this.#onCrash?.(err);
  }

  terminate(): void {
    this.#conn.fail(new EngineError('unloaded', 'the model was unloaded — load it again to use it.'));
    this.worker.terminate();
  }
}

export class WorkerEngine implements Engine {
  readonly info: EngineInfo;
  readonly #link: WorkerLink<GenerateApi>;
  readonly #queue: FairQueue;
  #unloaded = false;
  /** Steppers opened from now on read up to this many positions per call (lookahead.ts; 1 = one call per step). */
  lookahead = DEFAULT_LOOKAHEAD;

  constructor(link: WorkerLink<GenerateApi>, info: EngineInfo, concurrency: number) {
    this.#link = link;
    this.info = info;
    this.#queue = new FairQueue(concurrency);
  }

  /** Requests running in the worker now (0 = idle). */
  get active(): number {
    return this.#queue.active;
  }

  /** Requests waiting in the fair queue. */
  get queued(): number {
    return this.#queue.pending;
  }

  get crashed(): EngineError | null {
    const d = this.#link.dead;
    return d && d.code === 'crashed' ? d : null;
  }

  set onCrash(fn: ((err: EngineError) => void) | undefined) {
    this.#link.onCrash = fn;
  }

  /** Called whenever the running/queued counts change (the registry shows "busy" from it). */
  onActivity: ((active: number, queued: number) => void) | undefined;

  #notify(): void {
    this.onActivity?.(this.#queue.active, this.#queue.pending);
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#generate({ mode: 'chat', request: plain(request) }, options);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#generate({ mode: 'complete', request: plain(request) }, options);
  }

  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    const err = new EngineError('unloaded', `${this.info.model} was unloaded — load it again to use it.`);
    this.#queue.rejectAll(err);
    if (!this.#link.dead) {
      // Give llama.cpp a moment to free its memory cleanly, then end the worker regardless.
      await Promise.race([this.#link.call((api) => api.unload()).catch(() => null), sleep(2000)]);
    }
    this.#link.terminate();
  }

  /** For tests of the crash path: makes the worker fail as a real crash would. */
  simulateCrash(): void {
    this.#link.crash('terminated on purpose by a test');
  }

  /**
   * The worker's stepper (src/lib/engines/wllama-stepper.ts) behind the Stepper interface, with
   * lookahead (src/lib/engines/lookahead.ts): a step that follows the model's greedy path is
   * answered on this side from the previous call, with no round trip. Steps go straight to the
   * worker, outside the fair queue: each is one short call, and wllama runs its calls one at a time
   * anyway.
   */
  async stepper(): Promise<Stepper> {
    if (this.#unloaded) throw new EngineError('unloaded', `${this.info.model} was unloaded — load it again to use it.`);
    // Only wllama workers reach this (the ONNX engine has its own stepper), and they have stepAhead.
    const link = this.#link as unknown as WorkerLink<EngineWorkerApi>;
    const vocabulary: VocabularyInfo = await link.call((api) => api.stepperOpen());
    const inner = {
      tokenize: (text: string, options: { addBos?: boolean } = {}) => link.call((api) => api.tokenize(text, options.addBos ?? false)),
      detokenize: (ids: readonly number[]) => link.call((api) => api.detokenize([...ids])),
      close: async () => undefined,
    };
    return new LookaheadStepper(vocabulary, inner, (prefix, topK, count) => link.call((api) => api.stepAhead([...prefix], topK, count)), this.lookahead);
  }

  async *#generate(generation: Generation, options: CallOptions): AsyncGenerator<ChatChunk> {
    const { signal } = options;
    if (this.#unloaded) throw new EngineError('unloaded', `${this.info.model} was unloaded — load it again to use it.`);
    const dead = this.#link.dead;
    if (dead) throw dead;
    let release: () => void;
    try {
      const granted = this.#queue.acquire(options.caller ?? 'default', signal);
      this.#notify();
      release = await granted;
      this.#notify();
    } catch (err) {
      this.#notify();
      if (err instanceof QueueAbortedError) {
        yield abortedBeforeStart();
        return;
      }
      throw err;
    }
    const channel = new Channel<ChatChunk>();
    const id = this.#link.nextId();
    const onAbort = (): void => this.#link.cancel(id);
    try {
      const stream = openStream<ChatChunk>((c) => channel.push(c));
      this.#link.call((api) => stream.settle(api.generate(id, generation, stream.port))).then(
        () => channel.close(),
        (err: unknown) => channel.fail(err),
      );
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      for await (const chunk of channel) yield chunk;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops iterating early also stops the generation in the worker.
      if (!channel.closed) onAbort();
      release();
      this.#notify();
    }
  }
}

/**
 * Starts a worker and loads a model in it. Rejects (and ends the worker) if loading fails. A load
 * whose llama.cpp worker does not start within `startTimeoutMs` is ended and tried again in a fresh
 * worker (START_ATTEMPTS in all); after the last it fails with 'load-failed', saying so.
 */
export async function spawnWllamaWorker(source: ModelSource, params: LoadParams, opts: SpawnOptions = {}): Promise<WorkerEngine> {
  const timeout = opts.startTimeoutMs ?? ENGINE_START_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadInWorker(source, params, opts, timeout);
    } catch (err) {
      if (!(err instanceof StartStalled)) throw err;
      if (opts.signal?.aborted) throw new EngineError('aborted', `loading ${source.name} was cancelled.`);
      if (attempt >= START_ATTEMPTS) {
        throw new EngineError('load-failed', `${source.name}: llama.cpp's worker did not start within ${timeout / 1000} s, ${START_ATTEMPTS} times in a row — the browser is not starting workers (close other tabs or reload the page), then load it again.`);
      }
      console.warn(`${source.name}: llama.cpp's worker did not start within ${timeout / 1000} s (attempt ${attempt} of ${START_ATTEMPTS}); loading again in a fresh worker`);
    }
  }
}

async function loadInWorker(source: ModelSource, params: LoadParams, opts: SpawnOptions, timeout: number): Promise<WorkerEngine> {
  const link = new WorkerLink(opts.onCrash, opts.makeWorker);
  const id = link.nextId();
  const onProgress = opts.onProgress;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled!: (err: Error) => void;
  const stall = new Promise<never>((_, reject) => (stalled = reject));
  stall.catch(() => undefined);
  const onStage = proxy((stage: LoadStage) => {
    clearTimeout(timer);
    if (stage === 'starting') timer = setTimeout(() => stalled(new StartStalled()), timeout);
  });
  const done = link.call((api) => api.load(id, source, params, onProgress ? proxy((loaded: number, total: number) => onProgress(loaded, total)) : null, onStage));
  const onAbort = (): void => link.cancel(id);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await Promise.race([done, stall]);
    if (!info) throw new EngineError('internal', 'the engine worker loaded a model but returned no description of it.');
    return new WorkerEngine(link, info, Math.max(1, params.nParallel ?? 1));
  } catch (err) {
    link.terminate();
    throw err;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export interface SetSpawnOptions extends SpawnOptions {
  /** The most instances, given where the first one runs (replicaLimit in src/lib/engines/replicas.ts); 1 = never grow. */
  maxInstances: (first: EngineInfo) => number;
  /** Told once an instance crashes; the whole set has ended by then. */
  onCrash?: (err: EngineError) => void;
}

/**
 * Loads a model as a ReplicaSet: the first instance now (with `params`), more on demand when
 * several agents call it at once. Every instance after the first runs one thread: the extra
 * instances are the parallelism, and llama.cpp's CPU kernels split rows between threads, so a
 * thread count changes no result (tests/e2e/parallel-agents.spec.ts compares seeded runs on 1 and 2
 * threads). Everything else (file, context, GPU choice, build) is the same for every instance.
 */
export async function spawnWllamaSet(source: ModelSource, params: LoadParams, opts: SetSpawnOptions): Promise<ReplicaSet> {
  let set: ReplicaSet | null = null;
  const first = await spawnWllamaWorker(source, params, { ...opts, onCrash: (err) => set?.crashed(err, first) });
  set = new ReplicaSet(first, {
    max: opts.maxInstances(first.info),
    spawn: async () => {
      const extra: WorkerEngine = await spawnWllamaWorker(source, { ...params, nThreads: 1, nParallel: 1 }, { onCrash: (err) => set?.crashed(err, extra) });
      return extra;
    },
  });
  set.onCrash = opts.onCrash;
  return set;
}

/** Requests may come from Svelte $state proxies, which postMessage cannot clone. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
