/**
 * The token-level methods' shared plumbing (src/lib/strategies/tokens.ts) at its edges: the prompt a
 * stepper continues (system prompt, the data-set completion form), the refusals (an engine that
 * cannot step, a model that gives no candidates), reading log-probabilities and candidates from full
 * logits, the one-line stop, and each per-token method's stated token bound.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { NextToken, Stepper, VocabularyInfo } from '../../src/lib/engines/stepper.ts';
import { collectRun } from '../../src/lib/run.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { Answer, candidateIds, logprobOf, modelView, probs, stepPromptText, textOf, type Lane } from '../../src/lib/strategies/tokens.ts';
import { getStrategy } from '../../src/lib/strategies/registry.ts';
import { contrast } from '../../src/lib/strategies/contrastive.ts';
import { ScriptedEngine } from './strategies.scripted.ts';
import { ofType } from './strategy-text.helpers.ts';

const PIECES = ['', '', ' a', ' b', ' c'];
const VOCAB: VocabularyInfo = { size: PIECES.length, fingerprint: 'toy', bos: 0, eos: [1] };
const agent = (over: Partial<Agent> = {}): Agent => ({ id: 'a1', name: 'Agent 1', model: 'm', engine: new ScriptedEngine(() => []), temperature: 0, ...over });
const top = (...ps: [number, number][]): NextToken => ({ top: ps.map(([id, p]) => ({ id, text: PIECES[id]!, logprob: Math.log(p) })), exactness: 'top-k' });

/** A stepper engine whose every step gives `next`; it records the texts it tokenized. */
function stepperEngine(next: () => NextToken): Engine & { tokenized: string[] } {
  const tokenized: string[] = [];
  const stepper: Stepper = {
    vocabulary: VOCAB,
    tokenize: async (text, o) => {
      tokenized.push(text);
      return [...(o?.addBos ? [0] : []), 2];
    },
    detokenize: async (ids) => ids.map((i) => PIECES[i]).join(''),
    next: async () => next(),
    close: async () => undefined,
  };
  const fail = (): never => {
    throw new Error('no text generation here');
  };
  return { info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true }, chat: fail, complete: fail, unload: async () => undefined, stepper: async () => stepper, tokenized };
}

describe('tokens: the prompt a stepper continues', () => {
  it('the prompt as written, after the system prompt on its own line when there is one', () => {
    expect(stepPromptText(agent(), 'What is 2+2?')).toEqual({ text: 'What is 2+2?', oneLine: false });
    expect(stepPromptText(agent({ system: '  Be brief. ' }), 'What is 2+2?')).toEqual({ text: 'Be brief.\nWhat is 2+2?', oneLine: false });
    expect(stepPromptText(agent({ system: '   ' }), 'What is 2+2?')).toEqual({ text: 'What is 2+2?', oneLine: false });
  });

  it('the data-set completion form ("Q: …\\nA:") is continued on one line', () => {
    expect(stepPromptText(agent(), 'Q: 1 + 1 = ?\nA:')).toEqual({ text: 'Q: 1 + 1 = ?\nA:', oneLine: true });
    expect(stepPromptText(agent({ system: 'Sys' }), 'Q: 1 + 1 = ?\nA:')).toEqual({ text: 'Sys\nQ: 1 + 1 = ?\nA:', oneLine: true });
  });

  it('scripted: each lane tokenizes its own agent’s prompt (with its system prompt)', async () => {
    const e1 = stepperEngine(() => top([2, 0.9], [1, 0.1]));
    const e2 = stepperEngine(() => top([2, 0.9], [1, 0.1]));
    const events = await collectRun({ strategy: 'fusion', prompt: 'Tell me.', seed: 1, maxTokens: 2, agents: [agent({ engine: e1 }), agent({ id: 'a2', name: 'Agent 2', engine: e2, system: 'Sys two' })] });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(e1.tokenized[0]).toBe('Tell me.');
    expect(e2.tokenized[0]).toBe('Sys two\nTell me.');
  });
});

