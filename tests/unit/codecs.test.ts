/**
 * Codecs: hand-computed blocks (known bytes, worked out from the llama.cpp reference routines named
 * in each codec file), round trips within each type's quantisation error, and the registry's errors.
 */
import { describe, expect, it } from 'vitest';
import {
  canEncode,
  decodableTypes,
  decodeTensor,
  encodableTypes,
  encodeTensor,
  fitsType,
  getCodec,
} from '../../src/lib/merge/codecs/index.ts';
import { GGML_TYPE_SIZE, GGMLType, GGUFError, ggmlTypeName } from '../../src/lib/merge/gguf/index.ts';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const bytes = (...xs: number[]): number[] => xs;
/** Values with −0 as 0: C also yields −0 for 0·(negative), which toEqual would tell apart. */
const plain = (a: ArrayLike<number>): number[] => Array.from(a, (v) => v + 0);

describe('known bytes: legacy quants (encode ≡ quantize_row_*_ref)', () => {
  it('Q8_0: d = amax/127, roundf rounds halves away from zero', () => {
    const x = new Float32Array(32);
    x.set([-127, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5, 0]);
    for (let j = 8; j < 32; j++) x[j] = j - 12;
    const b = encodeTensor(GGMLType.Q8_0, x);
    // amax 127 → d = 1.0 = f16 0x3C00; q = roundf(x): −1.5→−2, −0.5→−1, 0.5→1, 2.5→3, 126.5→127.
    const qs = [-127, -2, -1, 1, 2, 3, 127, 0, ...Array.from({ length: 24 }, (_, k) => k - 4)];
    expect(hex(b)).toBe(hex(new Uint8Array([0x00, 0x3c, ...qs.map((q) => q & 0xff)])));
    expect(Array.from(decodeTensor(GGMLType.Q8_0, b, 32))).toEqual(qs);
  });

  it('Q8_0 decode: x = d·q with d = 0.5 and q = −128', () => {
    const b = new Uint8Array(34);
    b.set([0x00, 0x38, 0x80, 0x7f, 0x01]);
    const y = decodeTensor(GGMLType.Q8_0, b, 32);
    expect(Array.from(y.subarray(0, 4))).toEqual([-64, 63.5, 0.5, 0]);
  });

  it('Q4_0: d = max/−8 for the value of largest magnitude; q = min(15, trunc(x/d + 8.5))', () => {
    const x = new Float32Array(32);
    x.set([-8, -7.6, -0.5, 0, 0.49, 0.5, 6.9, 7.6, 1, 2, 3, 4, 5, 6, 7, -1]);
    for (let j = 0; j < 16; j++) x[16 + j] = j - 8; // q = j
    const b = encodeTensor(GGMLType.Q4_0, x);
    // low nibbles: 0 0 8 8 8 9 15 15(clamped from 16) 9 10 11 12 13 14 15 7; high nibbles 0..15.
    const qs = bytes(0x00, 0x10, 0x28, 0x38, 0x48, 0x59, 0x6f, 0x7f, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf7);
    expect(hex(b)).toBe(hex(new Uint8Array([0x00, 0x3c, ...qs])));
    const y = decodeTensor(GGMLType.Q4_0, b, 32);
    expect(Array.from(y.subarray(0, 8))).toEqual([-8, -8, 0, 0, 0, 1, 7, 7]);
    expect(Array.from(y.subarray(16))).toEqual(Array.from({ length: 16 }, (_, j) => j - 8));
  });

  it('Q4_1: d = (max − min)/15, m = min; q = min(15, trunc((x − min)/d + 0.5))', () => {
    const x = new Float32Array(32);
    for (let j = 0; j < 16; j++) x[j] = j - 1; // min −1, max 14 → d = 1, q = j
    x.set([-0.5, 0.5, 3.49, 3.5, 14], 16); // q = 1, 2, 4, 5, 15; the rest are 0 → q = 1
    const b = encodeTensor(GGMLType.Q4_1, x);
    const qs = [0x10, 0x21, 0x42, 0x53, 0xf4, ...Array.from({ length: 11 }, (_, k) => 0x10 | (k + 5))];
    expect(hex(b)).toBe(hex(new Uint8Array([0x00, 0x3c, 0x00, 0xbc, ...qs])));
    const y = decodeTensor(GGMLType.Q4_1, b, 32);
    expect(Array.from(y.subarray(16, 21))).toEqual([0, 1, 3, 4, 14]);
  });

  it('Q5_0: d = max/−16, 5th bits in the u32 qh, q = min(31, trunc(x/d + 16.5))', () => {
    const x = new Float32Array(32);
    for (let j = 0; j < 16; j++) {
      x[j] = j - 16; // q = j
      x[16 + j] = j; // q = 16 + j: bit 4 set for elements 16..31
    }
    x[31] = 15.6; // 32.1 → clamped to 31, same as 15
    const b = encodeTensor(GGMLType.Q5_0, x);
    const qs = Array.from({ length: 16 }, (_, j) => j | (j << 4));
    expect(hex(b)).toBe(hex(new Uint8Array([0x00, 0x3c, 0x00, 0x00, 0xff, 0xff, ...qs])));
    const y = decodeTensor(GGMLType.Q5_0, b, 32);
    expect(Array.from(y)).toEqual([...Array.from({ length: 16 }, (_, j) => j - 16), ...Array.from({ length: 16 }, (_, j) => j)]);
  });

  it('Q5_1: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5)', () => {
    const x = new Float32Array(32);
    for (let j = 0; j < 32; j++) x[j] = j;
    x[1] = 0.5; // → 1
    x[2] = 2.49; // → 2
    const b = encodeTensor(GGMLType.Q5_1, x);
    const qs = Array.from({ length: 16 }, (_, j) => j | (j << 4));
    expect(hex(b)).toBe(hex(new Uint8Array([0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, ...qs])));
    expect(Array.from(decodeTensor(GGMLType.Q5_1, b, 32))).toEqual(Array.from({ length: 32 }, (_, j) => j));
  });

  it('Q8_1: like Q8_0 plus s = d·Σq as f16', () => {
    const x = new Float32Array(32);
    x.set([127, -1, 2.5]);
    const b = encodeTensor(GGMLType.Q8_1, x);
    // d = 1; q = 127, −1, 3 → Σ = 129 → f16(129) = 0x5808.
    expect(hex(b.subarray(0, 7))).toBe('00 3c 08 58 7f ff 03');
  });
});

