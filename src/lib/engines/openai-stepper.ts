/**
 * The stepping seam over an OpenAI-compatible server (stepper.ts): one `/v1/completions` call per
 * step with the prefix as token IDs, `max_tokens: 1`, `temperature: 0` and `logprobs: k` — the
 * top-k log-probabilities of the next token, exactness 'top-k'. The shapes are llama-server's
 * (tools/server/README.md of llama.cpp): a `prompt` may be an array of token IDs; each logprob
 * carries its token `id`; POST /tokenize and /detokenize; GET /props names the BOS and EOS tokens;
 * GET /v1/models gives `meta.n_vocab`. `cache_prompt: true` asks llama-server to keep the slot's
 * KV cache for the shared prefix, so a step costs one token's forward pass there.
 *
 * Servers without these (OpenAI itself, most hosted APIs) cannot step; the error says which call
 * failed. The vocabulary fingerprint is the SHA-256 of every token's text (one /detokenize per
 * token, done once per stepper; vocabularies above MAX_FINGERPRINT_VOCAB tokens are named by the
 * server's model and size instead, so they match only the same model on another server).
 */
import { EngineError } from './engine.ts';
import { vocabularyFingerprint } from './gguf-vocab.ts';
import type { NextToken, StepOptions, Stepper, VocabularyInfo } from './stepper.ts';

export const MAX_FINGERPRINT_VOCAB = 8192;

interface Conn {
  base: string;
  model: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

async function call<T>(c: Conn, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const url = c.base + path;
  let res: Response;
  try {
    res = await c.fetch(url, { method, headers: { ...c.headers, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body: JSON.stringify(body) }), ...(signal && { signal }) });
  } catch (err) {
    if (signal?.aborted) throw new EngineError('aborted', 'the step was cancelled.');
    throw new EngineError('network', `could not reach ${url} (${err instanceof Error ? err.message : String(err)}) — is the server running?`);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw new EngineError(res.status === 404 ? 'unsupported' : 'bad-request', `${url} answered ${res.status}${text ? `: ${text.slice(0, 160)}` : ''} — stepping needs llama-server's /tokenize, /detokenize, /props and token-ID prompts.`);
  }
  return (await res.json()) as T;
}

export class OpenAIStepper implements Stepper {
  readonly vocabulary: VocabularyInfo;
  readonly #c: Conn;

  private constructor(c: Conn, vocabulary: VocabularyInfo) {
    this.#c = c;
    this.vocabulary = vocabulary;
  }

  static async open(c: Conn): Promise<OpenAIStepper> {
    const models = await call<{ data?: { id: string; meta?: { n_vocab?: number } }[] }>(c, 'GET', '/v1/models');
    const entry = models.data?.find((m) => m.id === c.model) ?? models.data?.[0];
    const size = entry?.meta?.n_vocab;
    if (!Number.isInteger(size) || size! <= 0) {
      throw new EngineError('unsupported', `${c.base}/v1/models does not give the vocabulary size (llama-server's meta.n_vocab), so ${c.model} cannot be stepped token by token — use llama-server.`);
    }
    const props = await call<{ bos_token?: string | null; eos_token?: string | null }>(c, 'GET', '/props');
    const special = async (s: string | null | undefined): Promise<number | undefined> => {
      if (!s) return undefined;
      const r = await call<{ tokens: number[] }>(c, 'POST', '/tokenize', { content: s, add_special: false, parse_special: true });
      return r.tokens.length === 1 ? r.tokens[0] : undefined;
    };
    const bos = await special(props.bos_token);
    const eosId = await special(props.eos_token);
    let fingerprint: string;
    if (size! <= MAX_FINGERPRINT_VOCAB) {
      const pieces: string[] = new Array<string>(size!);
      const ids = Array.from({ length: size! }, (_, i) => i);
      // 16 at a time: a local server answers each in about a millisecond.
      for (let i = 0; i < ids.length; i += 16) {
        await Promise.all(ids.slice(i, i + 16).map(async (id) => (pieces[id] = (await call<{ content: string }>(c, 'POST', '/detokenize', { tokens: [id] })).content)));
      }
      fingerprint = await vocabularyFingerprint(pieces);
    } else {
      fingerprint = `http:${c.model}:${size}`;
    }
    return new OpenAIStepper(c, { size: size!, fingerprint, eos: eosId === undefined ? [] : [eosId], ...(bos !== undefined && { bos }) });
  }

  async tokenize(text: string, options: { addBos?: boolean } = {}): Promise<number[]> {
    return (await call<{ tokens: number[] }>(this.#c, 'POST', '/tokenize', { content: text, add_special: options.addBos ?? false })).tokens;
  }

  #bosText: Promise<string> | null = null;

  /**
   * As the wllama stepper: a BOS-led sequence is a whole text (no BOS text, no leading space
   * prefix); any other is a continuation and keeps its leading space. Servers differ in what a
   * detokenize of a sequence does with its first space (node-llama-cpp strips it, llama-server
   * renders BOS as "<s>"), so the IDs are detokenised after BOS and the BOS's own text cut off.
   */
  async detokenize(ids: readonly number[]): Promise<string> {
    const bos = this.vocabulary.bos;
    const detok = async (tokens: number[]) => (await call<{ content: string }>(this.#c, 'POST', '/detokenize', { tokens })).content;
    if (bos === undefined) return detok([...ids]);
    const whole = ids[0] === bos;
    const rest = whole ? ids.slice(1) : [...ids];
    this.#bosText ??= detok([bos]);
    const head = await this.#bosText;
    const full = await detok([bos, ...rest]);
    const text = full.startsWith(head) ? full.slice(head.length) : full;
    return whole && text.startsWith(' ') ? text.slice(1) : text;
  }

  async next(prefix: readonly number[], options: StepOptions = {}): Promise<NextToken> {
    const k = Math.max(1, Math.min(20, options.topK ?? 10));
    const r = await call<{ choices?: { logprobs?: { content?: { top_logprobs?: { id?: number; token: string; logprob: number }[] }[] } | null }[] }>(
      this.#c,
      'POST',
      '/v1/completions',
      { model: this.#c.model, prompt: [...prefix], max_tokens: 1, temperature: 0, logprobs: k, cache_prompt: true, stream: false },
      options.signal,
    );
    const tops = r.choices?.[0]?.logprobs?.content?.[0]?.top_logprobs ?? [];
    if (tops.length === 0 || tops.some((t) => typeof t.id !== 'number')) {
      throw new EngineError('unsupported', `${this.#c.base} returned no token IDs with its log-probabilities — stepping needs llama-server.`);
    }
    return { top: tops.map((t) => ({ id: t.id!, text: t.token, logprob: t.logprob })), exactness: 'top-k' };
  }

  async close(): Promise<void> {}
}
