/**
 * Q2_K: super-blocks of 256 as { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin } — sixteen
 * sub-blocks of 16 with a 4-bit scale (low nibble) and 4-bit min (high nibble), 2-bit values,
 * x = d·sc·q − dmin·m (block_q2_K). decode ≡ dequantize_row_q2_K, encode ≡ quantize_row_q2_K_ref
 * (ggml-quants.c; the reference used without an importance matrix).
 */
import { GGML_TYPE_SIZE, GGMLType } from '../gguf/types.ts';
import { readF16, writeF16 } from './half.ts';
import { QK_K, makeQkx2Quants, pack2Bit } from './kquants-common.ts';
import { fr, nearestInt } from './round.ts';
import { checkDecode, checkEncode, type Codec } from './types.ts';

const T = GGML_TYPE_SIZE[GGMLType.Q2_K];

export const q2_KCodec: Codec = {
  type: GGMLType.Q2_K,
  ...T,
  decode(bytes, n, out) {
    const nb = checkDecode(T, bytes, n, out);
    const y = out ?? new Float32Array(n);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const d = readF16(bytes, o + 80);
      const dmin = readF16(bytes, o + 82);
      let q = o + 16;
      let k = i * QK_K;
      let is = 0;
      for (let half = 0; half < 2; half++) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (let part = 0; part < 2; part++) {
            const sc = bytes[o + is++]!;
            const dl = d * (sc & 0x0f);
            const ml = dmin * (sc >> 4);
            for (let l = 0; l < 16; l++) y[k++] = dl * ((bytes[q + part * 16 + l]! >> shift) & 3) - ml;
          }
        }
        q += 32;
      }
    }
    return y;
  },
  encode(x, out) {
    const nb = checkEncode(T, x, out, true);
    const y = out ?? new Uint8Array(nb * T.typeSize);
    const L = new Uint8Array(QK_K);
    const Laux = new Uint8Array(16);
    const weights = new Float32Array(16);
    const scales = new Float32Array(16);
    const mins = new Float32Array(16);
    for (let i = 0; i < nb; i++) {
      const o = i * T.typeSize;
      const xo = i * QK_K;
      let maxScale = 0;
      let maxMin = 0;
      for (let j = 0; j < 16; j++) {
        for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]!);
        // Absolute-error fit (use_mad), 16 trial scales from rmin −0.5 in steps of 0.1.
        const [s, m] = makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, Laux, -0.5, fr(0.1), 15, true);
        scales[j] = s;
        mins[j] = m;
        if (s > maxScale) maxScale = s;
        if (m > maxMin) maxMin = m;
      }
      y.fill(0, o, o + 16);
      if (maxScale > 0) {
        const iscale = fr(15 / maxScale);
        for (let j = 0; j < 16; j++) y[o + j] = nearestInt(fr(iscale * scales[j]!)) & 0xff;
        writeF16(y, o + 80, fr(maxScale / 15));
      } else {
        writeF16(y, o + 80, 0);
      }
      if (maxMin > 0) {
        const iscale = fr(15 / maxMin);
        for (let j = 0; j < 16; j++) y[o + j] = (y[o + j]! | (nearestInt(fr(iscale * mins[j]!)) << 4)) & 0xff;
        writeF16(y, o + 82, fr(maxMin / 15));
      } else {
        writeF16(y, o + 82, 0);
      }
      const dAll = readF16(y, o + 80);
      const mAll = readF16(y, o + 82);
      for (let j = 0; j < 16; j++) {
        const d = fr(dAll * (y[o + j]! & 0x0f));
        if (d === 0) continue;
        const dm = fr(mAll * (y[o + j]! >> 4));
        for (let ii = 0; ii < 16; ii++) {
          L[16 * j + ii] = Math.max(0, Math.min(3, nearestInt(fr(fr(x[xo + 16 * j + ii]! + dm) / d))));
        }
      }
      pack2Bit(L, y, o + 16);
    }
    return y;
  },
};
