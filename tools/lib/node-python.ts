/**
 * Node Python sandbox (the CLI's and the tests' counterpart of the browser's Worker sandbox in
 * src/lib/eval/python.ts): Pyodide from node_modules/pyodide in a separate Node process (sandbox/child.ts:
 * no environment, file reads only of Pyodide's files and the child's own entry, no file writes, no
 * child processes, no eval, 1 GiB resident memory, SIGKILL at the time limit). A fresh process per
 * program, the next one booted while the current program runs.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPythonReply, SANDBOX_PRELUDE, type PythonResult, type PythonSandbox } from '../../src/lib/eval/python.ts';
import { ChildSpare } from './sandbox/child.ts';

const ENTRY = fileURLToPath(new URL('./sandbox/python-child.mjs', import.meta.url));
const PYODIDE_DIR = dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));

export interface NodePythonOptions {
  rssMb?: number;
  /** Boot one interpreter ahead (default true); false for a single run. */
  keepSpare?: boolean;
}

export function nodePythonSandbox(o: NodePythonOptions = {}): PythonSandbox & { close(): void } {
  const pool = new ChildSpare({
    entry: ENTRY,
    args: [PYODIDE_DIR],
    allowRead: [ENTRY, `${PYODIDE_DIR}/`],
    heapMb: 256,
    rssMb: o.rssMb ?? 1024,
    bootMs: 300_000,
  }, o.keepSpare ?? true);
  return {
    async run(program, timeoutMs): Promise<PythonResult> {
      const out = await pool.take().run(JSON.stringify({ prelude: SANDBOX_PRELUDE, program }), timeoutMs);
      switch (out.kind) {
        case 'reply': return readPythonReply(out.reply);
        case 'timeout': return { ok: false, timedOut: true, error: `timed out after ${timeoutMs} ms` };
        case 'memory': return { ok: false, error: 'ran out of memory (the sandbox process was stopped)' };
        case 'failed': return { ok: false, error: out.message };
      }
    },
    close: () => pool.close(),
  };
}
