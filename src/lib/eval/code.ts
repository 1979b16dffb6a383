/**
 * Tiny coding tasks: the model writes a one-line JavaScript function; it is run on test inputs in a
 * sandbox with a timeout. Model output is untrusted, so before anything runs:
 * - the code must be one line, at most 200 characters, with balanced brackets and without
 *   `;`, braces, backticks, quotes or comment markers, i.e. a single expression that cannot close
 *   the harness's statement or open a block (checkCodeShape);
 * - the harness (buildHarness) removes network, storage, timer, code-loading and reply globals before
 *   the expression is evaluated, and counts passes with intrinsics captured before the model's code
 *   ran, so that code cannot forge its score even inside the sandbox;
 * - the harness runs where the model's code cannot touch the scorer: a dedicated browser Worker
 *   created per run from a blob URL (workerSandbox: terminated at the timeout; the page's CSP, which
 *   a blob worker inherits, forbids eval and new Function), or a separate Node process
 *   (tools/lib/node-sandbox.ts: no environment, no file writes, no child processes, code generation
 *   from strings off, a heap and memory cap, killed at the timeout);
 * - the reply comes back as plain data and is checked outside (readReply): a count between 0 and
 *   the number of tests, or a failure.
 * Bounds: time in both; memory in Node only (a browser cannot cap one Worker's heap: a memory bomb
 * there is ended by the timeout, or by the browser when the tab runs out of memory).
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

/**
 * Globals the model's expression must not see. In a browser worker, Web IDL puts the operations of
 * the global interface on the global object itself (WebIDL §3.7.5, [Global]); anything found on an
 * object of its prototype chain is removed there as well.
 */
const BLOCKED = [
  'fetch', 'XMLHttpRequest', 'WebSocket', 'WebTransport', 'EventSource', 'importScripts', 'indexedDB', 'caches', 'navigator',
  'location', 'BroadcastChannel', 'MessageChannel', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'Worker',
  'SharedWorker', 'WebAssembly', 'Function', 'eval', 'require', 'process', 'global', 'globalThis', 'self', 'postMessage',
  'close', 'onmessage', 'Atomics', 'SharedArrayBuffer', 'Buffer',
];
/** `eval` cannot be a parameter name in strict code; code generation from strings is off in both sandboxes. */
const SHADOWED = BLOCKED.filter((k) => k !== 'eval');

/** Longest error text a reply may carry. */
export const MAX_ERROR_CHARS = 200;

function literal(v: unknown, what: string): string {
  if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
  throw new Error(`buildHarness: test ${what} ${String(v)} is not a finite number or a boolean`);
}

/**
 * Script text that evaluates `code` as an expression and checks it on `tests`; `code` must have
 * passed checkCodeShape. The model's code may run anything inside the sandbox, so the harness is
 * built to stay honest even after it has:
 * - the expression is compiled inside a function whose parameters shadow every blocked global and
 *   the harness's own names, and it is called with `this` undefined (no route to the global object);
 * - everything the harness uses after the model's code has run was captured before it ran: the
 *   test inputs and outputs are frozen arrays read by index (no iterator the code could replace),
 *   results are compared with `===` on primitives, counts live in the harness's closure, and the
 *   reply is an object literal of primitives (no JSON.stringify, no toJSON) sent once through the
 *   postMessage captured before the globals were removed.
 * The reply is `{ ok, passed, error? }`; the caller checks it against the number of tests (readReply).
 */
