/**
 * ReplicaSet (src/lib/engines/replicas.ts): parallel agents on one model. Scripted engines stand in
 * for wllama workers (pure orchestration is tested here; tests/e2e/parallel-agents.spec.ts runs the
 * real workers): when instances are added, which instance a request runs on, how many run at once,
 * what a failed load, a crash, a cancel and an unload do — and replicaLimit's rule.
 */
import { describe, expect, it } from 'vitest';
import { EngineError, collect, type ChatChunk, type ChatRequest, type Engine, type EngineInfo } from '../../src/lib/engines/engine.ts';
import { FairQueue } from '../../src/lib/engines/queue.ts';
import { MAX_REPLICAS, ReplicaSet, replicaLimit } from '../../src/lib/engines/replicas.ts';

const tick = () => new Promise((r) => setTimeout(r, 0));
const INFO: EngineInfo = { kind: 'wllama', model: 'm.gguf', backend: 'cpu', detail: 'test', supportsLogprobs: true };
const REQ: ChatRequest = { messages: [{ role: 'user', content: 'hi' }] };

/** Shared across every instance of one test: what runs where, and the most running at once. */
class Log {
  running = 0;
  peak = 0;
  served: string[] = [];
  gates: (() => void)[] = [];
  /** Lets the oldest held request finish. */
  open(): void {
    this.gates.shift()?.();
  }
}

/** An instance whose every call holds until the test opens its gate, then says which instance it is. */
class Scripted implements Engine {
  readonly info = INFO;
  unloaded = false;
  crashNext = false;
  constructor(
    readonly name: string,
    readonly log: Log,
  ) {}
  chat(request: ChatRequest, options: { caller?: string; signal?: AbortSignal } = {}): AsyncIterable<ChatChunk> {
    return this.#run(options.caller ?? 'default');
  }
  complete(): AsyncIterable<ChatChunk> {
    return this.#run('default');
  }
  async unload(): Promise<void> {
    this.unloaded = true;
  }
  async *#run(caller: string): AsyncGenerator<ChatChunk> {
    if (this.unloaded) throw new EngineError('unloaded', 'unloaded');
    this.log.running++;
    this.log.peak = Math.max(this.log.peak, this.log.running);
    try {
      await new Promise<void>((r) => this.log.gates.push(r));
      if (this.crashNext) throw new EngineError('crashed', `${this.name} crashed`);
      this.log.served.push(`${caller}@${this.name}`);
      yield { type: 'delta', text: this.name };
      yield { type: 'done', finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 } };
    } finally {
      this.log.running--;
    }
  }
}

function setup(max: number, spawnImpl?: (index: number, log: Log) => Promise<Engine>) {
  const log = new Log();
  const first = new Scripted('i0', log);
  const made: Scripted[] = [first];
  const spawns: number[] = [];
  const set = new ReplicaSet(first, {
    max,
    spawn: (index) => {
      spawns.push(index);
      if (spawnImpl) return spawnImpl(index, log);
      const e = new Scripted(`i${index}`, log);
      made.push(e);
      return Promise.resolve(e);
    },
  });
  const call = (caller: string, signal?: AbortSignal) => collect(set.chat(REQ, { caller, ...(signal && { signal }) }));
  return { log, set, made, spawns, call };
}

