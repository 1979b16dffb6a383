/**
 * A method's fused F16 path (MethodDescriptor.kernelF16) must give the very bits that the general
 * path gives — decode each input with the F16 codec, run the f32 kernel, encode with the F16 codec —
 * since the executor picks the fused path whenever every input and the output are F16.
 */
import { describe, it, expect } from 'vitest';
import { METHODS } from '../../src/lib/merge/methods/index.ts';
import { getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType } from '../../src/lib/merge/gguf/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

function randomHalves(rnd: () => number, n: number, anyBits: boolean): Uint16Array {
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    // Either any 16-bit pattern (subnormals, ±0, ±Inf, NaN included) or ordinary weights near 0.
    h[i] = anyBits ? Math.floor(rnd() * 65536) : (rnd() < 0.5 ? 0x8000 : 0) | (0x2000 + Math.floor(rnd() * 0x1c00));
  }
  return h;
}

const bytesOf = (h: Uint16Array) => new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
/** NaN results may differ in sign and payload (JavaScript leaves them unspecified): compare NaN as one class. */
const canon = (h: Uint16Array) => Array.from(h, (x) => ((x & 0x7c00) === 0x7c00 && (x & 0x3ff) !== 0 ? 0x7e00 : x));

const fused = [...METHODS.values()].filter((m) => m.kernelF16);

describe('fused F16 kernels equal decode → kernel → encode', () => {
  it('at least one method has a fused path (linear)', () => {
    expect(fused.map((m) => m.id)).toContain('linear');
  });
  for (const method of fused) {
    for (const [inputs, anyBits, normalize] of [[2, false, true], [3, false, false], [1, true, true], [4, true, false]] as const) {
      it(`${method.id}: ${inputs} input(s), ${anyBits ? 'any bit patterns' : 'ordinary weights'}, normalize ${normalize}`, () => {
        const rnd = mulberry32(inputs * 31 + (anyBits ? 7 : 0));
        const n = 5000;
        const halves = Array.from({ length: inputs }, () => randomHalves(rnd, n, anyBits));
        const modelParams = halves.map((_, i) => ({ weight: 0.25 + 0.5 * i }));
        const common = { name: 'blk.0.ffn_up.weight', shape: [n], baseIndex: null, params: { normalize }, modelParams, seed: 1 };
        const f16 = getCodec(GGMLType.F16);
        const tensors = halves.map((h) => f16.decode(bytesOf(h), n));
        const general = f16.encode!(method.kernel({ ...common, tensors } as never).data);
        const out = new Uint16Array(n);
        method.kernelF16!({ ...common, halves, out } as never);
        expect(canon(out)).toEqual(canon(new Uint16Array(general.buffer, general.byteOffset, n)));
      });
    }
  }
});
