/**
 * Node side of the merge's kernel threads (src/lib/merge/wasm/thread.ts): worker_threads running
 * kernelThreadMain from its source text, one per core by default (the main thread only hands out
 * chunks and does the file I/O). A thread keeps the process
 * alive only while it has calls in flight, so a CLI exits when its merge is done.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { kernelThreadMain, type ThreadPort } from '../../src/lib/merge/wasm/thread.ts';

const SOURCE = `const { parentPort } = require('node:worker_threads');
(${kernelThreadMain.toString()})({ post: (m) => parentPort.postMessage(m), onMessage: (h) => parentPort.on('message', h) });`;

/**
 * `count` kernel threads (default: one per core, or CHORUS_MERGE_THREADS); none for a count of 1 or
 * less, when the main thread runs the kernels itself.
 */
export function nodeKernelThreads(count = defaultCount()): ThreadPort[] {
  return Array.from({ length: count > 1 ? count : 0 }, () => {
    // Plain JavaScript: no loader hooks of the parent (tsx) to start in each thread.
    const w = new Worker(SOURCE, { eval: true, execArgv: [] });
    w.unref();
    return {
      post: (m: unknown) => w.postMessage(m),
      onMessage: (h: (data: unknown) => void) => void w.on('message', h),
      onError: (h: (message: string) => void) => void w.on('error', (e: Error) => h(e.message)),
      busy: (on: boolean) => (on ? w.ref() : w.unref()),
      terminate: () => void w.terminate(),
    };
  });
}

function defaultCount(): number {
  const total = Number(process.env.CHORUS_MERGE_THREADS ?? availableParallelism());
  return Number.isFinite(total) ? Math.floor(total) : 1;
}
