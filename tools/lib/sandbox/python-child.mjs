// The child process of the Node Python sandbox (see child.ts for its flags and protocol): boots
// Pyodide from the directory given as argv[2], says `ready`, reads one job `{ prelude, program }` from
// stdin, runs the prelude (src/lib/eval/python.ts SANDBOX_PRELUDE) and then the program, and replies
// `{ ok, error? }`. Plain JavaScript so it starts without any loader.
import { constants, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const REPLY_FD = 3;
const dir = process.argv[2];
const reply = (r) => writeSync(REPLY_FD, JSON.stringify(r) + '\n');
const lastLine = (text) => {
  const lines = String(text).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return (lines[lines.length - 1] ?? 'error').slice(0, 300);
};

// Node's permission model refuses process.binding(), which Pyodide's NODEFS calls at start-up for the
// fs open flags only (pyodide.asm.mjs, NODEFS.staticInit); answer that one question, refuse the rest.
process.binding = (name) => {
  if (name === 'constants') return { fs: constants };
  throw new Error(`process.binding(${name}) is not available in the sandbox`);
};

const { loadPyodide } = await import(pathToFileURL(`${dir}/pyodide.mjs`).href);
const py = await loadPyodide({
  indexURL: `${dir}/`,
  jsglobals: {},
  env: { HOME: '/home/pyodide' },
  stdout: () => {},
  stderr: () => {},
});
py.unregisterJsModule('pyodide_js');
for (const k of ['fetch', 'WebSocket', 'EventSource', 'FormData', 'Request', 'Response', 'Headers']) delete globalThis[k];

writeSync(REPLY_FD, 'ready\n');
// Read asynchronously: a pipe from the parent is non-blocking, and readFileSync(0) can fail with EAGAIN.
let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
if (text === '') process.exit(0);
const job = JSON.parse(text);
writeSync(REPLY_FD, 'start\n');
try {
  py.runPython(job.prelude);
} catch (e) {
  reply({ ok: false, error: `the sandbox prelude failed: ${lastLine(e.message)}` });
  process.exit(0);
}
try {
  py.runPython(job.program);
  reply({ ok: true });
} catch (e) {
  reply({ ok: false, error: lastLine(e && e.message) });
}
