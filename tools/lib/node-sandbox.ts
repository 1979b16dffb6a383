/**
 * Node counterpart of workerSandbox() (src/lib/eval/code.ts): the same harness text runs in a
 * separate Node process (sandbox/child.ts: no environment, no file writes or child processes, no
 * eval, 256 MiB heap and 512 MiB resident memory, SIGKILL at the time limit) and its reply is
 * checked here by readReply. One process per run, the next one started while the current runs.
 */
import { fileURLToPath } from 'node:url';
import { buildHarness, checkCodeShape, readReply, type CodeResult, type CodeSandbox } from '../../src/lib/eval/code.ts';
import { ChildSpare } from './sandbox/child.ts';

const ENTRY = fileURLToPath(new URL('./sandbox/js-child.mjs', import.meta.url));

export interface NodeSandboxOptions {
  heapMb?: number;
  rssMb?: number;
}

export function nodeSandbox(o: NodeSandboxOptions = {}): CodeSandbox & { close(): void } {
  const pool = new ChildSpare({ entry: ENTRY, allowRead: [ENTRY], heapMb: o.heapMb ?? 256, rssMb: o.rssMb ?? 512, bootMs: 30_000 }, true);
  return {
    async run(code, tests, timeoutMs): Promise<CodeResult> {
      const total = tests.length;
      const bad = checkCodeShape(code);
      if (bad) return { ok: false, passed: 0, total, error: bad };
      let harness: string;
      try {
        harness = buildHarness(code, tests);
      } catch (e) {
        return { ok: false, passed: 0, total, error: (e as Error).message };
      }
      const out = await pool.take().run(harness, timeoutMs);
      switch (out.kind) {
        case 'reply': return readReply(out.reply, total);
        case 'timeout': return { ok: false, passed: 0, total, error: `timed out after ${timeoutMs} ms` };
        case 'memory': return { ok: false, passed: 0, total, error: 'ran out of memory (the sandbox process was stopped)' };
        case 'failed': return { ok: false, passed: 0, total, error: out.message };
      }
    },
    close: () => pool.close(),
  };
}
