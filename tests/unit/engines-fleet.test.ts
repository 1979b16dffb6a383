/**
 * The serving fleet (src/lib/engines/fleet.ts). First its rules against real local HTTP servers
 * with scripted replies (spreading, per-endpoint limit, retry before and after partial output,
 * down and re-probe, all down, 4xx not retried); then against real llama.cpp: two endpoints of
 * tools/lib/llama-openai-server.ts (node-llama-cpp 3.21.1 serving stories260K.gguf), one stopped
 * in the middle of the requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, EngineError } from '../../src/lib/engines/engine.ts';
import { FleetEngine } from '../../src/lib/engines/fleet.ts';
import { OpenAIEngine } from '../../src/lib/engines/openai.ts';
import { loadLlama, startLlamaServer, type LoadedLlama, type LlamaServer } from '../../tools/lib/llama-openai-server.ts';
import { storiesModel } from '../support/paths.ts';

type Script = (res: ServerResponse, body: Record<string, unknown>) => void | Promise<void>;

interface Scripted {
  url: string;
  /** Requests received, and the most in flight at once. */
  hits: number;
  peak: number;
  close(): Promise<void>;
}

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function sse(res: ServerResponse, obj: unknown): void {
  res.write(`data: ${JSON.stringify(obj)}\n\n`);
}

/** Streams `words` as completion deltas, `delayMs` apart, then usage and [DONE]. */
function words(list: string[], delayMs = 0): Script {
  return async (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const w of list) {
      sse(res, { choices: [{ index: 0, text: w, finish_reason: null }] });
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    }
    sse(res, { choices: [{ index: 0, text: '', finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: list.length } });
    res.end('data: [DONE]\n\n');
  };
}

async function scripted(script: Script): Promise<Scripted> {
  let inFlight = 0;
  const s: Scripted = { url: '', hits: 0, peak: 0, close: async () => undefined };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const c of req) raw += c;
    s.hits += 1;
    inFlight += 1;
    s.peak = Math.max(s.peak, inFlight);
    res.on('close', () => (inFlight -= 1));
    await script(res, JSON.parse(raw) as Record<string, unknown>);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return s;
}

/** A URL where nothing listens (a server opened and closed again). */
async function deadUrl(): Promise<string> {
  const s = await scripted(words([]));
  await s.close();
  return s.url;
}

const ask = (f: FleetEngine, prompt = 'Q') => collect(f.complete({ prompt, max_tokens: 8 }));

