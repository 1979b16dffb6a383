// Flips: the right-to-wrong and wrong-to-right transitions of agents' answers across revision
// rounds, read from traces — on a hand-written trace (exact counts, which messages count) and on a
// real debate run with scripted agents (the wiring: debate's answers and revisions are the turns,
// its judge is not).
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/lib/trace.ts';
import { agentTurns, countFlips } from '../../src/lib/eval/flips.ts';
import { runStrategy } from '../../src/lib/run.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base } from './strategy-text.helpers.ts';

const usage = { prompt_tokens: 1, completion_tokens: 1, time_to_first_token_ms: 0, total_ms: 1, tokens_per_second: 1 };
function msg(msgId: string, agent: string, round: number, purpose: string, text: string, finish: 'stop' | 'abort' = 'stop'): TraceEvent[] {
  return [
    { type: 'message-start', t: 0, msgId, agent, round, purpose, messages: [] },
    { type: 'message-end', t: 0, msgId, agent, text, finish_reason: finish, usage },
  ];
}

describe('flips', () => {
  it('orders each agent\'s answers and revisions by round, leaving out judges, critiques and aborted calls', () => {
    const trace = [
      ...msg('m3', 'a1', 2, 'revision', 'second'),
      ...msg('m1', 'a1', 1, 'answer', 'first'),
      ...msg('m2', 'a2', 1, 'answer', 'other'),
      ...msg('m4', 'a2', 2, 'critique', 'a critique'),
      ...msg('m5', 'a2', 3, 'revision', 'cut', 'abort'),
      ...msg('m6', 'a3', 4, 'judge', 'verdict'),
    ];
    const turns = agentTurns(trace);
    expect([...turns.keys()]).toEqual(['a1', 'a2']);
    expect(turns.get('a1')!.map((t) => [t.round, t.text])).toEqual([[1, 'first'], [2, 'second']]);
    expect(turns.get('a2')!.map((t) => t.msgId)).toEqual(['m2']);
  });

  it('counts each consecutive pair once per agent and item, with the rates over right and over wrong answers', async () => {
    const score = async (_item: string, text: string) => (text.startsWith('R') ? 1 : 0);
    const items = [
      // a1: R → W → R (one right-to-wrong, one wrong-to-right); a2: R → R.
      { item: 'x', trace: [...msg('1', 'a1', 1, 'answer', 'R'), ...msg('2', 'a1', 2, 'revision', 'W'), ...msg('3', 'a1', 3, 'revision', 'R'), ...msg('4', 'a2', 1, 'answer', 'R1'), ...msg('5', 'a2', 2, 'revision', 'R2')] },
      // a1: W → W; a2 answered once only (no transition).
      { item: 'y', trace: [...msg('6', 'a1', 1, 'answer', 'W'), ...msg('7', 'a1', 2, 'revision', 'W'), ...msg('8', 'a2', 1, 'answer', 'R')] },
      // No revisions at all; a3 samples twice in round 1 and once in round 2 (samples are not revisions).
      { item: 'z', trace: [...msg('9', 'a1', 1, 'answer', 'R'), ...msg('10', 'a3', 1, 'answer', 'R'), ...msg('11', 'a3', 1, 'answer', 'W'), ...msg('12', 'a3', 2, 'revision', 'W')] },
    ];
    const f = await countFlips(items, score);
    expect(f).toEqual({ transitions: 4, rightToWrong: 1, wrongToRight: 1, rightToRight: 1, wrongToWrong: 1, items: 2, rightToWrongRate: 0.5, wrongToRightRate: 0.5 });
    const none = await countFlips([items[2]!], score);
    expect(none.rightToWrongRate).toBeNull();
    expect(none.transitions).toBe(0);
  });

  it('scripted debate: agent 1 right in round 1 and pulled to the wrong majority in round 2 is one right-to-wrong flip; the judge is not a turn', async () => {
    // a1 answers 4 then conforms to the others' 5; a2 and a3 answer 5 throughout; a judge (a1) says 4.
    const { agents } = agentsEach(3, (a, req) => {
      const last = req.messages.at(-1)!.content;
      if (/Which answer is correct/.test(last)) return words('4');
      if (a === 0) return words(/other agents/.test(last) ? '5' : '4');
      return words('5');
    });
    const trace: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, strategy: 'debate', agents, knobs: { rounds: 2, final: 'judge', judge: 1 } })) trace.push(e);
    expect(trace.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const f = await countFlips([{ item: '4', trace }], async (ref, text) => (text.trim() === ref ? 1 : 0));
    expect(f).toMatchObject({ transitions: 3, rightToWrong: 1, wrongToRight: 0, rightToRight: 0, wrongToWrong: 2, rightToWrongRate: 1, wrongToRightRate: 0, items: 1 });
  });
});
