/**
 * tools/wllama/results-plugin.mjs: the build-time patch of wllama's worker source. The real worker is
 * tested end to end in tests/e2e/engines.spec.ts ("wllama's worker, as Chorus builds it"); here, the
 * patch itself on the installed wllama bundle, its refusals, and the reply recogniser the worker runs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ES module (Node side of the build only)
import { DRAIN_BUDGET_MS, isEmptyMoreReply, MARKER, patchWllamaBundle, wllamaResults } from '../../tools/wllama/results-plugin.mjs';

const require = createRequire(import.meta.url);
const BUNDLE_PATH = require.resolve('@wllama/wllama').replace(/index\.cjs$/, 'index.js');
const bundle = readFileSync(BUNDLE_PATH, 'utf8');
const patch = patchWllamaBundle as (code: string) => string;
const isEmptyMore = isEmptyMoreReply as (b: Uint8Array) => boolean;

/** Where the string literal assigned to LLAMA_CPP_WORKER_CODE starts (its declaration) and ends (its closing quote). */
function workerLiteral(code: string): { declaration: number; start: number; end: number } {
  const declaration = code.indexOf('var LLAMA_CPP_WORKER_CODE = ');
  const start = declaration + 'var LLAMA_CPP_WORKER_CODE = '.length;
  let end = start + 1;
  while (code[end] !== '"') end += code[end] === '\\' ? 2 : 1;
  return { declaration, start, end };
}

/** The worker source: that literal, decoded. */
function workerSource(code: string): string {
  const { start, end } = workerLiteral(code);
  return JSON.parse(code.slice(start, end + 1)) as string;
}

/** A glue message written by hand (independently of the plugin): magic, version, name, typed fields. */
function glue(name: string, fields: ([1, boolean] | [4, string] | [5, Uint8Array])[], version = 1): Uint8Array {
  const parts: number[] = [...'GLUE'].map((c) => c.charCodeAt(0));
  const u32 = (x: number) => parts.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff);
  u32(version);
  parts.push(...[...name.padEnd(8, '\0')].map((c) => c.charCodeAt(0)));
  for (const [type, value] of fields) {
    u32(type);
    if (type === 1) u32(value ? 1 : 0);
    else {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      u32(bytes.length);
      parts.push(...bytes);
    }
  }
  return new Uint8Array(parts);
}
const reply = (o: { success?: boolean; hasMore?: boolean; isError?: boolean; json?: string; name?: string }) =>
  glue(o.name ?? 'gres_res', [[1, o.success ?? true], [1, o.hasMore ?? true], [1, o.isError ?? false], [4, o.json ?? ''], [5, new Uint8Array(0)]]);

