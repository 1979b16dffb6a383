import { describe, expect, it } from 'vitest';
import { allocateThreads, threadBudget, threadsForNextModel } from '../../src/lib/engines/threads.ts';
import { FALLBACK_STOP, renderFallbackChat } from '../../src/lib/engines/prompt.ts';

describe('thread allocation', () => {
  it('uses half the logical cores, at least one', () => {
    expect(threadBudget(16)).toBe(8);
    expect(threadBudget(2)).toBe(1);
    expect(threadBudget(1)).toBe(1);
    expect(threadBudget(undefined)).toBe(1);
    expect(threadBudget(0)).toBe(1);
  });

  it('divides the budget among loaded models without exceeding it', () => {
    expect(allocateThreads(16, 1)).toEqual([8]);
    expect(allocateThreads(16, 2)).toEqual([4, 4]);
    expect(allocateThreads(16, 3)).toEqual([3, 3, 2]);
    for (let hc = 1; hc <= 64; hc++) {
      for (let n = 1; n <= 10; n++) {
        const a = allocateThreads(hc, n);
        expect(a).toHaveLength(n);
        expect(Math.min(...a)).toBeGreaterThanOrEqual(1);
        if (n <= threadBudget(hc)) expect(a.reduce((s, x) => s + x, 0)).toBe(threadBudget(hc));
        expect(Math.max(...a) - Math.min(...a)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('gives every model one thread when models outnumber the budget', () => {
    expect(allocateThreads(4, 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('a new model gets its share given the models already loaded', () => {
    expect(threadsForNextModel(16, 0)).toBe(8);
    expect(threadsForNextModel(16, 1)).toBe(4);
    expect(threadsForNextModel(16, 3)).toBe(2);
    expect(threadsForNextModel(2, 2)).toBe(1);
  });

  it('rejects a negative model count', () => {
    expect(() => allocateThreads(8, -1)).toThrow(RangeError);
  });
});

describe('fallback chat format (models without a chat template)', () => {
  it('renders system, turns and an open assistant turn', () => {
    expect(
      renderFallbackChat([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: ' What is 2+2? ' },
      ]),
    ).toBe('Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: What is 2+2?\nAssistant:');
  });

  it('has no system block without a system message, and stops at the next user turn', () => {
    expect(renderFallbackChat([{ role: 'user', content: 'Once' }])).toBe('User: Once\nAssistant:');
    expect(FALLBACK_STOP).toEqual(['\nUser:']);
  });
});
