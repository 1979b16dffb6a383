/**
 * The token- and logit-level methods' decision rules with exact expectations, and each method run
 * end to end on scripted distributions served through the real Stepper interface ("scripted"
 * steppers: pure decision logic). The real wllama stepper runs in tests/e2e/stepping.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { NextToken, Stepper, VocabularyInfo } from '../../src/lib/engines/stepper.ts';
import { collectRun } from '../../src/lib/run.ts';
import type { StepEvent, TraceEvent } from '../../src/lib/trace.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { shouldNudge, startsWord } from '../../src/lib/strategies/nudging.ts';
import { shouldDefer } from '../../src/lib/strategies/co-llm.ts';
import { selectWriter } from '../../src/lib/strategies/switch.ts';
import { acceptedPrefix } from '../../src/lib/strategies/speculative.ts';
import { fuse, parseWeights } from '../../src/lib/strategies/fusion.ts';
import { contrast } from '../../src/lib/strategies/contrastive.ts';
import { proxyTune } from '../../src/lib/strategies/proxy-tuning.ts';
import { best } from '../../src/lib/strategies/logit.ts';
import { logprobOf } from '../../src/lib/strategies/tokens.ts';
import { applyEvent, emptyTraceView } from '../../src/lib/render/trace-view.ts';
import { strategies } from '../../src/lib/strategies/registry.ts';

// A toy vocabulary: 0 BOS, 1 EOS, then words. "Q" is the prompt's one token.
const PIECES = ['', '', ' a', ' b', ' c', 'x', '\n', 'Q', ' d'];
const [A, B, C, X, NL, Q, D] = [2, 3, 4, 5, 6, 7, 8];
const VOCAB: VocabularyInfo = { size: PIECES.length, fingerprint: 'toy', bos: 0, eos: [1] };

/** Probabilities by id, most probable first, as a stepper reports them. */
function dist(ps: Record<number, number>): NextToken {
  const top = Object.entries(ps)
    .map(([id, p]) => ({ id: Number(id), text: PIECES[Number(id)]!, logprob: Math.log(p) }))
    .sort((a, b) => b.logprob - a.logprob);
  return { top, exactness: 'top-k' };
}

/** A scripted model: its distribution after each answer so far (the prompt [BOS, Q] stripped). */
type Model = (answer: number[]) => Record<number, number>;

function scriptedEngine(model: Model, vocabulary: VocabularyInfo = VOCAB): Engine & { prefixes: number[][] } {
  const prefixes: number[][] = [];
  const stepper: Stepper = {
    vocabulary,
    tokenize: async (text, o) => [...(o?.addBos ? [0] : []), ...(text ? [Q] : [])],
    detokenize: async (ids) => ids.map((i) => PIECES[i]).join(''),
    next: async (prefix) => {
      prefixes.push([...prefix]);
      return dist(model(prefix.slice(2)));
    },
    close: async () => undefined,
  };
  const fail = (): never => {
    throw new Error('scripted stepper engines do not generate text');
  };
  return { info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true }, chat: fail, complete: fail, unload: async () => undefined, stepper: async () => stepper, prefixes };
}

function agents(...engines: Engine[]): Agent[] {
  return engines.map((engine, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: `m${i + 1}`, engine, temperature: 0 }));
}

/** A model that writes `seq` greedily with probability `p` for each token, then EOS. */
function writes(seq: number[], p = 0.9): Model {
  return (ans) => {
    const next = seq[ans.length] ?? 1;
    const other = next === D ? C : D;
    return { [next]: p, [other]: 1 - p };
  };
}

