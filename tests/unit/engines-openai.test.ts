/**
 * The OpenAI-compatible engine against a real HTTP server started here (node:http) that speaks
 * the OpenAI streaming protocol: SSE chunks, [DONE], usage chunk, both logprob shapes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, EngineError } from '../../src/lib/engines/engine.ts';
import { normaliseBaseUrl, OpenAIEngine } from '../../src/lib/engines/openai.ts';
import { SSEParser } from '../../src/lib/engines/sse.ts';

const TOKENS = ['The', ' answer', ' is', ' 4', '.'];
let server: Server;
let base = '';
const seen: { path: string; auth?: string; body: Record<string, unknown> }[] = [];
let closedEarly = 0;

function sse(res: ServerResponse, obj: unknown): void {
  res.write(`data: ${JSON.stringify(obj)}\n\n`);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const c of req) s += c;
  return JSON.parse(s) as Record<string, unknown>;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    seen.push({ path: req.url ?? '', auth: req.headers.authorization, body });
    if (req.headers.authorization && req.headers.authorization !== 'Bearer good-key') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'invalid api key' } }));
      return;
    }
    if (body.model === 'missing') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'model "missing" not found' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (body.model === 'slow') {
      // 200 tokens, one every 20 ms: long enough to abort in the middle.
      let i = 0;
      const timer = setInterval(() => {
        if (i++ >= 200) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
          return;
        }
        sse(res, { choices: [{ index: 0, delta: { content: ` t${i}` }, finish_reason: null }] });
      }, 20);
      res.on('close', () => {
        if (i < 200) closedEarly++;
        clearInterval(timer);
      });
      return;
    }
    const k = typeof body.top_logprobs === 'number' ? body.top_logprobs : typeof body.logprobs === 'number' ? body.logprobs : 0;
    const chat = req.url === '/v1/chat/completions';
    TOKENS.forEach((tok, i) => {
      const alts = [tok, ' x', ' y'].slice(0, Math.max(1, k)).map((t, j) => ({ token: t, logprob: -0.1 - j }));
      const logprobs = body.logprobs
        ? chat
          ? { content: [{ token: tok, logprob: -0.1, top_logprobs: alts.slice(0, k) }] }
          : { tokens: [tok], token_logprobs: [-0.1], top_logprobs: [Object.fromEntries(alts.map((a) => [a.token, a.logprob]))] }
        : null;
      const choice = chat ? { index: 0, delta: { content: tok }, logprobs, finish_reason: null } : { index: 0, text: tok, logprobs, finish_reason: null };
      // Split one event across two writes to exercise the incremental parser.
      const line = `data: ${JSON.stringify({ choices: [choice] })}\n\n`;
      res.write(line.slice(0, 7 + i));
      res.write(line.slice(7 + i));
    });
    sse(res, { choices: [{ index: 0, delta: {}, text: '', finish_reason: body.max_tokens === 5 ? 'length' : 'stop' }] });
    sse(res, { choices: [], usage: { prompt_tokens: 7, completion_tokens: 5 } });
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('SSE parser', () => {
  it('joins data lines, splits events on blank lines, ignores comments, handles CRLF and split chunks', () => {
    const p = new SSEParser();
    expect(p.push(': comment\r\ndata: a\r\nda')).toEqual([]);
    expect(p.push('ta: b\r\n\r\ndata:c\n')).toEqual(['a\nb']);
    expect(p.push('\nevent: x\ndata: [DONE]\r')).toEqual(['c']);
    expect(p.end()).toEqual(['[DONE]']);
  });
});

describe('OpenAI-compatible engine (real local HTTP server)', () => {
  it('streams a chat with logprobs, usage and the key as a bearer token', async () => {
    const e = new OpenAIEngine({ baseUrl: `${base}/v1/`, model: 'tiny', apiKey: 'good-key' });
    expect(e.info).toMatchObject({ kind: 'openai', backend: 'http', model: 'tiny' });
    const r = await collect(e.chat({ messages: [{ role: 'user', content: '2+2?' }], temperature: 0, seed: 3, max_tokens: 8, stop: ['\n'], top_logprobs: 2 }));
    expect(r.text).toBe('The answer is 4.');
    expect(r.finish_reason).toBe('stop');
    expect(r.usage.prompt_tokens).toBe(7);
    expect(r.usage.completion_tokens).toBe(5);
    expect(r.logprobs.map((l) => l.token)).toEqual(TOKENS);
    expect(r.logprobs[0]!.top_logprobs).toEqual([{ token: 'The', logprob: -0.1 }, { token: ' x', logprob: -1.1 }]);
    const req = seen.at(-1)!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.auth).toBe('Bearer good-key');
    expect(req.body).toMatchObject({ model: 'tiny', stream: true, temperature: 0, seed: 3, max_tokens: 8, stop: ['\n'], logprobs: true, top_logprobs: 2 });
  });

  it('maps legacy completion logprobs and finish "length"', async () => {
    const e = new OpenAIEngine({ baseUrl: base, model: 'tiny' });
    const r = await collect(e.complete({ prompt: 'Q', max_tokens: 5, logprobs: true, top_logprobs: 3 }));
    expect(r.text).toBe('The answer is 4.');
    expect(r.finish_reason).toBe('length');
    expect(r.logprobs[3]).toEqual({ token: ' 4', logprob: -0.1, top_logprobs: [{ token: ' 4', logprob: -0.1 }, { token: ' x', logprob: -1.1 }, { token: ' y', logprob: -2.1 }] });
    expect(seen.at(-1)!.path).toBe('/v1/completions');
    expect(seen.at(-1)!.body.logprobs).toBe(3);
    expect(seen.at(-1)!.auth).toBeUndefined();
  });

  it('abort ends the stream promptly with finish "abort" and closes the connection', async () => {
    const e = new OpenAIEngine({ baseUrl: base, model: 'slow' });
    const ac = new AbortController();
    let deltas = 0;
    const before = closedEarly;
    const t0 = Date.now();
    let finish = '';
    for await (const c of e.chat({ messages: [{ role: 'user', content: 'go' }] }, { signal: ac.signal })) {
      if (c.type === 'delta' && ++deltas === 3) ac.abort();
      if (c.type === 'done') finish = c.finish_reason;
    }
    expect(finish).toBe('abort');
    expect(deltas).toBe(3);
    expect(Date.now() - t0).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 100));
    expect(closedEarly).toBe(before + 1);
  });

  it('errors say what to do: bad key, unknown model, unreachable server, bad URL', async () => {
    const bad = new OpenAIEngine({ baseUrl: base, model: 'tiny', apiKey: 'wrong' });
    await expect(collect(bad.chat({ messages: [] }))).rejects.toThrow(/refused the request \(401: invalid api key\) — check the API key/);
    const missing = new OpenAIEngine({ baseUrl: base, model: 'missing' });
    await expect(collect(missing.complete({ prompt: 'x' }))).rejects.toThrow(/not found \(404: model "missing" not found\)/);
    const down = new OpenAIEngine({ baseUrl: 'http://127.0.0.1:9', model: 'tiny' });
    const err = await collect(down.complete({ prompt: 'x' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('network');
    expect((err as EngineError).message).toMatch(/could not reach http:\/\/127\.0\.0\.1:9\/v1\/completions .*CORS/);
    expect(() => new OpenAIEngine({ baseUrl: 'not a url', model: 'x' })).toThrow(/is not a URL/);
    expect(normaliseBaseUrl('http://h:1/v1/')).toBe('http://h:1');
  });

  it('after unload, calls fail with "unloaded"', async () => {
    const e = new OpenAIEngine({ baseUrl: base, model: 'tiny' });
    await e.unload();
    await expect(collect(e.complete({ prompt: 'x' }))).rejects.toMatchObject({ code: 'unloaded' });
  });
});