describe('known bytes: k-quants (decode ≡ dequantize_row_*_K)', () => {
  it('Q4_K: 6-bit scales and mins packed in 12 bytes, x = d·sc·q − dmin·m', () => {
    const b = new Uint8Array(144);
    b.set([0x00, 0x3c, 0x00, 0x38]); // d = 1, dmin = 0.5
    // scales: sc0..3 = 1,2,3,4 (byte 0 also carries the top bits 01 of sc4), m0 = 3,
    // byte 8 = 0x25 → sc4 = 5 | 1<<4 = 21, m4 = 2.
    b.set([65, 2, 3, 4, 3, 0, 0, 0, 0x25, 0, 0, 0], 4);
    b[16 + 0] = 0x7a; // element 0: q 10 (sub-block 0); element 32: q 7 (sub-block 1)
    b[16 + 32] = 0xf1; // element 64: q 1 (sc 3); element 96: q 15 (sc 4)
    b[16 + 64] = 0x03; // element 128: q 3 (sc 21, m 2)
    const expected = new Float32Array(256);
    expected.fill(-1.5, 0, 32); // 1·0 − 0.5·3
    expected.fill(-1, 128, 160); // 21·0 − 0.5·2
    expected[0] = 8.5; // 10 − 1.5
    expected[32] = 14; // 2·7
    expected[64] = 3; // 3·1
    expected[96] = 60; // 4·15
    expected[128] = 62; // 21·3 − 1
    expect(Array.from(decodeTensor(GGMLType.Q4_K, b, 256))).toEqual(Array.from(expected));
  });

  it('Q5_K: Q4_K plus a fifth bit from qh', () => {
    const b = new Uint8Array(176);
    b.set([0x00, 0x3c, 0x00, 0x38]);
    b.set([65, 2, 3, 4, 3, 0, 0, 0, 0x25, 0, 0, 0], 4);
    b[16 + 0] = 0b11; // +16 for element 0 (u1 = 1) and element 32 (u2 = 2)
    b[16 + 1] = 0b10000; // bit 4 = u1 of the third pair: element 128 + 1
    b[16 + 2] = 0b100; // bit 2 = u1 of the second pair: element 64 + 2
    b[48 + 0] = 0x7a;
    b[48 + 64] = 0x03;
    const expected = new Float32Array(256);
    expected.fill(-1.5, 0, 32);
    expected.fill(-1, 128, 160);
    expected[0] = 24.5; // 1·(10 + 16) − 1.5
    expected[32] = 46; // 2·(7 + 16)
    expected[66] = 48; // 3·16
    expected[128] = 62; // 21·3 − 1
    expected[129] = 335; // 21·16 − 1
    expect(Array.from(decodeTensor(GGMLType.Q5_K, b, 256))).toEqual(Array.from(expected));
  });

  it('Q6_K: int8 scales per 16, 4+2-bit values, x = d·sc·(q − 32)', () => {
    const b = new Uint8Array(210);
    b.set([2, 0xfd, 4, 0, 1, 0, 0xff, 0, 10], 192); // sc0 2, sc1 −3, sc2 4, sc4 1, sc6 −1, sc8 10
    b.set([0x00, 0x38], 208); // d = 0.5
    b[0] = 0x5a; // ql[0]: low 0xA (element 0), high 0x5 (element 64)
    b[128] = 0xe4; // qh[0] = 11 10 01 00: +0 (el 0), +16 (el 32), +32 (el 64), +48 (el 96)
    b[64] = 0x0f; // second half ql[64] low → element 128
    b[128 + 32] = 0x03; // second half qh[32] → element 128 gets +48
    const e = new Float32Array(256);
    e.fill(-32, 0, 16); // 0.5·2·(−32)
    e.fill(48, 16, 32); // 0.5·(−3)·(−32)
    e.fill(-64, 32, 48); // 0.5·4·(−32)
    e.fill(-16, 64, 80); // 0.5·1·(−32)
    e.fill(16, 96, 112); // 0.5·(−1)·(−32)
    e.fill(-160, 128, 144); // 0.5·10·(−32)
    e[0] = -22; // 0.5·2·(10 − 32)
    e[32] = -32; // 0.5·4·(16 − 32)
    e[64] = 2.5; // 0.5·1·(5 + 32 − 32)
    e[96] = -8; // 0.5·(−1)·(48 − 32)
    e[128] = 155; // 0.5·10·(15 + 48 − 32)
    expect(plain(decodeTensor(GGMLType.Q6_K, b, 256))).toEqual(plain(e));
  });

  it('Q2_K: 4-bit scale and min per 16, 2-bit values, x = d·sc·q − dmin·m', () => {
    const b = new Uint8Array(84);
    b.set([0x21, 0x03, 0x10], 0); // (sc, m) = (1, 2), (3, 0), (0, 1)
    b[8] = 0x05; // second half, first 16: sc 5
    b[14] = 0x01; // second half, shift 6, first 16: sc 1
    b[16 + 0] = 0x0e; // element 0: q 2; element 32: q 3
    b[16 + 16] = 0x03; // element 16: q 3
    b[16 + 32] = 0xc0; // element 128: q 0; element 224: q 3
    b.set([0x00, 0x3c, 0x00, 0x3c], 80); // d = 1, dmin = 1
    const e = new Float32Array(256);
    e.fill(-2, 0, 16);
    e.fill(-1, 32, 48);
    e[0] = 0; // 1·2 − 2
    e[16] = 9; // 3·3
    e[32] = -1; // 0·3 − 1
    e[224] = 3; // 1·3
    expect(Array.from(decodeTensor(GGMLType.Q2_K, b, 256))).toEqual(Array.from(e));
  });

  it('Q3_K: 6-bit scales offset by 32, 2 low bits + hmask bit (clear subtracts 4)', () => {
    const b = new Uint8Array(110);
    b[0] = 0x11; // hmask[0]: bit 0 for element 0, bit 4 for element 128
    b[32 + 0] = 0x03; // element 0: q 3
    b[32 + 32] = 0x02; // element 128: q 2
    b[96 + 0] = 0x12; // scale 0 low 2, scale 8 low 1
    b[96 + 8] = 0x22; // scale 0 high 2 → 34 − 32 = 2; scale 8 high 2 → 33 − 32 = 1
    b.set([0x00, 0x3c], 108);
    const e = new Float32Array(256).fill(128); // scale 0 − 32 = −32, value 0 − 4
    e.fill(-8, 0, 16); // 2·(0 − 4)
    e.fill(-4, 128, 144); // 1·(0 − 4)
    e[0] = 6; // 2·3
    e[128] = 2; // 1·2
    expect(Array.from(decodeTensor(GGMLType.Q3_K, b, 256))).toEqual(Array.from(e));
  });

  it('Q8_K: iscale = −127/max, nearest_int ties to even, bsums per 16', () => {
    const x = new Float32Array(256);
    x.set([-2, 1, 0.5, -1, 5 / 128, 2]);
    const b = encodeTensor(GGMLType.Q8_K, x);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    // iscale = 63.5: −2→−127, 1→63.5→64, 0.5→31.75→32, −1→−63.5→−64, 0.0390625→2.48→2, 2→127.
    expect(Array.from(new Int8Array(b.buffer, b.byteOffset + 4, 6))).toEqual([-127, 64, 32, -64, 2, 127]);
    expect(v.getFloat32(0, true)).toBe(Math.fround(1 / 63.5));
    expect(v.getInt16(4 + 256, true)).toBe(34);
    expect(v.getInt16(4 + 256 + 2, true)).toBe(0);
    const y = decodeTensor(GGMLType.Q8_K, b, 256);
    expect(y[1]).toBe(Math.fround(Math.fround(1 / 63.5) * 64));
  });
});

