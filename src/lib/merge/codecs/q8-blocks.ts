/**
 * The int8 blocks Q8_0 and Q8_1 share: 32 values as { f16 d; [f16 s;] int8 qs[32] }, d = amax/127,
 * q = round(x/d), x = d·q. Q8_1 adds s = d·Σq after d (quantize_row_q8_0_ref and
 * quantize_row_q8_1_ref in ggml-quants.c differ only there).
 */
import { readF16, writeF16 } from './half.ts';
import { fr, roundf } from './round.ts';

export const QK8 = 32;

/** Where a block's fields sit: the int8 values at `qsOffset`; s at `sumOffset` (Q8_1) or nowhere (null). */
export interface Q8Layout {
  typeSize: number;
  qsOffset: number;
  sumOffset: number | null;
}

export function decodeQ8Blocks(bytes: Uint8Array, nb: number, layout: Q8Layout, y: Float32Array): Float32Array {
  for (let i = 0; i < nb; i++) {
    const o = i * layout.typeSize;
    const d = readF16(bytes, o);
    for (let j = 0; j < QK8; j++) y[i * QK8 + j] = ((bytes[o + layout.qsOffset + j]! << 24) >> 24) * d;
  }
  return y;
}

export function encodeQ8Blocks(x: Float32Array, nb: number, layout: Q8Layout, y: Uint8Array): Uint8Array {
  for (let i = 0; i < nb; i++) {
    const o = i * layout.typeSize;
    let amax = 0;
    for (let j = 0; j < QK8; j++) amax = Math.max(amax, Math.abs(x[i * QK8 + j]!));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeF16(y, o, d);
    let sum = 0;
    for (let j = 0; j < QK8; j++) {
      const q = roundf(fr(x[i * QK8 + j]! * id));
      y[o + layout.qsOffset + j] = q & 0xff;
      sum += q;
    }
    if (layout.sumOffset !== null) writeF16(y, o + layout.sumOffset, fr(sum * d));
  }
  return y;
}
