/**
 * withFewerAlternatives (src/lib/engines/alternatives.ts): the decision logic of the wllama
 * engine's fallback when wllama 3.13 loses a call with top-k alternatives, fed scripted attempts.
 * The real failure (reading-specialist on world-test-0, real wllama in Chromium) is
 * tests/e2e/nprobs.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { GLUE_MAGIC_AS_LENGTH, isLostNativeCall, withFewerAlternatives, type Delta } from '../../src/lib/engines/alternatives.ts';
import type { ChatChunk, Engine, EngineInfo } from '../../src/lib/engines/engine.ts';
import { EngineError } from '../../src/lib/engines/engine.ts';
import { collectRun } from '../../src/lib/run.ts';
import { agentsOn } from './strategies.scripted.ts';

/** What wllama 3.13 throws when llama.cpp's JSON encoder threw inside the wasm. */
const lost = () => new Error(`Invalid typed array length: ${GLUE_MAGIC_AS_LENGTH}`);

/**
 * A scripted model: `tokens` with the alternatives each has; asking for more alternatives than
 * `reportable[i]` at token i loses the call there, as wllama does. Records the k of every attempt.
 */
function scripted(tokens: string[], reportable: number[], opts: { replayText?: (attempt: number, i: number) => string } = {}) {
  const asked: number[] = [];
  const attempt = async function* (k: number): AsyncGenerator<Delta> {
    const n = asked.push(k) - 1;
    for (let i = 0; i < tokens.length; i++) {
      if (k > reportable[i]!) throw lost();
      const text = opts.replayText?.(n, i) ?? tokens[i]!;
      const alts = Array.from({ length: k }, (_, j) => ({ token: j === 0 ? text : `alt${j}`, logprob: -j - 0.5 }));
      yield { text, logprobs: [{ token: text, logprob: -0.5, top_logprobs: alts }] };
    }
  };
  return { attempt, asked };
}

async function all(gen: AsyncIterable<Delta>): Promise<Delta[]> {
  const out: Delta[] = [];
  for await (const d of gen) out.push(d);
  return out;
}

