// The cost line the methods page and the playground show before a run (src/ui/methods/cost.ts).
import { describe, expect, it } from 'vitest';
import { costLine, promptTokensOf } from '../../src/ui/methods/cost.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { promptTokenBound } from '../../src/lib/strategies/budget.ts';

describe('costLine', () => {
  it('debate with default knobs at N = 3: 6 calls; with a judge and 3 rounds: 10', () => {
    const meta = getStrategy('debate').meta;
    expect(costLine(meta, 3, {}, 16, 20)!.callsText).toBe('6 calls');
    expect(costLine(meta, 3, { rounds: 3, final: 'judge' }, 16, 20)!.callsText).toBe('10 calls');
  });

  it('debate’s token bound: round 1 prompts, revisions showing the question twice and N answers, the judge; completions = calls × max tokens', () => {
    // N = 2, R = 2, judge: prompt = 2·20 + 2·1·(2·20 + 2·16) + (20 + 2·16) = 40 + 144 + 52 = 236; completion = 5 × 16 = 80.
    expect(costLine(getStrategy('debate').meta, 2, { final: 'judge' }, 16, 20)!.tokensText).toBe('≤ 236 prompt + 80 generated tokens');
  });

  it('cascade states an upper bound ("at most"); single is one call whatever N', () => {
    expect(costLine(getStrategy('cascade').meta, 4, {}, 16, 20)!.callsText).toBe('at most 4 calls');
    expect(costLine(getStrategy('single').meta, 5, {}, 16, 20)!.callsText).toBe('1 call');
  });

  it('the setup’s knob values are used (vote: 3 samples × 2 agents = 6 calls)', () => {
    const meta = getStrategy('vote').meta;
    expect(costLine(meta, 2, { samples: 3 }, 16, 20)!.calls).toBe(6);
  });

  it('a method that states no cost gives null (the page then says so)', () => {
    expect(costLine({ ...getStrategy('single').meta, cost: undefined } as never, 3, {}, 16, 20)).toBeNull();
  });

  it('prompt tokens are bounded as the context checks bound them', () => {
    expect(promptTokensOf('What is 2 + 2?')).toBe(promptTokenBound([{ role: 'user', content: 'What is 2 + 2?' }]));
  });
});
