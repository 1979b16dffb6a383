// Blackboard (BBMAS), the edges the main file leaves open: the exact prompts (board, instructions,
// system prompt, vote list), how a vote is read, the round labels and warnings, failed posts, agents
// that never post or give no answer (conclusions, the fallback tally, a final with no vote), the
// tie rule's probabilities, cancel during the vote, and the refusal before any call at its exact
// boundaries (computed with budget.ts's own bound).
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { collectRun, runStrategy } from '../../src/lib/run.ts';
import { promptTokenBound } from '../../src/lib/strategies/budget.ts';
import { blackboard, boardText, postMessages, voteMessages, votedConclusion, type Entry } from '../../src/lib/strategies/blackboard.ts';
import { ScriptedEngine, agentsOn, lastUser, words } from './strategies.scripted.ts';
import { agentsEach, ofType, starts, type Of } from './strategy-text.helpers.ts';

const base = { prompt: 'What is 2+2?', seed: 42, maxTokens: 32, strategy: 'blackboard' };
const isVote = (user: string) => user.includes('I vote for Conclusion #<n>');
const isProposal = (user: string) => user.startsWith('Shared board: (empty)');
const agent = (over: Partial<Agent> = {}): Agent => ({ id: 'a1', name: 'Agent 1', model: 'scripted', engine: new ScriptedEngine(() => []), temperature: 0.7, ...over });
const entry = (number: number, author: Agent, text: string): Entry => ({ number, msgId: `m${number}`, author, round: 1, kind: 'propose', text });

describe('blackboard: the prompts', () => {
  it('shows an empty board as such, and each entry numbered with its author and trimmed text', () => {
    expect(boardText([], [])).toBe('Shared board: (empty)');
    expect(boardText([{ number: 3, author: 'Agent 2' }, { number: 4, author: 'Agent 1' }], ['  first  ', 'second\n'])).toBe(
      'Shared board:\n\nEntry #3 (Agent 2): ```first```\n\nEntry #4 (Agent 1): ```second```',
    );
    // An entry with no shown text is shown empty.
    expect(boardText([{ number: 1, author: 'A' }], [])).toBe('Shared board:\n\nEntry #1 (A): ``````');
  });

  it('a post is the system prompt (when it says something), then board, instruction and question', () => {
    const a = agent({ system: 'You are terse.' });
    expect(postMessages(a, 'Q?', 'propose', [], [])).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Shared board: (empty)\n\nSolve it; end with "Answer: <answer>".\n\nQ?' },
    ]);
    const b = agent({ system: '   ' });
    expect(postMessages(b, 'Q?', 'critique', [entry(1, agent({ name: 'Bo' }), 'long text')], ['short'])).toEqual([
      { role: 'user', content: 'Shared board:\n\nEntry #1 (Bo): ```short```\n\nFix any mistake in the entries (cite "Entry #<n>"); end with "Answer: <answer>".\n\nQ?' },
    ]);
    expect(postMessages(agent(), 'Q?', 'propose', [], [])).toHaveLength(1);
  });

  it('a vote lists the conclusions numbered and trimmed, after the system prompt, with the question last', () => {
    expect(voteMessages(agent({ system: 'Sys' }), 'Q?', [' 4 ', '5'])).toEqual([
      { role: 'system', content: 'Sys' },
      { role: 'user', content: 'Conclusions:\nConclusion #1: 4\nConclusion #2: 5\n\nReply "I vote for Conclusion #<n>".\n\nQ?' },
    ]);
    expect(voteMessages(agent({ system: ' \n' }), 'Q?', ['4'])).toEqual([
      { role: 'user', content: 'Conclusions:\nConclusion #1: 4\n\nReply "I vote for Conclusion #<n>".\n\nQ?' },
    ]);
  });
});

