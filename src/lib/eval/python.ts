/**
 * Python sandboxes for MoCo's coding items: the interface every sandbox implements, the checks and
 * the wire protocol shared by the Worker and the child process, and the browser's Worker-backed
 * sandbox. Which code a reply holds and the program that tests it are MoCo's rules, in
 * src/lib/eval/moco/coding.ts (checked against MoCo's eval.py); this module only runs programs.
 *
 * ## For scorers: the interface to call
 * `PythonSandbox` (declared in task.ts, re-exported here) runs one Python program and says whether it
 * ran to its end without an exception:
 *
 *     run(program: string, timeoutMs: number): Promise<{ ok: boolean; error?: string; timedOut?: boolean }>
 *
 * `error` is the last line of the traceback ("AssertionError", "NameError: name 'x' is not defined")
 * or why the sandbox stopped it (time limit, memory). Implementations:
 * - browser: `workerPythonSandbox(createWorker, indexURL)` below, with `browserPythonSandbox()` in
 *   src/app/python-sandbox.ts (Pyodide in a module Worker, self-hosted under `pyodide/` of the build);
 * - Node (CLI, tests): `nodePythonSandbox()` in tools/lib/node-python.ts (Pyodide in a child process).
 * Both start a fresh interpreter for every program (one is booted ahead while the current program
 * runs), so nothing one program does — a patched builtin, a changed module — reaches the next; and
 * both kill it at the time limit.
 * `scoreCoding(reply, test, sandbox)` in moco/coding.ts scores one reply as MoCo does
 * (model_collaboration/data/eval.py: extract_code_block, extract_function_name, evaluate_code_solution).
 *
 * ## What Python can reach
 * Pyodide (CPython compiled to WebAssembly) with an in-memory file system (Emscripten's MEMFS): `import
 * os` works, `os.listdir('/')` shows only that empty tree (`/tmp`, `/home`, `/dev`, `/proc`, `/lib`),
 * `open('/etc/passwd')` is FileNotFoundError — no host file is mounted. `os.system`, `os.popen`, the
 * `exec*`/`spawn*`/`fork`/`kill` family raise PermissionError (SANDBOX_PRELUDE). The `js` module is an
 * empty object (`jsglobals: {}`), `pyodide_js` is unregistered, and the JavaScript realm underneath
 * has no network globals, no eval (the Worker's CSP; `--disallow-code-generation-from-strings` in Node),
 * and in Node no file reads outside Pyodide's own files and no child processes (Node's permission model).
 * Pure-Python tricks against the test itself (a `candidate` whose results compare equal to anything)
 * are not prevented, as in MoCo.
 */
import type { PythonSandbox } from './task.ts';

export type { PythonSandbox } from './task.ts';
export type PythonResult = Awaited<ReturnType<PythonSandbox['run']>>;

/** Longest error text a result carries. */
export const MAX_PY_ERROR_CHARS = 300;

/**
 * Python run in every fresh interpreter before the program: process creation is refused (Pyodide's
 * `os.system` would otherwise reach Emscripten's system(), which in Node spawns a host shell) and the
 * JavaScript API module is dropped. It deletes itself, so the program sees none of its names.
 */
export const SANDBOX_PRELUDE = `
def __chorus_lockdown():
    import os, sys
    def denied(*args, **kwargs):
        raise PermissionError("the Chorus sandbox has no processes, network or host files")
    for name in ("system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execle", "execlp",
                 "execlpe", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                 "spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp", "kill", "killpg"):
        if hasattr(os, name):
            setattr(os, name, denied)
    sys.modules.pop("pyodide_js", None)
__chorus_lockdown()
del __chorus_lockdown
`;

/** The last non-empty line of a Python traceback (or any error text), cut to MAX_PY_ERROR_CHARS. */
export function lastErrorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return (lines[lines.length - 1] ?? 'error').slice(0, MAX_PY_ERROR_CHARS);
}

