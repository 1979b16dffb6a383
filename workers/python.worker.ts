/**
 * One Python interpreter for one program (src/lib/eval/python.ts, workerPythonSandbox): boots Pyodide
 * from the page-given `indexURL` (our own origin: the build's `pyodide/` folder, see
 * tools/pyodide/vite-plugin.mjs), locks it down, says `ready`, runs a single program and replies
 * `{ ok, error? }`. The page terminates this worker at the reply or at the time limit.
 *
 * Lock-down, before any program text arrives: Python's `js` module is an empty object (`jsglobals`),
 * `pyodide_js` is unregistered, and this worker's network, storage and messaging globals are removed
 * (from the global object and its prototype chain) after the reply channel has been captured — so even
 * where eval is allowed (a host that sends no CSP) nothing Python reaches can fetch or forge a reply.
 * The page starts this module from a blob URL, so the worker inherits the page's CSP (no eval).
 */
/// <reference lib="webworker" />
import { lastErrorLine, SANDBOX_PRELUDE, type PythonWorkerReply, type PythonWorkerRequest } from '../src/lib/eval/python.ts';

interface Pyodide {
  runPython(code: string): unknown;
  unregisterJsModule(name: string): void;
}
interface PyodideModule {
  loadPyodide(options: Record<string, unknown>): Promise<Pyodide>;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = scope.postMessage.bind(scope) as (m: PythonWorkerReply) => void;
const BLOCKED = [
  'fetch', 'XMLHttpRequest', 'WebSocket', 'WebTransport', 'EventSource', 'importScripts', 'indexedDB', 'caches',
  'BroadcastChannel', 'Worker', 'SharedWorker', 'postMessage', 'close', 'navigator',
];
let py: Pyodide | null = null;
let used = false;

function lockDownGlobals(): void {
  for (const k of BLOCKED) {
    for (let o: object | null = Object.getPrototypeOf(scope) as object | null; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      if (Object.prototype.hasOwnProperty.call(o, k)) Reflect.deleteProperty(o, k);
    }
    try {
      Object.defineProperty(scope, k, { value: undefined, configurable: false, writable: false });
    } catch { /* a non-configurable global stays; CSP still applies */ }
  }
}

async function boot(indexURL: string): Promise<void> {
  try {
    const mod = (await import(/* @vite-ignore */ new URL('pyodide.mjs', indexURL).href)) as PyodideModule;
    py = await mod.loadPyodide({ indexURL, jsglobals: {}, env: { HOME: '/home/pyodide' }, stdout: () => {}, stderr: () => {} });
    py.unregisterJsModule('pyodide_js');
    lockDownGlobals();
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'boot-failed', error: e instanceof Error ? e.message : String(e) });
  }
}

function run(program: string): void {
  if (!py || used) return;
  used = true;
  try {
    py.runPython(SANDBOX_PRELUDE);
  } catch (e) {
    post({ type: 'result', ok: false, error: `the sandbox prelude failed: ${lastErrorLine(String((e as Error).message))}` });
    return;
  }
  try {
    py.runPython(program);
    post({ type: 'result', ok: true });
  } catch (e) {
    post({ type: 'result', ok: false, error: lastErrorLine(e instanceof Error ? e.message : String(e)) });
  }
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as PythonWorkerRequest;
  if (m.type === 'boot') void boot(m.indexURL);
  else if (m.type === 'run') run(m.program);
};
