/**
 * Per-call seeds. Same run seed → same seed for every call → same run (engines are deterministic
 * for a given seed; wllama's greedy and seeded sampling are exact).
 *
 * Derivation: h = runSeed (as uint32); for each coordinate v of (agentIndex, round, sample), in that
 * order: h = fmix32(h XOR fmix32(v + 0x9E3779B9 · position)), with fmix32 the MurmurHash3 finaliser
 * (Appleby, MurmurHash3.cpp) and position 1, 2, 3. The result is masked to 31 bits: positive and
 * never 0xFFFFFFFF, which llama.cpp reads as "pick a random seed" (LLAMA_DEFAULT_SEED).
 *
 * agentIndex is the agent's 0-based position in the setup, round is 1-based (debate round, cascade
 * tier, judge = rounds + 1), sample is the 0-based sample of that agent in that round.
 */
import { fmix32 } from '../random.ts';

export function callSeed(runSeed: number, agentIndex: number, round: number, sample: number): number {
  let h = runSeed >>> 0;
  [agentIndex, round, sample].forEach((v, i) => {
    h = fmix32(h ^ fmix32((v + Math.imul(0x9e3779b9, i + 1)) >>> 0));
  });
  return h & 0x7fffffff;
}
