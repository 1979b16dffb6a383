// The two baselines at their edges (src/lib/strategies/single.ts, vote.ts), on scripted engines:
// the round each announces, the answering call's id and purpose, single's refusal of an agent number
// the setup lacks, single cancelled mid-answer, and vote's token bound for N agents × S samples.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { vote } from '../../src/lib/strategies/vote.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, cancelAtFirstToken, ofType } from './strategy-text.helpers.ts';

describe('single', () => {
  it('scripted: one round, "<agent> answers", one answer call a2.r1.s0 (purpose answer)', async () => {
    const { agents } = agentsEach(2, (a) => words(`It is ${a + 3}`));
    const events = await collectRun({ ...base, strategy: 'single', agents, knobs: { agent: 2, answerType: 'number' } });
    expect(ofType(events, 'round').map(({ round, label }) => ({ round, label }))).toEqual([{ round: 1, label: 'Agent 2 answers' }]);
    expect(ofType(events, 'message-start').map((m) => [m.msgId, m.purpose, m.agent])).toEqual([['a2.r1.s0', 'answer', 'a2']]);
    expect(ofType(events, 'final')).toMatchObject([{ answer: '4', agent: 'a2' }]);
  });

  it('scripted: an agent number the setup lacks is refused, naming the answering agent', async () => {
    const { agents, engines } = agentsEach(2, () => words('4'));
    const events = await collectRun({ ...base, strategy: 'single', agents, knobs: { agent: 3 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'The answering agent is agent 3, but the setup has 2 agent(s): add an agent or choose a number from 1 to 2' });
    expect(engines.map((e) => e.calls.length)).toEqual([0, 0]);
  });

  it('scripted: cancel mid-answer ends the run with no final and no error', async () => {
    const { agents } = agentsEach(1, () => words('It is 4 and that is all there is to say about it'), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('single', agents, {});
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'final')).toHaveLength(0);
    expect(ofType(events, 'error')).toHaveLength(0);
  });
});

describe('vote', () => {
  it('scripted: one round labelled with the number of answers (agents × samples)', async () => {
    const { agents } = agentsEach(3, () => words('4'));
    const events = await collectRun({ ...base, strategy: 'vote', agents, knobs: { samples: 2 } });
    expect(ofType(events, 'round').map(({ round, label }) => ({ round, label }))).toEqual([{ round: 1, label: '6 answers' }]);
  });

  it('N × S answers, each reading the prompt and writing max tokens', () => {
    expect(vote.meta.cost!.tokens!(3, { samples: 2 }, 10, 100)).toEqual({ prompt: 600, completion: 60 });
    expect(vote.meta.cost!.tokens!(2, { samples: 4 }, 7, 50)).toEqual({ prompt: 400, completion: 56 });
  });
});