describe('FleetEngine rules (scripted replies over real HTTP)', () => {
  it('spreads requests over the endpoints, never more than each one’s limit at once', async () => {
    const a = await scripted(words(['a'], 60));
    const b = await scripted(words(['b'], 60));
    const fleet = new FleetEngine([{ baseUrl: a.url, model: 'm' }, { baseUrl: b.url, model: 'm', concurrency: 2 }]);
    expect(fleet.concurrency).toBe(3);
    const out = await Promise.all(Array.from({ length: 9 }, () => ask(fleet)));
    expect(out.every((o) => o.text === 'a' || o.text === 'b')).toBe(true);
    expect(a.peak).toBe(1);
    expect(b.peak).toBe(2);
    expect(a.hits + b.hits).toBe(9);
    // Least busy first: b has twice the slots, so it serves about twice as many.
    expect(b.hits).toBeGreaterThan(a.hits);
    expect(fleet.stats().map((s) => s.served)).toEqual([a.hits, b.hits]);
  });

  it('retries a dead endpoint’s request on another and marks it down', async () => {
    const dead = await deadUrl();
    const live = await scripted(words(['ok']));
    const fleet = new FleetEngine([{ baseUrl: dead, model: 'm' }, { baseUrl: live.url, model: 'm' }]);
    const out = await Promise.all([ask(fleet), ask(fleet), ask(fleet)]);
    expect(out.map((o) => o.text)).toEqual(['ok', 'ok', 'ok']);
    const [d, l] = fleet.stats();
    expect(d).toMatchObject({ down: true, served: 0, failed: 1 });
    expect(d!.lastError).toMatch(/could not reach/);
    expect(l).toMatchObject({ down: false, served: 3 });
  });

  it('after partial output, finishes on another endpoint without repeating the text', async () => {
    const broken = await scripted(async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, { choices: [{ index: 0, text: 'Once', finish_reason: null }] });
      sse(res, { choices: [{ index: 0, text: ' upon', finish_reason: null }] });
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
    });
    const whole = await scripted(words(['Once up', 'on a', ' time']));
    const fleet = new FleetEngine([{ baseUrl: broken.url, model: 'm' }, { baseUrl: whole.url, model: 'm' }]);
    const deltas: string[] = [];
    for await (const c of fleet.complete({ prompt: 'x', seed: 1 })) if (c.type === 'delta') deltas.push(c.text);
    expect(deltas.join('')).toBe('Once upon a time');
    expect(deltas).toEqual(['Once', ' upon', ' a', ' time']);
    expect(fleet.stats()[0]).toMatchObject({ down: true, failed: 1 });
  });

  it('fails, naming the endpoint, when the retry’s text differs from what the caller already has', async () => {
    const broken = await scripted(async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, { choices: [{ index: 0, text: 'Once', finish_reason: null }] });
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
    });
    const other = await scripted(words(['Twice']));
    const fleet = new FleetEngine([{ baseUrl: broken.url, model: 'm' }, { baseUrl: other.url, model: 'm' }]);
    await expect(ask(fleet)).rejects.toThrow(new RegExp(`${other.url.replace(/\./g, '\\.')} answered differently .* after 4 characters`));
  });

  it('says which endpoints failed and how when all are down', async () => {
    const a = await deadUrl();
    const b = await scripted((res) => void res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'loading model' } })));
    const fleet = new FleetEngine([{ baseUrl: a, model: 'm' }, { baseUrl: b.url, model: 'm' }]);
    const err = await ask(fleet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('network');
    const msg = (err as Error).message;
    expect(msg).toContain(`${a} (m): failed — could not reach`);
    expect(msg).toContain(`${b.url} (m): failed — ${b.url}/v1/completions answered 503: loading model`);
    expect(msg).toMatch(/start the servers or fix the URLs/);
    // Both are now down: the next request fails at once, without a new attempt.
    const hits = b.hits;
    await expect(ask(fleet)).rejects.toThrow(/every endpoint of this fleet is down/);
    expect(b.hits).toBe(hits);
  });

  it('re-probes a down endpoint once its wait is over, and a success marks it up', async () => {
    let now = 0;
    let healthy = false;
    const flaky = await scripted(async (res, body) => {
      if (!healthy) return void res.writeHead(500).end('boom');
      await words([String(body.prompt)])(res, body);
    });
    const steady = await scripted(words(['steady']));
    const fleet = new FleetEngine([{ baseUrl: flaky.url, model: 'm' }, { baseUrl: steady.url, model: 'm' }], { retryAfterMs: 1000, now: () => now });
    expect((await ask(fleet, 'p1')).text).toBe('steady'); // flaky failed, retried on steady
    expect(fleet.stats()[0]!.down).toBe(true);
    now = 500;
    expect((await ask(fleet, 'p2')).text).toBe('steady');
    expect(flaky.hits).toBe(1); // left alone while down
    healthy = true;
    now = 1001;
    expect((await ask(fleet, 'p3')).text).toBe('p3'); // the re-probe
    expect(fleet.stats()[0]).toMatchObject({ down: false, served: 1, failed: 1 });
  });

  it('doubles the wait after each failure in a row', async () => {
    let now = 0;
    const flaky = await scripted((res) => void res.writeHead(502).end());
    const steady = await scripted(words(['s']));
    const fleet = new FleetEngine([{ baseUrl: flaky.url, model: 'm' }, { baseUrl: steady.url, model: 'm' }], { retryAfterMs: 100, now: () => now });
    await ask(fleet); // failure 1: down until 100
    now = 100;
    await ask(fleet); // re-probe fails: down until 100 + 200
    now = 299;
    await ask(fleet);
    expect(flaky.hits).toBe(2);
    now = 300;
    await ask(fleet);
    expect(flaky.hits).toBe(3);
  });

  it('does not retry a request the server refuses (4xx): that is the caller’s to fix', async () => {
    const refuses = await scripted((res) => void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad key' } })));
    const other = await scripted(words(['x']));
    const fleet = new FleetEngine([{ baseUrl: refuses.url, model: 'm' }, { baseUrl: other.url, model: 'm' }]);
    await expect(ask(fleet)).rejects.toThrow(/refused the request \(401: bad key\) — check the API key/);
    expect(other.hits).toBe(0);
    expect(fleet.stats()[0]!.down).toBe(false);
  });

  it('an abort while waiting for a slot ends the call at once with finish reason abort', async () => {
    const slow = await scripted(words(['a', 'b', 'c'], 100));
    const fleet = new FleetEngine([{ baseUrl: slow.url, model: 'm' }]);
    const first = ask(fleet);
    // The first call holds the only slot once its request has reached the server (on a loaded
    // machine that can take longer than the abort's 30 ms below).
    for (let t = 0; slow.hits === 0 && t < 200; t++) await new Promise((r) => setTimeout(r, 25));
    const ctl = new AbortController();
    const second = collect(fleet.complete({ prompt: 'q' }, { signal: ctl.signal }));
    setTimeout(() => ctl.abort(), 30);
    expect((await second).finish_reason).toBe('abort');
    expect(slow.hits).toBe(1);
    expect((await first).text).toBe('abc');
  });
});

