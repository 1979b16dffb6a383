// Universal self-consistency (src/lib/strategies/usc.ts) at its edges, on scripted engines: how a
// selector's reply is read ("Response k", "Response #k", many-digit numbers, else the first number),
// the cost for a given number of samples, the round labels, the refusals and the cut warning with
// their advice, a selector that fails after writing a number, one cancelled mid-reply, and the
// fallback's message for a long reply.
import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatRequest, CallOptions, Engine } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { parseSelection, usc } from '../../src/lib/strategies/usc.ts';
import { ScriptedEngine, words } from './strategies.scripted.ts';
import { agentsEach, base, ofType, only } from './strategy-text.helpers.ts';
import { runCancelledAt } from './strategies.events.ts';

const isSelector = (req: ChatRequest) => req.messages.at(-1)!.content.includes('most consistent response is Response X');

describe('usc: reading the selector’s reply', () => {
  it('"Response k" with any spacing and an optional "#", before an earlier bare number', () => {
    expect(parseSelection('1 is wrong; Response # 2', 3)).toBe(2);
    expect(parseSelection('1 is wrong; Response #2', 3)).toBe(2);
    expect(parseSelection('1 is wrong; Response#2', 3)).toBe(2);
    expect(parseSelection('1 is wrong; Response 2', 3)).toBe(2);
    expect(parseSelection('1 is wrong; response   3', 3)).toBe(3);
  });

  it('only whitespace and "#" may sit between "Response" and its number; otherwise the first number counts', () => {
    expect(parseSelection('1 is wrong; Response-3', 3)).toBe(1);
    expect(parseSelection('1 is wrong; Response: 3', 3)).toBe(1);
  });

  it('numbers of several digits are read whole, named or bare', () => {
    expect(parseSelection('The most consistent response is Response 12', 12)).toBe(12);
    expect(parseSelection('I pick 12', 12)).toBe(12);
    expect(parseSelection('I pick 12', 11)).toBeUndefined();
  });

  it('Response 1 is a valid pick; 0 is not', () => {
    expect(parseSelection('The most consistent response is Response 1', 3)).toBe(1);
    expect(parseSelection('1', 1)).toBe(1);
    expect(parseSelection('Response 0, clearly', 3)).toBeUndefined();
  });
});

describe('usc: the cost', () => {
  it('N × S + 1 calls with the samples knob; 2 samples when it is absent or not a number', () => {
    const cost = usc.meta.cost!;
    expect(cost.calls(3, { samples: 4 })).toBe(13);
    expect(cost.calls(3, {})).toBe(7);
    expect(cost.calls(3, { samples: '4' })).toBe(7);
    // 12 answers: each reads the prompt and writes max tokens; the selector reads the prompt and all 12.
    expect(cost.tokens!(3, { samples: 4 }, 10, 100)).toEqual({ prompt: 13 * 100 + 12 * 10, completion: 13 * 10 });
    expect(cost.tokens!(3, {}, 10, 100)).toEqual({ prompt: 7 * 100 + 6 * 10, completion: 7 * 10 });
  });
});

