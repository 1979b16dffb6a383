/**
 * The page's watch on llama.cpp's worker start (src/app/engines.ts spawnWllamaWorker,
 * ENGINE_START_TIMEOUT_MS): a load that reports 'starting' and never 'started' (what Firefox under
 * load did: wllama's nested worker never started, the load hung with no error) is ended and run again
 * in a fresh worker, up to START_ATTEMPTS times, then fails saying why; a load past 'started' is
 * never cut short however long it takes; other failures are not retried.
 * The engine workers here are API objects exposed over real MessageChannels with real comlink
 * (src/lib/rpc.ts), scripted per attempt; the browser side of the watch (the worker reporting the
 * stages) runs in every end-to-end load (tests/e2e, tests/firefox).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, type EngineInfo } from '../../src/lib/engines/engine.ts';
import { exposeApi, remote } from '../../src/lib/rpc.ts';
import { ENGINE_START_TIMEOUT_MS, START_ATTEMPTS, spawnWllamaWorker } from '../../src/app/engines.ts';
import type { EngineWorkerApi, StageCallback } from '../../workers/engine.api.ts';

const INFO: EngineInfo = { kind: 'wllama', model: 'm.gguf', backend: 'cpu', detail: 'CPU · wasm · 1 thread', supportsLogprobs: true, contextLength: 2048 };
const SOURCE = { kind: 'opfs' as const, path: 'models/m.gguf', name: 'm.gguf' };
const PARAMS = { nThreads: 1, gpu: 'off' as const };

/** What one attempt's worker does with `load`. */
type Script = (onStage: StageCallback | null | undefined) => Promise<EngineInfo>;

const open: MessagePort[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

/** A factory of fake engine workers, one script per attempt; records which were terminated. */
function workers(scripts: Script[]) {
  const made: { terminated: boolean }[] = [];
  const makeWorker = (): Worker => {
    const script = scripts[made.length];
    if (!script) throw new Error(`attempt ${made.length + 1} was not expected`);
    const { port1, port2 } = new MessageChannel();
    open.push(port1, port2);
    const api: Partial<EngineWorkerApi> = {
      load: (_id, _source, _params, _progress, onStage) => script(onStage),
      cancel: () => undefined,
      unload: async () => undefined,
    };
    exposeApi(api, port2);
    const state = { terminated: false };
    made.push(state);
    return Object.assign(port1, {
      onerror: null,
      terminate: () => {
        state.terminated = true;
        port1.close();
        port2.close();
      },
    }) as unknown as Worker;
  };
  return { made, makeWorker };
}

const stage = (cb: StageCallback | null | undefined, s: 'starting' | 'started') => remote(cb!)(s);
const never = () => new Promise<EngineInfo>(() => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Reports 'starting' and then nothing: llama.cpp's worker never starts. */
const stalls: Script = async (onStage) => {
  await stage(onStage, 'starting');
  return never();
};
/** Starts, then takes `ms` to finish loading. */
const loads = (ms: number): Script => async (onStage) => {
  await stage(onStage, 'starting');
  await stage(onStage, 'started');
  await sleep(ms);
  return INFO;
};

describe("the watch on llama.cpp's worker start", () => {
  it('defaults: a generous bound (seconds) and three attempts', () => {
    expect(ENGINE_START_TIMEOUT_MS).toBeGreaterThanOrEqual(10_000);
    expect(ENGINE_START_TIMEOUT_MS).toBeLessThanOrEqual(60_000);
    expect(START_ATTEMPTS).toBe(3);
  });

  it('a load stuck between starting and started is ended and run again in a fresh worker, and the next one that starts is used', async () => {
    const { made, makeWorker } = workers([stalls, stalls, loads(0)]);
    const engine = await spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 80 });
    expect(engine.info).toEqual(INFO);
    expect(made.map((w) => w.terminated)).toEqual([true, true, false]);
    await engine.unload();
  });

  it('after the last stalled attempt the load fails with load-failed, naming the bound and the attempts', async () => {
    const { made, makeWorker } = workers([stalls, stalls, stalls]);
    const err = await spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('load-failed');
    expect((err as EngineError).message).toBe(
      "m.gguf: llama.cpp's worker did not start within 0.05 s, 3 times in a row — the browser is not starting workers (close other tabs or reload the page), then load it again.",
    );
    expect(made.map((w) => w.terminated)).toEqual([true, true, true]);
  });

  it('a load past started is not cut short, however long it takes (only the start is bounded)', async () => {
    const { made, makeWorker } = workers([loads(300)]);
    const engine = await spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 50 });
    expect(engine.info).toEqual(INFO);
    expect(made).toHaveLength(1);
    await engine.unload();
  });

  it('the time before starting (reading the file) is not bounded either', async () => {
    const { made, makeWorker } = workers([async (onStage) => {
      await sleep(200);
      return loads(0)(onStage);
    }]);
    await spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 50 });
    expect(made).toHaveLength(1);
  });

  it('a load cancelled while stuck is not run again: it ends as cancelled', async () => {
    const { made, makeWorker } = workers([stalls, loads(0)]);
    const ac = new AbortController();
    const p = spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 80, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const err = await p.catch((e: unknown) => e);
    expect((err as EngineError).code).toBe('aborted');
    expect(made).toHaveLength(1);
  });

  it('a load that fails otherwise is not retried, and its worker is ended', async () => {
    const { made, makeWorker } = workers([async (onStage) => {
      await stage(onStage, 'starting');
      await stage(onStage, 'started');
      throw new EngineError('invalid-model', 'm.gguf: damaged');
    }]);
    await expect(spawnWllamaWorker(SOURCE, PARAMS, { makeWorker, startTimeoutMs: 50 })).rejects.toThrow('m.gguf: damaged');
    expect(made.map((w) => w.terminated)).toEqual([true]);
  });
});
