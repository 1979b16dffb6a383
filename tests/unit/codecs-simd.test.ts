/**
 * The quantised codecs in the WebAssembly SIMD kernels (assembly/kernels.ts "Quantised codecs",
 * SimdKernels.encodeQuant / decodeQuant) against the JavaScript codecs, which are byte-identical to
 * ggml's reference (codecs-reference.test.ts): on ggml's own reference bytes (tests/fixtures), and on
 * seeded random tensors with the edge cases the float arithmetic meets — all-zero, constant, one
 * non-zero value, huge and tiny magnitudes (overflowing sums, subnormal scales), sign patterns — at
 * lengths of one block, odd numbers of blocks and several thread chunks, on this thread and on two
 * kernel threads. Encodes must give identical bytes, decodes identical f32 bits.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGML_TYPE_SIZE, GGMLType, ggmlTypeFromName } from '../../src/lib/merge/gguf/index.ts';
import { SIMD_CODEC_TYPES, SimdKernels } from '../../src/lib/merge/wasm/index.ts';
import { KERNELS_WASM_BASE64 } from '../../src/lib/merge/wasm/kernels.wasm.ts';
import { nodeKernelThreads } from '../../tools/lib/kernel-threads.ts';
import { REPO_ROOT } from '../support/paths.ts';

const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
const here = new SimdKernels(module);
const threaded = new SimdKernels(module);
const ready = threaded.attachThreads(nodeKernelThreads(2));
const TYPES = [GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];

const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const f32 = (b: Uint8Array): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** Index of the first differing byte, or -1. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Index of the first value whose f32 bits differ (two NaNs count as equal), or -1. */
function firstDiffF32(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return a.length === b.length ? -1 : a.length;
}

/** Seeded generator (mulberry32) and a normal deviate by Box–Muller. */
function rng(seed: number): { u(): number; normal(): number } {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { u, normal: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) };
}

/** Kinds of 256-value block with the edge cases of the quantisers' arithmetic. */
const KINDS: Record<string, (r: ReturnType<typeof rng>, i: number) => number> = {
  normal: (r) => r.normal() * 0.02,
  wide: (r) => r.normal() * 3,
  zero: () => 0,
  constant: () => -0.3,
  positiveConstant: () => 1.25,
  oneHot: (_, i) => (i === 77 ? 0.5 : 0),
  huge: (r) => r.normal() * 1e30,
  nearMax: (r) => (r.u() - 0.5) * 6e38,
  tiny: (r) => r.normal() * 1e-30,
  subnormal: (r) => r.normal() * 1e-40,
  tinySubBlocks: (r, i) => r.normal() * (i % 64 < 16 ? 1e-20 : 1),
  // Sub-blocks just under ggml's GROUP_MAX_EPS (1e-15) beside ones just over it.
  nearEps: (r, i) => (i % 64 < 16 ? 9e-16 : 1e-13) * (r.u() < 0.5 ? -1 : 1) * (0.5 + r.u() / 2),
  mixedScale: (r, i) => r.normal() * (i % 32 < 16 ? 1e-6 : 10),
  outlier: (r, i) => (i % 97 === 0 ? 9 : r.normal() * 0.1),
  positive: (r) => Math.abs(r.normal()),
  negative: (r) => -Math.abs(r.normal()) * 0.5,
  halves: (r) => Math.round(r.normal() * 8) / 2,
  signedZeros: (_, i) => (i % 2 ? -0 : 0),
};

/** n values cycling through the kinds, 256 at a time. */
function tensor(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const kinds = Object.values(KINDS);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = kinds[Math.floor(i / 256) % kinds.length]!(r, i % 256);
  return x;
}

describe('SIMD codecs: set and geometry', () => {
  it('cover Q8_0, Q4_K, Q5_K and Q6_K', () => {
    expect([...SIMD_CODEC_TYPES]).toEqual(TYPES);
    for (const t of TYPES) expect(here.hasQuantCodec(t)).toBe(true);
    expect(here.hasQuantCodec(GGMLType.Q4_0)).toBe(false);
  });
});

const ggml = JSON.parse(readFileSync(`${REPO_ROOT}/tests/fixtures/ggml-reference.json`, 'utf8')) as { generator: string; blocks: string[]; input: string; encoded: Record<string, string> };
const ref = JSON.parse(readFileSync(`${REPO_ROOT}/tests/fixtures/quant-reference.json`, 'utf8')) as { generator: string; cases: { type: string; op: string; n: number; input: string; output: string }[] };

describe(`SIMD encoders match ${ggml.generator}`, () => {
  const x = f32(bytes(ggml.input));
  for (const t of TYPES) {
    const name = GGML_TYPE_SIZE[t].name;
    it(`${name}: identical bytes on ${ggml.blocks.join(', ')} blocks`, async () => {
      const got = await here.encodeQuant(t, x);
      expect(got).not.toBeNull();
      expect(firstDiff(got!, bytes(ggml.encoded[name]!)), 'first differing byte').toBe(-1);
    });
  }
});

