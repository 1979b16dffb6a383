/**
 * Next-token choice from full logits, for engines that compute logits themselves (the ONNX engine):
 * log-softmax, the top candidates, and sampling with the request's fields.
 *
 * - temperature 0 (or absent top_p/top_k with temperature 0): greedy, the first highest logit
 *   (llama.cpp's greedy sampler keeps the first maximum too).
 * - otherwise: top-k (0 = all), then top-p on the renormalised top-k (the smallest set of most
 *   probable tokens whose mass reaches p), then a draw at the temperature from the request's seed
 *   (mulberry32 of src/lib/random.ts; a request without a seed gets a random one). The chain's
 *   order follows llama.cpp's default (top-k → top-p → temperature); its random numbers do not,
 *   so a seed gives the same text here run after run, not the same text as llama.cpp.
 *
 * No DOM here: this file runs in workers, in the page and in Node.
 */
import { mulberry32 } from '../random.ts';

/** Natural-log probabilities at temperature 1 (computed in float64, stored as float32). */
export function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
  return out;
}

/** Indices of the k largest values, largest first; ties keep the lower index first. */
export function topIndices(values: Float32Array, k: number): number[] {
  const n = Math.min(Math.max(0, Math.floor(k)), values.length);
  const idx = Array.from(values.keys());
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, n);
}

/** The first index of the highest value. */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

export interface SamplingParams {
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

/** A draw for one generation: one random stream per request, from its seed. */
export class Sampler {
  readonly #rand: () => number;
  readonly #params: SamplingParams;

  constructor(params: SamplingParams, seed: number) {
    this.#params = params;
    this.#rand = mulberry32(seed >>> 0);
  }

  get greedy(): boolean {
    return (this.#params.temperature ?? 0.8) <= 0;
  }

  /** The next token from these logits. */
  pick(logits: Float32Array): number {
    if (this.greedy) return argmax(logits);
    const t = this.#params.temperature ?? 0.8;
    const k = this.#params.top_k !== undefined && this.#params.top_k > 0 ? this.#params.top_k : logits.length;
    const ids = topIndices(logits, k);
    const max = logits[ids[0]!]!;
    let probs = ids.map((i) => Math.exp(logits[i]! - max));
    const p = this.#params.top_p ?? 1;
    if (p < 1) {
      const total = probs.reduce((a, b) => a + b, 0);
      let mass = 0;
      let keep = 0;
      while (keep < probs.length && mass < p * total) mass += probs[keep++]!;
      probs = probs.slice(0, Math.max(1, keep));
    }
    const weights = probs.map((q) => q ** (1 / t));
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.#rand() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return ids[i]!;
    }
    return ids[weights.length - 1]!;
  }
}
