/**
 * The page–worker boundary, on comlink (https://github.com/GoogleChromeLabs/comlink). Each worker
 * exposes one typed API, declared once in a file both sides import (workers/engine.api.ts,
 * workers/merge.api.ts): `exposeApi(api)` in the worker, `new Connection<Api>(worker, errors)` in the page.
 * Progress flows back through callbacks the page marks with comlink's `proxy()`; the worker side
 * awaits the last call before its method returns, so every report has reached the page before
 * the method's result does (`CallbackSink`). Tokens flow through a MessagePort the page transfers
 * with the call (`openStream` / `StreamSink`): one message per token, as bare wllama's own worker
 * sends them, where a proxied callback costs a request and a reply per token.
 *
 * Two things comlink does not do, done here:
 * - Typed errors. comlink's built-in "throw" handler sends only {name, message, stack} and rebuilds
 *   a plain Error, so `instanceof EngineError` and `.code` are lost (web-llm's worker handler does
 *   worse: it sends `err.toString()`). `installErrorTransfer` replaces that handler: the
 *   error's name, message, string `code` and stack cross, and the page rebuilds the class it
 *   registered under that name (`new Class(code, message)`); an unregistered name gives an Error
 *   with the same name, message and code.
 * - Crashes. A comlink call whose worker dies never settles. `Connection.guard` races every call
 *   with the connection's failure, which the owner sets (`fail`) when the worker reports an error.
 */
import { expose, releaseProxy, transfer, transferHandlers, wrap, type Endpoint, type ProxyMarked, type Remote, type TransferHandler } from 'comlink';

export type { ProxyMarked, Remote } from 'comlink';
export { proxy, transfer } from 'comlink';

/** An error class rebuilt on the receiving side: the project's errors all take (code, message). */
export type RemoteErrorClass = new (code: never, message: string) => Error;

/** What crosses for a thrown value. */
type WireThrown =
  | { isError: true; name: string; message: string; code?: string; stack?: string }
  | { isError: false; value: unknown };

const errorClasses = new Map<string, RemoteErrorClass>();

/** Registers error classes by their `name` (the object's keys, e.g. `{ EngineError }`). */
export function registerRemoteErrors(classes: Record<string, RemoteErrorClass>): void {
  for (const [name, cls] of Object.entries(classes)) errorClasses.set(name, cls);
}

/** Rebuilds a thrown value from its wire form (exported for the unit tests of the handler). */
export function rebuildError(w: WireThrown): unknown {
  if (!w.isError) return w.value;
  const cls = errorClasses.get(w.name);
  const err = cls ? new cls(w.code as never, w.message) : Object.assign(new Error(w.message), w.code === undefined ? {} : { code: w.code });
  if (!cls) err.name = w.name;
  // Keep the worker's stack (where it was thrown) below the page's line.
  if (w.stack) err.stack = `${err.stack ?? `${err.name}: ${err.message}`}\n    --- thrown in the worker ---\n${w.stack}`;
  return err;
}

/** The wire form of a thrown value; `code` crosses when it is a string (DOMException's is a number). */
export function wireError(value: unknown): WireThrown {
  if (!(value instanceof Error)) return { isError: false, value };
  const code = (value as { code?: unknown }).code;
  return { isError: true, name: value.name, message: value.message, ...(typeof code === 'string' ? { code } : {}), ...(value.stack ? { stack: value.stack } : {}) };
}

let installed = false;

/**
 * Replaces comlink's "throw" transfer handler (once per realm). comlink marks thrown values with a
 * symbol it does not export, so the built-in `canHandle` is kept; only the (de)serialisation changes.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  const builtin = transferHandlers.get('throw');
  if (!builtin) throw new Error('comlink has no "throw" transfer handler — the comlink version changed; update src/lib/rpc.ts');
  const handler: TransferHandler<{ value: unknown }, WireThrown> = {
    canHandle: (v): v is { value: unknown } => builtin.canHandle(v),
    serialize: ({ value }) => [wireError(value), []],
    deserialize: (w) => {
      throw rebuildError(w);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
  installed = true;
}

/** Worker side: serves `api` on `ep` (the worker's global scope by default). */
export function exposeApi<T extends object>(api: T, ep?: Endpoint): void {
  installErrorTransfer();
  expose(api, ep);
}

