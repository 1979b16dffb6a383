/**
 * Fair request queue for one shared engine.
 *
 * Several agents may use the same loaded model (the issue: "agents that use the same model share
 * one loaded engine; requests to it are queued fairly"). Fairness here means:
 * - round-robin between callers: when a slot frees, the caller that was served least recently and
 *   has something waiting goes next, so one chatty agent cannot starve the others;
 * - FIFO within one caller: an agent's own requests keep their order;
 * - a request whose AbortSignal fires while it waits is removed from the queue at once (it never
 *   reaches the engine) and its `acquire` rejects with {@link QueueAbortedError}.
 *
 * `concurrency` is how many requests may run at once (wllama's `n_parallel` slots); 1 serialises.
 * Pure logic: no timers, no DOM, unit-tested in tests/unit/engines-queue.test.ts.
 */

export class QueueAbortedError extends Error {
  constructor() {
    super('request cancelled while waiting in the engine queue');
    this.name = 'QueueAbortedError';
  }
}

interface Waiter {
  caller: string;
  grant: (release: () => void) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

export interface QueueSnapshot {
  active: number;
  concurrency: number;
  /** Waiting requests per caller, in the order callers will next be served. */
  waiting: { caller: string; count: number }[];
}

export class FairQueue {
  #concurrency: number;
  #active = 0;
  /** Per-caller FIFO of waiting requests; Map order = order in which callers started waiting. */
  readonly #waiting = new Map<string, Waiter[]>();
  /** When each caller was last served (a counter); never served counts as -1. */
  readonly #servedAt = new Map<string, number>();
  #serveCount = 0;

  constructor(concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`FairQueue concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
  }

  get active(): number {
    return this.#active;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /**
   * Changes how many requests may run at once (a replica set grows as instances finish loading).
   * Raising it grants waiting requests at once; lowering it lets running ones finish and grants
   * nothing new until `active` is under the new limit.
   */
  setConcurrency(concurrency: number): void {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`FairQueue concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
    this.#pump();
  }

  get pending(): number {
    let n = 0;
    for (const list of this.#waiting.values()) n += list.length;
    return n;
  }

  snapshot(): QueueSnapshot {
    return {
      active: this.#active,
      concurrency: this.#concurrency,
      waiting: this.#serviceOrder().map((caller) => ({ caller, count: this.#waiting.get(caller)!.length })),
    };
  }

  /**
   * Waits for a slot. Resolves with a `release` function that MUST be called exactly once when the
   * request is finished (extra calls are ignored). Rejects with QueueAbortedError if `signal`
   * aborts first.
   */
  acquire(caller: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new QueueAbortedError());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#remove(waiter);
        reject(new QueueAbortedError());
      };
      const waiter: Waiter = {
        caller,
        grant: resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let list = this.#waiting.get(caller);
      if (!list) {
        list = [];
        this.#waiting.set(caller, list);
      }
      list.push(waiter);
      this.#pump();
    });
  }

  /** Rejects every waiting request (used when the engine crashes or unloads). */
  rejectAll(err: Error): void {
    for (const list of this.#waiting.values()) {
      for (const w of list) {
        w.cleanup();
        w.reject(err);
      }
    }
    this.#waiting.clear();
  }

  /**
   * Waiting callers, next to be served first: the least recently served goes first (never served
   * before anyone served), ties broken by who started waiting first. This is round-robin.
   */
  #serviceOrder(): string[] {
    const callers = [...this.#waiting.keys()];
    const rank = (c: string): number => this.#servedAt.get(c) ?? -1;
    // Array.prototype.sort is stable, so equal ranks keep their waiting order.
    return callers.sort((a, b) => rank(a) - rank(b));
  }

  #remove(waiter: Waiter): void {
    waiter.cleanup();
    const list = this.#waiting.get(waiter.caller);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiting.delete(waiter.caller);
  }

  #pump(): void {
    while (this.#active < this.#concurrency) {
      const caller = this.#serviceOrder()[0];
      if (caller === undefined) return;
      const list = this.#waiting.get(caller)!;
      const waiter = list.shift()!;
      if (list.length === 0) this.#waiting.delete(caller);
      this.#servedAt.set(caller, this.#serveCount++);
      waiter.cleanup();
      this.#active++;
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        this.#active--;
        this.#pump();
      });
    }
  }
}
