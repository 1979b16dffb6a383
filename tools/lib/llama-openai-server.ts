/**
 * A small OpenAI-compatible server over real llama.cpp (node-llama-cpp 3.21.1, CPU): the local
 * test server for serving fleets (src/lib/engines/fleet.ts), the fleet's CLI test and the bench.
 * It is not a production server; llama-server, vLLM or Ollama are.
 *
 *   node --import tsx tools/lib/llama-openai-server.ts MODEL.gguf [--port 0] [--threads 1]
 *   → prints "listening http://127.0.0.1:<port>" and serves until SIGINT/SIGTERM.
 *
 *   const llama = await loadLlama(path);                     // ~10 s of CPU here: once per process
 *   const srv = await startLlamaServer(llama, { port: 0 });  // as many servers as wanted on one model
 *   srv.url; srv.requests; await srv.stop();                 // stop(): connections cut, port closed
 *
 * POST /v1/completions and /v1/chat/completions, streamed (SSE, `data: {…}` then `data: [DONE]`) or
 * not; `temperature` (0 = greedy), `top_p`, `top_k`, `seed`, `max_tokens`, `stop`, and `logprobs`
 * (completions: an integer k; chat: `logprobs: true` + `top_logprobs: k`) answered in the chat shape
 * `logprobs.content[] = {token, logprob, top_logprobs[]}` as llama-server does, the log of node-llama-cpp's
 * post-sampling-options probabilities, each with its token `id`. `usage` in the last chunk. CORS open (any origin), so a page can call it.
 * For stepping (src/lib/engines/openai-stepper.ts), llama-server's other shapes: a completion `prompt`
 * may be an array of token IDs (used as given, no BOS added); POST /tokenize {content, add_special,
 * parse_special} → {tokens}; POST /detokenize {tokens} → {content}; GET /props → {bos_token,
 * eos_token}; GET /v1/models carries `meta.n_vocab`. Unlike llama-server it keeps no KV cache between
 * requests (`cache_prompt` is ignored): every request evaluates its whole prompt.
 * Chat messages are rendered with the model's chat template when it has one, else with Chorus's
 * plain transcript (src/lib/engines/prompt.ts, stopped at "\nUser:").
 *
 * Each server has one context with one sequence (llama-server `-np 1`): requests queue FIFO, so a
 * seed gives the same tokens whatever else is asked.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { getLlama, LlamaChatSession, type LlamaModel, type Token } from 'node-llama-cpp';
import { FALLBACK_STOP, renderFallbackChat } from '../../src/lib/engines/prompt.ts';
import type { ChatMessage } from '../../src/lib/engines/engine.ts';

export interface LoadedLlama {
  model: LlamaModel;
  path: string;
  dispose(): Promise<void>;
}

export interface LlamaServerOptions {
  port?: number;
  host?: string;
  /** CPU threads of this server's context (default 1). */
  threads?: number;
  contextSize?: number;
}

export interface LlamaServer {
  url: string;
  port: number;
  /** Requests received per path, counted when the request arrives. */
  readonly requests: Record<string, number>;
  /** Completions served to their end. */
  readonly served: number;
  /** Stops at once, like a killed process: open streams are cut, the port closes. */
  stop(): Promise<void>;
}

export async function loadLlama(path: string): Promise<LoadedLlama> {
  // build: 'never' uses the prebuilt CPU binary (no compiler here); gpu: false keeps it on the CPU.
  const llama = await getLlama({ gpu: false, build: 'never' });
  const model = await llama.loadModel({ modelPath: path });
  return { model, path, dispose: async () => void (await llama.dispose()) };
}

