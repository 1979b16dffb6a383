/**
 * The live plot's data for a dev search (Progress.search, src/lib/eval/runner.ts): one point per
 * candidate per iteration (its dev score, %), and the best so far after each iteration (%).
 */
import type { SearchStep } from '../../lib/strategies/types.ts';

export function searchPoints(steps: readonly SearchStep[]): { candidates: { iteration: number; score: number }[]; best: { iteration: number; best: number }[] } {
  return {
    candidates: steps.flatMap((s) => s.scores.map((score) => ({ iteration: s.iteration, score: score * 100 }))),
    best: steps.map((s) => ({ iteration: s.iteration, best: s.best * 100 })),
  };
}
