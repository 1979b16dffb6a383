// Vite plugin: wllama's worker fetches a reply's results in one message instead of one per token.
//
// wllama 3.13 runs llama.cpp's server in a worker of its own, one step (one token) per `get_result`
// action: the thread that owns the Wllama object (our engine worker) posts `get_result`, the wllama
// worker runs one step and posts the reply back, and for a whole answer (`stream: false`) almost every
// reply is empty ("no result yet, more to come"), which wllama's getResponse() skips and asks again.
// Each token is therefore a round trip between two threads — on a model as small as stories260K most
// of a token's cost, and enough CPU on the second thread that three agents on two cores could not run
// 1.6× faster together than one after another (README, Benchmarks: parallel agents).
//
// The patch changes only the worker's handling of `get_result`: it repeats the action inside the
// worker while llama.cpp's reply is exactly such an empty "more to come" reply, and posts the first
// reply that carries data, an error or the end — the reply getResponse() would have acted on. The C++
// side sees the same actions with the same bytes in the same order, so the text, logprobs and seeds do
// not change (tests/e2e/engines.spec.ts compares them). A reply is only skipped when its bytes are
// recognised field by field (glue message `gres_res`: success, has_more, is_error, empty data_json);
// anything else is posted as before. To keep a cancel prompt, the worker posts whatever it has after
// DRAIN_BUDGET_MS even if it is empty, so wllama checks its abort signal at least that often.
//
// Second, native log lines. With `suppressNativeLog` (Chorus always sets it) wllama's main side drops
// every `console.*` message from its worker, yet the worker still posts one per line llama.cpp writes
// to stderr — and it writes several per token: wllama passes log_level 9999 to silence libllama's
// callback, but llama-server's LOG_DBG macros log when their verbosity is *below* that threshold, so
// they all print. Profiled in headless Chromium (puppeteer CDP, 200-token whole answers on
// stories260K), postMessage was a fifth of the wllama worker's samples and the engine worker spent
// 0.2 of a core receiving and dropping those lines. The patch passes `suppressNativeLog` to the worker
// (RUN_OPTIONS.chorusQuiet) and the worker then does not post `console.*` lines; a crash's stack
// (`@@STACK@@`) is still kept, and aborts and errors still go out as `signal.abort`.
//
// The patch is applied to wllama's bundled worker source at build time (and by the dev server, which
// serves wllama unbundled: optimizeDeps excludes it). If wllama's worker source ever changes so that
// the two places the patch edits are not found exactly once, the build fails with a message that
// names this file: nothing is patched silently or half-way.
export const DRAIN_BUDGET_MS = 50;

const DECLARATION = 'var LLAMA_CPP_WORKER_CODE = ';
const ACTION = "  if (verb === 'wllama.action') {\n    await runWasmCall(callbackId, () => runAction(e.data));";
const ACTION_PATCHED = "  if (verb === 'wllama.action') {\n    await runWasmCall(callbackId, () => (args[0] === 'get_result' ? chorusDrainResults(e.data) : runAction(e.data)));";
const HANDLER = '\nonmessage = async (e) => {';
const PRINT = '    print: function (text) {\n';
const PRINT_ERR_LOG = '      const logLine = cppLogToJSLog(text);\n';
const QUIET = '      if (RUN_OPTIONS.chorusQuiet) return;\n';
const RUN_OPTIONS = 'nbThread: this.nbThread,\n        compat: this.resources.compat\n      };';
const RUN_OPTIONS_PATCHED = 'nbThread: this.nbThread,\n        compat: this.resources.compat,\n        chorusQuiet: this.suppressNativeLog\n      };';
export const MARKER = 'chorusDrainResults';

/**
 * Whether a reply of wllama's worker (glue bytes) is exactly an empty "more to come" `gres_res`:
 * magic and version (8 bytes), the name (8), then each field as a u32 type and its value — success
 * (bool 1, true), has_more (bool, true), is_error (bool, false), data_json (string 4, length 0). Its
 * source is copied into the worker (DRAIN below), so the unit tests test what the worker runs.
 */