describe('blackboard: reading a vote', () => {
  it('reads "Conclusion" with or without "#" and spaces, and several digits', () => {
    expect(votedConclusion('Conclusion#2', 3)).toBe(2);
    expect(votedConclusion('Conclusion # 2', 3)).toBe(2);
    expect(votedConclusion('I vote for Conclusion #12', 12)).toBe(12);
    expect(votedConclusion('conclusion 1', 3)).toBe(1);
  });

  it('"Conclusion <n>" wins over a bare "#<n>" elsewhere in the reply', () => {
    expect(votedConclusion('Conclusion2, not #1', 3)).toBe(2);
  });

  it('a "Conclusion" not followed by its number is not read; a bare "#<n>" then counts', () => {
    expect(votedConclusion('conclusion-1 is wrong; I vote for #2', 3)).toBe(2);
    expect(votedConclusion('Conclusion #x3 or #1', 3)).toBe(1);
  });

  it('falls back to a bare "#<n>" (spaces allowed, several digits), and to nothing without a digit after "#"', () => {
    expect(votedConclusion('I pick #2', 3)).toBe(2);
    expect(votedConclusion('I pick # 3', 3)).toBe(3);
    expect(votedConclusion('I pick #11', 12)).toBe(11);
    expect(votedConclusion('option #b2', 3)).toBeUndefined();
  });

  it('numbers are 1-based: 0 and numbers past the list abstain, 1 and the last count', () => {
    expect(votedConclusion('Conclusion #0', 3)).toBeUndefined();
    expect(votedConclusion('Conclusion #1', 3)).toBe(1);
    expect(votedConclusion('Conclusion #3', 3)).toBe(3);
    expect(votedConclusion('Conclusion #4', 3)).toBeUndefined();
  });
});

describe('blackboard: cost model', () => {
  it('posts per round default to 2 and are capped at the agents', () => {
    expect(blackboard.meta.cost?.calls(4, {})).toBe(3 * 2 + 4);
    expect(blackboard.meta.cost?.calls(4, { rounds: 2, actors: 3 })).toBe(2 * 3 + 4);
    expect(blackboard.meta.cost?.calls(2, { rounds: 2, actors: 1 })).toBe(2 * 1 + 2);
  });
});

