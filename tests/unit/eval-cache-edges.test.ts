// The answer cache's edges (src/lib/eval/cache.ts): the canonical JSON and hash the key is made of,
// which requests share a key (greedy without seed, an absent temperature counted as sampling), what
// a hit replays chunk by chunk, what is stored (whole answers only: neither an aborted finish nor a
// call whose signal was aborted), the hit/miss counters, and the engine fields passed through.
import { describe, expect, it } from 'vitest';
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine } from '../../src/lib/engines/engine.ts';
import { answerKey, cachingEngine, canonicalJson, MemoryAnswerStore, sha256Hex, type CachedAnswer } from '../../src/lib/eval/cache.ts';

const usage = { prompt_tokens: 3, completion_tokens: 1, time_to_first_token_ms: 1, total_ms: 5, tokens_per_second: 200 };

/** An engine whose every call streams `chunks` and records (kind, request). */
function fakeEngine(chunks: (req: ChatRequest | CompletionRequest, options: CallOptions) => ChatChunk[]) {
  const calls: Array<{ kind: string; request: ChatRequest | CompletionRequest }> = [];
  let unloaded = 0;
  async function* gen(kind: string, request: ChatRequest | CompletionRequest, options: CallOptions): AsyncGenerator<ChatChunk> {
    calls.push({ kind, request });
    for (const c of chunks(request, options)) yield c;
  }
  const engine: Engine = {
    info: { kind: 'wllama', model: 'fake', backend: 'cpu', detail: 'test', supportsLogprobs: true },
    chat: (request, options = {}) => gen('chat', request, options),
    complete: (request, options = {}) => gen('complete', request, options),
    unload: () => {
      unloaded++;
      return Promise.resolve();
    },
  };
  return { engine, calls, unloaded: () => unloaded };
}