describe('tokens: refusals', () => {
  it('scripted: an agent on an engine that cannot step is refused by name, with the fix', async () => {
    const events = await collectRun({ strategy: 'fusion', prompt: 'Q', seed: 1, maxTokens: 2, agents: [agent({ engine: stepperEngine(() => top([2, 1])) }), agent({ id: 'a2', name: 'Agent 2' })] });
    expect(events.at(-1)).toMatchObject({
      type: 'run-end',
      status: 'error',
      message: expect.stringContaining('Logit fusion steps models token by token, and Agent 2 runs on an engine that cannot (wllama) — choose a GGUF model or an OpenAI-compatible server.'),
    });
  });

  it('scripted: a model that gives no candidates for the next token ends the run, naming it', async () => {
    const events = await collectRun({ strategy: 'fusion', prompt: 'Q', seed: 1, maxTokens: 2, agents: [agent({ engine: stepperEngine(() => top([2, 1])) }), agent({ id: 'a2', name: 'Agent 2', engine: stepperEngine(() => ({ top: [], exactness: 'top-k' })) })] });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'error', message: expect.stringContaining('Agent 2 returned no candidates for the next token.') });
    expect(ofType(events, 'final')).toHaveLength(0);
  });
});

describe('tokens: reading a step', () => {
  it('probs: the first n candidates (5 by default) as probabilities', () => {
    const next = top([2, 0.5], [3, 0.2], [4, 0.1], [1, 0.1], [0, 0.05], [2, 0.05]);
    expect(probs(next.top).map((c) => c.id)).toEqual([2, 3, 4, 1, 0]);
    expect(probs(next.top, 2)).toEqual([{ id: 2, text: ' a', p: expect.closeTo(0.5, 12) }, { id: 3, text: ' b', p: expect.closeTo(0.2, 12) }]);
  });

  it('modelView: the agent, its top five, exactness, and the route’s note only when there is one', () => {
    const lane = { agent: agent() } as Lane;
    expect(modelView(lane, { ...top([2, 1]), note: 'approximated' })).toEqual({ agent: 'a1', top: [{ id: 2, text: ' a', p: 1 }], exactness: 'top-k', note: 'approximated' });
    expect(modelView(lane, top([2, 1]))).toEqual({ agent: 'a1', top: [{ id: 2, text: ' a', p: 1 }], exactness: 'top-k' });
  });

  it('logprobOf with full logits: the token’s own entry, −∞ past the vocabulary', () => {
    const full = new Float32Array([-5, -4, -0.5, -3, -2]);
    const next: NextToken = { ...top([2, Math.exp(-0.5)]), exactness: 'full', full };
    expect(logprobOf(next, 3)).toBe(-3);
    expect(logprobOf(next, 9)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('candidateIds: every token when all models give full logits, else the union of the top lists in order', () => {
    const full: NextToken = { ...top([4, 0.9]), exactness: 'full', full: new Float32Array(5) };
    expect(candidateIds([full, full])).toEqual([0, 1, 2, 3, 4]);
    expect(candidateIds([full, top([3, 0.5], [4, 0.5])])).toEqual([4, 3]);
    expect(candidateIds([top([2, 0.5], [3, 0.5]), top([3, 0.5], [4, 0.5])])).toEqual([2, 3, 4]);
  });

  it('textOf: the text from whichever model listed the id; "" when none did', () => {
    expect(textOf([top([2, 1]), top([4, 1])], 4)).toBe(' c');
    expect(textOf([top([2, 1])], 3)).toBe('');
  });

  it('Answer: a one-line answer ends at a token with a newline; a free answer keeps it; max tokens ends either', () => {
    const line = new Answer(5, true);
    expect(line.push(2, ' a', false)).toBe(true);
    expect(line.push(3, ' b\n', false)).toBe(false);
    expect(line.finished).toBe(true);
    expect(line.ids).toEqual([2]);
    const free = new Answer(2, false);
    expect(free.push(3, '\n', false)).toBe(true);
    expect(free.done).toBe(false);
    expect(free.push(2, ' a', false)).toBe(true);
    expect(free.done).toBe(true);
    expect(free.finished).toBe(false);
    const ended = new Answer(5, false);
    expect(ended.push(1, '', true)).toBe(false);
    expect(ended.done).toBe(true);
  });
});

describe('per-token methods: the token bound shown before a run', () => {
  // N agents, knobs, max tokens M = 16, prompt P = 20 tokens.
  const bound = (id: string, n: number, knobs: Record<string, unknown> = {}) => getStrategy(id).meta.cost!.tokens!(n, knobs as never, 16, 20);

  it('two models read the prompt, M tokens are written: co-llm, contrastive, nudging, speculative', () => {
    for (const id of ['co-llm', 'contrastive', 'nudging', 'speculative']) expect(bound(id, 2), id).toEqual({ prompt: 40, completion: 16 });
  });

  it('proxy tuning’s three models read the prompt; switch and fusion’s N models do', () => {
    expect(bound('proxy-tuning', 3)).toEqual({ prompt: 60, completion: 16 });
    expect(bound('switch', 3)).toEqual({ prompt: 60, completion: 16 });
    expect(bound('fusion', 4)).toEqual({ prompt: 80, completion: 16 });
  });
});

describe('logit methods: branches the main file leaves out', () => {
  /** A stepper engine writing `seq` greedily (p = 0.9 each), then EOS; the prompt is [BOS, 2]. */
  function writer(seq: number[]): Engine {
    const stepper: Stepper = {
      vocabulary: VOCAB,
      tokenize: async (_text, o) => [...(o?.addBos ? [0] : []), 2],
      detokenize: async (ids) => ids.map((i) => PIECES[i]).join(''),
      next: async (prefix) => {
        const next = seq[prefix.length - 2] ?? 1;
        return top([next, 0.9], [next === 4 ? 3 : 4, 0.1]);
      },
      close: async () => undefined,
    };
    const fail = (): never => {
      throw new Error('no text generation here');
    };
    return { info: { kind: 'wllama', model: 'scripted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true }, chat: fail, complete: fail, unload: async () => undefined, stepper: async () => stepper };
  }
  const two = (a: Engine, b: Engine) => [agent({ engine: a }), agent({ id: 'a2', name: 'Agent 2', engine: b })];

  it('scripted: speculative — when every draft token is accepted, the target adds its own next token, and says so', async () => {
    const seq = [2, 3, 4, 2, 3];
    const events = await collectRun({ strategy: 'speculative', prompt: 'Q', seed: 1, maxTokens: 8, agents: two(writer(seq), writer(seq)), knobs: { draft: 2 } });
    const steps = ofType(events, 'step');
    expect(steps.map((s) => s.by)).toEqual(['a1', 'a1', 'a2', 'a1', 'a1']);
    expect(steps[2]).toMatchObject({ token: { id: 4, text: ' c' }, reason: 'all 2 draft tokens accepted: the target adds its next token' });
    expect(steps[2]!.models.map((m) => m.agent)).toEqual(['a2']);
    expect(steps[2]!.rejected).toBeUndefined();
    expect(ofType(events, 'final')[0]).toMatchObject({ text: ' a b c a b' });
  });

  /** Like `writer`, but the top token's probability at each position is `ps[i]` (0.9 past the end). */
  function writerP(seq: number[], ps: number[]): Engine {
    const engine = writer(seq);
    return {
      ...engine,
      stepper: async () => {
        const s = await engine.stepper!();
        return { ...s, next: async (prefix: number[]) => {
          const i = prefix.length - 2;
          const next = seq[i] ?? 1;
          return top([next, ps[i] ?? 0.9], [next === 4 ? 3 : 4, 0.35]);
        } };
      },
    };
  }

  it('scripted: co-llm — the generator writes its sure tokens, the mentor the others; each step says why', async () => {
    const gen = writerP([2, 3], [0.9, 0.45]);
    const mentor = writer([2, 4]);
    const events = await collectRun({ strategy: 'co-llm', prompt: 'Q', seed: 1, maxTokens: 8, agents: two(gen, mentor), knobs: { threshold: 0.5 } });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(ofType(events, 'round')[0]!.label).toBe('Agent 1 generates; Agent 2 mentors under 0.5');
    const steps = ofType(events, 'step');
    expect(steps.map((s) => [s.index, s.token.id, s.by, s.models.map((m) => m.agent)])).toEqual([
      [0, 2, 'a1', ['a1']],
      [1, 4, 'a2', ['a1', 'a2']],
    ]);
    expect(steps[0]!.reason).toBe('generator top-1 probability 0.900 ≥ 0.5: the generator writes');
    expect(steps[1]!.reason).toBe('generator top-1 probability 0.450 < 0.5: defer this token to the mentor');
    expect(ofType(events, 'final')[0]).toMatchObject({ text: ' a c' });
  });

  it('scripted: co-llm closes both steppers when it is done', async () => {
    let closed = 0;
    const counting = (engine: Engine): Engine => ({ ...engine, stepper: async () => ({ ...(await engine.stepper!()), close: async () => void closed++ }) });
    const events = await collectRun({ strategy: 'co-llm', prompt: 'Q', seed: 1, maxTokens: 4, agents: two(counting(writer([2])), counting(writer([2]))), knobs: {} });
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(closed).toBe(2);
  });

  it('contrastive: a token exactly at the plausibility cut is a candidate (α = 1 keeps the expert’s top token)', () => {
    const expert = top([2, 0.6], [3, 0.4]);
    expect(contrast(expert, top([2, 0.5], [3, 0.5]), 0.5, 1).map((r) => r.id)).toEqual([2]);
  });

  it('scripted: contrastive — the round names expert and anti-expert, each step its score and candidates', async () => {
    const events = await collectRun({ strategy: 'contrastive', prompt: 'Q', seed: 1, maxTokens: 1, agents: two(writer([2]), writer([2])), knobs: { lambda: 0.5, alpha: 0.5 } });
    expect(ofType(events, 'round')[0]!.label).toBe('Agent 1 (expert) against Agent 2 (anti-expert), λ = 0.5');
    // Candidates: " a" (0.9) only; " c" (0.1) is under 0.5 × 0.9. Score 1.5·ln 0.9 − 0.5·ln 0.9 = ln 0.9.
    expect(ofType(events, 'step')[0]!.reason).toBe(`highest contrastive score ${Math.log(0.9).toFixed(3)} among 1 plausible expert tokens (λ 0.5, α 0.5)`);
  });

  it('scripted: fusion of probabilities says so in its label, its ranking and each step’s reason', async () => {
    const seq = [2, 3];
    const events = await collectRun({ strategy: 'fusion', prompt: 'Q', seed: 1, maxTokens: 4, agents: two(writer(seq), writer(seq)), knobs: { mode: 'prob' } });
    expect(ofType(events, 'round')[0]!.label).toMatch(/^Fusing 2 agents \(probabilities, weights /);
    const steps = ofType(events, 'step');
    expect(steps[0]!.reason).toBe('highest weighted mean probability (0.900) over the agents');
    expect(steps[0]!.combined).toMatchObject({ label: 'fused probability' });
    expect(steps[0]!.combined!.top[0]).toMatchObject({ id: 2, value: expect.closeTo(0.9, 6) });
    const logs = await collectRun({ strategy: 'fusion', prompt: 'Q', seed: 1, maxTokens: 4, agents: two(writer(seq), writer(seq)), knobs: {} });
    expect(ofType(logs, 'round')[0]!.label).toMatch(/^Fusing 2 agents \(log-probabilities, weights /);
    expect(ofType(logs, 'step')[0]!.reason).toBe('highest weighted mean log-probability (0.900) over the agents');
    expect(ofType(logs, 'step')[0]!.combined).toMatchObject({ label: 'fused probability (exp of the weighted mean log-probability)' });
  });
});