async function run(strategy: string, as: Agent[], knobs: Record<string, unknown> = {}, maxTokens = 8): Promise<{ events: TraceEvent[]; steps: StepEvent[]; text: string }> {
  const events = await collectRun({ strategy, agents: as, prompt: 'Q', knobs, seed: 1, maxTokens });
  const end = events.at(-1);
  if (end?.type !== 'run-end' || end.status !== 'done') throw new Error(`run ended ${JSON.stringify(end)}: ${JSON.stringify(events.filter((e) => e.type === 'error'))}`);
  const final = events.find((e) => e.type === 'final');
  return { events, steps: events.filter((e): e is StepEvent => e.type === 'step'), text: final?.type === 'final' ? final.text : '' };
}

describe('decision rules', () => {
  it('nudging: nudge strictly under γ; a word ends before a token starting with whitespace', () => {
    expect(shouldNudge(0.39, 0.4)).toBe(true);
    expect(shouldNudge(0.4, 0.4)).toBe(false);
    expect(shouldNudge(0.01, 0)).toBe(false);
    expect(shouldNudge(0.999, 1)).toBe(true);
    expect(startsWord(' b')).toBe(true);
    expect(startsWord('\n')).toBe(true);
    expect(startsWord('x')).toBe(false);
  });

  it('co-llm: defer strictly under the threshold', () => {
    expect(shouldDefer(0.49, 0.5)).toBe(true);
    expect(shouldDefer(0.5, 0.5)).toBe(false);
  });

  it('switch: the most confident model writes; ties go to the earlier agent', () => {
    expect(selectWriter([0.2, 0.7, 0.5])).toBe(1);
    expect(selectWriter([0.6, 0.6])).toBe(0);
  });

  it('speculative: the accepted prefix ends at the first mismatch', () => {
    expect(acceptedPrefix([A, B, C, D], [A, B, X])).toBe(2);
    expect(acceptedPrefix([A, B], [A, B, C])).toBe(2);
    expect(acceptedPrefix([A], [B])).toBe(0);
  });

  it('top-K floor: a token outside a model\u2019s list gets its lowest listed log-probability', () => {
    const n = dist({ [A]: 0.6, [B]: 0.3 });
    expect(logprobOf(n, A)).toBeCloseTo(Math.log(0.6), 12);
    expect(logprobOf(n, C)).toBeCloseTo(Math.log(0.3), 12);
  });

  it('fusion: weighted mean of log-probabilities (and of probabilities) over the top-K union, with the floor', () => {
    const m1 = dist({ [A]: 0.6, [B]: 0.3 });
    const m2 = dist({ [B]: 0.5, [C]: 0.4 });
    const lp = fuse([m1, m2], [1, 1], 'logprob');
    expect(lp.map((r) => r.id)).toEqual([A, B, C]);
    // A: (ln .6 + ln .4 (m2's floor)) / 2; B: (ln .3 + ln .5) / 2; C: (ln .3 (m1's floor) + ln .4) / 2.
    expect(lp[0]!.value).toBeCloseTo((Math.log(0.6) + Math.log(0.4)) / 2, 12);
    expect(lp[1]!.value).toBeCloseTo((Math.log(0.3) + Math.log(0.5)) / 2, 12);
    expect(lp[2]!.value).toBeCloseTo((Math.log(0.3) + Math.log(0.4)) / 2, 12);
    expect(best(lp).id).toBe(A);
    const pr = fuse([m1, m2], [1, 3], 'prob');
    // B: .25·.3 + .75·.5 = .45 beats A: .25·.6 + .75·.4 = .45? No: A = .15 + .30 = .45, B = .075 + .375 = .45 — a tie goes to the first listed (A).
    expect(pr.find((r) => r.id === A)!.value).toBeCloseTo(0.45, 12);
    expect(pr.find((r) => r.id === B)!.value).toBeCloseTo(0.45, 12);
    expect(best(pr).id).toBe(A);
    expect(best(fuse([m1, m2], [1, 4], 'prob')).id).toBe(B);
  });

  it('fusion of a model with itself ranks exactly as the model does', () => {
    const m = dist({ [C]: 0.5, [A]: 0.3, [B]: 0.2 });
    expect(best(fuse([m, m], [1, 1], 'logprob')).id).toBe(C);
    expect(best(fuse([m, m], [1, 1], 'prob')).id).toBe(C);
  });

  it('weights: empty = equal; anything else must be one non-negative number per agent', () => {
    expect(parseWeights('', 3)).toEqual([1, 1, 1]);
    expect(parseWeights('2, 1', 2)).toEqual([2, 1]);
    expect(() => parseWeights('1', 2)).toThrow(/must be 2 non-negative numbers/);
    expect(() => parseWeights('0 0', 2)).toThrow(/not all 0/);
  });

  it('contrastive: (1 + λ)·log p_e − λ·log p_a among tokens with p_e ≥ α·max p_e', () => {
    const expert = dist({ [A]: 0.5, [B]: 0.4, [C]: 0.04 });
    const anti = dist({ [A]: 0.8, [B]: 0.1 });
    const r = contrast(expert, anti, 0.2, 0.1);
    // C (0.04 < 0.1 × 0.5) is not plausible.
    expect(r.map((x) => x.id)).toEqual([A, B]);
    expect(r[0]!.value).toBeCloseTo(1.2 * Math.log(0.5) - 0.2 * Math.log(0.8), 12);
    expect(r[1]!.value).toBeCloseTo(1.2 * Math.log(0.4) - 0.2 * Math.log(0.1), 12);
    expect(best(r).id).toBe(B);
    expect(best(contrast(expert, anti, 0, 0.1)).id).toBe(A);
  });

  it('proxy tuning: log p_base + log p_tuned − log p_untuned', () => {
    const base = dist({ [A]: 0.5, [B]: 0.3 });
    const tuned = dist({ [B]: 0.7, [A]: 0.2 });
    const untuned = dist({ [A]: 0.6, [B]: 0.2 });
    const r = proxyTune(base, tuned, untuned);
    expect(r.find((x) => x.id === A)!.value).toBeCloseTo(Math.log(0.5) + Math.log(0.2) - Math.log(0.6), 12);
    expect(r.find((x) => x.id === B)!.value).toBeCloseTo(Math.log(0.3) + Math.log(0.7) - Math.log(0.2), 12);
    expect(best(r).id).toBe(B);
  });
});

