/**
 * The page–worker boundary (src/lib/rpc.ts) over a real MessageChannel and real comlink: typed
 * errors cross with class, code and message; callbacks stream in order and have all arrived when
 * the call resolves; cancel reaches a running call; a failed connection rejects pending calls.
 * The "worker" here is an API object exposed on one port of the channel (comlink works the same
 * over a Worker or a MessagePort); its token source is scripted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, type ChatChunk } from '../../src/lib/engines/engine.ts';
import { GGUFError } from '../../src/lib/merge/gguf/types.ts';
import { CallbackSink, Connection, exposeApi, proxy, rebuildError, wireError, type ProxyMarked } from '../../src/lib/rpc.ts';
import { MergeError } from '../../workers/merge.api.ts';

interface TestApi {
  fail(kind: string): Promise<void>;
  stream(id: number, n: number, onChunk: ((c: ChatChunk) => void) & ProxyMarked): Promise<number>;
  cancel(id: number): void;
  never(): Promise<void>;
}

const delta = (i: number): ChatChunk => ({ type: 'delta', text: `t${i}` });
const done = (finish: 'stop' | 'abort'): ChatChunk => ({
  type: 'done',
  finish_reason: finish,
  usage: { prompt_tokens: 0, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 },
});

const ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

/** Exposes a test API on one end of a fresh channel and connects to it from the other. */
function connectTestApi(errors: ConstructorParameters<typeof Connection>[1] = { EngineError, GGUFError, MergeError }) {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const running = new Map<number, AbortController>();
  const api: TestApi = {
    async fail(kind) {
      if (kind === 'engine') throw new EngineError('load-failed', 'x.gguf could not be loaded — import it again.');
      if (kind === 'gguf') throw new GGUFError('truncated', 'x.gguf is truncated — download it again', 'x.gguf');
      if (kind === 'merge') throw new MergeError('incompatible', 'b.gguf: tensor blk.0 differs — these cannot be merged');
      if (kind === 'other') throw Object.assign(new RangeError('custom failure'), { code: 'E_CUSTOM' });
      throw 'a thrown string';
    },
    async stream(id, n, onChunk) {
      const ac = new AbortController();
      running.set(id, ac);
      const sink = new CallbackSink(onChunk);
      let sent = 0;
      try {
        // n < 0: stream until cancelled, one token per macrotask like a real engine.
        for (; n < 0 || sent < n; sent++) {
          if (ac.signal.aborted) break;
          sink.send(delta(sent));
          if (n < 0) await new Promise((r) => setTimeout(r, 1));
        }
        sink.send(done(ac.signal.aborted ? 'abort' : 'stop'));
        return sent;
      } finally {
        running.delete(id);
        await sink.end();
      }
    },
    cancel(id) {
      running.get(id)?.abort();
    },
    never: () => new Promise<void>(() => undefined),
  };
  exposeApi(api, port1);
  return new Connection<TestApi>(port2, errors);
}

describe('errors across the comlink boundary', () => {
  it('an EngineError arrives as an EngineError with its code and message', async () => {
    const conn = connectTestApi();
    const err = await conn.api.fail('engine').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ name: 'EngineError', code: 'load-failed', message: 'x.gguf could not be loaded — import it again.' });
  });

  it('GGUFError and MergeError keep their classes and codes too', async () => {
    const conn = connectTestApi();
    const gguf = await conn.api.fail('gguf').catch((e: unknown) => e);
    expect(gguf).toBeInstanceOf(GGUFError);
    expect(gguf).toMatchObject({ code: 'truncated', message: 'x.gguf is truncated — download it again' });
    const merge = await conn.api.fail('merge').catch((e: unknown) => e);
    expect(merge).toBeInstanceOf(MergeError);
    expect(merge).toMatchObject({ name: 'MergeError', code: 'incompatible' });
  });

  it('an error class the page did not register keeps its name, code and message', async () => {
    const conn = connectTestApi({});
    const err = await conn.api.fail('other').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'RangeError', code: 'E_CUSTOM', message: 'custom failure' });
    expect((err as Error).stack).toContain('thrown in the worker');
  });

  it('a thrown non-Error value arrives unchanged', async () => {
    const conn = connectTestApi();
    await expect(conn.api.fail('string')).rejects.toBe('a thrown string');
  });

  it('the wire form carries only a string code (a DOMException code is a number)', () => {
    const w = wireError(new DOMException('no space', 'QuotaExceededError'));
    expect(w).toMatchObject({ isError: true, name: 'QuotaExceededError', message: 'no space' });
    expect('code' in w).toBe(false);
    expect(rebuildError(w)).toMatchObject({ name: 'QuotaExceededError', message: 'no space' });
  });
});

describe('streaming through a proxied callback', () => {
  it('every chunk arrives, in order, before the call resolves', async () => {
    const conn = connectTestApi();
    const got: string[] = [];
    let chunksWhenResolved = -1;
    const n = 2000;
    const sent = await conn.api
      .stream(1, n, proxy((c: ChatChunk) => void got.push(c.type === 'delta' ? c.text : `done:${c.finish_reason}`)))
      .then((v) => ((chunksWhenResolved = got.length), v));
    expect(sent).toBe(n);
    expect(chunksWhenResolved).toBe(n + 1);
    expect(got).toEqual([...Array.from({ length: n }, (_, i) => `t${i}`), 'done:stop']);
  });

  it('cancel(id) stops a running stream promptly, which then ends with finish reason abort', async () => {
    const conn = connectTestApi();
    const got: ChatChunk[] = [];
    const call = conn.api.stream(7, -1, proxy((c: ChatChunk) => void got.push(c)));
    while (got.length < 5) await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    await conn.api.cancel(7);
    const sent = await call;
    expect(performance.now() - t0).toBeLessThan(250);
    expect(got.at(-1)).toMatchObject({ type: 'done', finish_reason: 'abort' });
    expect(got.length).toBe(sent + 1);
  });
});

describe('a failed connection', () => {
  it('rejects calls pending when it fails, and calls made later, with its error', async () => {
    const conn = connectTestApi();
    const pending = conn.guard(() => conn.api.never());
    const crashed = new EngineError('crashed', 'the engine worker crashed — reload the model to continue.');
    conn.fail(crashed);
    await expect(pending).rejects.toBe(crashed);
    await expect(conn.guard(() => conn.api.fail('engine'))).rejects.toBe(crashed);
    expect(conn.failure).toBe(crashed);
  });
});
