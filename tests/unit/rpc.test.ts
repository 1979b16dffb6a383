/**
 * The page–worker boundary (src/lib/rpc.ts) over a real MessageChannel and real comlink: typed
 * errors cross with class, code and message; a transferred stream and a proxied callback deliver
 * in order and have delivered everything when the call settles; cancel reaches a running call; a
 * failed connection rejects pending calls.
 * The "worker" here is an API object exposed on one port of the channel (comlink works the same
 * over a Worker or a MessagePort); its token source is scripted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, type ChatChunk } from '../../src/lib/engines/engine.ts';
import { GGUFError } from '../../src/lib/merge/gguf/types.ts';
import { CallbackSink, Connection, StreamSink, exposeApi, openStream, proxy, rebuildError, wireError, type ProxyMarked } from '../../src/lib/rpc.ts';
import { MergeError } from '../../workers/merge.api.ts';

interface TestApi {
  fail(kind: string): Promise<void>;
  /** Streams n deltas then a done chunk (n < 0: until cancelled); failAfter: throws after that many. */
  stream(id: number, n: number, port: MessagePort, failAfter?: number): Promise<number>;
  /** Reports 1..n through a proxied callback. */
  report(n: number, onValue: ((v: number) => void) & ProxyMarked): Promise<void>;
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
    async stream(id, n, port, failAfter) {
      const ac = new AbortController();
      running.set(id, ac);
      const sink = new StreamSink<ChatChunk>(port);
      let sent = 0;
      try {
        // n < 0: stream until cancelled, one token per macrotask like a real engine.
        for (; n < 0 || sent < n; sent++) {
          if (ac.signal.aborted) break;
          if (sent === failAfter) throw new EngineError('internal', 'the engine failed mid-stream — try again.');
          sink.send(delta(sent));
          if (n < 0) await new Promise((r) => setTimeout(r, 1));
        }
        sink.send(done(ac.signal.aborted ? 'abort' : 'stop'));
        return sent;
      } finally {
        running.delete(id);
        sink.end();
      }
    },
    async report(n, onValue) {
      const sink = new CallbackSink(onValue);
      for (let i = 1; i <= n; i++) sink.send(i);
      await sink.end();
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

describe('streaming', () => {
  /** Starts api.stream on a transferred port; `got` collects what the page has received. */
  function startStream(conn: Connection<TestApi>, id: number, n: number, failAfter?: number) {
    const got: string[] = [];
    const stream = openStream<ChatChunk>((c) => void got.push(c.type === 'delta' ? c.text : `done:${c.finish_reason}`));
    const call = stream.settle(conn.api.stream(id, n, stream.port, failAfter));
    return { got, call };
  }

  it('a transferred stream delivers every chunk, in order, before the call resolves', async () => {
    const conn = connectTestApi();
    const n = 2000;
    const { got, call } = startStream(conn, 1, n);
    const [sent, chunksWhenResolved] = await call.then((v) => [v, got.length]);
    expect(sent).toBe(n);
    expect(chunksWhenResolved).toBe(n + 1);
    expect(got).toEqual([...Array.from({ length: n }, (_, i) => `t${i}`), 'done:stop']);
  });

  it('chunks sent before an error are all delivered, then the typed error', async () => {
    const conn = connectTestApi();
    const { got, call } = startStream(conn, 2, 2000, 1500);
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'internal' });
    expect(got).toEqual(Array.from({ length: 1500 }, (_, i) => `t${i}`));
  });

  it('cancel(id) stops a running stream promptly, which then ends with finish reason abort', async () => {
    const conn = connectTestApi();
    const { got, call } = startStream(conn, 7, -1);
    while (got.length < 5) await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    await conn.api.cancel(7);
    const sent = await call;
    expect(performance.now() - t0).toBeLessThan(250);
    expect(got.at(-1)).toBe('done:abort');
    expect(got.length).toBe(sent + 1);
  });

  it('a proxied callback (progress) has received every report, in order, when the call resolves', async () => {
    const conn = connectTestApi();
    const got: number[] = [];
    const n = 500;
    const whenResolved = await conn.api.report(n, proxy((v: number) => void got.push(v))).then(() => got.length);
    expect(whenResolved).toBe(n);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i + 1));
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
