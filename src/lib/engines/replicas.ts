/**
 * Parallel agents on one model: a set of identical engine instances ("replicas") of the same model
 * file, behind one Engine.
 *
 * One wllama instance runs one request at a time (one llama.cpp slot: the only way the same seed
 * gives the same text, see wllama.ts). Agents that share a model therefore waited for each other.
 * A ReplicaSet starts with the instance the model was loaded as and loads more of the same file
 * with the same parameters when requests wait and no instance is free, up to `max` (replicaLimit,
 * below); a waiting request runs on whichever instance frees first, round-robin between callers
 * (FairQueue).
 *
 * The same-seed guarantee holds because an instance keeps no state between requests that can
 * change a result: every request recomputes its prompt (cache_prompt: false), is sampled with its
 * own seed, and every instance is the same file loaded with the same context, build and backend.
 * Which instance serves a request, and how many run at once, therefore does not change its text
 * (tests/e2e/parallel-agents.spec.ts checks it at temperature > 0 against one instance).
 *
 * Failures: an instance that fails to load stops the growth (the set keeps serving on the instances
 * it has, and `growthError` says why); an instance that crashes ends the whole set, as a crash of a
 * single-instance model does: every queued and running call fails with the crash's EngineError, the
 * other instances are unloaded, and `onCrash` tells the registry.
 *
 * Pure orchestration: instances come from the `spawn` callback, so the unit tests
 * (tests/unit/engines-replicas.test.ts) drive it with scripted engines.
 */
import { EngineError, abortedBeforeStart, type CallOptions, type ChatChunk, type ChatRequest, type CompletionRequest, type Engine, type EngineInfo } from './engine.ts';
import { FairQueue, QueueAbortedError } from './queue.ts';
import type { Stepper } from './stepper.ts';

export interface ReplicaActivity {
  /** Requests running now. */
  active: number;
  /** Requests waiting for a free instance. */
  queued: number;
  /** Loaded instances. */
  instances: number;
  /** Instances being loaded now. */
  loading: number;
}

export interface ReplicaSetOptions {
  /** The most instances this set may hold (first included); at least 1. */
  max: number;
  /**
   * Loads one more instance of the same model with the same parameters. `index` counts from 1 for
   * the first extra instance. Rejecting stops the growth; it is not an error of any call.
   */
  spawn: (index: number) => Promise<Engine>;
}

export interface ReplicaLimitInput {
  /** navigator.hardwareConcurrency. */
  hardwareConcurrency: number | undefined;
  /** navigator.deviceMemory in GiB (Chromium only; capped at 8 there); undefined elsewhere. */
  deviceMemoryGiB: number | undefined;
  /** The model file's size in bytes. */
  modelBytes: number;
  /** Where the first instance runs: several instances of a WebGPU model would share one GPU queue. */
  backend: EngineInfo['backend'];
}

/** The absolute cap, whatever the host. */
export const MAX_REPLICAS = 8;

/**
 * How many instances of one model may run at once (the rule the README states):
 * - 1 when the model runs on WebGPU or over HTTP (one GPU queue, or a server that schedules itself);
 * - cores: at most 2 × hardwareConcurrency — each instance runs one thread, and a single-thread
 *   instance spends part of each token outside llama.cpp (sampling, streaming to the page), so one
 *   more instance than cores still gains (tools/bench/engine.mjs measures it);
 * - memory: instances × (1.25 × file size + 32 MiB) within a quarter of the device's memory
 *   (deviceMemory, or 4 GiB where the browser does not say);
 * - never more than MAX_REPLICAS.
 */
export function replicaLimit(input: ReplicaLimitInput): number {
  if (input.backend !== 'cpu') return 1;
  const hc = Number.isFinite(input.hardwareConcurrency) && (input.hardwareConcurrency ?? 0) >= 1 ? Math.floor(input.hardwareConcurrency!) : 1;
  const memGiB = Number.isFinite(input.deviceMemoryGiB) && (input.deviceMemoryGiB ?? 0) > 0 ? input.deviceMemoryGiB! : 4;
  const budget = (memGiB * 2 ** 30) / 4;
  const footprint = Math.max(0, input.modelBytes) * 1.25 + 32 * 2 ** 20;
  const byMemory = Math.floor(budget / footprint);
  return Math.max(1, Math.min(MAX_REPLICAS, 2 * hc, byMemory));
}

interface Instance {
  engine: Engine;
  busy: boolean;
}

export class ReplicaSet implements Engine {
  readonly info: EngineInfo;
  readonly #instances: Instance[];
  readonly #queue: FairQueue;
  readonly #spawn: ReplicaSetOptions['spawn'];
  #max: number;
  #loading = 0;
  #spawned = 0;
  #ended: EngineError | null = null;
  #growthError: string | null = null;

  /** Called whenever running, waiting or instance counts change. */
  onActivity: ((activity: ReplicaActivity) => void) | undefined;
  /** Called once if an instance crashes (the whole set has ended by then). */
  onCrash: ((err: EngineError) => void) | undefined;

  constructor(first: Engine, options: ReplicaSetOptions) {
    if (!Number.isInteger(options.max) || options.max < 1) throw new RangeError(`ReplicaSet max must be a positive integer, got ${options.max}`);
    this.info = first.info;
    this.#instances = [{ engine: first, busy: false }];
    this.#queue = new FairQueue(1);
    this.#spawn = options.spawn;
    this.#max = options.max;
  }

