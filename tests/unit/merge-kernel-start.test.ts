/**
 * A kernel thread that never starts (src/lib/merge/wasm/thread.ts, THREAD_START_TIMEOUT_MS): a worker
 * that sends neither `ready` nor an error (what Firefox under load did to a nested worker) must not
 * stall a merge. Its start is given up after the bound, the threads attached with it are dropped and
 * ended, and the kernels run on the remaining threads with the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { GGMLType } from '../../src/lib/merge/gguf/index.ts';
import { SimdKernels } from '../../src/lib/merge/wasm/index.ts';
import { KERNELS_WASM_BASE64 } from '../../src/lib/merge/wasm/kernels.wasm.ts';
import { KernelThread, THREAD_START_TIMEOUT_MS, type ThreadPort } from '../../src/lib/merge/wasm/thread.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';

const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));

/** A port whose worker never runs: messages go nowhere, nothing comes back. Counts terminate calls. */
function silentPort(): ThreadPort & { posted: number; terminated: number } {
  const port = {
    posted: 0,
    terminated: 0,
    post: () => void port.posted++,
    onMessage: () => undefined,
    onError: () => undefined,
    terminate: () => void port.terminated++,
  };
  return port;
}

/** Seeded values with the spread of real weights. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.1;
  });
}

describe('kernel threads that never start', () => {
  it('the bound is generous (seconds, not milliseconds) and finite', () => {
    expect(THREAD_START_TIMEOUT_MS).toBeGreaterThanOrEqual(5_000);
    expect(THREAD_START_TIMEOUT_MS).toBeLessThanOrEqual(60_000);
  });

  it('a thread with no answer to init rejects ready() after the bound, naming it, and refuses passes', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    const port = silentPort();
    const t0 = Date.now();
    const thread = new KernelThread(port, module, memory, 150);
    expect(port.posted).toBe(1); // init was sent
    await expect(thread.ready()).rejects.toThrow('a kernel thread did not start within 0.15 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await expect(thread.pass([{ fn: 'zero', args: [64, 16] }], 0)).rejects.toThrow(/did not start within 0\.15 s/);
  });

  it('a thread that answers in time is not timed out later', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    const [port] = nodeKernelThreads(2);
    const thread = new KernelThread(port!, module, memory, 5_000);
    await thread.ready();
    await new Promise((r) => setTimeout(r, 50));
    const counter = new Int32Array(memory.buffer, 0, 1);
    Atomics.store(counter, 0, 0);
    await expect(thread.pass([{ fn: 'zero', args: [1024, 16] }], 0)).resolves.toBe(1);
    thread.close();
  });

  it('attachThreads drops and ends every thread of a start with a silent one; the kernels then give the same bytes on the threads left', async () => {
    const alone = new SimdKernels(module);
    const x = values(64 * 1024, 7);
    const want = await alone.encodeQuant(GGMLType.Q8_0, x);

    const kernels = new SimdKernels(module);
    const silent = silentPort();
    const [live] = nodeKernelThreads(2);
    let liveEnded = 0;
    const watched: ThreadPort = { ...live!, terminate: () => { liveEnded++; live!.terminate!(); } };
    await expect(kernels.attachThreads([watched, silent], 200)).rejects.toThrow('a kernel thread did not start within 0.2 s');
    expect(kernels.threads).toBe(1);
    expect(silent.terminated).toBe(1);
    expect(liveEnded).toBe(1);
    const got = await kernels.encodeQuant(GGMLType.Q8_0, x);
    expect(got).toEqual(want);

    // A later start on the same kernels works.
    await kernels.attachThreads(nodeKernelThreads(2), 5_000);
    expect(kernels.threads).toBe(2);
    expect(await kernels.encodeQuant(GGMLType.Q8_0, x)).toEqual(want);
  });
});