describe('the patch on the installed wllama bundle', () => {
  const patched = patch(bundle);
  const source = workerSource(patched);

  it('routes get_result through the drain loop and leaves every other action on runAction', () => {
    expect(workerSource(bundle)).not.toContain(MARKER);
    expect(source).toContain("(args[0] === 'get_result' ? chorusDrainResults(e.data) : runAction(e.data))");
    expect(source.match(/const chorusDrainResults = async \(data\) =>/g)).toHaveLength(1);
    expect(source.match(/chorusDrainResults\(/g)).toHaveLength(1);
    expect(source).toContain(`performance.now() - started < ${DRAIN_BUDGET_MS}`);
    // The worker's source still compiles (classic function body: no import/export in it).
    expect(() => new Function(source)).not.toThrow();
  });

  it('passes suppressNativeLog to the worker and silences print and printErr there, keeping the crash stack', () => {
    expect(patched).toContain('compat: this.resources.compat,\n        chorusQuiet: this.suppressNativeLog\n      };');
    const print = source.slice(source.indexOf('    print: function (text) {'), source.indexOf('    locateFile:'));
    expect(print.match(/if \(RUN_OPTIONS.chorusQuiet\) return;/g)).toHaveLength(2);
    // In printErr the @@STACK@@ capture comes first, the quiet return after it.
    expect(print.indexOf("text.startsWith('@@STACK@@')")).toBeLessThan(print.lastIndexOf('chorusQuiet'));
  });

  it('changes nothing else: outside the worker literal only RUN_OPTIONS differs, and patching twice is patching once', () => {
    const strip = (code: string) => {
      const { declaration, end } = workerLiteral(code);
      return code.slice(0, declaration) + code.slice(end + 1);
    };
    expect(strip(patched)).toBe(strip(bundle).replace('compat: this.resources.compat\n      };', 'compat: this.resources.compat,\n        chorusQuiet: this.suppressNativeLog\n      };'));
    expect(patch(patched)).toBe(patched);
    // The worker source differs only by what the patch adds: take those away and it is wllama's again.
    const drain = source.slice(source.indexOf('\n// Chorus (tools/wllama/results-plugin.mjs)'), source.indexOf('\nonmessage = async (e) => {'));
    const undone = source
      .replace(drain, '')
      .replaceAll('      if (RUN_OPTIONS.chorusQuiet) return;\n', '')
      .replace("(args[0] === 'get_result' ? chorusDrainResults(e.data) : runAction(e.data))", 'runAction(e.data)');
    expect(drain.length).toBeGreaterThan(500);
    expect(undone).toBe(workerSource(bundle).replace('\nonmessage = async (e) => {', '\n\nonmessage = async (e) => {'));
  });

  it('refuses a wllama whose worker source it does not recognise, naming itself and the fix, rather than patching half-way', () => {
    const noAction = bundle.replace("await runWasmCall(callbackId, () => runAction(e.data));", 'await runAction(e.data);');
    expect(() => patch(noAction)).toThrow(/tools\/wllama\/results-plugin\.mjs: wllama's worker source has no 'wllama\.action' handler; .*Update the patch or pin wllama\./);
    const twoHandlers = bundle.replace('var LLAMA_CPP_WORKER_CODE = "', 'var LLAMA_CPP_WORKER_CODE = "\\nonmessage = async (e) => {');
    expect(() => patch(twoHandlers)).toThrow(/more than one onmessage handler/);
    const noOptions = bundle.replace('compat: this.resources.compat\n      };', 'compat: this.resources.compat };');
    expect(() => patch(noOptions)).toThrow(/no RUN_OPTIONS object/);
    expect(() => patch('export const x = 1;')).toThrow(/no LLAMA_CPP_WORKER_CODE declaration/);
    expect(() => patch('var LLAMA_CPP_WORKER_CODE = "onmessage = 1; \\"')).toThrow(/string literal is not terminated/);
    expect(() => patch("var LLAMA_CPP_WORKER_CODE = `x`;")).toThrow(/not a double-quoted string literal/);
  });

  it('transforms only wllama\'s esm bundle', () => {
    const plugin = wllamaResults() as { transform: (code: string, id: string) => { code: string } | null };
    expect(plugin.transform(bundle, BUNDLE_PATH)?.code).toBe(patched);
    expect(plugin.transform(bundle, `${BUNDLE_PATH}?v=123`)?.code).toBe(patched);
    expect(plugin.transform('const a = 1;', '/x/src/lib/engines/wllama.ts')).toBeNull();
    expect(plugin.transform('const a = 1;', '/x/node_modules/@wllama/wllama-compat/wasm/wllama.js')).toBeNull();
  });
});

describe('the reply recogniser (the worker runs this function\'s source)', () => {
  it('skips exactly an empty "more to come" reply', () => {
    expect(isEmptyMore(reply({}))).toBe(true);
    // Inside a larger buffer (the worker reads a view into the wasm heap at an offset).
    const r = reply({});
    const heap = new Uint8Array(r.length + 13);
    heap.set(r, 13);
    expect(isEmptyMore(heap.subarray(13))).toBe(true);
  });

  it('passes on every reply the caller must see: data, the end, an error, a failure, another message', () => {
    expect(isEmptyMore(reply({ json: '{"choices":[]}' }))).toBe(false);
    expect(isEmptyMore(reply({ json: 'null' }))).toBe(false);
    expect(isEmptyMore(reply({ hasMore: false }))).toBe(false);
    expect(isEmptyMore(reply({ isError: true }))).toBe(false);
    expect(isEmptyMore(reply({ success: false }))).toBe(false);
    expect(isEmptyMore(reply({ name: 'cmpl_res' }))).toBe(false);
    expect(isEmptyMore(reply({}).subarray(0, 47))).toBe(false);
    // A field of another type where a bool or the string should be.
    const wrongType = reply({});
    wrongType[24] = 2;
    expect(isEmptyMore(wrongType)).toBe(false);
    const notString = reply({});
    notString[40] = 5;
    expect(isEmptyMore(notString)).toBe(false);
  });
});
