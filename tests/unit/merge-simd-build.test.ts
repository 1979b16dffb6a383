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
    expect(names).toEqual(['addTable', 'axpy', 'bandPass', 'combine2', 'countTies', 'countU32', 'decodeQ4_K', 'decodeQ5_K', 'decodeQ6_K', 'decodeQ8_0', 'divide', 'encode', 'encodeQ4_K', 'encodeQ5_K', 'encodeQ6_K', 'encodeQ8_0', 'highPass', 'linear2', 'memory', 'rank', 'sampleDeltas', 'selectPair', 'sqDistance', 'zero']);
  });
});

/**
 * fp16 encoding inside the kernels (store4: a normal-range fast path, f32ToHalves for the rest)
 * against codecs/half.ts, on the committed bytes' `encode` export: every half's own value, every
 * midpoint between neighbouring halves and the f32 values one ulp either side of it (where rounding
 * flips), the edges of the fast path's range, every exponent, and random bit patterns of every kind.
 */
describe('SIMD kernels: fp16 encoding', () => {
  it('rounds every f32 as codecs/half.ts does (ties to even, subnormals, overflow to Inf, NaN)', async () => {
    const { KERNELS_WASM_BASE64 } = await import('../../src/lib/merge/wasm/kernels.wasm.ts');
    const { f32BitsToF16, f16ToF32 } = await import('../../src/lib/merge/codecs/half.ts');
    const memory = new WebAssembly.Memory({ initial: 1024, maximum: 65536, shared: true });
    const x = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64')), { env: { memory } }).exports as unknown as {
      encode(acc: number, out: number, n: number): void;
    };
    const cases: number[] = [];
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const bitsOf = (v: number) => ((f[0] = v), u[0]!);
    for (let h = 0; h < 0x7c00; h++) {
      const lo = f16ToF32(h);
      const mid = bitsOf(h === 0x7bff ? 65520 : (lo + f16ToF32(h + 1)) / 2);
      for (const b of [bitsOf(lo), mid - 1, mid, mid + 1]) cases.push(b, b | 0x80000000);
    }
    // The fast path's edges (2^-14 and 65536 in f32 bits), Inf, NaN, f32 subnormals, ±0.
    for (const edge of [0x38800000, 0x47800000, 0x477ff000, 0x7f800000, 0x7fc00000, 0x00000001, 0x007fffff, 0])
      for (let d = -3; d <= 3; d++) cases.push((edge + d) >>> 0, ((edge + d) | 0x80000000) >>> 0);
    // Every exponent, with mantissas at the rounding points and ends.
    for (let e = 0; e < 256; e++)
      for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x400000, 0x7fe000, 0x7ff000, 0x7fffff]) cases.push(((e << 23) | m) >>> 0, ((e << 23) | m | 0x80000000) >>> 0);
    let seed = 7;
    for (let i = 0; i < 1 << 20; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      cases.push(seed);
    }
    const n = cases.length;
    const at = 1 << 16;
    const out = at + n * 4 + 64;
    new Uint32Array(memory.buffer, at, n).set(cases);
    x.encode(at, out, n);
    const got = new Uint16Array(memory.buffer, out, n);
    // NaN stays NaN with its sign (the payload is the quiet NaN either way).
    let wrong = 0;
    const first: string[] = [];
    for (let i = 0; i < n; i++) {
      const want = f32BitsToF16(cases[i]!);
      if (got[i] !== want) {
        wrong++;
        if (first.length < 5) first.push(`0x${cases[i]!.toString(16)} → 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
    expect(first).toEqual([]);
    expect(wrong).toBe(0);
  });
});

/**
 * selectPair (the radix select that places TIES bands and exact thresholds) against a sort, on the
 * committed bytes: random values, values that share their top digit (the compaction after the first
 * digit keeps both ranks' buckets), a few distinct values repeated (ties across ranks), p = q, p and q
 * at the ends, and a single value. A wrong band is later caught and redone by the merge, so only a
 * direct check sees a select that is merely slow to be right.
 */
describe('SIMD kernels: selectPair', () => {
  it('gives the p-th and q-th smallest of any set of u32', async () => {
    const { KERNELS_WASM_BASE64 } = await import('../../src/lib/merge/wasm/kernels.wasm.ts');
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    const x = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64')), { env: { memory } }).exports as unknown as {
      selectPair(values: number, m: number, p: number, q: number, table: number, out: number): void;
    };
    const OUT = 0;
    const TABLE = 64;
    const VALUES = 65536;
    let seed = 11;
    const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    const sets: [string, number[]][] = [
      ['random', Array.from({ length: 5000 }, rand)],
      ['one top digit', Array.from({ length: 5000 }, () => (0x3c200000 | (rand() & 0x1fffff)) >>> 0)],
      ['two top digits', Array.from({ length: 5000 }, () => ((rand() & 1 ? 0x3c200000 : 0x3d000000) | (rand() & 0x1fffff)) >>> 0)],
      ['few distinct', Array.from({ length: 4000 }, () => [0, 7, 0x3f800000, 0xffffffff][rand() & 3]!)],
      ['|δ|-like', Array.from({ length: 6000 }, () => { const f = new Float32Array([Math.abs((rand() / 2 ** 32 - 0.5) * 0.01)]); return new Uint32Array(f.buffer)[0]!; })],
      ['single', [0x12345678]],
    ];
    for (const [name, values] of sets) {
      const sorted = [...values].sort((a, b) => a - b);
      const m = values.length;
      const pairs: [number, number][] = [[0, 0], [0, m - 1], [m - 1, m - 1], [m >> 1, m >> 1]];
      for (let k = 0; k < 20; k++) {
        const a = rand() % m, b = rand() % m;
        pairs.push([Math.min(a, b), Math.max(a, b)]);
      }
      for (const [p, q] of pairs) {
        new Uint32Array(memory.buffer, VALUES, m).set(values);
        x.selectPair(VALUES, m, p, q, TABLE, OUT);
        const r = new Uint32Array(memory.buffer, OUT, 2);
        expect([r[0], r[1]], `${name}: p=${p} q=${q}`).toEqual([sorted[p], sorted[q]]);
      }
    }
  });
});
