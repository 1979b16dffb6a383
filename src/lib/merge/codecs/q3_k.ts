/**
 * Q3_K: super-blocks of 256 as { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d } — sixteen
 * sub-blocks of 16 with 6-bit scales (packed in 12 bytes, offset by 32), 2 low bits in qs and a
 * high bit in hmask that, when clear, subtracts 4: x = d·(sc − 32)·q (block_q3_K).
 * decode ≡ dequantize_row_q3_K (ggml-quants.c), including its kmask1/kmask2 scale unpacking;
 * encode ≡ quantize_row_q3_K_ref (without an importance matrix).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { QK_K, makeQ3Quants, pack2Bit } from './kquants-common.ts';
import { fr, nearestInt } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q3_K];

/** Unpacks the sixteen 6-bit scales: low 4 bits from bytes 0–7 (nibbles), top 2 bits from bytes 8–11. */
function scales(bytes: Uint8Array, o: number): Int8Array {
  const s = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? bytes[o + j]! & 0x0f : bytes[o + j - 8]! >> 4;
    const high = (bytes[o + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
    s[j] = (low | (high << 4)) - 32;
  }
  return s;
}

export const q3_KCodec: Codec = {
  type: GGMLType.Q3_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o + 108);
      const sc = scales(bytes, o + 96);
      const hm = o;
      let q = o + 32;
      let k = i * QK_K;
      let is = 0;
      let m = 1;
      for (let half = 0; half < 2; half++) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (let part = 0; part < 2; part++) {
            const dl = d * sc[is++]!;
            for (let l = 0; l < 16; l++) {
              const idx = part * 16 + l;
              y[k++] = dl * (((bytes[q + idx]! >> shift) & 3) - (bytes[hm + idx]! & m ? 0 : 4));
            }
          }
          m <<= 1;
        }
        q += 32;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    const L = new Int8Array(QK_K);
    const scales = new Float32Array(16);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const xo = i * QK_K;
      let maxScale = 0;
      let amax = 0;
      for (let j = 0; j < 16; j++) {
        scales[j] = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
        if (Math.abs(scales[j]!) > amax) {
          amax = Math.abs(scales[j]!);
          maxScale = scales[j]!;
        }
      }
      y.fill(0, o, o + T.typeSize);
      const sc = o + 96;
      if (maxScale !== 0) {
        const iscale = fr(-32 / maxScale);
        for (let j = 0; j < 16; j++) {
          // C keeps the level in an int8_t: wrap, clamp to [−32, 31], offset by 32.
          const l = Math.max(-32, Math.min(31, (nearestInt(fr(iscale * scales[j]!)) << 24) >> 24)) + 32;
          if (j < 8) y[sc + j] = l & 0x0f;
          else y[sc + j - 8]! |= (l & 0x0f) << 4;
          y[sc + 8 + (j % 4)]! |= (l >> 4) << (2 * Math.floor(j / 4));
        }
        writeF16(y, o + 108, fr(1 / iscale));
      }
      const dAll = readF16(y, o + 108);
      for (let j = 0; j < 16; j++) {
        const low = j < 8 ? y[sc + j]! & 0x0f : y[sc + j - 8]! >> 4;
        const s = (low | (((y[sc + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3) << 4)) - 32;
        const d = fr(dAll * s);
        if (d === 0) continue;
        for (let ii = 0; ii < 16; ii++) {
          L[16 * j + ii] = Math.max(-4, Math.min(3, nearestInt(fr(x[xo + 16 * j + ii]! / d)))) + 4;
        }
      }
      // The high bit of each level goes to hmask: bit k of hmask[m] for value 32·k + m.
      for (let j = 0; j < QK_K; j++) {
        if (L[j]! > 3) {
          y[o + (j % 32)]! |= 1 << Math.floor(j / 32);
          L[j] = L[j]! - 4;
        }
      }
      pack2Bit(L, y, o + 32);
    }
    return y;
  },
};