describe('blackboard: rounds, board and conclusions', () => {
  it('scripted: labels each round with who posts and what, the vote with its conclusions; an unhampered run warns of nothing', async () => {
    const { agents } = agentsEach(3, (a, req) => words(isVote(lastUser(req)) ? 'I vote for Conclusion #1' : `my answer Answer: ${a + 1}`));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, actors: 2, answerType: 'number' } });
    expect(ofType(events, 'round').map((r) => [r.round, r.label])).toEqual([
      [1, 'Round 1: proposals by Agent 1, Agent 2'],
      [2, 'Round 2: critiques by Agent 3, Agent 1'],
      [3, 'Vote: 3 conclusions'],
    ]);
    expect(ofType(events, 'error')).toEqual([]);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '1', agent: 'a1', text: 'my answer Answer: 1' });
  });

  it('scripted: a failed post does not go on the board; the next entry takes the next number', async () => {
    const { agents, engines } = agentsEach(2, (a, req) => (a === 1 && isProposal(lastUser(req)) ? new Error('engine down') : words(`post Answer: ${a + 1}`)));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, actors: 2, answerType: 'number' } });
    const s = starts(events);
    expect(s.get('a1.r2.s0.critique')!.sees).toEqual(['a1.r1.s0.propose']);
    expect(s.get('a2.r2.s0.critique')!.sees).toEqual(['a1.r1.s0.propose']);
    const critique = lastUser(engines[1]!.calls[1]!.request);
    expect(critique).toContain('Entry #1 (Agent 1): ```post Answer: 1```');
    expect(critique).not.toContain('Entry #2');
    // Round 2's entries are #2 and #3: the vote sees a1's and a2's round-2 posts.
    expect(s.get('a1.r3.s0.vote')!.sees).toEqual(['a1.r2.s0.critique', 'a2.r2.s0.critique']);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });

  it('scripted: a round whose every post fails ends the run with an error', async () => {
    const engine = new ScriptedEngine(() => new Error('engine down'));
    const events = await collectRun({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 3 } });
    expect(engine.calls).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('every post failed in round 1; see the errors above') });
    expect(ofType(events, 'final')).toHaveLength(0);
  });

  it('scripted: consensus is held as a vote event with every latest post as a ballot, no tie, and the last such post final', async () => {
    const { agents } = agentsEach(2, (a) => words(a === 0 ? 'I think 4. Answer: 4' : 'Sure. Answer: 4'));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 3, actors: 2, answerType: 'number' } });
    const v = ofType(events, 'vote')[0]!;
    expect(v.ballots).toEqual([{ agent: 'a1', answer: '4', raw: 'I think 4. Answer: 4' }, { agent: 'a2', answer: '4', raw: 'Sure. Answer: 4' }]);
    expect(v.tie).toBe(false);
    expect(v.rule).toBe("consensus after round 1: every agent's latest post gives this answer, so no vote is held");
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '4', agent: 'a2', text: 'Sure. Answer: 4' });
  });

  it('scripted: posts that give no answer are no consensus; with no conclusion the last entry is final, unvoted, with answer ""', async () => {
    const { agents, engines } = agentsEach(3, (a, req) => words(`I am not sure, says ${'abc'[a]} in ${isProposal(lastUser(req)) ? 'the first round' : 'a later round'}`));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, actors: 2, answerType: 'number' } });
    // Round 1: a1, a2; round 2: a3, a1; no vote.
    expect(engines.map((e) => e.calls.length)).toEqual([2, 1, 1]);
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'final')).toEqual([expect.objectContaining({ answer: '', agent: 'a1', text: 'I am not sure, says a in a later round' })]);
  });

  it('scripted: one conclusion without consensus is final with no vote, shown as the latest post of the agent that holds it', async () => {
    const { agents, engines } = agentsEach(2, (a, req) => words(a === 0 ? `${isProposal(lastUser(req)) ? 'First' : 'Still'}: Answer: 4` : 'no idea'));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, actors: 2, answerType: 'number' } });
    expect(engines.map((e) => e.calls.length)).toEqual([2, 2]);
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'final')).toEqual([expect.objectContaining({ answer: '4', agent: 'a1', text: 'Still: Answer: 4' })]);
  });

  it('scripted: conclusions are the distinct non-empty standing answers, each as its first holder’s latest post', async () => {
    // a1 and a2 say 1, a3 says 2, a4 gives no answer: two conclusions, 1 (a1's) and 2 (a3's).
    const { agents, engines } = agentsEach(4, (a, req) => words(isVote(lastUser(req)) ? 'I vote for Conclusion #2' : a === 3 ? 'no idea' : `from ${'abcd'[a]} Answer: ${a === 2 ? 2 : 1}`));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, actors: 4, answerType: 'number' } });
    expect(ofType(events, 'round').at(-1)).toMatchObject({ round: 2, label: 'Vote: 2 conclusions' });
    expect(starts(events).get('a4.r2.s0.vote')!.sees).toEqual(['a1.r1.s0.propose', 'a3.r1.s0.propose']);
    expect(lastUser(engines[3]!.calls[1]!.request)).toContain('Conclusions:\nConclusion #1: 1\nConclusion #2: 2\n\nReply');
    const v = ofType(events, 'vote')[0]!;
    expect(v.tally).toEqual([{ answer: '2', count: 4, agents: ['a1', 'a2', 'a3', 'a4'] }]);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '2', agent: 'a3', text: 'from c Answer: 2' });
  });

  it('scripted: when every vote abstains, the standing answers are counted: an agent that never posted abstains with no text', async () => {
    // Three agents, one post per round, two rounds: a3 never posts.
    const { agents } = agentsEach(3, (a, req) => words(isVote(lastUser(req)) ? 'I cannot decide.' : `post by ${'abc'[a]} Answer: ${a + 1}`));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 2, actors: 1, answerType: 'number' } });
    const v = ofType(events, 'vote')[0]!;
    expect(v.round).toBe(3);
    expect(v.ballots).toEqual([
      { agent: 'a1', answer: '1', raw: 'post by a Answer: 1' },
      { agent: 'a2', answer: '2', raw: 'post by b Answer: 2' },
      { agent: 'a3', answer: '', raw: '' },
    ]);
    expect(v.tally.map((t) => t.answer)).toEqual(['1', '2']);
    expect(v.rule).toMatch(/^no vote named a listed conclusion, so the agents' standing answers were counted: most votes/);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '1', agent: 'a1', text: 'post by a Answer: 1' });
  });

  it('scripted: a tied vote goes to the conclusion whose voters were surer (mean token probability)', async () => {
    const { agents } = agentsEach(2, (a, req) => (isVote(lastUser(req)) ? words(`I vote for Conclusion #${a + 1}`, a === 0 ? -2 : -0.1) : words(`Answer: ${a + 1}`, -0.1)));
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, actors: 2, answerType: 'number' } });
    const v = ofType(events, 'vote')[0]!;
    expect(v.tie).toBe(true);
    expect(v.winner).toBe('2');
    expect(v.rule).toMatch(/highest summed probability/);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '2', agent: 'a2' });
  });

  it('scripted: a vote whose call fails part-way is an abstention, whatever it had written', async () => {
    // Each agent answers its own number; its vote writes "I vote for Conclusion #2" and then the engine fails.
    const agents = [0, 1].map((a): Agent => {
      const engine = new ScriptedEngine(() => words(`Answer: ${a + 1}`));
      const chat: Engine['chat'] = (req, opts) => {
        if (!isVote(lastUser(req))) return engine.chat(req, opts);
        return (async function* () {
          yield { type: 'delta' as const, text: 'I vote for Conclusion #2' };
          throw new Error('engine down');
        })();
      };
      return { id: `a${a + 1}`, name: `Agent ${a + 1}`, model: 'scripted', engine: { ...engine, info: engine.info, chat, complete: engine.complete.bind(engine), unload: async () => undefined }, temperature: 0.7 };
    });
    const events = await collectRun({ ...base, agents, knobs: { rounds: 1, actors: 2, answerType: 'number' } });
    // The failed votes did write the words before failing.
    expect(ofType(events, 'message-end').filter((m) => m.msgId.endsWith('.vote')).map((m) => m.text)).toEqual(['I vote for Conclusion #2', 'I vote for Conclusion #2']);
    const v = ofType(events, 'vote')[0]!;
    expect(v.rule).toMatch(/^no vote named a listed conclusion/);
    expect(ofType(events, 'final')[0]).toMatchObject({ answer: '1', agent: 'a1' });
  });

  it('scripted: cancel during the vote ends the run with no vote and no final answer', async () => {
    const engine = new ScriptedEngine((req) => words(isVote(lastUser(req)) ? 'I vote for Conclusion #1 and that is that' : `Answer: ${req.seed}`), { tokenDelayMs: 2 });
    const controller = new AbortController();
    const events: TraceEvent[] = [];
    for await (const e of runStrategy({ ...base, agents: agentsOn(engine, 2), knobs: { rounds: 1, answerType: 'number' }, signal: controller.signal })) {
      events.push(e);
      if (e.type === 'token' && e.msgId.endsWith('.vote') && !controller.signal.aborted) controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
    expect(ofType(events, 'vote')).toHaveLength(0);
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('blackboard: fitting the context', () => {
  const maxTokens = 20;
  const prompt = 'What is 2+2?';
  const least = 'x'.repeat(32);
  /** Two agents, each on an engine with `contextLength`; a1 always answers 1, a2 always 2 (no consensus). */
  const run = async (contextLength: number, rounds: number, post: (agent: number) => string = (a) => `Answer: ${a + 1}`) => {
    const { agents, engines } = agentsEach(2, (a, req) => words(isVote(lastUser(req)) ? 'I vote for Conclusion #1' : post(a)), { contextLength });
    const events = await collectRun({ ...base, prompt, maxTokens, agents, knobs: { rounds, actors: 2, answerType: 'number' } });
    return { engines, calls: engines.flatMap((e) => e.calls), events, end: events.at(-1) as Of<'run-end'> };
  };
  const a1 = agentsOn(new ScriptedEngine(() => []), 2)[0]!;
  const proposalNeeds = promptTokenBound(postMessages(a1, prompt, 'propose', [], [])) + maxTokens;
  const critiqueNeeds = promptTokenBound(postMessages(a1, prompt, 'critique', [entry(1, a1, least)], [least])) + maxTokens;
  const voteNeeds = promptTokenBound(voteMessages(a1, prompt, ['x'.repeat(8), 'x'.repeat(8)])) + maxTokens;

  it('the checks are ordered as the prompts grow: proposal < vote of 8-byte conclusions < critique showing 32 bytes', () => {
    expect(proposalNeeds).toBeLessThan(voteNeeds);
    expect(voteNeeds).toBeLessThan(critiqueNeeds);
  });

  it('scripted: refuses a proposal that cannot fit, saying so, with the advice', async () => {
    const { calls, end } = await run(proposalNeeds - 1, 1);
    expect(calls).toHaveLength(0);
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/^a proposal on an empty board needs up to \d+ tokens/);
    expect(end.message).toContain('use fewer agents (now 2), fewer rounds (now 1), a smaller max tokens (now 20), or a shorter prompt');
  });

  it('scripted: refuses a vote over N conclusions of 8 bytes that cannot fit', async () => {
    const refused = await run(voteNeeds - 1, 1);
    expect(refused.calls).toHaveLength(0);
    expect(refused.end.message).toMatch(/^the vote \(2 conclusions of 8 bytes\) needs up to \d+ tokens/);
    const fits = await run(voteNeeds, 1);
    expect(fits.end.status).toBe('done');
    expect(fits.calls).toHaveLength(4);
  });

  it('scripted: conclusions longer than the 8 bytes the check allowed for, with no room to show 32 of each, end the run at the vote', async () => {
    const { calls, end } = await run(voteNeeds, 1, (a) => `Answer: ${a === 0 ? 123456789 : 987654321}`);
    expect(calls).toHaveLength(2);
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/^the vote: Agent 1's \d+-token context has room for only 16 bytes of the 2 answers/);
  });

  it('scripted: a critique must fit one entry of 32 bytes, checked only when there is a round 2', async () => {
    const refused = await run(critiqueNeeds - 1, 2);
    expect(refused.calls).toHaveLength(0);
    expect(refused.end.message).toMatch(/^a critique showing one board entry \(at least 32 bytes\) needs up to \d+ tokens/);
    expect(refused.end.message).toContain('fewer rounds (now 2)');
    const oneRound = await run(critiqueNeeds - 1, 1);
    expect(oneRound.end.status).toBe('done');
    const fits = await run(critiqueNeeds, 2);
    expect(fits.end.status).toBe('done');
  });

  it('scripted: entries are cut to share the room, and the warning says to how many bytes', async () => {
    const long = (a: number) => `${'y'.repeat(90)} Answer: ${a + 1}`;
    const twoEmpty = promptTokenBound(postMessages(a1, prompt, 'critique', [entry(1, a1, ''), entry(2, a1, '')], ['', ''])) + maxTokens;
    const { events, end } = await run(twoEmpty + 80, 2, long);
    expect(end.status).toBe('done');
    const warnings = ofType(events, 'error');
    expect(warnings.map((w) => [w.agent, w.fatal])).toEqual([['a1', false], ['a2', false]]);
    for (const w of warnings) expect(w.message).toBe('round 2: entries were cut to 40 bytes each (their first bytes, then "…") to fit the context with max tokens 20');
    expect(starts(events).get('a1.r2.s0.critique')!.sees).toEqual(['a1.r1.s0.propose', 'a2.r1.s0.propose']);
  });

  it('scripted: when all entries cannot keep 32 bytes each, only the latest are shown, and the warning says from which', async () => {
    const long = (a: number) => `${'y'.repeat(90)} Answer: ${a + 1}`;
    const oneEmpty = promptTokenBound(postMessages(a1, prompt, 'critique', [entry(2, a1, '')], [''])) + maxTokens;
    const result = await run(oneEmpty + 40, 2, long);
    const { events, end } = result;
    expect(end.status).toBe('done');
    const warnings = ofType(events, 'error');
    expect(warnings).toHaveLength(2);
    for (const w of warnings) {
      expect(w.message).toBe('round 2: the board showed only its latest 1 of 2 entries (from Entry #2); entries were cut to 40 bytes each (their first bytes, then "…") to fit the context with max tokens 20');
    }
    expect(starts(events).get('a1.r2.s0.critique')!.sees).toEqual(['a2.r1.s0.propose']);
    // 40 bytes: the first 37 and the 3-byte "…".
    const critique = lastUser(result.engines[0]!.calls[1]!.request);
    expect(critique).toContain(`Shared board:\n\nEntry #2 (Agent 2): \`\`\`${'y'.repeat(37)}…\`\`\`\n\nFix any mistake`);
  });

  it('scripted: a board whose latest entry alone no longer fits ends the run with that round’s refusal (Entry #10 is a byte longer)', async () => {
    const long = (a: number) => `${'y'.repeat(90)} Answer: ${a + 1}`;
    const { calls, end } = await run(critiqueNeeds, 6, long);
    // Rounds 1–5 post (10 entries); round 6 would show "Entry #10", one byte more than the check before the run allowed for.
    expect(calls).toHaveLength(10);
    expect(end.status).toBe('error');
    expect(end.message).toMatch(/^round 6: Agent 1's \d+-token context has room for only 31 bytes of the 1 answers/);
  });
});
