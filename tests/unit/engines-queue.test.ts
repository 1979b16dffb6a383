import { describe, expect, it } from 'vitest';
import { FairQueue, QueueAbortedError } from '../../src/lib/engines/queue.ts';

/** Lets queued promise callbacks run. */
const tick = () => new Promise((r) => setTimeout(r, 0));

/** Enqueues (caller, label) pairs and records the order in which they are granted. */
function harness(concurrency = 1) {
  const q = new FairQueue(concurrency);
  const order: string[] = [];
  const releases = new Map<string, () => void>();
  const add = (caller: string, label: string, signal?: AbortSignal) =>
    q.acquire(caller, signal).then((release) => {
      order.push(label);
      releases.set(label, release);
    });
  return { q, order, releases, add };
}

describe('FairQueue', () => {
  it('serves callers round-robin and each caller FIFO', async () => {
    const { order, releases, add } = harness();
    void add('a', 'a1');
    void add('a', 'a2');
    void add('a', 'a3');
    void add('b', 'b1');
    void add('b', 'b2');
    void add('c', 'c1');
    await tick();
    expect(order).toEqual(['a1']);
    for (let i = 0; i < 5; i++) {
      releases.get(order[order.length - 1]!)!();
      await tick();
    }
    // a went first, so b and c each get a turn before a's second request.
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  it('a chatty caller cannot starve a newcomer', async () => {
    const { order, releases, add } = harness();
    for (let i = 1; i <= 4; i++) void add('chatty', `x${i}`);
    await tick();
    releases.get('x1')!();
    void add('quiet', 'q1');
    await tick();
    expect(order).toEqual(['x1', 'x2']);
    releases.get('x2')!();
    await tick();
    expect(order).toEqual(['x1', 'x2', 'q1']);
  });

  it('runs up to `concurrency` requests at once', async () => {
    const { q, order, releases, add } = harness(2);
    void add('a', 'a1');
    void add('b', 'b1');
    void add('c', 'c1');
    await tick();
    expect(order).toEqual(['a1', 'b1']);
    expect(q.active).toBe(2);
    expect(q.pending).toBe(1);
    releases.get('b1')!();
    await tick();
    expect(order).toEqual(['a1', 'b1', 'c1']);
  });

  it('cancelling a queued request removes it without running it', async () => {
    const { q, order, releases, add } = harness();
    void add('a', 'a1');
    const ac = new AbortController();
    const cancelled = add('b', 'b1', ac.signal);
    void add('c', 'c1');
    await tick();
    expect(q.pending).toBe(2);
    ac.abort();
    await expect(cancelled).rejects.toBeInstanceOf(QueueAbortedError);
    expect(q.pending).toBe(1);
    releases.get('a1')!();
    await tick();
    expect(order).toEqual(['a1', 'c1']);
  });

  it('an already-aborted signal never enters the queue', async () => {
    const q = new FairQueue();
    const ac = new AbortController();
    ac.abort();
    await expect(q.acquire('a', ac.signal)).rejects.toBeInstanceOf(QueueAbortedError);
    expect(q.pending).toBe(0);
  });

  it('release is idempotent', async () => {
    const { q, releases, add } = harness();
    void add('a', 'a1');
    void add('a', 'a2');
    void add('a', 'a3');
    await tick();
    releases.get('a1')!();
    releases.get('a1')!();
    await tick();
    expect(q.active).toBe(1);
    expect(q.pending).toBe(1);
  });

  it('rejectAll fails every waiting request with the given error', async () => {
    const { q, add } = harness();
    void add('a', 'a1');
    const waiting = [add('b', 'b1'), add('c', 'c1')];
    await tick();
    q.rejectAll(new Error('crashed'));
    for (const w of waiting) await expect(w).rejects.toThrow('crashed');
    expect(q.pending).toBe(0);
  });

  it('snapshot lists waiting callers in service order', async () => {
    const { q, add } = harness();
    void add('a', 'a1');
    void add('a', 'a2');
    void add('b', 'b1');
    await tick();
    expect(q.snapshot()).toEqual({ active: 1, concurrency: 1, waiting: [{ caller: 'b', count: 1 }, { caller: 'a', count: 1 }] });
  });

  it('rejects a nonsensical concurrency', () => {
    expect(() => new FairQueue(0)).toThrow(RangeError);
    expect(() => new FairQueue(1.5)).toThrow(RangeError);
  });
});
