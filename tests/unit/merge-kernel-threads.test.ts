/**
 * The kernel threads' protocol (src/lib/merge/wasm/thread.ts) on real worker_threads: a pass hands
 * every thread the same calls and each call runs exactly once, whichever thread takes it; a counter
 * set past the end stops a pass; a kernel that traps rejects the pass with its message and leaves the
 * thread usable.
 */
import { describe, expect, it } from 'vitest';
import { KERNELS_WASM_BASE64 } from '../../src/lib/merge/wasm/kernels.wasm.ts';
import { KernelThread, type KernelCall } from '../../src/lib/merge/wasm/thread.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';

const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
const threads = nodeKernelThreads(2).map((port) => new KernelThread(port, module, memory));
const COUNTER = 64;
const counter = () => new Int32Array(memory.buffer, COUNTER, 1);

describe('kernel threads', () => {
  it('a pass runs every call exactly once over the threads that join it', async () => {
    await Promise.all(threads.map((t) => t.ready()));
    // 400 calls, each zeroing its own 16 bytes after filling the region with ones: a call run twice
    // or never shows in the bytes (zero is idempotent, so also count the calls each thread ran).
    const at = 1 << 16;
    const bytes = new Uint8Array(memory.buffer, at, 400 * 16);
    bytes.fill(1);
    const calls: KernelCall[] = Array.from({ length: 400 }, (_, i) => ({ fn: 'zero', args: [at + i * 16, 16] }));
    Atomics.store(counter(), 0, 0);
    const ran = await Promise.all(threads.map((t) => t.pass(calls, COUNTER)));
    expect(ran[0]! + ran[1]!).toBe(400);
    expect(bytes.every((b) => b === 0)).toBe(true);
  });

  it('a counter already past the end runs nothing', async () => {
    const at = 1 << 16;
    const bytes = new Uint8Array(memory.buffer, at, 64);
    bytes.fill(7);
    Atomics.store(counter(), 0, 4);
    const ran = await Promise.all(threads.map((t) => t.pass(Array.from({ length: 4 }, (_, i) => ({ fn: 'zero', args: [at + i * 16, 16] })), COUNTER)));
    expect(ran).toEqual([0, 0]);
    expect(bytes.every((b) => b === 7)).toBe(true);
  });

  it('a kernel that traps rejects the pass with its message; the thread then runs the next pass', async () => {
    Atomics.store(counter(), 0, 0);
    // Far past the memory's end: WebAssembly traps (out of bounds).
    await expect(threads[0]!.pass([{ fn: 'zero', args: [0x7ff00000, 1 << 20] }], COUNTER)).rejects.toThrow(/kernel thread: .*out of bounds/);
    Atomics.store(counter(), 0, 0);
    await expect(threads[0]!.pass([{ fn: 'noSuchKernel', args: [] }], COUNTER)).rejects.toThrow('kernel thread: no kernel noSuchKernel');
    Atomics.store(counter(), 0, 0);
    await expect(threads[0]!.pass([{ fn: 'zero', args: [1 << 16, 16] }], COUNTER)).resolves.toBe(1);
  });
});