describe('ReplicaSet', () => {
  it('one caller at a time stays on the first instance and loads no other', async () => {
    const { log, set, spawns, call } = setup(4);
    const a = call('a1');
    await tick();
    log.open();
    expect((await a).text).toBe('i0');
    const b = call('a2');
    await tick();
    log.open();
    expect((await b).text).toBe('i0');
    expect(spawns).toEqual([]);
    expect(set.activity).toEqual({ active: 0, queued: 0, instances: 1, loading: 0 });
  });

  it('three agents at once: two more instances load and all three run at the same time, each on its own instance', async () => {
    const { log, set, spawns, call } = setup(4);
    const runs = ['a1', 'a2', 'a3'].map((c) => call(c));
    await tick();
    await tick();
    expect(spawns).toEqual([1, 2]);
    expect(log.running).toBe(3);
    expect(set.activity).toEqual({ active: 3, queued: 0, instances: 3, loading: 0 });
    for (let i = 0; i < 3; i++) log.open();
    const texts = (await Promise.all(runs)).map((r) => r.text);
    expect(new Set(texts)).toEqual(new Set(['i0', 'i1', 'i2']));
    expect(log.peak).toBe(3);
    // The instances stay: the next round of three runs at once without loading anything.
    const again = ['a1', 'a2', 'a3'].map((c) => call(c));
    await tick();
    expect(log.running).toBe(3);
    expect(spawns).toEqual([1, 2]);
    for (let i = 0; i < 3; i++) log.open();
    await Promise.all(again);
  });

  it('never holds more than max instances nor runs more than max requests at once', async () => {
    const { log, set, spawns, call } = setup(2);
    const runs = ['a1', 'a2', 'a3', 'a4'].map((c) => call(c));
    await tick();
    await tick();
    expect(spawns).toEqual([1]);
    expect(log.running).toBe(2);
    expect(set.activity).toMatchObject({ active: 2, queued: 2, instances: 2 });
    for (let i = 0; i < 4; i++) {
      log.open();
      await tick();
      await tick();
    }
    await Promise.all(runs);
    expect(log.peak).toBe(2);
    // Waiting requests were served round-robin by caller on whichever instance freed first.
    expect(log.served.map((s) => s.split('@')[0]).sort()).toEqual(['a1', 'a2', 'a3', 'a4']);
  });

  it('max 1 never loads another instance: the agents take turns', async () => {
    const { log, spawns, call } = setup(1);
    const runs = ['a1', 'a2'].map((c) => call(c));
    await tick();
    expect(spawns).toEqual([]);
    expect(log.running).toBe(1);
    log.open();
    await tick();
    log.open();
    await Promise.all(runs);
    expect(log.peak).toBe(1);
  });

  it('an instance that fails to load stops the growth; the calls finish on the instances there are', async () => {
    const { log, set, spawns, call } = setup(4, () => Promise.reject(new EngineError('load-failed', 'out of memory for a second copy')));
    const runs = ['a1', 'a2', 'a3'].map((c) => call(c));
    await tick();
    await tick();
    expect(spawns).toEqual([1, 2]);
    expect(set.max).toBe(1);
    expect(set.growthError).toContain('out of memory for a second copy');
    for (let i = 0; i < 3; i++) {
      log.open();
      await tick();
    }
    expect((await Promise.all(runs)).map((r) => r.text)).toEqual(['i0', 'i0', 'i0']);
    expect(log.peak).toBe(1);
  });

  it('a request cancelled while it waits never reaches an instance', async () => {
    const { log, call } = setup(1);
    const a = call('a1');
    const ac = new AbortController();
    const b = call('a2', ac.signal);
    await tick();
    ac.abort();
    const rb = await b;
    expect(rb.finish_reason).toBe('abort');
    expect(rb.text).toBe('');
    log.open();
    await a;
    expect(log.served).toEqual(['a1@i0']);
  });

  it('a crash in any instance ends the set: running and waiting calls fail, the others unload, the registry hears once', async () => {
    const { log, set, made, call } = setup(2);
    const crashes: string[] = [];
    set.onCrash = (err) => crashes.push(err.message);
    const runs = ['a1', 'a2', 'a3'].map((c) => call(c).then(() => 'ok', (e: EngineError) => e.code));
    await tick();
    await tick();
    expect(made).toHaveLength(2);
    made[1]!.crashNext = true;
    // The first gate belongs to i0's request, the second to i1's.
    log.open();
    log.open();
    const outcomes = await Promise.all(runs);
    expect(outcomes.filter((o) => o === 'crashed').length).toBeGreaterThanOrEqual(1);
    expect(outcomes).toContain('crashed');
    expect(crashes).toEqual(['i1 crashed']);
    expect(made[0]!.unloaded).toBe(true);
    await expect(call('a4')).rejects.toMatchObject({ code: 'crashed' });
  });

  it('unload ends every instance, rejects waiting calls, and unloads an instance that finishes loading later', async () => {
    let finishLoad: (e: Engine) => void = () => undefined;
    const log = new Log();
    const late = new Scripted('late', log);
    const first = new Scripted('i0', log);
    const set = new ReplicaSet(first, { max: 2, spawn: () => new Promise((r) => (finishLoad = r)) });
    const a = collect(set.chat(REQ, { caller: 'a1' })).then(() => 'ok', (e: EngineError) => e.code);
    const b = collect(set.chat(REQ, { caller: 'a2' })).then(() => 'ok', (e: EngineError) => e.code);
    await tick();
    expect(set.activity).toMatchObject({ instances: 1, loading: 1, queued: 1 });
    await set.unload();
    expect(first.unloaded).toBe(true);
    expect(await b).toBe('unloaded');
    finishLoad(late);
    await tick();
    expect(late.unloaded).toBe(true);
    log.open();
    await a;
    await expect(collect(set.chat(REQ))).rejects.toMatchObject({ code: 'unloaded' });
  });

  it('reports activity as it changes', async () => {
    const { log, set, call } = setup(2);
    const seen: string[] = [];
    set.onActivity = (a) => seen.push(`${a.active}/${a.queued}/${a.instances}/${a.loading}`);
    const runs = [call('a1'), call('a2')];
    await tick();
    await tick();
    log.open();
    log.open();
    await Promise.all(runs);
    expect(seen).toContain('1/1/1/1');
    expect(seen).toContain('2/0/2/0');
    expect(seen.at(-1)).toBe('0/0/2/0');
  });

  it('refuses a nonsensical max', () => {
    const log = new Log();
    expect(() => new ReplicaSet(new Scripted('i0', log), { max: 0, spawn: () => Promise.reject(new Error('no')) })).toThrow(RangeError);
    expect(() => new ReplicaSet(new Scripted('i0', log), { max: 1.5, spawn: () => Promise.reject(new Error('no')) })).toThrow(RangeError);
  });
});

