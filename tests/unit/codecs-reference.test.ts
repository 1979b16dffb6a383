/**
 * Codecs against independent implementations. Reference vectors written by ggml's own C reference
 * quantisers (quantize_row_*_ref, tests/fixtures/make_ggml_reference.sh) and by llama.cpp's Python
 * package (gguf-py quants.py, tests/fixtures/make_reference.py). Encodes must give identical
 * bytes, decodes identical f32 bits.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeTensor, encodeTensor } from '../../src/lib/merge/codecs/index.ts';
import { ggmlTypeFromName } from '../../src/lib/merge/gguf/index.ts';
import { REPO_ROOT } from '../support/paths.ts';

interface Case {
  type: string;
  op: 'encode' | 'decode';
  n: number;
  input: string;
  output: string;
}
const ref = JSON.parse(readFileSync(`${REPO_ROOT}/tests/fixtures/quant-reference.json`, 'utf8')) as { generator: string; cases: Case[] };
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const f32 = (b64: string): Float32Array => {
  const b = bytes(b64);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

describe(`codecs match ${ref.generator}`, () => {
  it('covers every type the brief requires', () => {
    const enc = ref.cases.filter((c) => c.op === 'encode').map((c) => c.type);
    const dec = ref.cases.filter((c) => c.op === 'decode').map((c) => c.type);
    expect(enc).toEqual(['BF16', 'F16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0']);
    expect(dec).toEqual(['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K']);
  });

  for (const c of ref.cases) {
    it(`${c.type} ${c.op}: ${c.n} values bit for bit`, () => {
      const type = ggmlTypeFromName(c.type)!;
      if (c.op === 'encode') {
        const got = encodeTensor(type, f32(c.input));
        const want = bytes(c.output);
        const diff = got.findIndex((b, i) => b !== want[i]);
        expect(diff, `first differing byte ${diff}`).toBe(-1);
        expect(got.byteLength).toBe(want.byteLength);
      } else {
        const got = new Uint32Array(decodeTensor(type, bytes(c.input), c.n).buffer);
        const want = new Uint32Array(f32(c.output).buffer);
        const diff = got.findIndex((b, i) => b !== want[i]);
        expect(diff, `first differing value ${diff}`).toBe(-1);
      }
    });
  }
});

const ggml = JSON.parse(readFileSync(`${REPO_ROOT}/tests/fixtures/ggml-reference.json`, 'utf8')) as {
  generator: string;
  blocks: string[];
  input: string;
  encoded: Record<string, string>;
};

describe(`encoders match ${ggml.generator}`, () => {
  const x = f32(ggml.input);
  it(`covers the k-quants and legacy types on ${ggml.blocks.length} kinds of super-block (${ggml.blocks.join(', ')})`, () => {
    expect(Object.keys(ggml.encoded)).toEqual(['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K']);
    expect(x.length).toBe(256 * ggml.blocks.length);
  });
  for (const [name, b64] of Object.entries(ggml.encoded)) {
    it(`${name}: identical bytes`, () => {
      const want = bytes(b64);
      const got = encodeTensor(ggmlTypeFromName(name)!, x);
      expect(got.byteLength).toBe(want.byteLength);
      const diff = got.findIndex((b, i) => b !== want[i]);
      expect(diff, `first differing byte ${diff}`).toBe(-1);
    });
  }
});
