// Universal self-consistency (src/lib/strategies/usc.ts) on scripted engines: the selector sees every
// answer, numbered; its choice is the final answer; a reply naming no valid number falls back to a
// majority vote with a warning; calls = meta.cost.calls; seeds; refusal; cancel.
import { describe, expect, it } from 'vitest';
import { collectRun } from '../../src/lib/run.ts';
import { callSeed } from '../../src/lib/strategies/seeds.ts';
import { parseSelection, selectPrompt, usc } from '../../src/lib/strategies/usc.ts';
import { resolveKnobs } from '../../src/lib/strategies/knobs.ts';
import { words } from './strategies.scripted.ts';
import { agentsEach, base, bySeed, cancelAtFirstToken, expectRefused, ofType, only, starts, texts } from './strategy-text.helpers.ts';

const isSelector = (content: string) => content.includes('most consistent response is Response X');

describe('parseSelection', () => {
  it('reads "Response k", else the first number, and only numbers shown', () => {
    expect(parseSelection('The most consistent response is Response 3.', 4)).toBe(3);
    expect(parseSelection('response #2 agrees with 1 and 4', 4)).toBe(2);
    expect(parseSelection('I pick 4', 4)).toBe(4);
    expect(parseSelection('The most consistent response is Response 5', 4)).toBeUndefined();
    expect(parseSelection('Response 0', 4)).toBeUndefined();
    expect(parseSelection('They all agree.', 4)).toBeUndefined();
  });
});

describe('usc', () => {
  it('scripted: 2 agents × 2 samples — the selector sees all four, numbered in setup order, and its pick is final', async () => {
    const { agents, engines } = agentsEach(2, (a, req) =>
      isSelector(req.messages.at(-1)!.content) ? words('The most consistent response is Response 3') : words(`agent ${a + 1} says ${req.seed}`),
    );
    const knobs = { samples: 2, selector: 2, answerType: 'text' };
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs });
    const calls = engines.reduce((s, e) => s + e.calls.length, 0);
    expect(calls).toBe(5);
    expect(usc.meta.cost!.calls(2, resolveKnobs(usc.meta, knobs).knobs)).toBe(calls);
    expect(usc.meta.cost!.tokens!(2, resolveKnobs(usc.meta, knobs).knobs, 10, 100)).toEqual({ prompt: 540, completion: 50 });
    const shown = ['a1.r1.s0', 'a1.r1.s1', 'a2.r1.s0', 'a2.r1.s1'];
    const sel = starts(events).get('a2.r2.s0.select')!;
    expect(sel.sees).toEqual(shown);
    const text = texts(events);
    expect(sel.messages.at(-1)!.content).toBe(selectPrompt(base.prompt, shown.map((id) => text.get(id)!)));
    expect(sel.messages.at(-1)!.content).toContain(`Response 3: \`\`\`${text.get('a2.r1.s0')}\`\`\``);
    expect(only(events, 'route')).toMatchObject({ from: 'a2', to: 'a2', reason: expect.stringMatching(/Response 3 of 4 \(a2\.r1\.s0\)/) });
    expect(only(events, 'final')).toMatchObject({ agent: 'a2', text: text.get('a2.r1.s0') });
    expect(ofType(events, 'vote')).toHaveLength(0);
    const seeds = engines.flatMap((e) => e.calls.map((c) => c.request.seed)).sort();
    expect(seeds).toEqual([...[0, 1].flatMap((a) => [0, 1].map((s) => callSeed(42, a, 1, s))), callSeed(42, 1, 2, 0)].sort());
    expect(new Set(seeds).size).toBe(5);
  });

  it('scripted: a reply that names no shown response falls back to a majority vote, with a warning', async () => {
    const { agents } = agentsEach(3, (a, req) => (isSelector(req.messages.at(-1)!.content) ? words('All of them are lovely.') : words(a === 1 ? 'It is 5' : 'It is 4')));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1, answerType: 'number' } });
    const warning = ofType(events, 'error').find((e) => !e.fatal);
    expect(warning?.message).toMatch(/the selector named no response from 1 to 3 \(it replied "All of them are lovely\."\): falling back to a majority vote over the 3 answers/);
    expect(only(events, 'vote').winner).toBe('4');
    expect(only(events, 'final')).toMatchObject({ answer: '4', agent: 'a1' });
    expect(ofType(events, 'route')).toHaveLength(0);
  });

  it('fit: the selector is the best member on dev', () => {
    expect(usc.fit!({ agentScores: [0.5, 0.5, 0.7], items: [] }, {}).knobs).toEqual({ selector: 3 });
  });

  it('scripted: refused before any call when the selector’s prompt cannot fit the context', async () => {
    const { agents, engines } = agentsEach(2, (_a, req) => bySeed(req), { contextLength: 300 });
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 4 } });
    expectRefused(events, engines, /the selector's prompt \(8 text\(s\) shown.*fewer samples per agent \(now 4\)/);
  });

  it('scripted: cancel while sampling ends the run with no selector call and no final', async () => {
    const { agents, engines } = agentsEach(2, () => words('word '.repeat(100)), { tokenDelayMs: 2 });
    const events = await cancelAtFirstToken('usc', agents, {});
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(engines.map((e) => e.calls.length)).toEqual([2, 2]);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});