describe('replicaLimit', () => {
  const MiB = 2 ** 20;
  const base = { hardwareConcurrency: 2, deviceMemoryGiB: 8, modelBytes: 1 * MiB, backend: 'cpu' as const };
  it('two instances per core on the CPU', () => {
    expect(replicaLimit(base)).toBe(4);
    expect(replicaLimit({ ...base, hardwareConcurrency: 3 })).toBe(6);
    expect(replicaLimit({ ...base, hardwareConcurrency: 1 })).toBe(2);
  });
  it('never more than MAX_REPLICAS', () => {
    expect(MAX_REPLICAS).toBe(8);
    expect(replicaLimit({ ...base, hardwareConcurrency: 64 })).toBe(8);
  });
  it('one instance on WebGPU or over HTTP', () => {
    expect(replicaLimit({ ...base, backend: 'webgpu' })).toBe(1);
    expect(replicaLimit({ ...base, backend: 'http' })).toBe(1);
  });
  it('a quarter of the device memory for all instances, 4 GiB assumed where the browser does not say', () => {
    // 8 GiB device: 2 GiB budget; 400 MiB file → 532 MiB each → 3 instances.
    expect(replicaLimit({ ...base, hardwareConcurrency: 8, modelBytes: 400 * MiB })).toBe(3);
    // Unknown memory → 4 GiB → 1 GiB budget → 1 instance of the same file.
    expect(replicaLimit({ ...base, hardwareConcurrency: 8, deviceMemoryGiB: undefined, modelBytes: 400 * MiB })).toBe(1);
    // A model bigger than the budget still loads once.
    expect(replicaLimit({ ...base, modelBytes: 8 * 1024 * MiB })).toBe(1);
  });
  it('treats a missing or absurd core count as one core', () => {
    expect(replicaLimit({ ...base, hardwareConcurrency: undefined })).toBe(2);
    expect(replicaLimit({ ...base, hardwareConcurrency: 0 })).toBe(2);
    expect(replicaLimit({ ...base, hardwareConcurrency: Number.NaN })).toBe(2);
  });
});

describe('FairQueue.setConcurrency', () => {
  it('raising the limit grants waiting requests at once; lowering it grants nothing new until under it', async () => {
    const q = new FairQueue(1);
    const granted: string[] = [];
    const rel = new Map<string, () => void>();
    for (const c of ['a', 'b', 'c']) void q.acquire(c).then((r) => (granted.push(c), rel.set(c, r)));
    await tick();
    expect(granted).toEqual(['a']);
    q.setConcurrency(3);
    await tick();
    expect(granted).toEqual(['a', 'b', 'c']);
    expect(q.concurrency).toBe(3);
    q.setConcurrency(1);
    void q.acquire('d').then((r) => (granted.push('d'), rel.set('d', r)));
    rel.get('a')!();
    rel.get('b')!();
    await tick();
    expect(granted).toEqual(['a', 'b', 'c']);
    rel.get('c')!();
    await tick();
    expect(granted).toEqual(['a', 'b', 'c', 'd']);
    expect(() => q.setConcurrency(0)).toThrow(RangeError);
  });
});

describe('ReplicaSet.reserve', () => {
  it('loads instances up to the count asked (capped at max) before any call, and waits for them', async () => {
    const { log, set, spawns, call } = setup(3);
    await set.reserve(5);
    expect(spawns).toEqual([1, 2]);
    expect(set.activity).toEqual({ active: 0, queued: 0, instances: 3, loading: 0 });
    const runs = ['a1', 'a2', 'a3'].map((c) => call(c));
    await tick();
    expect(log.running).toBe(3);
    for (let i = 0; i < 3; i++) log.open();
    await Promise.all(runs);
    await set.reserve(2);
    expect(spawns).toEqual([1, 2]);
  });

  it('resolves without throwing when a load fails, and waits for loads a call started', async () => {
    let n = 0;
    const { set } = setup(3, (index, log) => (++n === 1 ? Promise.resolve(new Scripted(`i${index}`, log)) : Promise.reject(new Error('no memory'))));
    await set.reserve(3);
    expect(set.activity.instances).toBe(2);
    expect(set.growthError).toBe('no memory');
    expect(set.max).toBe(2);
  });
});
