/** Shared pieces of the k-quant codecs (ggml-quants.c), super-blocks of QK_K = 256 elements. */
import { fr, maxByMagnitude, nearestInt } from './round.ts';

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


/** ggml-quants.c GROUP_MAX_EPS: below this a group counts as all zero. */
export const GROUP_MAX_EPS = Math.fround(1e-15);

/**
 * make_qkx2_quants (ggml-quants.c): fits x ≈ scale·L − min with L in [0, nmax] for one sub-block,
 * minimising the weighted squared (or, with useMad, absolute) error over nstep+1 trial scales. Every float operation of the C
 * code is rounded to f32 here (no fused multiply-add, as in a build without FMA contraction).
 * Writes L; returns [scale, the_min] where the_min = −min ≥ 0.
 */
export function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  weights: Float32Array,
  L: Uint8Array,
  lo: number,
  Laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
  useMad = false,
): [number, number] {
  let min = x[xo]!;
  let max = x[xo]!;
  let sumW = weights[0]!;
  let sumX = fr(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const v = x[xo + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    const w = weights[i]!;
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(fr(iscale * fr(x[xo + i]! - min)))));
    L[lo + i] = l;
    let diff = fr(fr(fr(scale * l) + min) - x[xo + i]!);
    diff = useMad ? Math.abs(diff) : fr(diff * diff);
    bestError = fr(bestError + fr(weights[i]! * diff));
  }
  if (nstep < 1) return [scale, -min];
  for (let is = 0; is <= nstep; is++) {
    // `min` is the best fit so far, as in C: later trials measure from it.
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(fr(iscale * fr(x[xo + i]! - min)))));
      Laux[i] = l;
      const wl = fr(weights[i]! * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[xo + i]!));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = fr(fr(fr(thisScale * Laux[i]!) + thisMin) - x[xo + i]!);
        diff = useMad ? Math.abs(diff) : fr(diff * diff);
        curError = fr(curError + fr(weights[i]! * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * make_qx_quants with rmse_type 1 and no importance weights (ggml-quants.c), as
 * quantize_row_q6_K_ref calls it: symmetric levels L − nmax in [−nmax, nmax − 1], weights x²,
 * 19 trial scales around −nmax/max. Writes L (offset by nmax); returns the scale.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  const max = maxByMagnitude(x, xo, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const clampL = (v: number): number => Math.max(-nmax, Math.min(nmax - 1, v));
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const l = clampL(nearestInt(fr(iscale * v)));
    L[lo + i] = l + nmax;
    const w = fr(v * v);
    sumlx = fr(sumlx + fr(fr(w * v) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i]!;
      const l = clampL(nearestInt(fr(iscale * v)));
      const w = fr(v * v);
      sumlx = fr(sumlx + fr(fr(w * v) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + clampL(nearestInt(fr(iscale * x[xo + i]!)));
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_q3_quants with do_rmse (ggml-quants.c), as quantize_row_q3_K_ref calls it: symmetric levels
 * in [−nmax, nmax − 1] from −nmax/max, then up to five passes that move single values to a level
 * that improves the x²-weighted fit. Writes L (offset by nmax); returns the scale.
 */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = maxByMagnitude(x, xo, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const clampL = (v: number): number => Math.max(-nmax, Math.min(nmax - 1, v));
  const iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const l = clampL(nearestInt(fr(iscale * v)));
    L[lo + i] = l;
    const w = fr(v * v);
    sumlx = fr(sumlx + fr(fr(w * v) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i]!;
      const w = fr(v * v);
      const li = L[lo + i]!;
      let slx = fr(sumlx - fr(fr(w * v) * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        const nl = clampL(nearestInt(fr(fr(v * sl2) / slx)));
        if (nl !== li) {
          slx = fr(slx + fr(fr(w * v) * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[lo + i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = L[lo + i]! + nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/** Packs 2-bit levels as Q2_K and Q3_K store them: four 32-value groups per byte column, per 128. */
export function pack2Bit(L: ArrayLike<number>, y: Uint8Array, o: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      y[o + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
}

/** The q4_K/q5_K packing of eight 6-bit (scale, min) pairs, inverse of scaleMinK4. */
export function packScaleMinK4(ls: number[], lm: number[], q: Uint8Array, o: number): void {
  q.fill(0, o, o + 12);
  for (let j = 0; j < 8; j++) {
    const s = ls[j]!;
    const m = lm[j]!;
    if (j < 4) {
      q[o + j] = s;
      q[o + j + 4] = m;
    } else {
      q[o + j + 4] = (s & 0x0f) | ((m & 0x0f) << 4);
      q[o + j - 4]! |= (s >> 4) << 6;
      q[o + j]! |= (m >> 4) << 6;
    }
  }
}

/** Per-call scratch of quantizeKx: encoders are synchronous, so one set per realm is enough. */
const scratch = {
  L: new Uint8Array(QK_K),
  Laux: new Uint8Array(32),
  weights: new Float32Array(32),
  scales: new Float32Array(8),
  mins: new Float32Array(8),
};

/**
 * The shared body of quantize_row_q4_K_ref and quantize_row_q5_K_ref for one super-block: per
 * sub-block of 32, weights av_x + |x| and make_qkx2_quants; then 6-bit scales and mins relative
 * to the largest, f16 d and dmin, and a final re-quantisation with the stored scales.
 * Writes d, dmin and the 12 scale bytes at `o`, returns the levels L (0..nmax) of the 256 values
 * in a scratch buffer that the next call overwrites.
 */
export function quantizeKx(
  x: Float32Array,
  xo: number,
  nmax: number,
  rmin: number,
  nstep: number,
  y: Uint8Array,
  o: number,
  writeF16: (b: Uint8Array, at: number, v: number) => void,
  readF16: (b: Uint8Array, at: number) => number,
): Uint8Array {
  const { L, Laux, weights, scales, mins } = scratch;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[xo + 32 * j + l]!;
      sumX2 = fr(sumX2 + fr(v * v));
    }
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = fr(avX + Math.abs(x[xo + 32 * j + l]!));
    const [s, m] = makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, Laux, rmin, fr(0.1), nstep);
    scales[j] = s;
    mins[j] = m;
    if (s > maxScale) maxScale = s;
    if (m > maxMin) maxMin = m;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const ls: number[] = [];
  const lm: number[] = [];
  for (let j = 0; j < 8; j++) {
    // C stores nearest_int into a uint8_t (wrapping) before MIN(63, ·).
    ls.push(Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff));
    lm.push(Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff));
  }
  packScaleMinK4(ls, lm, y, o + 4);
  writeF16(y, o, fr(maxScale / 63));
  writeF16(y, o + 2, fr(maxMin / 63));
  const dAll = readF16(y, o);
  const dminAll = readF16(y, o + 2);
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(j, y, o + 4);
    const d = fr(dAll * sc);
    if (d === 0) continue;
    const dm = fr(dminAll * m);
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(fr(fr(x[xo + 32 * j + ii]! + dm) / d));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
  return L;
}