export function isEmptyMoreReply(b) {
  if (b.length < 48) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const name = String.fromCharCode(b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return (
    name === 'gres_res' &&
    v.getUint32(16, true) === 1 && v.getUint32(20, true) !== 0 &&
    v.getUint32(24, true) === 1 && v.getUint32(28, true) !== 0 &&
    v.getUint32(32, true) === 1 && v.getUint32(36, true) === 0 &&
    v.getUint32(40, true) === 4 && v.getUint32(44, true) === 0
  );
}

// Runs in wllama's worker, beside its runAction() (same module scope: wllamaMalloc, wllamaAction,
// getHeapU8, toSizeT, msg, handleError, isAborted).
const DRAIN = `
// Chorus (tools/wllama/results-plugin.mjs): repeat get_result here while llama.cpp's reply is an empty
// "more to come" (gres_res: success, has_more, not is_error, data_json ""), post the first other reply.
const chorusIsEmptyMore = ${isEmptyMoreReply.toString()};
const chorusDrainResults = async (data) => {
  const { args, callbackId } = data;
  const argAction = args[0];
  const argEncodedMsg = args[1];
  const started = performance.now();
  try {
    for (;;) {
      const inputPtr = await wllamaMalloc(toSizeT(argEncodedMsg.byteLength), 0);
      new Uint8Array(getHeapU8().buffer, Number(inputPtr), argEncodedMsg.byteLength).set(argEncodedMsg, 0);
      const outputPtr = await wllamaAction(argAction, inputPtr);
      const outputLen = new Uint32Array(getHeapU8().buffer, Number(inputPtr), 1)[0];
      const output = new Uint8Array(getHeapU8().buffer, Number(outputPtr), outputLen);
      if (!isAborted && chorusIsEmptyMore(output) && performance.now() - started < ${DRAIN_BUDGET_MS}) continue;
      const outputBuffer = new Uint8Array(outputLen);
      outputBuffer.set(output, 0);
      msg({ callbackId, result: outputBuffer }, [outputBuffer.buffer]);
      return;
    }
  } catch (err) {
    handleError(err);
  }
};
`;

function once(text, needle, what) {
  const at = text.indexOf(needle);
  if (at < 0 || text.indexOf(needle, at + 1) >= 0) {
    throw new Error(
      `tools/wllama/results-plugin.mjs: wllama's worker source has ${at < 0 ? 'no' : 'more than one'} ${what}; ` +
        'the installed @wllama/wllama is not the version this patch was written for (3.13). Update the patch or pin wllama.',
    );
  }
  return at;
}

/** wllama's bundled esm/index.js → the same with the worker's get_result loop moved into the worker. */
export function patchWllamaBundle(bundle) {
  const start = once(bundle, DECLARATION, 'LLAMA_CPP_WORKER_CODE declaration') + DECLARATION.length;
  if (bundle[start] !== '"') throw new Error('tools/wllama/results-plugin.mjs: LLAMA_CPP_WORKER_CODE is not a double-quoted string literal');
  // The literal ends at the first unescaped quote (an unterminated one is refused, not searched forever).
  let end = start + 1;
  while (end < bundle.length && bundle[end] !== '"') end += bundle[end] === '\\' ? 2 : 1;
  if (end >= bundle.length) throw new Error('tools/wllama/results-plugin.mjs: LLAMA_CPP_WORKER_CODE\'s string literal is not terminated');
  const source = JSON.parse(bundle.slice(start, end + 1));
  if (source.includes(MARKER)) return bundle;
  once(source, ACTION, "'wllama.action' handler");
  once(source, HANDLER, 'onmessage handler');
  once(source, PRINT, 'print function');
  once(source, PRINT_ERR_LOG, 'printErr log line');
  once(bundle, RUN_OPTIONS, 'RUN_OPTIONS object');
  const patched = source
    .replace(ACTION, ACTION_PATCHED)
    .replace(HANDLER, `\n${DRAIN}${HANDLER}`)
    .replace(PRINT, PRINT + QUIET)
    .replace(PRINT_ERR_LOG, QUIET + PRINT_ERR_LOG);
  // The options object is outside the string literal (the literal holds no raw newlines), so this
  // replaces the one occurrence once() found.
  return (bundle.slice(0, start) + JSON.stringify(patched) + bundle.slice(end + 1)).replace(RUN_OPTIONS, RUN_OPTIONS_PATCHED);

}

const BUNDLE = /[\\/]@wllama[\\/]wllama[\\/]esm[\\/]index\.js$/;

export function wllamaResults() {
  return {
    name: 'chorus-wllama-results',
    enforce: 'pre',
    transform(code, id) {
      if (!BUNDLE.test(id.split('?')[0])) return null;
      return { code: patchWllamaBundle(code), map: null };
    },
  };
}
