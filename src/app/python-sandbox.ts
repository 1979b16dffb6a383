/**
 * The page's Python sandbox (src/lib/eval/python.ts, workerPythonSandbox): Pyodide from this app's own
 * `pyodide/` folder (tools/pyodide/vite-plugin.mjs), one fresh module Worker per program. The Worker
 * is started from a one-line blob module that imports `pyodide/python.worker.js`: a blob worker takes
 * the page's CSP (header or <meta>), so eval stays off inside it on any static host.
 */
import { workerPythonSandbox } from '../lib/eval/python.ts';
import type { PythonSandbox } from '../lib/eval/task.ts';

export function browserPythonSandbox(base: string = document.baseURI): PythonSandbox & { close(): void } {
  const indexURL = new URL('pyodide/', base).href;
  const workerURL = new URL('python.worker.js', indexURL).href;
  return workerPythonSandbox(() => {
    const url = URL.createObjectURL(new Blob([`import ${JSON.stringify(workerURL)};\n`], { type: 'text/javascript' }));
    const worker = new Worker(url, { type: 'module' });
    worker.addEventListener('message', () => URL.revokeObjectURL(url), { once: true });
    worker.addEventListener('error', () => URL.revokeObjectURL(url), { once: true });
    return worker;
  }, indexURL);
}