describe(`SIMD decoders match ${ref.generator}`, () => {
  for (const c of ref.cases.filter((c) => c.op === 'decode' && TYPES.includes(ggmlTypeFromName(c.type)!))) {
    it(`${c.type}: ${c.n} values bit for bit`, async () => {
      const got = await here.decodeQuant(ggmlTypeFromName(c.type)!, bytes(c.input), c.n);
      expect(firstDiffF32(got, f32(bytes(c.output))), 'first differing value').toBe(-1);
    });
  }
});

describe('SIMD codecs are the JavaScript codecs', () => {
  // One block; an odd number of 256-blocks (every kind once); several 65,536-value chunks with a
  // partial last one (the thread split).
  const lengths = [256, 256 * Object.keys(KINDS).length, 3 * 65536 + 256 * 7];
  for (const t of TYPES) {
    const name = GGML_TYPE_SIZE[t].name;
    const codec = getCodec(t);
    // Q8_0's blocks are 32 values: an odd count of them too.
    for (const n of t === GGMLType.Q8_0 ? [224, ...lengths] : lengths) {
      it(`${name} encode, ${n} values: identical bytes on this thread and on two kernel threads`, async () => {
        const x = tensor(n, n + t);
        const want = codec.encode!(x);
        expect(firstDiff((await here.encodeQuant(t, x))!, want), 'first differing byte (this thread)').toBe(-1);
        await ready;
        expect(firstDiff((await threaded.encodeQuant(t, x))!, want), 'first differing byte (threads)').toBe(-1);
      });
    }
    it(`${name} encode, every kind of block alone: identical bytes`, async () => {
      for (const [kind, f] of Object.entries(KINDS)) {
        const r = rng(7);
        const x = new Float32Array(512).map((_, i) => f(r, i % 256));
        expect(firstDiff((await here.encodeQuant(t, x))!, codec.encode!(x)), `${kind}: first differing byte`).toBe(-1);
      }
    });
    it(`${name} decode: identical f32 bits for random block bytes (every scale bit pattern)`, async () => {
      const r = rng(t);
      // 2^22 values and more are decoded on the kernel threads (DECODE_ON_THREADS), fewer on this one.
      const n = (1 << 22) + 1024;
      const raw = new Uint8Array((n / codec.blockSize) * codec.typeSize).map(() => Math.floor(r.u() * 256));
      const want = codec.decode(raw, n);
      expect(firstDiffF32(await here.decodeQuant(t, raw, n), want), 'first differing value (this thread)').toBe(-1);
      await ready;
      expect(firstDiffF32(await threaded.decodeQuant(t, raw, n, new Float32Array(n)), want), 'first differing value (threads)').toBe(-1);
    });
    it(`${name} decodeQuantView: views of two tensors coexist, each the JavaScript decode`, async () => {
      const a = codec.encode!(tensor(65536 + 512, 3));
      const b = codec.encode!(tensor(4096, 4));
      const va = await here.decodeQuantView(t, a, 65536 + 512);
      const vb = await here.decodeQuantView(t, b, 4096);
      try {
        expect(firstDiffF32(va, codec.decode(a, 65536 + 512)), 'first view').toBe(-1);
        expect(firstDiffF32(vb, codec.decode(b, 4096)), 'second view').toBe(-1);
      } finally {
        here.releaseViews();
      }
    });
    it(`${name} encode from values already in the kernels' memory (viewF32): identical bytes`, async () => {
      const x = tensor(65536 + 2048, 8);
      const v = here.viewF32(x.length);
      v.set(x);
      const got = await here.encodeQuant(t, v);
      expect(firstDiff(got!, codec.encode!(x)), 'first differing byte').toBe(-1);
    });
    it(`${name} round trip through the SIMD decoder of JavaScript-encoded ${GGML_TYPE_SIZE[t].name}`, async () => {
      const x = tensor(4096, 99);
      const enc = codec.encode!(x);
      expect(firstDiffF32(await here.decodeQuant(t, enc, x.length), codec.decode(enc, x.length))).toBe(-1);
    });
    it(`${name} encode refuses Inf and NaN (null), leaving the output untouched`, async () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = tensor(65536 * 2, 5);
        x[65536 + 300] = bad;
        const out = new Uint8Array((x.length / codec.blockSize) * codec.typeSize).fill(0xab);
        expect(await here.encodeQuant(t, x, out)).toBeNull();
        await ready;
        expect(await threaded.encodeQuant(t, x, out)).toBeNull();
        expect(out.every((b) => b === 0xab)).toBe(true);
      }
    });
  }
});
