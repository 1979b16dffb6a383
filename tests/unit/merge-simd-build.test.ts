/**
 * The SIMD kernels ship as bytes (src/lib/merge/wasm/kernels.wasm.ts) compiled from their
 * AssemblyScript source; this checks the committed bytes are exactly what the source compiles to,
 * so nobody edits one without the other (`npm run build:wasm` rewrites them).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
// @ts-expect-error plain ES module (Node build tool)
import { compile } from '../../tools/wasm/build.mjs';

describe('SIMD kernels build', () => {
  it('kernels.wasm.ts is what assembly/kernels.ts compiles to', async () => {
    const fresh = (await compile()) as string;
    expect(readFileSync('src/lib/merge/wasm/kernels.wasm.ts', 'utf8')).toBe(fresh);
  }, 60_000);

  it('the module validates and exports every kernel the wrapper calls', async () => {
    const { KERNELS_WASM_BASE64 } = await import('../../src/lib/merge/wasm/kernels.wasm.ts');
    const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
    expect(WebAssembly.validate(bytes)).toBe(true);
    const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name).sort();
    expect(names).toEqual(['addTable', 'axpy', 'bandPass', 'combine2', 'countTies', 'countU32', 'divide', 'encode', 'highPass', 'linear2', 'memory', 'rank', 'sampleDeltas', 'selectU32', 'sqDistance', 'zero']);
  });
});