  get activity(): ReplicaActivity {
    return { active: this.#queue.active, queued: this.#queue.pending, instances: this.#instances.length, loading: this.#loading };
  }

  /** The most instances this set will hold (lowered to the count it has when a load fails). */
  get max(): number {
    return this.#max;
  }

  /** Why the set stopped growing, if an extra instance failed to load. */
  get growthError(): string | null {
    return this.#growthError;
  }

  /** The loaded instances, first one first (for tests and the bench). */
  get engines(): readonly Engine[] {
    return this.#instances.map((i) => i.engine);
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run((e) => e.chat(request, options), options);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run((e) => e.complete(request, options), options);
  }

  /**
   * Stepping runs on the first instance: a stepper holds one sequence, whose KV cache lives in
   * that instance's slot (wllama-stepper.ts), so its steps must not move between instances.
   */
  async stepper(): Promise<Stepper> {
    if (this.#ended) throw this.#ended;
    const first = this.#instances[0]!.engine;
    if (!first.stepper) throw new EngineError('unsupported', `${this.info.model}: this engine cannot step token by token.`);
    return first.stepper();
  }

  async unload(): Promise<void> {
    if (this.#ended) return;
    this.#end(new EngineError('unloaded', `${this.info.model} was unloaded — load it again to use it.`));
    await Promise.all(this.#instances.map((i) => i.engine.unload().catch(() => undefined)));
  }

  /** For tests of the crash path: makes the first instance fail as a real crash would (when it can). */
  simulateCrash(): void {
    (this.#instances[0]?.engine as { simulateCrash?: () => void } | undefined)?.simulateCrash?.();
  }

  /** An instance crashed: end the set, unload the other instances, tell the registry. */
  crashed(err: EngineError, from?: Engine): void {
    if (this.#ended) return;
    this.#end(err);
    for (const i of this.#instances) if (i.engine !== from) void i.engine.unload().catch(() => undefined);
    this.onCrash?.(err);
  }

  #end(err: EngineError): void {
    this.#ended = err;
    this.#queue.rejectAll(err);
    this.#notify();
  }

  #notify(): void {
    this.onActivity?.(this.activity);
  }

  /** Loads one more instance when requests wait for a free one and the limit allows. */
  #grow(): void {
    const waiting = this.#queue.pending;
    const free = this.#instances.length - this.#queue.active;
    if (waiting <= free + this.#loading) return;
    void this.#loadOne();
  }

  /**
   * Loads instances until there are `count` (never more than `max`) and waits for every load under
   * way, so that `count` agents can start at once. Resolves, without throwing, when the set cannot
   * grow (a load failed: see `growthError`) or has ended.
   */
  async reserve(count: number): Promise<void> {
    while (!this.#ended && this.#instances.length + this.#loading < Math.min(count, this.#max)) void this.#loadOne();
    await Promise.all([...this.#inflight]);
  }

  #inflight = new Set<Promise<void>>();

  #loadOne(): Promise<void> {
    if (this.#ended || this.#instances.length + this.#loading >= this.#max) return Promise.resolve();
    this.#loading++;
    const index = ++this.#spawned;
    this.#notify();
    const done = this.#spawn(index).then(
      (engine) => {
        this.#loading--;
        if (this.#ended) {
          void engine.unload().catch(() => undefined);
          return;
        }
        this.#instances.push({ engine, busy: false });
        this.#queue.setConcurrency(this.#instances.length);
        this.#notify();
        this.#grow();
      },
      (err: unknown) => {
        this.#loading--;
        // Stop growing: the instances there are (and those still loading) keep serving.
        this.#max = Math.max(1, this.#instances.length + this.#loading);
        this.#growthError = err instanceof Error ? err.message : String(err);
        this.#notify();
      },
    );
    this.#inflight.add(done);
    void done.finally(() => this.#inflight.delete(done));
    return done;
  }

  async *#run(call: (engine: Engine) => AsyncIterable<ChatChunk>, options: CallOptions): AsyncGenerator<ChatChunk> {
    if (this.#ended) throw this.#ended;
    let release: () => void;
    try {
      const granted = this.#queue.acquire(options.caller ?? 'default', options.signal);
      this.#grow();
      this.#notify();
      release = await granted;
    } catch (err) {
      this.#notify();
      if (err instanceof QueueAbortedError) {
        yield abortedBeforeStart();
        return;
      }
      throw err;
    }
    // The queue grants at most as many requests as there are instances, so one is free.
    const instance = this.#instances.find((i) => !i.busy);
    if (!instance) {
      release();
      throw new EngineError('internal', `${this.info.model}: no free instance for a granted request — a bug in the replica set; reload the model.`);
    }
    instance.busy = true;
    this.#notify();
    try {
      for await (const chunk of call(instance.engine)) yield chunk;
    } catch (err) {
      if (err instanceof EngineError && err.code === 'crashed') this.crashed(err, instance.engine);
      throw this.#ended && err instanceof EngineError && err.code === 'unloaded' ? this.#ended : err;
    } finally {
      instance.busy = false;
      release();
      this.#notify();
    }
  }
}