async function all(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('canonical JSON and the hash', () => {
  it('sorts object keys at every level, keeps array order and leaves scalars alone', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson([{ b: 1, a: 2 }, 'x', 0, false])).toBe('[{"a":2,"b":1},"x",0,false]');
    expect(canonicalJson('s')).toBe('"s"');
    expect(canonicalJson(null)).toBe('null');
    // Keys compare by code unit: "B" (66) before "a" (97), "a" before "aa"; equal keys cannot occur.
    expect(canonicalJson({ aa: 1, a: 2, B: 3 })).toBe('{"B":3,"a":2,"aa":1}');
  });

  it('sha256Hex is the lower-case hex SHA-256 of the UTF-8 text', async () => {
    expect(await sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // Bytes under 0x10 are written with their leading zero (64 hex digits always).
    expect(await sha256Hex('é')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the key is the hash of {model, kind, request} in canonical JSON', async () => {
    const req = { prompt: 'Q', temperature: 0.5, seed: 7, max_tokens: 4 };
    expect(await answerKey('sha:m', 'complete', req)).toBe(await sha256Hex(canonicalJson({ model: 'sha:m', kind: 'complete', request: req })));
    // greedy: the seed is left out of the hashed request
    const greedy = { prompt: 'Q', temperature: 0, seed: 7 };
    expect(await answerKey('sha:m', 'complete', greedy)).toBe(await sha256Hex(canonicalJson({ model: 'sha:m', kind: 'complete', request: { prompt: 'Q', temperature: 0 } })));
  });

  it('an absent temperature is sampling (the seed is kept); a negative one is greedy (the seed is dropped)', async () => {
    const k1 = await answerKey('m', 'complete', { prompt: 'Q', seed: 1 });
    const k2 = await answerKey('m', 'complete', { prompt: 'Q', seed: 2 });
    expect(k1).not.toBe(k2);
    expect(k1).toBe(await sha256Hex(canonicalJson({ model: 'm', kind: 'complete', request: { prompt: 'Q', seed: 1 } })));
    const n1 = await answerKey('m', 'complete', { prompt: 'Q', temperature: -1, seed: 1 });
    expect(n1).toBe(await answerKey('m', 'complete', { prompt: 'Q', temperature: -1, seed: 2 }));
    // sampling without a seed: no seed field at all (not "seed": undefined, which JSON drops anyway)
    expect(await answerKey('m', 'complete', { prompt: 'Q', temperature: 0.7 })).toBe(await sha256Hex('{"kind":"complete","model":"m","request":{"prompt":"Q","temperature":0.7}}'));
  });
});

describe('the caching engine', () => {
  it('a miss calls the engine once and stores the whole answer; the same call again is a hit replayed without the engine', async () => {
    const f = fakeEngine(() => [
      { type: 'delta', text: 'fo', logprobs: [{ token: 'fo', logprob: -0.5, top_logprobs: [] }] },
      { type: 'delta', text: 'ur' },
      { type: 'done', finish_reason: 'length', usage },
    ]);
    const store = new MemoryAnswerStore();
    const counts = { hits: 0, misses: 0 };
    const cached = cachingEngine(f.engine, 'sha:m', store, counts);
    const req = { prompt: 'Q: 2+2\nA:', temperature: 0.7, seed: 3, max_tokens: 4 };
    const first = await all(cached.complete(req));
    expect(first).toEqual([
      { type: 'delta', text: 'four', logprobs: [{ token: 'fo', logprob: -0.5, top_logprobs: [] }] },
      { type: 'done', finish_reason: 'length', usage },
    ]);
    expect(counts).toEqual({ hits: 0, misses: 1 });
    expect(f.calls).toEqual([{ kind: 'complete', request: req }]);
    const key = await answerKey('sha:m', 'complete', req);
    expect([...store.map.keys()]).toEqual([key]);
    expect(store.map.get(key)).toEqual({ text: 'four', logprobs: [{ token: 'fo', logprob: -0.5, top_logprobs: [] }], finish_reason: 'length', usage });
    const again = await all(cached.complete({ ...req }));
    expect(again).toEqual(first);
    expect(counts).toEqual({ hits: 1, misses: 1 });
    expect(f.calls).toHaveLength(1);
  });

  it('without logprobs the delta has no logprobs field, on a miss and on a hit', async () => {
    const f = fakeEngine(() => [{ type: 'delta', text: 'hi' }, { type: 'done', finish_reason: 'stop', usage }]);
    const cached = cachingEngine(f.engine, 'sha:m', new MemoryAnswerStore());
    const req = { messages: [{ role: 'user' as const, content: 'hello' }], temperature: 0 };
    const miss = await all(cached.chat(req));
    expect(miss[0]).toStrictEqual({ type: 'delta', text: 'hi' });
    const hit = await all(cached.chat(req));
    expect(hit[0]).toStrictEqual({ type: 'delta', text: 'hi' });
    expect(hit[1]).toStrictEqual({ type: 'done', finish_reason: 'stop', usage });
    // chat went to engine.chat, with the chat request
    expect(f.calls).toEqual([{ kind: 'chat', request: req }]);
  });

  it('chat and completion of the same text are different entries; so are two model keys over one engine', async () => {
    const f = fakeEngine((req) => [{ type: 'delta', text: 'prompt' in req ? 'c' : 'h' }, { type: 'done', finish_reason: 'stop', usage }]);
    const store = new MemoryAnswerStore();
    const a = cachingEngine(f.engine, 'sha:a', store);
    await all(a.complete({ prompt: 'x', temperature: 0 }));
    await all(a.chat({ messages: [{ role: 'user', content: 'x' }], temperature: 0 }));
    await all(cachingEngine(f.engine, 'sha:b', store).complete({ prompt: 'x', temperature: 0 }));
    expect(store.map.size).toBe(3);
    expect(f.calls.map((c) => c.kind)).toEqual(['complete', 'chat', 'complete']);
  });

  it('an aborted finish is not stored, and neither is an answer whose call signal was aborted', async () => {
    let finish: 'abort' | 'stop' = 'abort';
    const f = fakeEngine(() => [{ type: 'delta', text: 'cu' }, { type: 'done', finish_reason: finish, usage }]);
    const store = new MemoryAnswerStore();
    const counts = { hits: 0, misses: 0 };
    const cached = cachingEngine(f.engine, 'sha:m', store, counts);
    const req = { prompt: 'Q', temperature: 0 };
    expect((await all(cached.complete(req))).at(-1)).toEqual({ type: 'done', finish_reason: 'abort', usage });
    expect(store.map.size).toBe(0);
    finish = 'stop';
    const ac = new AbortController();
    ac.abort();
    await all(cached.complete(req, { signal: ac.signal }));
    expect(store.map.size).toBe(0);
    // a live signal does not stop the store
    await all(cached.complete(req, { signal: new AbortController().signal }));
    expect(store.map.size).toBe(1);
    expect(counts).toEqual({ hits: 0, misses: 3 });
    await all(cached.complete(req));
    expect(counts).toEqual({ hits: 1, misses: 3 });
  });

  it('a call that throws stores nothing and counts a miss', async () => {
    const engine: Engine = {
      ...fakeEngine(() => []).engine,
      // eslint-disable-next-line require-yield
      complete: async function* () {
        throw new Error('boom');
      },
    };
    const store = new MemoryAnswerStore();
    const counts = { hits: 0, misses: 0 };
    await expect(all(cachingEngine(engine, 'm', store, counts).complete({ prompt: 'Q' }))).rejects.toThrow('boom');
    expect(store.map.size).toBe(0);
    expect(counts).toEqual({ hits: 0, misses: 1 });
  });

  it('the store keeps a copy: changing the returned answer later does not change the entry', async () => {
    const store = new MemoryAnswerStore();
    const v: CachedAnswer = { text: 't', logprobs: [], finish_reason: 'stop', usage: { ...usage } };
    await store.put('k', v);
    v.text = 'changed';
    v.usage.prompt_tokens = 99;
    expect(await store.get('k')).toEqual({ text: 't', logprobs: [], finish_reason: 'stop', usage });
    expect(await store.get('missing')).toBeUndefined();
  });

  it('passes info, unload and the stepper through; no stepper when the engine has none', async () => {
    const f = fakeEngine(() => []);
    const plain = cachingEngine(f.engine, 'm', new MemoryAnswerStore());
    expect(plain.info).toBe(f.engine.info);
    expect('stepper' in plain).toBe(false);
    await plain.unload();
    expect(f.unloaded()).toBe(1);
    const stepper = { marker: 1 } as never;
    const withStepper = cachingEngine({ ...f.engine, stepper: () => Promise.resolve(stepper) }, 'm', new MemoryAnswerStore());
    expect(await withStepper.stepper!()).toBe(stepper);
  });
});