describe('usc: the run', () => {
  it('scripted: two rounds, labelled with the number of answers and the selector’s name; the route names the pick', async () => {
    const { agents } = agentsEach(2, (a, req) => (isSelector(req) ? words('The most consistent response is Response 2') : words(`agent ${a + 1} sample ${req.seed}`)));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 2, selector: 2, answerType: 'text' } });
    expect(ofType(events, 'round').map(({ round, label }) => ({ round, label }))).toEqual([
      { round: 1, label: '4 answers' },
      { round: 2, label: 'Selector: Agent 2' },
    ]);
    const route = only(events, 'route');
    expect(route).toMatchObject({ from: 'a2', to: 'a1', decision: 'route', reason: 'the selector chose Response 2 of 4 (a1.r1.s1) as the most consistent' });
    expect(ofType(events, 'message-start').map((m) => `${m.msgId} ${m.purpose}`).sort()).toEqual(['a1.r1.s0 answer', 'a1.r1.s1 answer', 'a2.r1.s0 answer', 'a2.r1.s1 answer', 'a2.r2.s0.select select']);
  });

  it('scripted: a selector number out of range is refused by name before any call', async () => {
    const { agents, engines } = agentsEach(2, () => words('4'));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { selector: 3 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'The selector is agent 3, but the setup has 2 agent(s): add an agent or choose a number from 1 to 2' });
    expect(engines.map((e) => e.calls.length)).toEqual([0, 0]);
  });

  it('scripted: a refusal for context gives all four pieces of advice, with the numbers now', async () => {
    const { agents } = agentsEach(2, () => words('4'), { contextLength: 300 });
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 4 } });
    const message = (events.at(-1) as { message?: string }).message ?? '';
    expect(message).toMatch(/^the selector's prompt \(8 text\(s\) shown, at least 32 bytes each\) needs up to \d+ tokens/);
    for (const piece of ['use fewer agents (now 2)', 'fewer samples per agent (now 4)', 'a smaller max tokens (now 32)', 'or a shorter prompt']) expect(message).toContain(piece);
  });

  it('scripted: answers too long for the selector’s context are cut, with a warning naming the selector and max tokens', async () => {
    const long = 'word '.repeat(200);
    const { agents } = agentsEach(2, (_a, req) => (isSelector(req) ? words('Response 1') : words(long)), { contextLength: 500 });
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1, answerType: 'text' } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    const warnings = ofType(events, 'error').filter((e) => !e.fatal);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^the selector: the texts shown were cut to \d+ bytes each \(their first bytes, then "…"\) to fit the context with max tokens 32$/);
    expect(warnings[0]!.agent).toBe('a1');
    const select = ofType(events, 'message-start').find((m) => m.purpose === 'select')!;
    expect(select.messages.at(-1)!.content).toContain('…');
    expect(events.indexOf(warnings[0]!)).toBeLessThan(events.indexOf(select));
  });

  it('scripted: when every answer fails, the run ends naming round 1', async () => {
    const { agents } = agentsEach(2, () => new Error('down'));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: 'every call failed in round 1; see the errors above' });
  });

  it('scripted: a selector that fails after writing "Response 1" is a failure, not a pick: the answers are voted on', async () => {
    const answers = new ScriptedEngine(() => words('It is 4'));
    const failing: Engine = {
      info: { ...answers.info },
      async *chat(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk> {
        if (!isSelector(request)) {
          yield* answers.chat(request, options);
          return;
        }
        yield { type: 'delta', text: 'Response 1 ' };
        throw new Error('boom');
      },
      complete: (r, o) => answers.complete(r, o),
      unload: async () => undefined,
    };
    const agents = [
      { id: 'a1', name: 'Agent 1', model: 'scripted', engine: failing, temperature: 0.7 },
      { id: 'a2', name: 'Agent 2', model: 'scripted', engine: answers, temperature: 0.7 },
    ];
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1, answerType: 'number' } });
    expect(ofType(events, 'route')).toHaveLength(0);
    const warnings = ofType(events, 'error').filter((e) => !e.fatal).map((e) => e.message);
    expect(warnings).toContain('the selector failed (boom): falling back to a majority vote over the 2 answers');
    expect(only(events, 'vote').winner).toBe('4');
  });

  it('scripted: the fallback message quotes only the first 80 characters of a long reply', async () => {
    const reply = 'They all agree with each other about everything, and none of them stands out from the rest at all.';
    const { agents } = agentsEach(2, (_a, req) => (isSelector(req) ? words(reply) : words('It is 4')));
    const events = await collectRun({ ...base, strategy: 'usc', agents, knobs: { samples: 1, answerType: 'number' } });
    const warning = ofType(events, 'error').find((e) => !e.fatal)!;
    expect(warning.message).toBe(`the selector named no response from 1 to 2 (it replied ${JSON.stringify(reply.slice(0, 80))}): falling back to a majority vote over the 2 answers`);
    expect(reply.length).toBeGreaterThan(80);
  });

  it('scripted: cancel during the selector’s reply ends the run with no pick, no fallback vote and no final', async () => {
    const { agents } = agentsEach(2, (_a, req) => (isSelector(req) ? words('The most consistent response is Response 1', -0.1) : words('It is 4')), { tokenDelayMs: 2 });
    const events = await runCancelledAt({ ...base, strategy: 'usc', agents, knobs: { samples: 1 } }, (e) => e.type === 'token' && e.msgId.endsWith('.select'));
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'message-start').filter((m) => m.purpose === 'select')).toHaveLength(1);
    expect(ofType(events, 'route')).toHaveLength(0);
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
    expect(ofType(events, 'error')).toHaveLength(0);
  });
});
