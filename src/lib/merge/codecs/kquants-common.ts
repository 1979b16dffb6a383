/** Shared pieces of the k-quant codecs (ggml-quants.c), super-blocks of QK_K = 256 elements. */
export const QK_K = 256;

/**
 * get_scale_min_k4: the 12-byte packing of eight 6-bit (scale, min) pairs used by Q4_K and Q5_K.
 * Pairs 0–3 are the low 6 bits of bytes 0–3 (scales) and 4–7 (mins); pairs 4–7 keep their low
 * 4 bits in bytes 8–11 and their top 2 bits in the spare top bits of bytes 0–7.
 */
export function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  return [(q[o + j + 4]! & 0x0f) | ((q[o + j - 4]! >> 6) << 4), (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4)];
}
