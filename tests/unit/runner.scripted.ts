/**
 * Scripted models and a small in-memory data set for unit tests of the experiment runner's decision
 * logic (grid, cache, resume, cancel, concurrency, dev fitting). The "model" is a function from the
 * prompt to an answer and its token log-probability; usage is fixed, so runs are comparable. The
 * real engine is exercised by the CLI test (tests/unit/experiment-cli.test.ts) on real GGUF files.
 */
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine, EngineInfo } from '../../src/lib/engines/engine.ts';
import type { EvalDataset, EvalItem } from '../../src/lib/eval/task.ts';

export type Answerer = (prompt: string, request: ChatRequest | CompletionRequest) => { text: string; logprob: number };

export class ScriptedModel implements Engine {
  readonly info: EngineInfo;
  readonly calls: Array<{ kind: 'chat' | 'complete'; prompt: string; seed?: number; temperature?: number }> = [];
  /** Every request as it reached the model, whole. */
  readonly requests: Array<{ kind: 'chat' | 'complete'; request: ChatRequest | CompletionRequest }> = [];
  active = 0;
  maxActive = 0;
  /** Throw on this call number (1-based), to simulate a crash mid-run. */
  failAt?: number;

  constructor(
    readonly name: string,
    private readonly answer: Answerer,
    private readonly delayMs = 2,
  ) {
    this.info = { kind: 'wllama', model: name, backend: 'cpu', detail: 'scripted test model', supportsLogprobs: true };
  }

  chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    const prompt = request.messages.map((m) => m.content).join('\n');
    return this.#run('chat', prompt, request, options);
  }

  complete(request: CompletionRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#run('complete', request.prompt, request, options);
  }

  async *#run(kind: 'chat' | 'complete', prompt: string, request: ChatRequest | CompletionRequest, options: CallOptions): AsyncGenerator<ChatChunk> {
    this.requests.push({ kind, request: structuredClone(request) });
    this.calls.push({ kind, prompt, ...(request.seed !== undefined ? { seed: request.seed } : {}), ...(request.temperature !== undefined ? { temperature: request.temperature } : {}) });
    if (this.failAt !== undefined && this.calls.length === this.failAt) throw new Error(`${this.name}: simulated crash`);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (options.signal?.aborted) {
        yield { type: 'done', finish_reason: 'abort', usage: { prompt_tokens: 3, completion_tokens: 0, time_to_first_token_ms: 0, total_ms: 0, tokens_per_second: 0 } };
        return;
      }
      const a = this.answer(prompt, request);
      yield { type: 'delta', text: a.text, logprobs: [{ token: a.text, logprob: a.logprob, top_logprobs: [] }] };
      yield { type: 'done', finish_reason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 1, time_to_first_token_ms: 1, total_ms: 5, tokens_per_second: 200 } };
    } finally {
      this.active -= 1;
    }
  }

  async unload(): Promise<void> {}
}

/** "Q: <group> <n>\nA:" items; the reference is n*2 for group "double" and n+1 for group "next". */
export function toyDataset(nDev = 6, nTest = 8): EvalDataset {
  const make = (split: string, n: number): EvalItem[] =>
    Array.from({ length: n }, (_, i) => {
      const group = i % 2 === 0 ? 'double' : 'next';
      const x = split === 'dev' ? i + 1 : i + 101;
      return { id: `${split}-${i}`, prompt: `Q: ${group} ${x}\nA:`, mode: 'completion', reference: String(group === 'double' ? x * 2 : x + 1), raw: null, group };
    });
  return {
    id: 'toy',
    name: 'toy',
    source: 'user',
    taskType: 'exact_match',
    metric: 'exact',
    splits: { dev: make('dev', nDev), test: make('test', nTest) },
    maxTokens: 4,
    stop: ['\n'],
    score(item, output) {
      const parsed = output.trim();
      return Promise.resolve({ parsed, score: parsed === item.reference ? 1 : 0 });
    },
  };
}

/** Parses "Q: <group> <n>" from a prompt. */
export function readToy(prompt: string): { group: string; x: number } {
  const m = /Q: (\w+) (\d+)/.exec(prompt);
  return { group: m?.[1] ?? '', x: Number(m?.[2] ?? 0) };
}