/** Deterministic test data: a mix of scales, signs, outliers, zeros and constant blocks. */
function testData(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const block = Math.floor(i / 256);
    const scale = [1, 1e-3, 30, 0.02, 1][block % 5]!;
    x[i] = (rnd() * 2 - 1) * scale;
    if (block % 7 === 3) x[i] = 0; // all-zero block
    if (block % 7 === 4) x[i] = -0.25; // constant block
    if (i % 97 === 0) x[i] = x[i]! * 25; // outliers
  }
  return x;
}

/**
 * Largest error the reference quantiser can make on one block, from its scale choice. For
 * k-quants `block` is a sub-block and `superAmax` the largest magnitude in its super-block of 256.
 */
function bound(type: GGMLType, block: Float32Array, superAmax = 0): number {
  let amax = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of block) {
    amax = Math.max(amax, Math.abs(v));
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  // Rounding error of a value stored as f16: half an ulp, relative 2^-11 for normals, 2^-25 absolute below.
  const fe = (v: number): number => Math.abs(v) * 2 ** -11 + 2 ** -25;
  const tiny = 1e-30;
  switch (type) {
    case GGMLType.Q8_0:
    case GGMLType.Q8_1: {
      const d = amax / 127;
      return 0.5 * d * (1 + 1e-6) + 127 * fe(d) + tiny;
    }
    case GGMLType.Q8_K: // f32 scale
      return (amax / 127) * (0.5 + 1e-5) + tiny;
    case GGMLType.Q4_0: {
      // The extreme value maps to −8 exactly; the other side can clamp at +7: error up to one step.
      const d = amax / 8;
      return d * (1 + 1e-6) + 8 * fe(d) + tiny;
    }
    case GGMLType.Q5_0: {
      const d = amax / 16;
      return d * (1 + 1e-6) + 16 * fe(d) + tiny;
    }
    case GGMLType.Q4_1: {
      const d = (max - min) / 15;
      return 0.5 * d * (1 + 1e-5) + 15 * fe(d) + fe(min) + tiny;
    }
    case GGMLType.Q5_1: {
      const d = (max - min) / 31;
      return 0.5 * d * (1 + 1e-5) + 31 * fe(d) + fe(min) + tiny;
    }
    // k-quants choose scales by a weighted search (three steps of the plain grid over the
    // sub-block's range covers it: measured worst 1.3 for Q4_K, 2.2 for Q5_K and Q6_K) and store
    // scales and mins in 6 bits relative to the super-block's largest: half a step of that, plus a
    // sub-block whose scale rounds to 0 collapsing to its min, stays under 1.5·superAmax/63.
    case GGMLType.Q4_K:
      return (3 * (max - Math.min(min, 0))) / 15 + (1.5 * superAmax) / 63 + tiny;
    case GGMLType.Q5_K:
      return (3 * (max - Math.min(min, 0))) / 31 + (1.5 * superAmax) / 63 + tiny;
    case GGMLType.Q6_K:
      return (3 * 2 * amax) / 63 + (1.5 * superAmax) / 63 + tiny;
    // Q2_K and Q3_K: sub-blocks of 16, scales in 4 bits (Q2_K, with 4-bit mins) or 6 bits (Q3_K).
    case GGMLType.Q2_K:
      return (3 * (max - Math.min(min, 0))) / 3 + (1.5 * superAmax) / 15 + tiny;
    case GGMLType.Q3_K:
      return (3 * 2 * amax) / 7 + (1.5 * superAmax) / 31 + tiny;
    case GGMLType.F16:
      return fe(amax);
    case GGMLType.BF16:
      return amax * 2 ** -8;
    default:
      return 0;
  }
}