describe('FleetEngine over real llama.cpp (node-llama-cpp serving stories260K.gguf)', () => {
  let llama: LoadedLlama;
  let one: LlamaServer;
  let two: LlamaServer;
  beforeAll(async () => {
    llama = await loadLlama(storiesModel());
    [one, two] = await Promise.all([startLlamaServer(llama), startLlamaServer(llama)]);
  }, 120_000);
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await llama?.dispose();
  });

  const prompts = Array.from({ length: 8 }, (_, i) => ({ prompt: `Once upon a time, there was a ${['cat', 'dog', 'girl', 'boy'][i % 4]}`, seed: 100 + i }));

  it('every request finishes, on both endpoints, when one is stopped mid-run; the text equals a single endpoint’s', async () => {
    // Reference: each prompt alone on endpoint one.
    const single = new OpenAIEngine({ baseUrl: one.url, model: 'stories260K' });
    const expected: string[] = [];
    for (const p of prompts) expected.push((await collect(single.complete({ ...p, temperature: 0.8, max_tokens: 40 }))).text);
    expect(new Set(expected).size).toBeGreaterThan(1);

    const before = { one: one.requests['/v1/completions'] ?? 0, two: two.requests['/v1/completions'] ?? 0 };
    // A minute's wait before a re-probe, so "two is down" still holds at the end on a slow machine.
    const fleet = new FleetEngine([{ baseUrl: one.url, model: 'stories260K' }, { baseUrl: two.url, model: 'stories260K' }], { retryAfterMs: 60_000 });
    let stopped = false;
    const texts = await Promise.all(
      prompts.map(async (p) => {
        const r = await collect(fleet.complete({ ...p, temperature: 0.8, max_tokens: 40 }));
        // Stop endpoint two once three answers are in: its queued and running requests break off.
        if (!stopped && fleet.stats().reduce((s, e) => s + e.served, 0) >= 3) {
          stopped = true;
          await two.stop();
        }
        return r.text;
      }),
    );
    expect(stopped).toBe(true);
    expect(texts).toEqual(expected);
    const [s1, s2] = fleet.stats();
    expect(s1!.served + s2!.served).toBe(prompts.length);
    expect(s2!.served).toBeGreaterThan(0); // both endpoints answered
    expect(s1!.served).toBeGreaterThan(0);
    expect(s2!.down).toBe(true);
    expect(s2!.failed).toBeGreaterThan(0); // a request broke off there and was retried on one
    expect((two.requests['/v1/completions'] ?? 0) - before.two).toBeGreaterThan(0);
    expect((one.requests['/v1/completions'] ?? 0) - before.one).toBe(s1!.served);
  }, 120_000);

  it('serves chat, logprobs and a seed the same way twice', async () => {
    const e = new OpenAIEngine({ baseUrl: one.url, model: 'stories260K' });
    const req = { messages: [{ role: 'user' as const, content: 'Tell me a story.' }], temperature: 0, max_tokens: 12, top_logprobs: 2 };
    const a = await collect(e.chat(req));
    const b = await collect(e.chat(req));
    expect(a.text.length).toBeGreaterThan(0);
    expect(a.text).toBe(b.text);
    expect(a.logprobs).toHaveLength(a.usage.completion_tokens);
    expect(a.logprobs[0]!.top_logprobs).toHaveLength(2);
    expect(a.logprobs.map((l) => l.token).join('')).toBe(a.text);
    expect(a.usage.prompt_tokens).toBeGreaterThan(0);
  }, 60_000);
});