export function buildHarness(code: string, tests: CodeTest[]): string {
  const inputs = tests.map((t, i) => literal(t.input, `${i + 1} input`)).join(', ');
  const outputs = tests.map((t, i) => literal(t.output, `${i + 1} output`)).join(', ');
  return `"use strict";
const __chorusUser = function (${SHADOWED.join(', ')}, __chorusUser, __chorusHarness) {
  "use strict";
  return (${code});
};
(function __chorusHarness(user) {
  const g = globalThis;
  const post = g.postMessage.bind(g);
  const freeze = Object.freeze, getPrototypeOf = Object.getPrototypeOf, defineProperty = Object.defineProperty;
  const hasOwn = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
  const slice = Function.prototype.call.bind(String.prototype.slice);
  const inputs = freeze([${inputs}]);
  const outputs = freeze([${outputs}]);
  const n = ${tests.length};
  const blocked = freeze(${JSON.stringify(BLOCKED)});
  for (let i = 0; i < blocked.length; i++) {
    const k = blocked[i];
    for (let o = getPrototypeOf(g); o !== null; o = getPrototypeOf(o)) {
      if (hasOwn(o, k)) { try { delete o[k]; } catch {} }
    }
    try { defineProperty(g, k, { value: undefined, configurable: false, writable: false }); } catch {}
  }
  const describe = (e) => {
    try {
      const m = typeof e === 'string' ? e : (e !== null && (typeof e === 'object' || typeof e === 'function')) ? e.message : undefined;
      return typeof m === 'string' ? slice(m, 0, ${MAX_ERROR_CHARS - 8}) : 'an exception';
    } catch { return 'an exception'; }
  };
  let f;
  try { f = user(); } catch (e) { post({ ok: false, passed: 0, error: 'threw: ' + describe(e) }); return; }
  if (typeof f !== 'function') { post({ ok: false, passed: 0, error: 'not a function' }); return; }
  let passed = 0;
  for (let i = 0; i < n; i++) {
    let r;
    try { r = f(inputs[i]); } catch (e) { post({ ok: false, passed: passed, error: 'threw: ' + describe(e) }); return; }
    if (r === outputs[i]) passed++;
  }
  post({ ok: true, passed: passed });
})(__chorusUser);
`;
}

/**
 * Checks a harness reply outside the sandbox: a plain object with a boolean `ok`, an integer
 * `passed` between 0 and `total`, and an optional string `error` (cut to MAX_ERROR_CHARS).
 * Anything else is reported as a failure, never as a pass.
 */
export function readReply(data: unknown, total: number): CodeResult {
  const bad = (why: string): CodeResult => ({ ok: false, passed: 0, total, error: `the sandbox sent an unexpected reply (${why})` });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return bad('not an object');
  const proto = Object.getPrototypeOf(data) as unknown;
  if (proto !== Object.prototype && proto !== null) return bad('not a plain object');
  const d = data as Record<string, unknown>;
  const { ok, passed, error } = { ok: own(d, 'ok'), passed: own(d, 'passed'), error: own(d, 'error') };
  if (typeof ok !== 'boolean') return bad('ok is not a boolean');
  if (typeof passed !== 'number' || !Number.isInteger(passed) || passed < 0 || passed > total) return bad(`passed is not an integer from 0 to ${total}`);
  if (error !== undefined && typeof error !== 'string') return bad('error is not text');
  if (ok && error !== undefined) return bad('ok with an error');
  return { ok, passed, total, ...(error !== undefined ? { error: error.slice(0, MAX_ERROR_CHARS) } : {}) };
}

function own(o: Record<string, unknown>, k: string): unknown {
  const p = Object.getOwnPropertyDescriptor(o, k);
  return p && 'value' in p ? p.value : undefined;
}

// Stryker disable all: browser-only (Worker, blob URLs), so no unit test can run it; its tests are
// end to end, in Chromium and Firefox (tests/e2e/pool.spec.ts, tests/firefox/run.ts), which
// `npm run mutate` does not run. README, *Mutation testing*, says it is left out of the score.
/**
 * Browser sandbox: one dedicated Worker per run, from a blob URL, terminated on reply or timeout.
 * Works in the page and inside other workers (only Worker, Blob and URL are used).
 */
export function workerSandbox(): CodeSandbox {
  return {
    run(code, tests, timeoutMs) {
      const bad = checkCodeShape(code);
      if (bad) return Promise.resolve({ ok: false, passed: 0, total: tests.length, error: bad });
      let harness: string;
      try {
        harness = buildHarness(code, tests);
      } catch (e) {
        return Promise.resolve({ ok: false, passed: 0, total: tests.length, error: (e as Error).message });
      }
      const url = URL.createObjectURL(new Blob([harness], { type: 'text/javascript' }));
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
        worker.onmessageerror = () => done(readReply(undefined, tests.length));
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          done({ ok: false, passed: 0, total: tests.length, error: `error: ${e.message}` });
        };
      });
    },
  };
}
// Stryker restore all