/** Largest magnitude in the super-block of 256 that holds element i. */
function superAmax(x: Float32Array, i: number): number {
  const start = i - (i % 256);
  let a = 0;
  for (let k = start; k < start + 256 && k < x.length; k++) a = Math.max(a, Math.abs(x[k]!));
  return a;
}

describe('round trips within the quantisation error', () => {
  const n = 256 * 35;
  const x = testData(n, 7);
  for (const type of encodableTypes()) {
    it(`${ggmlTypeName(type)}: every block within its bound, and sizes from the constants table`, () => {
      const b = encodeTensor(type, x);
      const { blockSize, typeSize } = GGML_TYPE_SIZE[type];
      expect(b.byteLength).toBe((n / blockSize) * typeSize);
      const y = decodeTensor(type, b, n);
      // The unit a bound is computed on: the quantisation block, or the sub-block for k-quants.
      const unit = type === GGMLType.Q4_K || type === GGMLType.Q5_K ? 32 : type === GGMLType.Q6_K || type === GGMLType.Q2_K || type === GGMLType.Q3_K ? 16 : blockSize;
      let worst = 0;
      for (let i = 0; i < n; i += unit) {
        const blk = x.subarray(i, i + unit);
        const lim = type === GGMLType.F32 ? 0 : bound(type, blk, superAmax(x, i));
        for (let j = 0; j < unit; j++) {
          const e = Math.abs(y[i + j]! - blk[j]!);
          if (e > lim) throw new Error(`${ggmlTypeName(type)} element ${i + j}: |${y[i + j]} − ${blk[j]}| = ${e} > ${lim}`);
          worst = Math.max(worst, e / (lim || 1));
        }
      }
      // The bound is not vacuous: on random data the worst block uses a good part of it (the
      // k-quant bounds carry a super-block term that outliers inflate, hence the lower bar).
      if (type !== GGMLType.F32) expect(worst).toBeGreaterThan(unit === blockSize ? 0.3 : 0.1);
      // Zero blocks stay exactly zero; re-encoding the decoded values is stable.
      expect(Array.from(y.subarray(256 * 3, 256 * 4)).every((v) => v === 0)).toBe(true);
      const again = decodeTensor(type, encodeTensor(type, y), n);
      for (let i = 0; i < n; i += unit) {
        const lim = bound(type, y.subarray(i, i + unit), superAmax(y, i));
        for (let j = i; j < i + unit; j++) if (Math.abs(again[j]! - y[j]!) > lim) throw new Error(`${ggmlTypeName(type)} re-encode element ${j}`);
      }
    });
  }

  it('decodes from any byte offset and into a caller-provided buffer', () => {
    for (const type of encodableTypes()) {
      const b = encodeTensor(type, x.subarray(0, 512));
      const shifted = new Uint8Array(b.byteLength + 3);
      shifted.set(b, 3);
      const out = new Float32Array(512);
      decodeTensor(type, shifted.subarray(3), 512, out);
      expect(Array.from(out)).toEqual(Array.from(decodeTensor(type, b, 512)));
    }
  });
});

