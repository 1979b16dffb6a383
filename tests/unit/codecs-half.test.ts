/** f16 and bf16 conversions: exhaustive over every 16-bit pattern, ties to even, subnormals, Inf, NaN. */
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../src/lib/merge/codecs/index.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsToF32 = (u: number): number => {
  u32[0] = u >>> 0;
  return f32[0]!;
};
const f32Bits = (x: number): number => {
  f32[0] = x;
  return u32[0]!;
};

describe('f16', () => {
  it('decodes known patterns by the IEEE definition', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it('round-trips every one of the 65,536 patterns (NaN becomes the quiet NaN)', () => {
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      const back = f32ToF16(f16ToF32(h));
      // JS numbers do not promise to keep a NaN's sign, so only the quiet-NaN pattern is checked.
      if (isNaN ? (back & 0x7fff) !== 0x7e00 : back !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('rounds every midpoint between neighbours to the even one, and one f32 ulp either side to the nearer', () => {
    let checked = 0;
    const bad: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      for (const sign of [0, 0x8000]) {
        const a = f16ToF32(sign | h);
        const b = f16ToF32(sign | (h + 1));
        const mid = (a + b) / 2; // exact in f32: 12 significant bits at most
        if (Math.fround(mid) !== mid) bad.push(-1);
        const even = (h & 1) === 0 ? sign | h : sign | (h + 1);
        const mb = f32Bits(mid);
        // One ulp of the f32 midpoint towards a, and towards b (magnitudes grow with the bits).
        if (f32ToF16(mid) !== even || f32ToF16(bitsToF32(mb - 1)) !== (sign | h) || f32ToF16(bitsToF32(mb + 1)) !== (sign | (h + 1))) {
          bad.push(sign | h);
        }
        checked++;
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBe(2 * 0x7bff);
  });

  it('overflows to infinity from 65520 (the midpoint above 65504) and keeps tiny values as subnormals', () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(bitsToF32(f32Bits(65520) - 1))).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-1e10)).toBe(0xfc00);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(NaN)).toBe(0x7e00);
    expect(f32ToF16(2 ** -25)).toBe(0); // exactly half of the smallest subnormal: ties to even 0
    expect(f32ToF16(bitsToF32(f32Bits(2 ** -25) + 1))).toBe(1);
    expect(f32ToF16(3 * 2 ** -25)).toBe(2); // 1.5 units: ties to even 2
    expect(f32ToF16(-(2 ** -30))).toBe(0x8000);
    expect(f32ToF16(1e-45)).toBe(0); // smallest f32 subnormal
    expect(f32ToF16(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the smallest normal
  });

  it('is the nearest f16 for 100,000 random f32 bit patterns (property)', () => {
    const bad: number[] = [];
    let seed = 12345;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    let tested = 0;
    for (let i = 0; i < 100000; i++) {
      // Half the samples in the f16 range, half anywhere.
      const u = rnd();
      const x = i % 2 === 0 ? bitsToF32(u) : bitsToF32((u & 0x80000000) | (0x33000000 + (u % 0x14800000)));
      if (!Number.isFinite(x) || Math.abs(x) >= 65520) continue;
      tested++;
      const h = f32ToF16(x);
      const y = f16ToF32(h);
      // No f16 neighbour of y is strictly nearer to x, and the sign is kept.
      const mag = h & 0x7fff;
      const sign = h & 0x8000;
      const err = Math.abs(y - x);
      if (mag < 0x7bff && Math.abs(f16ToF32(sign | (mag + 1)) - x) < err) bad.push(x);
      if (mag > 0 && Math.abs(f16ToF32(sign | (mag - 1)) - x) < err) bad.push(x);
      if (x !== 0 && y !== 0 && Math.sign(y) !== Math.sign(x)) bad.push(x);
    }
    expect(bad).toEqual([]);
    expect(tested).toBeGreaterThan(50000);
  });
});

describe('bf16', () => {
  it('round-trips every non-NaN pattern and keeps NaNs quiet NaNs', () => {
    const bad: number[] = [];
    for (let b = 0; b < 65536; b++) {
      const isNaN = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
      const back = f32ToBf16(bf16ToF32(b));
      if (isNaN ? (back & 0x7fc0) !== 0x7fc0 : back !== b) bad.push(b);
    }
    expect(bad).toEqual([]);
  });

  it('rounds to nearest even on the top 16 bits, subnormals included', () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(bitsToF32(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(bitsToF32(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(bitsToF32(0x3f808001))).toBe(0x3f81);
    expect(f32ToBf16(bitsToF32(0x00008000))).toBe(0x0000); // subnormal tie to even zero
    expect(f32ToBf16(bitsToF32(0x00018000))).toBe(0x0002);
    expect(f32ToBf16(bitsToF32(0x7f7fffff))).toBe(0x7f80); // max float rounds to infinity
    expect(f32ToBf16(bitsToF32(0x7f800001))).toBe(0x7fc0); // signalling NaN made quiet
    expect(f32ToBf16(bitsToF32(0xff800000))).toBe(0xff80);
    expect(bf16ToF32(0xc040)).toBe(-3);
  });
});
