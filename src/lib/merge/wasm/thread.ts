/**
 * Kernel threads: workers that run the merge's SIMD kernels on the same shared WebAssembly memory as
 * the thread that drives the merge, each on the chunks of a tensor it is handed (wasm/index.ts splits
 * the work on block boundaries and adds up what the chunks return in block order, so results do not
 * depend on the number of threads).
 *
 * The protocol is tiny: `init` {module, memory} → `ready`; `pass` {id, calls, counter} → `done` {id,
 * result: calls run} or `failed` {id, error}. A pass hands every thread the same list of kernel calls
 * (each worded for the thread that receives it: its own scratch areas); the threads take them in
 * order by an atomic counter in the shared memory (Atomics.add on the i32 at byte `counter`), so a
 * thread slowed by other work takes fewer, and a pass costs two messages per thread however many
 * chunks it has. Setting the counter past the end stops a pass: no call is started after that.
 * The worker side is one self-contained function, kernelThreadMain, which the browser runs from
 * workers/kernel.worker.ts and Node from source text (tools/lib/kernel-threads.ts).
 */

/** The two ends' common shape: a browser Worker or a Node worker_threads Worker/parentPort, adapted. */
export interface ThreadPort {
  post(message: unknown, transfer?: Transferable[]): void;
  onMessage(handler: (data: unknown) => void): void;
  onError?(handler: (message: string) => void): void;
  /** Told when calls start (true) and when none is left (false): Node keeps the process alive only while busy. */
  busy?(on: boolean): void;
  /** Ends the worker behind the port (a thread dropped because it never started). */
  terminate?(): void;
}

/**
 * How long a kernel thread may take to answer `init` before it is given up. A worker that never
 * starts sends no error either (Firefox under load has left a nested worker unstarted), and a pass
 * waits for every thread, so without this bound one such worker would stall the merge forever.
 * Starting takes milliseconds; this is generous for a loaded machine.
 */
export const THREAD_START_TIMEOUT_MS = 20_000;

/** Most kernel threads (workers) a merge uses. */
export const MAX_THREADS = 16;

/** One kernel call: an export of the kernels' module and its arguments. */
export interface KernelCall {
  fn: string;
  args: number[];
}

export type ThreadRequest =
  | { type: 'init'; module: WebAssembly.Module; memory: WebAssembly.Memory }
  | { type: 'pass'; id: number; calls: KernelCall[]; counter: number };

export type ThreadReply =
  | { type: 'ready' }
  | { type: 'done'; id: number; result: number }
  | { type: 'failed'; id: number; error: string };

/**
 * The worker side. Self-contained (no imports, no closures over module scope): Node runs it from
 * its source text.
 */
export function kernelThreadMain(port: ThreadPort): void {
  let exports: Record<string, (...args: number[]) => number | undefined> | null = null;
  let memory: WebAssembly.Memory | null = null;
  port.onMessage((data) => {
    const m = data as ThreadRequest;
    if (m.type === 'init') {
      const instance = new WebAssembly.Instance(m.module, { env: { memory: m.memory } });
      exports = instance.exports as unknown as Record<string, (...args: number[]) => number | undefined>;
      memory = m.memory;
      port.post({ type: 'ready' } satisfies ThreadReply);
      return;
    }
    try {
      if (!exports || !memory) throw new Error('kernel thread not initialised');
      // The counter lies in the first page, which every view of the (growing) memory covers.
      const counter = new Int32Array(memory.buffer, m.counter, 1);
      let ran = 0;
      for (;;) {
        const k = Atomics.add(counter, 0, 1);
        if (k >= m.calls.length) break;
        const call = m.calls[k]!;
        const fn = exports[call.fn];
        if (!fn) throw new Error(`no kernel ${call.fn}`);
        fn(...call.args);
        ran++;
      }
      port.post({ type: 'done', id: m.id, result: ran } satisfies ThreadReply);
    } catch (e) {
      port.post({ type: 'failed', id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies ThreadReply);
    }
  });
}

/** The driving side of one kernel thread. */
export class KernelThread {
  readonly #port: ThreadPort;
  #next = 1;
  readonly #pending = new Map<number, { resolve(v: number): void; reject(e: Error): void }>();
  #ready: Promise<void>;
  #broken: string | null = null;

  constructor(port: ThreadPort, module: WebAssembly.Module, memory: WebAssembly.Memory, startTimeoutMs = THREAD_START_TIMEOUT_MS) {
    this.#port = port;
    let ready!: () => void;
    let fail!: (e: Error) => void;
    this.#ready = new Promise<void>((res, rej) => {
      ready = res;
      fail = rej;
    });
    const timer = setTimeout(() => {
      this.#broken = `it did not start within ${startTimeoutMs / 1000} s`;
      fail(new Error(`a kernel thread did not start within ${startTimeoutMs / 1000} s`));
    }, startTimeoutMs);
    port.onMessage((data) => {
      const r = data as ThreadReply;
      if (r.type === 'ready') {
        clearTimeout(timer);
        return ready();
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.#port.busy?.(false);
      if (r.type === 'done') p.resolve(r.result);
      else p.reject(new Error(`kernel thread: ${r.error}`));
    });
    port.onError?.((message) => {
      clearTimeout(timer);
      this.#broken = message;
      const e = new Error(`a kernel thread crashed: ${message}`);
      fail(e);
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    });
    port.busy?.(true);
    void this.#ready.then(() => {
      if (this.#pending.size === 0) port.busy?.(false);
    }, () => undefined);
    port.post({ type: 'init', module, memory } satisfies ThreadRequest);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** Ends the thread's worker (where the port can). */
  close(): void {
    this.#port.terminate?.();
  }

  /** Joins a pass (see the header): resolves to the number of calls this thread ran. */
  pass(calls: KernelCall[], counter: number): Promise<number> {
    if (this.#broken) return Promise.reject(new Error(`a kernel thread crashed: ${this.#broken}`));
    const id = this.#next++;
    return new Promise<number>((resolve, reject) => {
      if (this.#pending.size === 0) this.#port.busy?.(true);
      this.#pending.set(id, { resolve, reject });
      this.#port.post({ type: 'pass', id, calls, counter } satisfies ThreadRequest);
    });
  }
}