describe('k-quant encoders (quantize_row_q{2,3,4,5,6}_K_ref)', () => {
  /** Gaussian values (Box–Muller) with a few outliers, deterministic. */
  function gaussian(n: number): Float32Array {
    let seed = 99;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed + 0.5) / 2 ** 32;
    };
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()) * (i % 61 === 0 ? 6 : 1);
    return x;
  }
  const relRmse = (type: GGMLType, x: Float32Array): number => {
    const y = decodeTensor(type, encodeTensor(type, x), x.length);
    let e = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      e += (y[i]! - x[i]!) ** 2;
      s += x[i]! ** 2;
    }
    return Math.sqrt(e / s);
  };

  it('more bits, less error: Q6_K < Q5_K < Q4_K < Q3_K < Q2_K, and each k-quant beats the legacy type of its size', () => {
    const x = gaussian(256 * 40);
    const r = Object.fromEntries(
      [GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_0, GGMLType.Q5_K, GGMLType.Q6_K, GGMLType.Q8_0].map((t) => [ggmlTypeName(t), relRmse(t, x)]),
    );
    expect(r.Q3_K!).toBeLessThan(r.Q2_K!);
    expect(r.Q4_K!).toBeLessThan(r.Q3_K!);
    expect(r.Q6_K!).toBeLessThan(r.Q5_K!);
    expect(r.Q5_K!).toBeLessThan(r.Q4_K!);
    expect(r.Q4_K!).toBeLessThan(r.Q4_0!);
    expect(r.Q4_K!).toBeLessThan(r.Q4_1!);
    expect(r.Q5_K!).toBeLessThan(r.Q5_0!);
    expect(r.Q8_0!).toBeLessThan(r.Q6_K!);
    // Typical figures for 4, 5 and 6 bits on Gaussian weights.
    expect(r.Q4_K!).toBeLessThan(0.1);
    expect(r.Q5_K!).toBeLessThan(0.05);
    expect(r.Q6_K!).toBeLessThan(0.03);
  });

  it('Q6_K: values on its grid come back exactly (d = −1/128 as f16 0xA000, every scale −128)', () => {
    const x = new Float32Array(256);
    for (let i = 0; i < 256; i++) x[i] = i % 16 === 0 ? -32 : ((i * 7) % 64) - 32;
    const b = encodeTensor(GGMLType.Q6_K, x);
    expect(hex(b.subarray(208, 210))).toBe('00 a0');
    expect(Array.from(b.subarray(192, 208))).toEqual(new Array(16).fill(0x80));
    expect(Array.from(decodeTensor(GGMLType.Q6_K, b, 256))).toEqual(Array.from(x));
  });

  it('Q4_K and Q5_K: values on the grid come back within the f16 rounding of the scale; zero blocks stay zero', () => {
    for (const [type, nmax] of [
      [GGMLType.Q4_K, 15],
      [GGMLType.Q5_K, 31],
    ] as const) {
      const x = new Float32Array(512);
      for (let i = 0; i < 256; i++) x[i] = i % 32 === 0 ? nmax : (i * 5) % (nmax + 1);
      const y = decodeTensor(type, encodeTensor(type, x), 512);
      for (let i = 0; i < 256; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(nmax * 2 ** -11);
      expect(Array.from(y.subarray(256)).every((v) => v === 0)).toBe(true);
    }
  });
});