/** Checks a sandbox's reply outside it: `{ ok: boolean, error?: string }`, anything else is a failure. */
export function readPythonReply(data: unknown): PythonResult {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { ok: false, error: 'the sandbox sent an unexpected reply' };
  const proto = Object.getPrototypeOf(data) as unknown;
  if (proto !== Object.prototype && proto !== null) return { ok: false, error: 'the sandbox sent an unexpected reply' };
  const get = (k: string): unknown => {
    const p = Object.getOwnPropertyDescriptor(data, k);
    return p && 'value' in p ? p.value : undefined;
  };
  const ok = get('ok');
  const error = get('error');
  if (typeof ok !== 'boolean' || (error !== undefined && typeof error !== 'string')) return { ok: false, error: 'the sandbox sent an unexpected reply' };
  if (ok) return error === undefined ? { ok: true } : { ok: false, error: 'the sandbox sent an unexpected reply' };
  return { ok: false, error: (error ?? 'failed').slice(0, MAX_PY_ERROR_CHARS) };
}

/** Messages between the page and workers/python.worker.ts. */
export type PythonWorkerRequest = { type: 'boot'; indexURL: string } | { type: 'run'; program: string };
export type PythonWorkerReply = { type: 'ready' } | { type: 'boot-failed'; error: string } | { type: 'result'; ok: boolean; error?: string };

/** Boot time allowed for Pyodide in a Worker (download on a first visit, wasm compile, stdlib): seconds on a
 * desktop, but minutes on a slow or overloaded machine; the program's own limit starts after it. */
const BOOT_MS = 300_000;

interface BootingWorker {
  worker: Worker;
  ready: Promise<string | null>;
}

function bootWorker(createWorker: () => Worker, indexURL: string): BootingWorker {
  const worker = createWorker();
  const ready = new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(`Python did not start within ${BOOT_MS / 1000} s`), BOOT_MS);
    worker.onmessage = (e: MessageEvent) => {
      const d = e.data as PythonWorkerReply | null;
      clearTimeout(timer);
      resolve(d?.type === 'ready' ? null : d?.type === 'boot-failed' ? `Python did not start: ${String(d.error).slice(0, MAX_PY_ERROR_CHARS)}` : 'Python did not start');
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      clearTimeout(timer);
      resolve(`Python did not start: ${e.message}`);
    };
  });
  worker.postMessage({ type: 'boot', indexURL } satisfies PythonWorkerRequest);
  return { worker, ready };
}

/**
 * Browser Python sandbox: every program runs in a fresh Worker (`createWorker`, a module worker of
 * workers/python.worker.ts) that loads Pyodide from `indexURL` (our own origin), then is terminated —
 * at the reply or at `timeoutMs` after the program was sent. The next Worker boots while the current
 * program runs. The reply is checked here (readPythonReply). A Worker's memory cannot be capped; a
 * program that allocates without end is stopped by the time limit, by Pyodide's 4 GiB wasm memory
 * limit (MemoryError), or by the browser.
 */
export function workerPythonSandbox(createWorker: () => Worker, indexURL: string): PythonSandbox & { close(): void } {
  let spare: BootingWorker | null = null;
  return {
    async run(program, timeoutMs) {
      const current = spare ?? bootWorker(createWorker, indexURL);
      spare = bootWorker(createWorker, indexURL);
      const { worker } = current;
      try {
        const bootError = await current.ready;
        if (bootError) return { ok: false, error: bootError };
        return await new Promise<PythonResult>((resolve) => {
          const timer = setTimeout(() => resolve({ ok: false, timedOut: true, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
          worker.onmessage = (e: MessageEvent) => {
            clearTimeout(timer);
            const d = e.data as Record<string, unknown> | null;
            resolve(readPythonReply(d && typeof d === 'object' && d.type === 'result' ? { ok: d.ok, error: d.error } : null));
          };
          worker.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            clearTimeout(timer);
            resolve({ ok: false, error: `the Python worker failed: ${e.message}` });
          };
          worker.postMessage({ type: 'run', program } satisfies PythonWorkerRequest);
        });
      } finally {
        worker.terminate();
      }
    },
    close() {
      spare?.worker.terminate();
      spare = null;
    },
  };
}
