/**
 * Page side of the engine workers: one Web Worker per loaded wllama model, wrapped in an object
 * that implements the Engine interface (src/lib/engines/engine.ts), so strategies never know a
 * worker is involved.
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
  type CallOptions,
  type ChatChunk,
  type ChatRequest,
  type CompletionRequest,
  type Engine,
  type EngineInfo,
} from '../lib/engines/engine.ts';
import { Channel } from '../lib/engines/channel.ts';
import { FairQueue, QueueAbortedError } from '../lib/engines/queue.ts';
import type { EngineReply, EngineRequest, LoadParams, ModelSource } from '../../workers/engine.protocol.ts';

export interface SpawnOptions {
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
  onCrash?: (err: EngineError) => void;
}

type Pending = {
  resolve: (value: EngineInfo | null) => void;
  reject: (err: EngineError) => void;
  onChunk?: (chunk: ChatChunk) => void;
  onProgress?: (loaded: number, total: number) => void;
};

/** The worker's request/reply plumbing, independent of what the requests mean. */
class WorkerLink {
  readonly worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #dead: EngineError | null = null;
  #onCrash: ((err: EngineError) => void) | undefined;

  constructor(onCrash?: (err: EngineError) => void) {
    this.#onCrash = onCrash;
    this.worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'chorus-engine' });
    this.worker.onmessage = (e: MessageEvent<EngineReply>) => this.#receive(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.crash(e.message || 'uncaught error');
    };
    this.worker.onmessageerror = () => this.crash('it sent a message that could not be read');
  }

  get dead(): EngineError | null {
    return this.#dead;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  set onCrash(fn: ((err: EngineError) => void) | undefined) {
    this.#onCrash = fn;
  }

  /** Sends a request; resolves with its `result`, rejects with its rebuilt `error`. */
  call(make: (id: number) => EngineRequest, hooks: Omit<Pending, 'resolve' | 'reject'> = {}): { id: number; done: Promise<EngineInfo | null> } {
    const id = this.#nextId++;
    const done = new Promise<EngineInfo | null>((resolve, reject) => {
      if (this.#dead) {
        reject(this.#dead);
        return;
      }
      this.#pending.set(id, { resolve, reject, ...hooks });
      this.worker.postMessage(make(id));
    });
    return { id, done };
  }

  /** Fire-and-forget request (cancel): its result needs no waiting. */
  post(make: (id: number) => EngineRequest): void {
    if (this.#dead) return;
    const id = this.#nextId++;
    this.#pending.set(id, { resolve: () => undefined, reject: () => undefined });
    this.worker.postMessage(make(id));
  }

  crash(why: string): void {
    if (this.#dead) return;
    const err = new EngineError('crashed', `the engine worker crashed (${why}); its model was dropped — reload the model to continue.`);
    this.#dead = err;
    this.worker.terminate();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#onCrash?.(err);
  }

  terminate(): void {
    if (!this.#dead) this.#dead = new EngineError('unloaded', 'the model was unloaded — load it again to use it.');
    this.worker.terminate();
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
  }

  #receive(reply: EngineReply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    switch (reply.type) {
      case 'chunk':
        p.onChunk?.(reply.chunk);
        return;
      case 'progress':
        p.onProgress?.(reply.loaded, reply.total);
        return;
      case 'result':
        this.#pending.delete(reply.id);
        p.resolve(reply.value);
        return;
      case 'error':
        this.#pending.delete(reply.id);
        p.reject(new EngineError(reply.code, reply.message));
        return;
    }
  }
}

export class WorkerEngine implements Engine {
  readonly info: EngineInfo;
  readonly #link: WorkerLink;
  readonly #queue: FairQueue;
  #unloaded = false;

  constructor(link: WorkerLink, info: EngineInfo, concurrency: number) {
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
    return this.#generate((id) => ({ type: 'generate', id, mode: 'chat', request: plain(request) }), options);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#generate((id) => ({ type: 'generate', id, mode: 'complete', request: plain(request) }), options);
  }

  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    const err = new EngineError('unloaded', `${this.info.model} was unloaded — load it again to use it.`);
    this.#queue.rejectAll(err);
    if (!this.#link.dead) {
      // Give llama.cpp a moment to free its memory cleanly, then end the worker regardless.
      await Promise.race([this.#link.call((id) => ({ type: 'unload', id })).done.catch(() => null), sleep(2000)]);
    }
    this.#link.terminate();
  }

  /** For tests of the crash path: makes the worker fail as a real crash would. */
  simulateCrash(): void {
    this.#link.crash('terminated on purpose by a test');
  }

  async *#generate(make: (id: number) => EngineRequest, options: CallOptions): AsyncGenerator<ChatChunk> {
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
    let id = 0;
    const onAbort = (): void => this.#link.post((cid) => ({ type: 'cancel', id: cid, target: id }));
    try {
      const call = this.#link.call(make, { onChunk: (c) => channel.push(c) });
      id = call.id;
      call.done.then(
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

/** Starts a worker and loads a model in it. Rejects (and ends the worker) if loading fails. */
export async function spawnWllamaWorker(source: ModelSource, params: LoadParams, opts: SpawnOptions = {}): Promise<WorkerEngine> {
  const link = new WorkerLink(opts.onCrash);
  const { id, done } = link.call((rid) => ({ type: 'load', id: rid, source, params }), { onProgress: opts.onProgress });
  const onAbort = (): void => link.post((cid) => ({ type: 'cancel', id: cid, target: id }));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const info = await done;
    if (!info) throw new EngineError('internal', 'the engine worker loaded a model but returned no description of it.');
    return new WorkerEngine(link, info, Math.max(1, params.nParallel ?? 1));
  } catch (err) {
    link.terminate();
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function abortedBeforeStart(): ChatChunk {
  return {
    type: 'done',
    finish_reason: 'abort',
    usage: { prompt_tokens: 0, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 },
  };
}

/** Requests may come from Svelte $state proxies, which postMessage cannot clone. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
