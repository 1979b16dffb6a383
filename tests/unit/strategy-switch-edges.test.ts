// Switch generation (src/lib/strategies/switch.ts) step by step on scripted steppers (pure decision
// logic through the real Stepper interface): the writer changes only at patch boundaries, a patch is
// exactly k tokens (the writer steps again for each token after the first, never for the first),
// each step's reason and the models it shows, the round label, the step count, and the steppers
// closed at the end.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { NextToken, Stepper, VocabularyInfo } from '../../src/lib/engines/stepper.ts';
import { collectRun } from '../../src/lib/run.ts';
import type { StepEvent, TraceEvent } from '../../src/lib/trace.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';

// A toy vocabulary: 0 BOS, 1 EOS, then words. "Q" is the prompt's one token.
const PIECES = ['', '', ' a', ' b', ' c', ' d', 'Q'];
const [EOS, A, B, C, D, Q] = [1, 2, 3, 4, 5, 6];
const VOCAB: VocabularyInfo = { size: PIECES.length, fingerprint: 'toy', bos: 0, eos: [EOS] };

/** After each answer-so-far length: the token the model puts first and its probability (the rest on one other token). */
type Model = readonly (readonly [number, number])[];

function dist(tok: number, p: number): NextToken {
  const other = tok === D ? C : D;
  return { top: [{ id: tok, text: PIECES[tok]!, logprob: Math.log(p) }, { id: other, text: PIECES[other]!, logprob: Math.log(1 - p) }], exactness: 'top-k' };
}

/** A stepper engine following `model`; records every prefix stepped and how often it was closed. */
function scripted(model: Model): Engine & { prefixes: number[][]; closed: number } {
  const engine = {
    prefixes: [] as number[][],
    closed: 0,
    info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true },
    chat: (): never => {
      throw new Error('scripted stepper engines do not generate text');
    },
    complete: (): never => {
      throw new Error('scripted stepper engines do not generate text');
    },
    unload: async () => undefined,
    stepper: async (): Promise<Stepper> => ({
      vocabulary: VOCAB,
      tokenize: async (text, o) => [...(o?.addBos ? [0] : []), ...(text ? [Q] : [])],
      detokenize: async (ids) => ids.map((i) => PIECES[i]).join(''),
      next: async (prefix) => {
        engine.prefixes.push([...prefix]);
        const [tok, p] = model[prefix.length - 2] ?? [EOS, 0.99];
        return dist(tok, p);
      },
      close: async () => {
        engine.closed += 1;
      },
    }),
  } satisfies Engine & { prefixes: number[][]; closed: number };
  return engine;
}

const agents = (...engines: Engine[]): Agent[] => engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: `m${i + 1}`, engine, temperature: 0 }));
const stepsOf = (events: TraceEvent[]) => events.filter((e): e is StepEvent => e.type === 'step');
const view = (agent: string, tok: number, p: number) => {
  const other = tok === D ? C : D;
  return { agent, top: [{ id: tok, text: PIECES[tok], p: Math.exp(Math.log(p)) }, { id: other, text: PIECES[other], p: Math.exp(Math.log(1 - p)) }], exactness: 'top-k' };
};

// Agent 1 is surer at lengths 0 and 4, agent 2 at length 2 (lengths 1 and 3 fall inside patches).
const M1: Model = [[A, 0.9], [C, 0.55], [A, 0.6], [A, 0.6], [A, 0.9]];
const M2: Model = [[B, 0.7], [B, 0.95], [B, 0.8], [D, 0.65], [C, 0.9]];