describe('methods on scripted steppers', () => {
  it('scripted: the seven methods are registered after the text-level ones (the weight-level ones last), with their levels', () => {
    expect(strategies.slice(-12, -5).map((s) => [s.meta.id, s.meta.level])).toEqual([
      ['nudging', 'token'], ['co-llm', 'token'], ['switch', 'token'], ['speculative', 'token'],
      ['fusion', 'logit'], ['contrastive', 'logit'], ['proxy-tuning', 'logit'],
    ]);
  });

  it('scripted: nudging — the nudging model writes one word (" b" + "x") where the base is under γ, then the base goes on', async () => {
    const base: Model = (ans) => (ans.length === 1 ? { [C]: 0.3, [D]: 0.2 } : writes([A, 0, 0, D])(ans));
    const nudger = writes([A, B, X, C, C]);
    const { steps, text } = await run('nudging', agents(scriptedEngine(base), scriptedEngine(nudger)), { gamma: 0.4 });
    expect(text).toBe(' a bx d');
    expect(steps.map((s) => s.by)).toEqual(['a1', 'a2', 'a2', 'a1']);
    expect(steps[1]!.reason).toContain('0.300 < γ 0.4');
  });

  it('scripted: nudging with γ = 0 is the base alone, with γ = 1 the nudging model alone', async () => {
    const base = writes([A, B, C], 0.5);
    const nudger = writes([D, D, X], 0.6);
    expect((await run('nudging', agents(scriptedEngine(base), scriptedEngine(nudger)), { gamma: 0 })).text).toBe(' a b c');
    expect((await run('nudging', agents(scriptedEngine(base), scriptedEngine(nudger)), { gamma: 1 })).text).toBe(' d dx');
  });

  it('scripted: co-llm defers exactly the low-confidence tokens to the mentor', async () => {
    const gen: Model = (ans) => (ans.length === 1 ? { [C]: 0.45, [D]: 0.4 } : writes([A, 0, A])(ans));
    const mentor = writes([B, B, B]);
    const { steps, text } = await run('co-llm', agents(scriptedEngine(gen), scriptedEngine(mentor)), { threshold: 0.5 });
    expect(text).toBe(' a b a');
    expect(steps.map((s) => s.by)).toEqual(['a1', 'a2', 'a1']);
  });

  it('scripted: switch — the most confident model writes a patch of k tokens', async () => {
    const m1 = writes([A, A, A, A], 0.6);
    const m2 = writes([B, B, B, B], 0.8);
    const { steps, text } = await run('switch', agents(scriptedEngine(m1), scriptedEngine(m2)), { patch: 2 }, 3);
    expect(text).toBe(' b b b');
    expect(steps.map((s) => s.by)).toEqual(['a2', 'a2', 'a2']);
    expect(steps[0]!.models).toHaveLength(2);
  });

  it('scripted: speculative decoding writes exactly the target\u2019s greedy answer; accepted + rejected = proposed', async () => {
    const draft = writes([A, B, C, C, A, NL]);
    const target = writes([A, B, D, C, A, NL]);
    const { events, steps, text } = await run('speculative', agents(scriptedEngine(draft), scriptedEngine(target)), { draft: 3 }, 8);
    // The prompt is not in the one-line completion format, so the line break is written; EOS ends.
    expect(text).toBe(' a b d c a\n');
    const score = events.find((e) => e.type === 'score');
    expect(score?.type === 'score' && score.metric).toBe('acceptance rate');
    const m = /(\d+) accepted \+ (\d+) rejected = (\d+) proposed/.exec(score?.type === 'score' ? (score.detail ?? '') : '');
    expect(m).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(Number(m![3]));
    // Round 1: draft a b c, target accepts a b, writes d (c rejected). Round 2: draft c a \n … all accepted.
    expect(steps[2]!.by).toBe('a2');
    expect(steps[2]!.rejected).toEqual([{ id: C, text: ' c' }]);
  });

  it('scripted: logit fusion of a model with itself = the model alone', async () => {
    const m = writes([C, A, B, D], 0.55);
    const e = scriptedEngine(m);
    expect((await run('fusion', agents(e, e))).text).toBe(' c a b d');
  });

  it('scripted: a logit method refuses models of different vocabularies before any step, naming the fix', async () => {
    const e1 = scriptedEngine(writes([A]));
    const e2 = scriptedEngine(writes([A]), { ...VOCAB, fingerprint: 'other' });
    const events = await collectRun({ strategy: 'fusion', agents: agents(e1, e2), prompt: 'Q', seed: 1, maxTokens: 4 });
    const err = events.find((e) => e.type === 'error');
    expect(err?.type === 'error' && err.message).toMatch(/must share one vocabulary.*choose models of one family/);
    expect(e1.prefixes).toHaveLength(0);
    expect(e2.prefixes).toHaveLength(0);
  });

  it('scripted: the per-token view folds step events with the combined ranking', async () => {
    const { events } = await run('contrastive', agents(scriptedEngine(writes([A, B])), scriptedEngine(writes([B, B]))));
    const view = emptyTraceView();
    for (const e of events) applyEvent(view, e);
    expect(view.steps.length).toBeGreaterThan(0);
    expect(view.steps[0]!.combined?.label).toContain('contrastive');
    expect(view.steps[0]!.models.map((m) => m.agent)).toEqual(['a1', 'a2']);
    expect(view.usage?.calls).toBe(events.filter((e) => e.type === 'step').length * 2 + 2);
  });
});
