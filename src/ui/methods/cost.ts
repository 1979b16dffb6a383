/**
 * A method's stated cost (StrategyMeta.cost) in words for a given setup, shared by the methods page
 * and the playground so both say the same thing: "4 calls" or "at most 3 calls" ("2 steps per token"
 * for token- and logit-level methods; a formula that
 * states an upper bound starts with "at most"), and the token bound when the method states one.
 */
import { resolveKnobs } from '../../lib/strategies/knobs.ts';
import { promptTokenBound } from '../../lib/strategies/budget.ts';
import type { KnobValue, StrategyMeta } from '../../lib/strategies/types.ts';

export interface CostLine {
  calls: number;
  /** "6 calls", "at most 3 calls". */
  callsText: string;
  /** "≤ 1,234 prompt + 384 generated tokens", or null when the method states no token bound. */
  tokensText: string | null;
}

export function costLine(meta: StrategyMeta, n: number, knobs: Record<string, unknown>, maxTokens: number, promptTokens: number): CostLine | null {
  if (!meta.cost) return null;
  const resolved: Record<string, KnobValue> = resolveKnobs(meta, knobs).knobs;
  const calls = meta.cost.calls(n, resolved);
  const bound = /^at most\b/i.test(meta.cost.formula) ? 'at most ' : '';
  const t = meta.cost.tokens?.(n, resolved, maxTokens, promptTokens);
  return {
    calls,
    callsText: meta.cost.perToken ? `${bound}${calls} ${calls === 1 ? 'step' : 'steps'} per token` : `${bound}${calls} ${calls === 1 ? 'call' : 'calls'}`,
    tokensText: t ? `≤ ${t.prompt.toLocaleString('en')} prompt + ${t.completion.toLocaleString('en')} generated tokens` : null,
  };
}

/** The bound on a bare prompt's tokens that the context checks use (budget.ts: one token per UTF-8 byte at most, plus overheads). */
export function promptTokensOf(prompt: string): number {
  return promptTokenBound([{ role: 'user', content: prompt }]);
}
