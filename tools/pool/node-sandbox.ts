/**
 * Node counterpart of workerSandbox() (src/lib/eval/code.ts): the same harness text runs in a fresh
 * vm context (no require, process or module scope; only the harness's own postMessage) with a
 * synchronous timeout, so an endless loop in a model's function is cut off.
 */
import { runInNewContext } from 'node:vm';
import { buildHarness, checkCodeShape, readReply, type CodeResult, type CodeSandbox } from '../../src/lib/eval/code.ts';

export function nodeSandbox(): CodeSandbox {
  return {
    run(code, tests, timeoutMs): Promise<CodeResult> {
      const bad = checkCodeShape(code);
      if (bad) return Promise.resolve({ ok: false, passed: 0, total: tests.length, error: bad });
      let reply: unknown = null;
      try {
        runInNewContext(buildHarness(code, tests), { postMessage: (d: unknown) => { reply = d; } }, { timeout: timeoutMs });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        return Promise.resolve({ ok: false, passed: 0, total: tests.length, error: /timed out/i.test(msg) ? `timed out after ${timeoutMs} ms` : `error: ${msg}` });
      }
      return Promise.resolve(readReply(JSON.parse(JSON.stringify(reply)), tests.length));
    },
  };
}
