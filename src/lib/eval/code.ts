/**
 * Tiny coding tasks: the model writes a one-line JavaScript function; it is run on test inputs in a
 * sandbox with a timeout. Model output is untrusted, so before anything runs:
 * - the code must be one line, at most 200 characters, with balanced brackets and without
 *   `;`, braces, backticks, quotes or comment markers, i.e. a single expression that cannot close
 *   the harness's statement or open a block (checkCodeShape);
 * - the harness (buildHarness) removes network, storage, timer and script-loading globals before
 *   the expression is evaluated, keeps its reply channel in a closure the expression cannot reach,
 *   and reports through `postMessage` once.
 * The same harness text runs in a dedicated browser Worker created from a blob URL (workerSandbox,
 * terminated at the timeout; the page's CSP allows worker-src blob: and forbids eval, which is why
 * the code is part of the script text) and in Node's vm module (tools/pool/node-sandbox.ts).
 */

export interface CodeTest {
  input: number;
  output: number | boolean;
}

export interface CodeResult {
  ok: boolean;
  passed: number;
  total: number;
  /** Why the run failed: shape check, exception, timeout. */
  error?: string;
}

export interface CodeSandbox {
  run(code: string, tests: CodeTest[], timeoutMs: number): Promise<CodeResult>;
}

/** The function text from a model answer: first non-empty line, trimmed; null if empty. */
export function extractCode(output: string): string | null {
  const line = output.split('\n').find((l) => l.trim() !== '');
  return line === undefined ? null : line.trim();
}

/** Null when the code is an acceptable one-line expression, otherwise the reason it is not. */
export function checkCodeShape(code: string): string | null {
  if (code.length === 0) return 'the answer is empty';
  if (code.length > 200) return 'the function is longer than 200 characters';
  if (/[\n\r;{}`'"\\]|\/\/|\/\*/.test(code)) return 'the function must be a single expression without ; { } quotes, backticks or comments';
  let depth = 0;
  for (const ch of code) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (depth < 0) return 'unbalanced brackets';
  }
  return depth === 0 ? null : 'unbalanced brackets';
}

const BLOCKED = [
  'fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'importScripts', 'indexedDB', 'caches', 'navigator',
  'BroadcastChannel', 'setTimeout', 'setInterval', 'queueMicrotask', 'Worker', 'SharedWorker', 'WebAssembly',
  'Function', 'eval', 'require', 'process', 'globalThis', 'self', 'postMessage', 'close', 'Atomics', 'SharedArrayBuffer',
];

/**
 * Script text that evaluates `code` as an expression and checks it on `tests`. The reply is sent
 * once through the postMessage captured before the globals are removed; `code` must have passed
 * checkCodeShape.
 */
export function buildHarness(code: string, tests: CodeTest[]): string {
  const blocked = JSON.stringify(BLOCKED);
  return `"use strict";
const __reply = (() => {
  const g = globalThis;
  const post = g.postMessage.bind(g);
  const tests = ${JSON.stringify(tests)};
  for (const k of ${blocked}) { try { Object.defineProperty(g, k, { value: undefined, configurable: false, writable: false }); } catch {} }
  let sent = false;
  return (fnOrError) => {
    if (sent) return;
    sent = true;
    if (typeof fnOrError !== 'function') { post({ ok: false, passed: 0, total: tests.length, error: String(fnOrError) }); return; }
    let passed = 0;
    try {
      for (const t of tests) if (fnOrError(t.input) === t.output) passed++;
      post({ ok: true, passed, total: tests.length });
    } catch (e) {
      post({ ok: false, passed, total: tests.length, error: 'threw: ' + String(e && e.message) });
    }
  };
})();
let __f;
try { __f = (${code}); } catch (e) { __f = 'threw: ' + String(e && e.message); }
__reply(typeof __f === 'function' ? __f : (typeof __f === 'string' ? __f : 'not a function'));
`;
}

/** Parses a harness reply; anything else is reported as a failure. */
export function readReply(data: unknown, total: number): CodeResult {
  const d = data as Partial<CodeResult> | null;
  if (d && typeof d === 'object' && typeof d.ok === 'boolean' && typeof d.passed === 'number') {
    return { ok: d.ok, passed: Math.min(d.passed, total), total, ...(d.error ? { error: String(d.error) } : {}) };
  }
  return { ok: false, passed: 0, total, error: 'the sandbox sent an unexpected reply' };
}

/**
 * Browser sandbox: one dedicated Worker per run, from a blob URL, terminated on reply or timeout.
 * Works in the page and inside other workers (only Worker, Blob and URL are used).
 */
export function workerSandbox(): CodeSandbox {
  return {
    run(code, tests, timeoutMs) {
      const bad = checkCodeShape(code);
      if (bad) return Promise.resolve({ ok: false, passed: 0, total: tests.length, error: bad });
      const url = URL.createObjectURL(new Blob([buildHarness(code, tests)], { type: 'text/javascript' }));
      const worker = new Worker(url);
      return new Promise<CodeResult>((resolve) => {
        const done = (r: CodeResult) => {
          clearTimeout(timer);
          worker.terminate();
          URL.revokeObjectURL(url);
          resolve(r);
        };
        const timer = setTimeout(() => done({ ok: false, passed: 0, total: tests.length, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
        worker.onmessage = (e: MessageEvent) => done(readReply(e.data, tests.length));
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          done({ ok: false, passed: 0, total: tests.length, error: `error: ${e.message}` });
        };
      });
    },
  };
}