describe('fewer alternatives where wllama cannot report them (scripted attempts)', () => {
  it('recognises only the lost-call error (the "GLUE" magic read as a length)', () => {
    expect(GLUE_MAGIC_AS_LENGTH).toBe(1163217991);
    expect(new TextDecoder().decode(new Uint8Array(new Uint32Array([GLUE_MAGIC_AS_LENGTH]).buffer))).toBe('GLUE');
    expect(isLostNativeCall(lost())).toBe(true);
    expect(isLostNativeCall(new Error('Invalid typed array length: 12'))).toBe(false);
    expect(isLostNativeCall(new Error('the request exceeds the available context size'))).toBe(false);
  });

  it('a call that never fails is one attempt with every alternative, and no note', async () => {
    const s = scripted(['a', 'b', 'c'], [5, 5, 5]);
    const out = await all(withFewerAlternatives(5, s.attempt, 'm'));
    expect(s.asked).toEqual([5]);
    expect(out.map((d) => d.text).join('')).toBe('abc');
    expect(out.every((d) => d.note === undefined && d.logprobs![0]!.top_logprobs.length === 5)).toBe(true);
  });

  it('a failing token: replayed with one fewer until it passes, tokens before it not repeated, a note on it, later tokens with the fewer', async () => {
    const s = scripted(['a', 'b', 'c', 'd'], [5, 5, 2, 5]);
    const out = await all(withFewerAlternatives(5, s.attempt, 'm'));
    expect(s.asked).toEqual([5, 4, 3, 2]);
    expect(out.map((d) => d.text)).toEqual(['a', 'b', 'c', 'd']);
    expect(out.map((d) => d.logprobs![0]!.top_logprobs.length)).toEqual([5, 5, 2, 2]);
    expect(out.map((d) => d.note)).toEqual([
      undefined,
      undefined,
      'wllama could not report 5 alternatives for token 3 (one of them is not valid UTF-8 text); alternatives from this token on: 2',
      undefined,
    ]);
  });

  it('a second failing token later gets its own note, counted from the alternatives then asked', async () => {
    const s = scripted(['a', 'b', 'c', 'd'], [5, 3, 5, 2]);
    const out = await all(withFewerAlternatives(5, s.attempt, 'm'));
    expect(s.asked).toEqual([5, 4, 3, 2]);
    expect(out.map((d) => d.logprobs![0]!.top_logprobs.length)).toEqual([5, 3, 3, 2]);
    expect(out.map((d) => d.note)).toEqual([
      undefined,
      'wllama could not report 5 alternatives for token 2 (one of them is not valid UTF-8 text); alternatives from this token on: 3',
      undefined,
      'wllama could not report 3 alternatives for token 4 (one of them is not valid UTF-8 text); alternatives from this token on: 2',
    ]);
  });

  it('a token whose own piece cannot be reported (even with 1) fails with the original error after the tokens before it', async () => {
    const s = scripted(['a', 'b'], [5, 0]);
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const d of withFewerAlternatives(3, s.attempt, 'm')) got.push(d.text);
      })(),
    ).rejects.toThrow(`Invalid typed array length: ${GLUE_MAGIC_AS_LENGTH}`);
    expect(s.asked).toEqual([3, 2, 1]);
    expect(got).toEqual(['a']);
  });

  it("an attempt that yields the whole answer at once: the note says a token of this answer, the fewer hold for every token", async () => {
    const s = scripted(['a', 'b', 'c'], [5, 5, 3]);
    const whole = async function* (k: number): AsyncGenerator<Delta> {
      const parts = await all(s.attempt(k));
      yield { text: parts.map((d) => d.text).join(''), logprobs: parts.flatMap((d) => d.logprobs ?? []) };
    };
    const out = await all(withFewerAlternatives(5, whole, 'm', 'call'));
    expect(s.asked).toEqual([5, 4, 3]);
    expect(out).toHaveLength(1);
    expect(out[0]!.logprobs!.map((t) => t.top_logprobs.length)).toEqual([3, 3, 3]);
    expect(out[0]!.note).toBe('wllama could not report 5 alternatives for a token of this answer (one of them is not valid UTF-8 text); alternatives for every token: 3');
  });

  it('with 1 alternative asked, nothing is replayed', async () => {
    const s = scripted(['a', 'b'], [5, 0]);
    await expect(all(withFewerAlternatives(1, s.attempt, 'm'))).rejects.toThrow(lost().message);
    expect(s.asked).toEqual([1]);
  });

  it('other errors are not replayed', async () => {
    const asked: number[] = [];
    const attempt = async function* (k: number): AsyncGenerator<Delta> {
      asked.push(k);
      yield { text: 'a' };
      throw new Error('the request exceeds the available context size');
    };
    await expect(all(withFewerAlternatives(5, attempt, 'm'))).rejects.toThrow('context size');
    expect(asked).toEqual([5]);
  });

  it('a replay that generates other text than was delivered is an error saying what to do, not a spliced answer', async () => {
    const s = scripted(['a', 'b', 'c'], [5, 5, 2], { replayText: (n, i) => (n > 0 && i === 1 ? 'X' : ['a', 'b', 'c'][i]!) });
    const got: string[] = [];
    const err = await (async () => {
      for await (const d of withFewerAlternatives(5, s.attempt, 'm')) got.push(d.text);
    })().catch((e: unknown) => e);
    expect(got).toEqual(['a', 'b']);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).message).toBe(
      'm: wllama could not report 5 alternatives after token 2, and the call asked again with fewer generated other text — ask for fewer alternatives (top_logprobs) or give the request a seed.',
    );
  });
});

describe("an engine's note becomes a warning in the trace", () => {
  it('scripted: the note of a delta is a non-fatal error event of its agent, after that token', async () => {
    const info: EngineInfo = { kind: 'wllama', model: 'noted', backend: 'cpu', detail: 'scripted', supportsLogprobs: true };
    const lp = (token: string) => [{ token, logprob: -0.1, top_logprobs: [{ token, logprob: -0.1 }] }];
    const note = 'wllama could not report 5 alternatives for token 2 (one of them is not valid UTF-8 text); alternatives from this token on: 1';
    const engine: Engine = {
      info,
      async *chat(): AsyncIterable<ChatChunk> {
        yield { type: 'delta', text: '4', logprobs: lp('4') };
        yield { type: 'delta', text: '.', logprobs: lp('.'), note };
        yield { type: 'done', finish_reason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 2, time_to_first_token_ms: 1, total_ms: 2, tokens_per_second: 1 } };
      },
      complete() {
        return this.chat({ messages: [] });
      },
      async unload() {},
    };
    const events = await collectRun({ prompt: 'What is 2+2?', seed: 1, maxTokens: 8, strategy: 'single', agents: agentsOn(engine, 1), knobs: {} });
    const kinds = events.filter((e) => e.type === 'token' || e.type === 'error').map((e) => (e.type === 'token' ? `token ${e.text}` : `error ${e.fatal} ${e.agent} ${e.message}`));
    expect(kinds).toEqual(['token 4', 'token .', `error false a1 ${note}`]);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });
});