interface Body {
  model?: string;
  prompt?: unknown;
  messages?: unknown;
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  max_tokens?: number;
  stop?: string | string[];
  logprobs?: boolean | number;
  top_logprobs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startLlamaServer(llama: LoadedLlama, opts: LlamaServerOptions = {}): Promise<LlamaServer> {
  const { model } = llama;
  const context = await model.createContext({ sequences: 1, threads: opts.threads ?? 1, contextSize: opts.contextSize ?? Math.min(2048, model.trainContextSize) });
  const sequence = context.getSequence();
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  const nVocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
  const requests: Record<string, number> = {};
  let served = 0;
  // One slot: requests run one after another in arrival order.
  let slot: Promise<unknown> = Promise.resolve();
  const sockets = new Set<Socket>();

  const render = async (messages: ChatMessage[]): Promise<{ text: string; stop: string[] }> => {
    if (typeof template !== 'string') return { text: renderFallbackChat(messages), stop: FALLBACK_STOP };
    const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
    const wrapper = session.chatWrapper;
    session.dispose({ disposeSequence: false });
    const history = messages.map((m) => (m.role === 'assistant' ? { type: 'model' as const, response: [m.content] } : { type: m.role, text: m.content }));
    const { contextText } = wrapper.generateContextState({ chatHistory: [...history, { type: 'model', response: [] }] });
    return { text: contextText.toString(), stop: [] };
  };

  async function generate(body: Body, chat: boolean, res: ServerResponse, signal: AbortSignal): Promise<void> {
    let prompt: string | Token[];
    let stops = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []);
    if (chat) {
      if (!Array.isArray(body.messages)) throw new HttpError(400, '"messages" must be an array of {role, content}');
      const r = await render(body.messages as ChatMessage[]);
      prompt = r.text;
      stops = [...stops, ...r.stop];
    } else if (Array.isArray(body.prompt) && body.prompt.every((t) => Number.isInteger(t) && t >= 0 && t < nVocab)) {
      // Token IDs, as llama-server takes them: used as given (no BOS added).
      prompt = body.prompt as Token[];
    } else {
      if (typeof body.prompt !== 'string') throw new HttpError(400, `"prompt" must be a string or an array of token IDs (0 … ${nVocab - 1})`);
      prompt = body.prompt;
    }
    const k = chat ? (body.logprobs ? (body.top_logprobs ?? 0) : -1) : typeof body.logprobs === 'number' ? body.logprobs : body.logprobs ? 0 : -1;
    const maxTokens = body.max_tokens ?? 16;
    // A text prompt starts with BOS, as llama-server tokenizes it (node-llama-cpp's tokenize adds none).
    const bos = model.tokens.bos;
    const textTokens = typeof prompt === 'string' ? model.tokenize(prompt, true) : null;
    const tokens = textTokens === null ? (prompt as Token[]) : bos !== null && textTokens[0] !== bos ? [bos, ...textTokens] : textTokens;
    if (tokens.length + maxTokens > context.contextSize) throw new HttpError(400, `the prompt (${tokens.length} tokens) plus max_tokens (${maxTokens}) exceed the context (${context.contextSize})`);
    const id = `cmpl-${Date.now().toString(36)}`;
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const stream = body.stream === true;
    if (stream) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}): void => {
      if (stream) res.write(`data: ${JSON.stringify({ id, object, model: body.model ?? llama.path, choices: [{ index: 0, ...choice }], ...extra })}\n\n`);
    };

    await sequence.clearHistory();
    let text = '';
    let emitted = 0;
    let generated = 0;
    let finish: 'stop' | 'length' = 'length';
    const content: Array<{ id: number; token: string; logprob: number; top_logprobs: Array<{ id: number; token: string; logprob: number }> }> = [];
    const temperature = body.temperature ?? 0.8;
    const gen = sequence.evaluateWithMetadata(tokens, { probabilities: k >= 0 }, {
      temperature,
      ...(body.top_k !== undefined && { topK: body.top_k }),
      ...(body.top_p !== undefined && { topP: body.top_p }),
      ...(body.seed !== undefined && { seed: body.seed }),
    });
    const seen: Token[] = [...tokens];
    const pending: Array<{ id: number; token: string; logprob: number; top_logprobs: Array<{ id: number; token: string; logprob: number }> }> = [];
    for await (const out of gen) {
      if (signal.aborted) break;
      if (model.isEogToken(out.token)) {
        finish = 'stop';
        break;
      }
      // Detokenised with the tokens before it, so SentencePiece's leading spaces come out right.
      const piece = (t: Token): string => model.detokenize([t], false, seen);
      const tokenText = piece(out.token);
      if (k >= 0) {
        const probs = (out as { probabilities?: Map<Token, number> }).probabilities!;
        // With token IDs, as llama-server sends them (`id` beside `token`).
        const top = [...probs].slice(0, k).map(([t, p]) => ({ id: Number(t), token: piece(t), logprob: Math.log(p) }));
        pending.push({ id: Number(out.token), token: tokenText, logprob: Math.log(probs.get(out.token) ?? 0), top_logprobs: top });
      }
      seen.push(out.token);
      generated += 1;
      text += tokenText;
      const hit = stops.map((s) => text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
      const cut = hit.length ? Math.min(...hit) : -1;
      // Hold back a tail that could still become a stop sequence.
      const safe = cut >= 0 ? cut : Math.max(emitted, text.length - Math.max(0, ...stops.map((s) => s.length - 1)));
      if (safe > emitted || pending.length) {
        const delta = text.slice(emitted, safe);
        emitted = safe;
        const lp = pending.length ? { logprobs: { content: pending.splice(0) } } : {};
        content.push(...((lp.logprobs?.content as typeof content | undefined) ?? []));
        send(chat ? { delta: { content: delta }, ...lp, finish_reason: null } : { text: delta, ...lp, finish_reason: null });
      }
      if (cut >= 0) {
        text = text.slice(0, cut);
        finish = 'stop';
        break;
      }
      if (generated >= maxTokens) break;
    }
    await gen.return();
    if (signal.aborted) return;
    if (emitted < text.length) send(chat ? { delta: { content: text.slice(emitted) }, finish_reason: null } : { text: text.slice(emitted), finish_reason: null });
    const usage = { prompt_tokens: tokens.length, completion_tokens: generated, total_tokens: tokens.length + generated };
    served += 1;
    if (stream) {
      send(chat ? { delta: {}, finish_reason: finish } : { text: '', finish_reason: finish }, { usage });
      res.end('data: [DONE]\n\n');
    } else {
      const lp = k >= 0 ? { logprobs: { content } } : { logprobs: null };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', model: body.model ?? llama.path, choices: [{ index: 0, ...(chat ? { message: { role: 'assistant', content: text } } : { text }), ...lp, finish_reason: finish }], usage }));
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'content-type, authorization');
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    const path = (req.url ?? '/').split('?')[0]!;
    requests[path] = (requests[path] ?? 0) + 1;
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (req.method === 'GET' && path === '/v1/models') {
      // llama-server's `meta` carries the vocabulary size.
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: llama.path, object: 'model', meta: { n_vocab: nVocab } }] }));
    }
    if (req.method === 'GET' && path === '/props') {
      const special = (t: Token | null): string | null => (t === null ? null : model.detokenize([t], true));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bos_token: special(model.tokens.bos), eos_token: special(model.tokens.eos) }));
    }
    if (req.method === 'POST' && (path === '/tokenize' || path === '/detokenize')) {
      // llama-server's shapes: {content, add_special, parse_special} → {tokens}; {tokens} → {content}.
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        try {
          const b = JSON.parse(raw) as { content?: unknown; add_special?: boolean; parse_special?: boolean; tokens?: unknown };
          if (path === '/tokenize') {
            if (typeof b.content !== 'string') throw new HttpError(400, '"content" must be a string');
            const ids = model.tokenize(b.content, b.parse_special === true).map(Number);
            const bos = model.tokens.bos;
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tokens: b.add_special && bos !== null ? [Number(bos), ...ids] : ids }));
          } else {
            if (!Array.isArray(b.tokens) || !b.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < nVocab)) throw new HttpError(400, `"tokens" must be an array of token IDs (0 … ${nVocab - 1})`);
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ content: model.detokenize(b.tokens as Token[], false) }));
          }
        } catch (e) {
          res.writeHead(e instanceof HttpError ? e.status : 400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: e instanceof Error ? e.message : String(e) } }));
        }
      });
      return;
    }
    const chat = path === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && path !== '/v1/completions')) {
      return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const run = async (): Promise<void> => {
        let body: Body;
        try {
          body = JSON.parse(raw) as Body;
        } catch {
          throw new HttpError(400, 'the request body is not JSON');
        }
        await generate(body, chat, res, abort.signal);
      };
      const turn = slot.then(() => (abort.signal.aborted ? undefined : run()));
      slot = turn.catch(() => undefined);
      turn.catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        const message = e instanceof Error ? e.message : String(e);
        if (res.headersSent) res.end(`data: ${JSON.stringify({ error: { message } })}\n\n`);
        else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message } }));
      });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    get served() {
      return served;
    },
    stop() {
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
        await slot;
        await context.dispose();
      })();
      return stopped;
    },
  };
}

async function main(argv: string[]): Promise<void> {
  const path = argv.find((a) => !a.startsWith('--'));
  const opt = (name: string): number | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  if (!path) throw new Error('usage: node --import tsx tools/lib/llama-openai-server.ts MODEL.gguf [--port N] [--threads N]');
  const llama = await loadLlama(path);
  const srv = await startLlamaServer(llama, { port: opt('--port') ?? 0, threads: opt('--threads') ?? 1 });
  process.stdout.write(`listening ${srv.url}\n`);
  const end = (): void => void srv.stop().then(() => llama.dispose()).then(() => process.exit(0));
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`llama-openai-server: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