/** The worker side's view of a callback the page passed through `proxy()`: calls return promises. */
export function remote<F extends object>(fn: F & ProxyMarked): Remote<F> {
  return fn as unknown as Remote<F>;
}

/**
 * Worker side: forwards values to a proxied page callback without waiting for each call's reply
 * (a round trip per token would cost throughput), then `end()` waits for the last reply (so the
 * page has everything before the method returns) and releases the callback's port.
 */
export class CallbackSink<A extends unknown[]> {
  readonly #fn: Remote<(...args: A) => void>;
  #last: Promise<unknown> = Promise.resolve();

  constructor(fn: ((...args: A) => void) & ProxyMarked) {
    this.#fn = remote(fn);
  }

  send(...args: A): void {
    this.#last = (this.#fn as unknown as (...a: A) => Promise<void>)(...args);
  }

  async end(): Promise<void> {
    await this.#last.catch(() => undefined);
    this.#fn[releaseProxy]();
  }
}

/** Marks the end of a stream on its port (a value no stream sends: chunks are objects). */
const STREAM_END = 'chorus:end';

/**
 * Page side of a stream: `port` goes to the worker as a call argument (marked for transfer);
 * `onValue` gets each value in order. A call's result and its stream's messages travel on
 * different ports, whose relative order the HTML spec does not fix, so `settle(call)` resolves
 * with the call's result only once the worker's `StreamSink.end()` has arrived too. On failure it
 * gives the end marker up to `ERROR_DRAIN_MS` to arrive (the worker ends its stream before it
 * rejects), so chunks sent before an error are not lost, then rejects with the call's error; a
 * call that failed before reaching the worker never ends its stream, and still rejects.
 */
export function openStream<T>(onValue: (value: T) => void): { port: MessagePort; settle<R>(call: Promise<R>): Promise<R> } {
  const { port1, port2 } = new MessageChannel();
  const ended = new Promise<void>((resolve) => {
    port1.onmessage = (e: MessageEvent) => {
      if (e.data === STREAM_END) {
        port1.close();
        resolve();
      } else onValue(e.data as T);
    };
  });
  return {
    port: transfer(port2, [port2]),
    settle: <R>(call: Promise<R>) =>
      call.then(
        async (value) => {
          await ended;
          return value;
        },
        async (err: unknown) => {
          await Promise.race([ended, new Promise((r) => setTimeout(r, ERROR_DRAIN_MS))]);
          port1.close();
          throw err;
        },
      ),
  };
}

const ERROR_DRAIN_MS = 100;

/** Worker side of a stream: one postMessage per value, then `end()`. */
export class StreamSink<T> {
  readonly #port: MessagePort;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  send(value: T): void {
    this.#port.postMessage(value);
  }

  end(): void {
    this.#port.postMessage(STREAM_END);
    this.#port.close();
  }
}

/** Page side of one worker's API. */
export class Connection<T> {
  readonly api: Remote<T>;
  #failure: Error | null = null;
  #fail!: (err: Error) => void;
  readonly #failed: Promise<never>;

  /** `errors`: the classes the worker throws, rebuilt by name (e.g. `{ EngineError }`). */
  constructor(ep: Endpoint, errors: Record<string, RemoteErrorClass>) {
    installErrorTransfer();
    registerRemoteErrors(errors);
    this.api = wrap<T>(ep);
    this.#failed = new Promise<never>((_, reject) => (this.#fail = reject));
    this.#failed.catch(() => undefined);
  }

  /** Why the worker is gone (crashed or ended), or null while it serves. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Settles with `call`, or rejects with the failure if the worker fails first (or already has). */
  guard<R>(call: () => Promise<R>): Promise<R> {
    if (this.#failure) return Promise.reject(this.#failure);
    return Promise.race([call(), this.#failed]);
  }

  /** Marks the worker gone: every guarded call pending now or made later rejects with `err`. */
  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#fail(err);
  }
}