describe('registry', () => {
  it('decodes the required types and encodes the required output types', () => {
    const dec = decodableTypes().map(ggmlTypeName);
    for (const t of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K']) expect(dec).toContain(t);
    for (const t of [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1]) {
      expect(canEncode(t)).toBe(true);
    }
    for (const t of decodableTypes()) {
      const c = getCodec(t);
      expect(c.blockSize).toBe(GGML_TYPE_SIZE[t].blockSize);
      expect(c.typeSize).toBe(GGML_TYPE_SIZE[t].typeSize);
    }
  });

  it('names the type and the alternatives when a type is unsupported', () => {
    expect(() => getCodec(GGMLType.IQ2_XXS)).toThrow(GGUFError);
    expect(() => getCodec(GGMLType.IQ2_XXS)).toThrow(/cannot decode IQ2_XXS.*Q8_0/);
    expect(canEncode(GGMLType.IQ4_NL)).toBe(false);
    expect(() => encodeTensor(GGMLType.IQ4_NL, new Float32Array(256))).toThrow(/cannot encode IQ4_NL tensors; it can encode F32, .*Q4_K.* — choose one of them/);
  });

  it('rejects partial blocks, short buffers and non-finite values for quantised types', () => {
    expect(() => encodeTensor(GGMLType.Q8_0, new Float32Array(31))).toThrow(/multiple of the block size 32/);
    expect(() => decodeTensor(GGMLType.Q4_0, new Uint8Array(17), 32)).toThrow(/need 18 bytes, got 17/);
    const bad = new Float32Array(32);
    bad[5] = NaN;
    expect(() => encodeTensor(GGMLType.Q4_0, bad)).toThrow(/value 5 is NaN/);
    expect(Number.isNaN(decodeTensor(GGMLType.F16, encodeTensor(GGMLType.F16, bad), 32)[5])).toBe(true);
    expect(fitsType(GGMLType.Q8_0, 64)).toBe(true);
    expect(fitsType(GGMLType.Q4_K, 172)).toBe(false);
  });
});
