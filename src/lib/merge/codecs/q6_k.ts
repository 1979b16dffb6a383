/**
 * Q6_K: super-blocks of 256 as { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } — sixteen
 * sub-blocks of 16 with an 8-bit signed scale, 6-bit values (4 low bits in ql, 2 high in qh),
 * x = d·sc·(q − 32) (block_q6_K). encode ≡ quantize_row_q6_K_ref (without an importance matrix),
 * decode ≡ dequantize_row_q6_K (ggml-quants.c): C computes
 * (d·sc)·q in float; d·sc is exact and the double product rounds once at the store, the same.
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { GROUP_MAX_EPS, QK_K, makeQxQuants } from './kquants-common.ts';
import { fr, nearestInt } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q6_K];

export const q6_KCodec: Codec = {
  type: GGMLType.Q6_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o + 208);
      let ql = o;
      let qh = o + 128;
      let sc = o + 192;
      let k = i * QK_K;
      for (let half = 0; half < 2; half++) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = bytes[qh + l]!;
          const q1 = ((bytes[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
          const q2 = ((bytes[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
          y[k + l] = d * ((bytes[sc + is]! << 24) >> 24) * q1;
          y[k + l + 32] = d * ((bytes[sc + is + 2]! << 24) >> 24) * q2;
          y[k + l + 64] = d * ((bytes[sc + is + 4]! << 24) >> 24) * q3;
          y[k + l + 96] = d * ((bytes[sc + is + 6]! << 24) >> 24) * q4;
        }
        k += 128;
        ql += 64;
        qh += 32;
        sc += 8;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    const L = new Uint8Array(QK_K);
    const scales = new Float32Array(16);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const xo = i * QK_K;
      let maxScale = 0;
      let maxAbsScale = 0;
      for (let ib = 0; ib < 16; ib++) {
        const s = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
        scales[ib] = s;
        if (Math.abs(s) > maxAbsScale) {
          maxAbsScale = Math.abs(s);
          maxScale = s;
        }
      }
      y.fill(0, o, o + T.typeSize);
      if (maxAbsScale < GROUP_MAX_EPS) continue;
      const iscale = fr(-128 / maxScale);
      writeF16(y, o + 208, fr(1 / iscale));
      for (let ib = 0; ib < 16; ib++) y[o + 192 + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]!))) & 0xff;
      const dAll = readF16(y, o + 208);
      for (let j = 0; j < 16; j++) {
        const d = fr(dAll * ((y[o + 192 + j]! << 24) >> 24));
        if (d === 0) continue;
        for (let ii = 0; ii < 16; ii++) {
          const l = Math.max(-32, Math.min(31, nearestInt(fr(x[xo + 16 * j + ii]! / d))));
          L[16 * j + ii] = l + 32;
        }
      }
      for (let j = 0, ql = o, qh = o + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
        for (let l = 0; l < 32; l++) {
          const a = L[j + l]!;
          const b = L[j + l + 32]!;
          const c = L[j + l + 64]!;
          const e = L[j + l + 96]!;
          y[ql + l] = (a & 0x0f) | ((c & 0x0f) << 4);
          y[ql + l + 32] = (b & 0x0f) | ((e & 0x0f) << 4);
          y[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
        }
      }
    }
    return y;
  },
};
