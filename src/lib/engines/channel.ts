/**
 * A single-consumer async channel: producers `push` values (or `close`/`fail`), one consumer
 * iterates. Used to turn worker messages and HTTP stream events into the AsyncIterable that the
 * Engine interface returns. Unbounded: engines produce tokens far slower than pages consume them.
 */
export class Channel<T> implements AsyncIterable<T> {
  #buffer: T[] = [];
  #closed = false;
  #error: unknown = undefined;
  #failed = false;
  #wake: (() => void) | null = null;

  push(value: T): void {
    if (this.#closed) return;
    this.#buffer.push(value);
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  fail(err: unknown): void {
    if (this.#closed) return;
    this.#failed = true;
    this.#error = err;
    this.#closed = true;
    this.#notify();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#buffer.length > 0) {
        yield this.#buffer.shift()!;
        continue;
      }
      if (this.#closed) {
        if (this.#failed) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
