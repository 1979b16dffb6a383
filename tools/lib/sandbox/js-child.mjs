// The child process of the Node code sandbox (see child.ts for its flags and protocol). Plain
// JavaScript so it starts without any loader. It receives the harness text of src/lib/eval/code.ts
// (buildHarness) on stdin and runs it as a script in this process's own, only realm: code generation
// from strings is off, dynamic import() has no callback (vm scripts refuse it), and the harness
// removes the globals (process, require, fetch, …) before the model's expression is evaluated.
import { writeSync } from 'node:fs';
import { runInThisContext } from 'node:vm';

const REPLY_FD = 3;
// Captured before anything untrusted runs; JSON.stringify of a primitive string reads no toJSON.
const quote = JSON.stringify;
const hasOwn = Function.prototype.call.bind(Object.prototype.hasOwnProperty);
let sent = false;

/**
 * The harness's reply channel: `{ ok, passed, error? }` read from own properties only and written
 * by hand, so nothing planted on a prototype (getters, toJSON) runs or changes what is sent.
 */
function postMessage(reply) {
  if (sent) return;
  sent = true;
  const ok = hasOwn(reply, 'ok') && reply.ok === true;
  const passed = hasOwn(reply, 'passed') && typeof reply.passed === 'number' ? reply.passed : -1;
  const error = hasOwn(reply, 'error') && typeof reply.error === 'string' ? reply.error : null;
  writeSync(REPLY_FD, '{"ok":' + ok + ',"passed":' + passed + (error === null ? '' : ',"error":' + quote(error)) + '}\n');
}

for (const k of ['fetch', 'WebSocket', 'EventSource', 'FormData', 'Request', 'Response', 'Headers']) delete globalThis[k];
Object.defineProperty(globalThis, 'postMessage', { value: postMessage, configurable: true, writable: false, enumerable: false });

writeSync(REPLY_FD, 'ready\n');
// Read asynchronously: a pipe from the parent is non-blocking, and readFileSync(0) can fail with EAGAIN.
let harness = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) harness += chunk;
if (harness === '') process.exit(0);
writeSync(REPLY_FD, 'start\n');
try {
  runInThisContext(harness, { filename: 'harness.js' });
} catch (e) {
  postMessage({ ok: false, passed: 0, error: 'the harness failed: ' + String(e && e.message).slice(0, 150) });
}