describe('switch: patches of k tokens', () => {
  it('scripted: k = 2 — a1 writes a c, a2 writes b d, a1 (a tie at 0.9) writes a; the writer steps again only inside a patch', async () => {
    const e1 = scripted(M1);
    const e2 = scripted(M2);
    const events = await collectRun({ strategy: 'switch', agents: agents(e1, e2), prompt: 'Q', knobs: { patch: 2 }, seed: 1, maxTokens: 5 });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(events.find((e) => e.type === 'final')).toMatchObject({ text: ' a c b d a' });
    expect(events.filter((e) => e.type === 'round')).toEqual([{ type: 'round', t: expect.any(Number), round: 1, label: 'Patches of 2 tokens; the most confident agent writes each' }]);
    const steps = stepsOf(events);
    expect(steps.map((s) => [s.index, s.token, s.by])).toEqual([
      [0, { id: A, text: ' a' }, 'a1'],
      [1, { id: C, text: ' c' }, 'a1'],
      [2, { id: B, text: ' b' }, 'a2'],
      [3, { id: D, text: ' d' }, 'a2'],
      [4, { id: A, text: ' a' }, 'a1'],
    ]);
    expect(steps.map((s) => s.reason)).toEqual([
      'selector: Agent 1 is the most confident (top-1 0.900 vs 0.700); it writes the next 2 tokens',
      'Agent 1 continues its patch (2 of 2)',
      'selector: Agent 2 is the most confident (top-1 0.600 vs 0.800); it writes the next 2 tokens',
      'Agent 2 continues its patch (2 of 2)',
      'selector: Agent 1 is the most confident (top-1 0.900 vs 0.900); it writes the next 2 tokens',
    ]);
    // A patch's first token shows every model's view (the selector step); the rest only the writer's.
    expect(steps[0]!.models).toEqual([view('a1', A, 0.9), view('a2', B, 0.7)]);
    expect(steps[1]!.models).toEqual([view('a1', C, 0.55)]);
    expect(steps[2]!.models).toEqual([view('a1', A, 0.6), view('a2', B, 0.8)]);
    expect(steps[3]!.models).toEqual([view('a2', D, 0.65)]);
    expect(steps[4]!.models).toEqual([view('a1', A, 0.9), view('a2', C, 0.9)]);
    // Steps: a1 at 0, 1 (its patch), 2, 4; a2 at 0, 2, 3 (its patch), 4 — 8 in all, none repeated.
    expect(e1.prefixes.map((p) => p.length - 2)).toEqual([0, 1, 2, 4]);
    expect(e2.prefixes.map((p) => p.length - 2)).toEqual([0, 2, 3, 4]);
    expect(events.find((e) => e.type === 'usage')).toMatchObject({ calls: 8 });
    expect([e1.closed, e2.closed]).toEqual([1, 1]);
  });

  it('scripted: k = 3 — a patch is three tokens, the third named "3 of 3", then the selector asks again', async () => {
    const e1 = scripted(M1);
    const e2 = scripted(M2);
    const events = await collectRun({ strategy: 'switch', agents: agents(e1, e2), prompt: 'Q', knobs: { patch: 3 }, seed: 1, maxTokens: 5 });
    const steps = stepsOf(events);
    // Patch 1 (a1, 0.9 vs 0.7): a c a; patch 2 at length 3 (0.6 vs 0.65): a2 writes d, then c at length 4, and max tokens ends it.
    expect(steps.map((s) => s.by)).toEqual(['a1', 'a1', 'a1', 'a2', 'a2']);
    expect(events.find((e) => e.type === 'final')).toMatchObject({ text: ' a c a d c' });
    expect(steps.map((s) => s.reason)).toEqual([
      'selector: Agent 1 is the most confident (top-1 0.900 vs 0.700); it writes the next 3 tokens',
      'Agent 1 continues its patch (2 of 3)',
      'Agent 1 continues its patch (3 of 3)',
      'selector: Agent 2 is the most confident (top-1 0.600 vs 0.650); it writes the next 3 tokens',
      'Agent 2 continues its patch (2 of 3)',
    ]);
    expect(events.find((e) => e.type === 'usage')).toMatchObject({ calls: 2 + 2 + 2 + 1 });
  });

  it('scripted: k = 1 — the selector picks before every token', async () => {
    const events = await collectRun({ strategy: 'switch', agents: agents(scripted(M1), scripted(M2)), prompt: 'Q', knobs: { patch: 1 }, seed: 1, maxTokens: 4 });
    // Lengths 0-3: 0.9 vs 0.7 → a1; 0.55 vs 0.95 → a2; 0.6 vs 0.8 → a2; 0.6 vs 0.65 → a2.
    expect(stepsOf(events).map((s) => [s.by, s.token.text])).toEqual([['a1', ' a'], ['a2', ' b'], ['a2', ' b'], ['a2', ' d']]);
    expect(events.find((e) => e.type === 'usage')).toMatchObject({ calls: 8 });
  });

  it('scripted: the writer’s end-of-sequence inside a patch ends the answer there; the steppers are closed', async () => {
    const e1 = scripted([[A, 0.9], [EOS, 0.9]]);
    const e2 = scripted([[B, 0.5], [B, 0.5], [B, 0.5]]);
    const events = await collectRun({ strategy: 'switch', agents: agents(e1, e2), prompt: 'Q', knobs: { patch: 4 }, seed: 1, maxTokens: 6 });
    expect(events.find((e) => e.type === 'final')).toMatchObject({ text: ' a' });
    expect(stepsOf(events)).toHaveLength(1);
    expect(e1.prefixes).toHaveLength(2);
    expect(e2.prefixes).toHaveLength(1);
    expect([e1.closed, e2.closed]).toEqual([1, 1]);
  });
});
