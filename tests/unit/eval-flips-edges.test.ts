// Flips' edges (src/lib/eval/flips.ts): "right" is a score of at least 0.5 (0.5 itself is right), a
// message-end without its start is not a turn, each rate is null only when its denominator is empty,
// and an item counts once however many transitions it has.
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { agentTurns, countFlips } from '../../src/lib/eval/flips.ts';

const usage = { prompt_tokens: 1, completion_tokens: 1, time_to_first_token_ms: 0, total_ms: 1, tokens_per_second: 1 };
function msg(msgId: string, agent: string, round: number, purpose: string, text: string): TraceEvent[] {
  return [
    { type: 'message-start', t: 0, msgId, agent, round, purpose, messages: [] },
    { type: 'message-end', t: 0, msgId, agent, text, finish_reason: 'stop', usage },
  ];
}

describe('flips: edges', () => {
  it('a score of exactly 0.5 is right, just under it is wrong', async () => {
    const score = async (_i: string, text: string) => Number(text);
    const f = await countFlips([{ item: 'x', trace: [...msg('1', 'a', 1, 'answer', '0.5'), ...msg('2', 'a', 2, 'revision', '0.49'), ...msg('3', 'a', 3, 'revision', '0.5')] }], score);
    expect(f).toEqual({ transitions: 2, rightToWrong: 1, wrongToRight: 1, rightToRight: 0, wrongToWrong: 0, items: 1, rightToWrongRate: 1, wrongToRightRate: 1 });
  });

  it('only right answers before revisions: the wrong-to-right rate is null, the right-to-wrong rate 0', async () => {
    const score = async () => 1;
    const trace = [...msg('1', 'a', 1, 'answer', 'x'), ...msg('2', 'a', 2, 'revision', 'x'), ...msg('3', 'b', 1, 'answer', 'y'), ...msg('4', 'b', 2, 'revision', 'y')];
    const f = await countFlips([{ item: 'i', trace }, { item: 'j', trace }], score);
    expect(f).toEqual({ transitions: 4, rightToWrong: 0, wrongToRight: 0, rightToRight: 4, wrongToWrong: 0, items: 2, rightToWrongRate: 0, wrongToRightRate: null });
  });

  it('only wrong answers: the right-to-wrong rate is null; an item without turns adds nothing', async () => {
    const score = async () => 0;
    const f = await countFlips([{ item: 'i', trace: [...msg('1', 'a', 1, 'answer', 'x'), ...msg('2', 'a', 2, 'revision', 'x')] }, { item: 'j', trace: [] }], score);
    expect(f).toEqual({ transitions: 1, rightToWrong: 0, wrongToRight: 0, rightToRight: 0, wrongToWrong: 1, items: 1, rightToWrongRate: null, wrongToRightRate: 0 });
    expect(await countFlips([], score)).toEqual({ transitions: 0, rightToWrong: 0, wrongToRight: 0, rightToRight: 0, wrongToWrong: 0, items: 0, rightToWrongRate: null, wrongToRightRate: null });
  });

  it('a message-end whose start is missing or of another purpose is not a turn', () => {
    const trace: TraceEvent[] = [
      { type: 'message-end', t: 0, msgId: 'orphan', agent: 'a', text: 'lost', finish_reason: 'stop', usage },
      ...msg('1', 'a', 1, 'answer', 'first'),
      ...msg('2', 'a', 1, 'plan', 'not a turn'),
    ];
    const turns = agentTurns(trace);
    expect([...turns.entries()]).toEqual([['a', [{ agent: 'a', round: 1, msgId: '1', text: 'first' }]]]);
  });

  it('turns are sorted by round per agent (a later round written first comes second)', () => {
    const turns = agentTurns([...msg('b', 'a', 3, 'revision', 'third'), ...msg('c', 'a', 1, 'answer', 'first'), ...msg('d', 'a', 2, 'revision', 'second')]);
    expect(turns.get('a')!.map((t) => t.text)).toEqual(['first', 'second', 'third']);
  });
});
