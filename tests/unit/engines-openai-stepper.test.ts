/**
 * Stepping over HTTP (src/lib/engines/openai-stepper.ts) against a real llama.cpp server:
 * tools/lib/llama-openai-server.ts (node-llama-cpp 3.21.1) serving stories260K.gguf in llama-server's
 * shapes (token-ID prompts, ids in logprobs, /tokenize, /detokenize, /props, meta.n_vocab).
 * Exactness on it: a step's first candidate is the model's greedy token; logit fusion of the model
 * with itself and greedy speculative decoding with itself as draft generate exactly its greedy text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, EngineError } from '../../src/lib/engines/engine.ts';
import { OpenAIEngine } from '../../src/lib/engines/openai.ts';
import { collectRun } from '../../src/lib/run.ts';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { loadLlama, startLlamaServer, type LoadedLlama, type LlamaServer } from '../../tools/lib/llama-openai-server.ts';
import { storiesModel } from '../support/paths.ts';

let llama: LoadedLlama;
let server: LlamaServer;

beforeAll(async () => {
  llama = await loadLlama(storiesModel());
  server = await startLlamaServer(llama, { port: 0 });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await llama?.dispose();
});

const PROMPT = 'Once upon a time, there was a little';

function engine(): OpenAIEngine {
  return new OpenAIEngine({ baseUrl: server.url, model: 'stories260K' });
}

function agents(...engines: OpenAIEngine[]): Agent[] {
  return engines.map((e, i) => ({ id: `a${i + 1}`, name: `Agent ${i + 1}`, model: 'stories260K', engine: e, temperature: 0 }));
}

async function greedy(n: number): Promise<string> {
  return (await collect(engine().complete({ prompt: PROMPT, max_tokens: n, temperature: 0 }))).text;
}

describe('OpenAI-compatible stepping (real llama.cpp server)', () => {
  it('opens with the server\u2019s vocabulary (512 tokens, BOS 1, EOS 2), tokenizes with BOS and round-trips the text', async () => {
    const s = await engine().stepper();
    expect(s.vocabulary.size).toBe(512);
    expect(s.vocabulary.bos).toBe(1);
    expect(s.vocabulary.eos).toEqual([2]);
    expect(s.vocabulary.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    const ids = await s.tokenize(PROMPT, { addBos: true });
    expect(ids[0]).toBe(1);
    expect(ids).toEqual([1, ...Array.from(llama.model.tokenize(PROMPT, false)).map(Number)]);
    expect(await s.detokenize(ids)).toBe(PROMPT);
    // Two steppers on the same model agree on the fingerprint (the logit methods' precondition).
    expect((await engine().stepper()).vocabulary.fingerprint).toBe(s.vocabulary.fingerprint);
  }, 60_000);

  it('a step gives top-k candidates with ids, most probable first, the first being the greedy token', async () => {
    const s = await engine().stepper();
    const ids = await s.tokenize(PROMPT, { addBos: true });
    const next = await s.next(ids, { topK: 5 });
    expect(next.exactness).toBe('top-k');
    expect(next.top).toHaveLength(5);
    const lps = next.top.map((c) => c.logprob);
    expect([...lps].sort((a, b) => b - a)).toEqual(lps);
    const first = await greedy(1);
    expect(next.top[0]!.text).toBe(first);
  }, 60_000);

  it('logit fusion of the model with itself = the model alone (greedy), over HTTP', async () => {
    const e = engine();
    const events = await collectRun({ strategy: 'fusion', agents: agents(e, e), prompt: PROMPT, seed: 1, maxTokens: 12 });
    const final = events.find((x) => x.type === 'final');
    expect(final?.type === 'final' && final.text).toBe(await greedy(12));
  }, 120_000);

  it('greedy speculative decoding = the target alone; accepted + rejected = proposed', async () => {
    const events = await collectRun({ strategy: 'speculative', agents: agents(engine(), engine()), prompt: PROMPT, seed: 1, maxTokens: 12, knobs: { draft: 3 } });
    const final = events.find((x) => x.type === 'final');
    expect(final?.type === 'final' && final.text).toBe(await greedy(12));
    const score = events.find((x) => x.type === 'score');
    // The draft is the target itself: every proposal is accepted.
    expect(score?.type === 'score' && score.detail).toMatch(/^(\d+) accepted \+ 0 rejected = \1 proposed/);
  }, 120_000);

  it('a server without the stepping endpoints is refused with a message naming llama-server', async () => {
    const e = new OpenAIEngine({ baseUrl: server.url + '/nowhere', model: 'x' });
    await expect(e.stepper()).rejects.toThrow(EngineError);
    await expect(e.stepper()).rejects.toThrow(/llama-server/);
  });
});
