// SLM-MUX (src/lib/strategies/slmmux.ts) at its edges: the cost model with and without the k knob,
// fit's note, the round label and each call's purpose, a failed sample (not a ballot, and not the
// end of the run), an agent whose every call failed, the score details, which sample's text the
// final answer carries, a dev score missing for an agent, and the route's decision. Engines are
// scripted ("scripted" in the names).
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { slmMux } from '../../src/lib/strategies/slmmux.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, ofType, only } from './strategy-text.helpers.ts';

/** Agent a's reply to sample s is answers[a][s]; an Error there makes that call fail. */
function scripted(answers: (string | Error)[][]) {
  return (a: number, req: ChatRequest) => {
    const s = answers[a]!.findIndex((_, i) => callSeed(42, a, 1, i) === req.seed);
    if (s < 0) return new Error(`unexpected seed ${req.seed} for agent ${a + 1}`);
    const reply = answers[a]![s]!;
    return reply instanceof Error ? reply : words(reply);
  };
}

describe('slm-mux: cost and fit', () => {
  it('calls and tokens: k = 5 without the knob, else the knob’s k', () => {
    expect(slmMux.meta.cost!.calls(3, {})).toBe(15);
    expect(slmMux.meta.cost!.calls(3, { samples: 2 })).toBe(6);
    expect(slmMux.meta.cost!.tokens!(3, {}, 10, 100)).toEqual({ prompt: 1500, completion: 150 });
    expect(slmMux.meta.cost!.tokens!(3, { samples: 2 }, 10, 100)).toEqual({ prompt: 600, completion: 60 });
  });

  it('fit keeps each agent’s dev score and says them, 1-based, to 3 decimals', () => {
    const fitted = slmMux.fit!({ agentScores: [0.2, 0.5, 0.25], items: [] }, {});
    expect(fitted.state).toEqual({ devScores: [0.2, 0.5, 0.25] });
    expect(fitted.note).toBe('ties in self-consistency go to the better dev score (a1 0.200, a2 0.500, a3 0.250)');
  });
});

describe('slm-mux: runs', () => {
  it('scripted: one round labelled with k and the temperature; every call is an answer', async () => {
    const { agents } = agentsEach(2, () => words('It is 4'));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { samples: 3, temperature: 0.9 } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([[1, '3 samples from each agent at temperature 0.9']]);
    expect(ofType(events, 'message-start').map((m) => m.purpose)).toEqual(Array(6).fill('answer'));
  });

  it('scripted: a failed sample is no ballot and does not end the run; the details count its agent’s answers', async () => {
    const down = new Error('down');
    const { agents } = agentsEach(2, scripted([
      ['It is 4', down, 'It is 4', 'It is 5', 'It is 4'],
      ['It is 7', 'It is 8', 'It is 9', 'It is 7', ''],
    ]));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' } });
    expect(ofType(events, 'vote').map((v) => v.ballots.map((b) => b.answer))).toEqual([
      ['4', '4', '5', '4'],
      ['7', '8', '9', '7', ''],
    ]);
    expect(ofType(events, 'score').map((s) => [s.target, s.value, s.detail])).toEqual([
      ['a1', 0.75, '3 of 4 answers agree on "4"'],
      ['a2', 0.5, '2 of 4 answers agree on "7"'],
    ]);
    expect(only(events, 'route')).toMatchObject({ from: null, to: 'a1', decision: 'route', reason: 'most self-consistent: 75% of its answers agree', confidence: 0.75 });
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
  });

  it('scripted: the final text is the first sample that gave the majority answer, not the first sample', async () => {
    const { agents } = agentsEach(2, scripted([
      ['It is 5', 'Four, so 4', 'It is 4', 'It is 4', 'It is 6'],
      ['It is 7', 'It is 8', 'It is 9', 'It is 1', 'It is 2'],
    ]));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { answerType: 'number' } });
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1', text: 'Four, so 4' });
  });

  it('scripted: an agent whose every call failed gave no answer; if it still wins on setup order, its text is empty', async () => {
    const down = new Error('down');
    const { agents } = agentsEach(2, scripted([
      [down, down],
      ['', ''],
    ]));
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { samples: 2, answerType: 'number' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'score').map((s) => [s.target, s.value, s.detail])).toEqual([
      ['a1', 0, 'Agent 1 gave no answer'],
      ['a2', 0, 'Agent 2 gave no answer'],
    ]);
    expect(only(events, 'route')).toMatchObject({ to: 'a1', reason: '2 agents tied at 0% self-consistency and there is no dev split: the first in setup order wins' });
    expect(only(events, 'final')).toMatchObject({ answer: '', text: '', agent: 'a1' });
  });

  it('scripted: in a tie, an agent without a dev score ranks below one with a score', async () => {
    const tied = [
      ['It is 4', 'It is 4', 'It is 5'],
      ['It is 7', 'It is 7', 'It is 8'],
    ];
    const { agents } = agentsEach(2, scripted(tied));
    // A fitted state that knows agent 1's dev score only.
    const events = await collectRun({ ...base, strategy: 'slm-mux', agents, knobs: { samples: 3, answerType: 'number' }, fitted: { devScores: [0.1] } });
    expect(only(events, 'route')).toMatchObject({ to: 'a1', reason: '2 agents tied at 67% self-consistency; the best on dev wins (a1 0.100, a2 -Infinity), then setup order' });
    const reversed = agentsEach(2, scripted(tied));
    const again = await collectRun({ ...base, strategy: 'slm-mux', agents: reversed.agents, knobs: { samples: 3, answerType: 'number' }, fitted: { devScores: [0.1, 0.3] } });
    expect(only(again, 'route').to).toBe('a2');
  });
});
