/**
 * The experiment runner: the same code in the Experiments tab and the CLI (tools/cli/experiment.ts).
 *
 * API (for the tab and scripts):
 *
 *   const runner = createRunner({ experiment, datasets, models, answers, state, scoring, onProgress });
 *   const outcome = await runner.run();      // { status: 'done', results } | { status: 'cancelled' }
 *   runner.pause(); runner.resume();         // stop taking new items / go on (calls in flight finish)
 *   runner.cancel();                         // abort calls in flight; finished items stay in `state`
 *   runner.progress                          // the latest Progress (also sent to onProgress)
 *
 * - experiment: parseExperiment(text) (src/lib/eval/experiment.ts); datasets: the loaded EvalDataset
 *   of each experiment.datasets entry, same order; models(id): the bound Engine of a model id and its
 *   cache identity (content hash of the weights, or "openai:<baseUrl>|<model>").
 * - The grid (expandGrid) runs in two phases: every cell that fits nothing (member cells on dev and
 *   test, plain collaborations), then the cells whose method fits on dev (Strategy.fit: router
 *   weights, cascade threshold, judge = best member on dev), fitted from the dev member cells only —
 *   never from test. A method with a search on dev (Strategy.search: heterogeneous swarms' particle
 *   swarm) instead runs its candidates on the dev items through runItem (the answer cache below,
 *   so a resumed search re-asks nothing), scored like any dev cell (mean item score after the data
 *   set's joint rule); each iteration goes to `progress.search` for the live plot. The search rows
 *   are not stored: their calls are counted in the fitted note. A search also gets the dev member
 *   evidence `fit` gets and, on request, each dev item's trace (the cascade reads its tiers' stated
 *   confidences from it).
 * - Each item runs the method through runStrategy (src/lib/run.ts) with the cell's seed, so the same
 *   experiment gives the same answers; its trace, final answer, score and cost become one row.
 * - Engines are wrapped per model: at most `perEngine` calls at once (default 1); an answer cache
 *   (`answers`, src/lib/eval/cache.ts) below the method, so a repeated call costs nothing; and, for
 *   completion-mode items (the pool's `Q: …\nA:`), the first answer to the item's own prompt is sent
 *   as a raw completion, with the data set's stop sequences.
 * - Resume: every finished row is appended to `state` (IndexedDB in the tab, a JSONL file next to
 *   --out in the CLI) before it counts as done. A new runner over the same state skips those items,
 *   so a reload or a crash loses nothing finished, and (seeded calls, cached answers) the results
 *   equal those of an uninterrupted run.
 * - Scoring: each item by its data set's `score` (with `scoring`: ctx.js, ctx.python), then the
 *   data set's joint rule over each finished cell's split (`groupScores`, e.g. culturebench) when
 *   dev evidence is read and when the results are assembled.
 * - A method that ends in error stops the run with that message (finished rows stay in `state`):
 *   an engine failure is never recorded as a wrong answer.
 * - Weight-level methods (MoCo's greedy soup, model swarms, ExPO, DARE-TIES, LoraHub;
 *   src/lib/strategies/weight.ts) search merges of their agents' models on dev: each candidate is a
 *   MergeRecipe, which `merger` (the tab's merge worker, the CLI's merge in Node) really merges and
 *   loads when a call first needs it — never when every answer comes from the cache, so a resumed
 *   search merges and asks nothing twice. The merged model is the cell's one agent; its answers are
 *   cached under the SHA-256 of the recipe over its inputs' cache keys (the weights' content). The
 *   best merge is saved as a model with its recipe (`merger.save`) when the search ends, and when
 *   the run is cancelled mid-search (the best so far); the test items are answered by it.
 */
import type { CallOptions, ChatChunk, ChatRequest, CompletionRequest, Engine } from '../engines/engine.ts';
import { runStrategy } from '../run.ts';
import { getStrategy } from '../strategies/registry.ts';
import type { DevEvidence, Fitted, KnobValue, MergeRecipe, SearchStep } from '../strategies/types.ts';
import { isRecipe, recipeText } from '../strategies/weight.ts';
import type { ResolvedRecipe } from '../merge/recipe.ts';
import { resolveKnobs } from '../strategies/knobs.ts';
import type { TraceEvent } from '../trace.ts';
import { cachingEngine, canonicalJson, sha256Hex, type AnswerStore, type CacheCounts } from './cache.ts';
import { expandGrid, memberCellKey, type Cell, type Experiment } from './experiment.ts';
import { summarize, type CellResult, type ItemResult, type ResultsFile } from './results.ts';
import type { EvalDataset, EvalItem, ScoreContext } from './task.ts';

export interface ModelBinding {
  engine: Engine;
  /** Identity of the weights (content hash) or of the endpoint + model name, for the answer cache. */
  cacheKey: string;
  /** Calls this engine takes at once, when it knows (a fleet: the sum of its endpoints' limits); else `perEngine`. */
  concurrency?: number;
}

/** A finished item as the state store keeps it (cell by key, so a changed grid cannot misplace it). */
export interface StoredRow extends Omit<ItemResult, 'cell'> {
  cellKey: string;
}

export interface RunStateStore {
  /** Every row appended so far (a partly written last row is dropped by the store). */
  load(): Promise<StoredRow[]>;
  /** Appends one finished row, whole or not at all. */
  append(row: StoredRow): Promise<void>;
}

export interface Progress {
  phase: 'loading' | 'members and plain methods' | 'searching on dev' | 'methods fitted on dev' | 'done' | 'cancelled';
  done: number;
  total: number;
  /** Items taken from the saved state (resume). */
  resumed: number;
  /** Model calls answered by the cache / sent to an engine so far. */
  cacheHits: number;
  cacheMisses: number;
  paused: boolean;
  /** Seconds left at this session's rate, null before the first item. */
  etaSeconds: number | null;
  /** The cell the last finished item belonged to. */
  cell?: string;
  /** The latest dev search (Strategy.search): its cell and every iteration so far, for the live plot. */
  search?: { cell: string; steps: SearchStep[] };
  /** Merged models a weight-level search saved (its best, or its best so far when cancelled). */
  saved?: { cell: string; name: string; recipe: string; bestSoFar: boolean }[];
}

/**
 * Merges weight-level candidates (see the file comment). Recipes name the experiment's model ids;
 * `key` is the recipe's content identity (the same key, the same weights).
 */
export interface Merger {
  /** Merges `recipe` and loads the result; the runner unloads it when it needs the room. */
  load(recipe: ResolvedRecipe, key: string, signal: AbortSignal): Promise<Engine>;
  /** Saves the merge of `recipe` as a model with its recipe (once per key); resolves to the name it is listed under. */
  save(recipe: ResolvedRecipe, key: string, name: string): Promise<string>;
}

export interface RunnerOptions {
  experiment: Experiment;
  datasets: EvalDataset[];
  models: (id: string) => ModelBinding;
  answers?: AnswerStore;
  state?: RunStateStore;
  scoring?: ScoreContext;
  /** Calls in flight per engine (default 1: llama.cpp wasm runs one at a time). */
  perEngine?: number;
  /** Items in flight (default 4). */
  concurrency?: number;
  /** Keep every item's trace in the results (default true). */
  traces?: boolean;
  onProgress?: (p: Progress) => void;
  /** Merges and saves weight-level candidates; without it a weight-level method is refused. */
  merger?: Merger;
}

export type RunOutcome = { status: 'done'; results: ResultsFile } | { status: 'cancelled' };

export interface Runner {
  run(): Promise<RunOutcome>;
  pause(): void;
  resume(): void;
  cancel(): void;
  readonly progress: Progress;
}

/** A counting semaphore: at most `limit` holders at once, FIFO. */
class Gate {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(limit: number) {
    this.#free = limit;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}

/**
 * `engine` with at most `gate`'s limit of calls at once (a call holds it to its end), each asked
 * for its whole answer at the end (`stream: false`): the runner shows no tokens as they come, and
 * wllama then spares its per-token messages between threads (each call about a fifth faster on
 * stories260K: README, Benchmarks). Below the answer cache, so the cache's keys do not hold it.
 */
function gatedEngine(engine: Engine, gate: Gate): Engine {
  async function* hold(open: () => AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
    await gate.acquire();
    try {
      yield* open();
    } finally {
      gate.release();
    }
  }
  return {
    info: engine.info,
    chat: (r, o) => hold(() => engine.chat({ ...r, stream: false }, o)),
    complete: (r, o) => hold(() => engine.complete({ ...r, stream: false }, o)),
    unload: () => engine.unload(),
    // Token-level methods step the model directly (no answer cache, no gate: one short call each).
    ...(engine.stepper && { stepper: () => engine.stepper!() }),
  };
}

/**
 * The engine an agent sees for one item: the data set's stop sequences on every call, and the
 * item's own prompt sent raw when the item is in completion format (a chat template would wrap
 * `Q: …\nA:` a second time). Other conversations (debate rounds, judges) stay chats.
 */
export function itemEngine(engine: Engine, item: EvalItem, stop: readonly string[]): Engine {
  const withStop = <T extends { stop?: string[] }>(r: T): T => (stop.length === 0 ? r : { ...r, stop: [...new Set([...(r.stop ?? []), ...stop])] });
  return {
    info: engine.info,
    chat(request: ChatRequest, options?: CallOptions) {
      const { messages, ...params } = request;
      const only = messages.length === 1 ? messages[0] : undefined;
      if (item.mode === 'completion' && only?.role === 'user' && only.content === item.prompt) {
        return engine.complete(withStop({ ...params, prompt: item.prompt }), options);
      }
      return engine.chat(withStop(request), options);
    },
    complete: (request: CompletionRequest, options?: CallOptions) => engine.complete(withStop(request), options),
    unload: () => engine.unload(),
    ...(engine.stepper && { stepper: () => engine.stepper!() }),
  };
}

export class ExperimentRunError extends Error {
  override name = 'ExperimentRunError';
  constructor(
    message: string,
    /** The method refused the item before any model call (a prompt that cannot fit, a bad graph). */
    readonly beforeAnyCall = false,
  ) {
    super(message);
  }
}

export function createRunner(opts: RunnerOptions): Runner {
  const { experiment } = opts;
  if (opts.datasets.length !== experiment.datasets.length) {
    throw new ExperimentRunError(`createRunner: ${opts.datasets.length} data set(s) loaded for ${experiment.datasets.length} in the experiment`);
  }
  const cells = expandGrid(experiment);
  const cellIndex = new Map(cells.map((c, i) => [c.key, i]));
  const controller = new AbortController();
  const counts: CacheCounts = { hits: 0, misses: 0 };
  const gates = new Map<string, Gate>();
  const bindings = new Map<string, ModelBinding>();
  const rows = new Map<string, StoredRow>();
  const rowKey = (cellKey: string, id: string) => `${cellKey}\u0000${id}`;
  let paused = false;
  let userCancelled = false;
  let unpause: (() => void) | undefined;
  let doneThisSession = 0;
  let t0 = 0;

  const itemsOf = (c: Cell): EvalItem[] => {
    const ds = opts.datasets[c.dataset]!;
    const items = ds.splits[c.split];
    if (!items) throw new ExperimentRunError(`${ds.id} has no ${c.split} split, which the grid needs (${c.method} on ${c.split}): use a data set with a ${c.split} split`);
    return items;
  };
  for (const c of cells) {
    itemsOf(c);
    for (const a of c.agents) if (!experiment.models[a.model]) throw new ExperimentRunError(`model ${a.model} is not defined`);
  }
  const total = cells.reduce((s, c) => s + itemsOf(c).length, 0);
  let progress: Progress = { phase: 'loading', done: 0, total, resumed: 0, cacheHits: 0, cacheMisses: 0, paused: false, etaSeconds: null };
  const report = (patch: Partial<Progress>): void => {
    const remaining = total - rows.size;
    const elapsed = (performance.now() - t0) / 1000;
    progress = {
      ...progress,
      ...patch,
      done: rows.size,
      cacheHits: counts.hits,
      cacheMisses: counts.misses,
      paused,
      etaSeconds: doneThisSession > 0 ? Math.round((elapsed / doneThisSession) * remaining) : null,
    };
    opts.onProgress?.(progress);
  };

  function binding(model: string): ModelBinding {
    let b = bindings.get(model);
    if (!b) {
      const raw = opts.models(model);
      const gate = new Gate(Math.max(1, raw.concurrency ?? opts.perEngine ?? 1));
      gates.set(model, gate);
      b = { engine: gatedEngine(raw.engine, gate), cacheKey: raw.cacheKey };
      bindings.set(model, b);
    }
    return b;
  }

  async function runItem(cell: Cell, item: EvalItem, fitted: Fitted | undefined, onTrace?: (trace: readonly TraceEvent[]) => void): Promise<StoredRow> {
    const ds = opts.datasets[cell.dataset]!;
    const itemCounts: CacheCounts = { hits: 0, misses: 0 };
    // A weight-level method answers with the merge of its agents' models alone (see the file comment).
    const recipe = getStrategy(cell.method).meta.level === 'weight' && isRecipe(fitted?.state) ? fitted.state : undefined;
    const members = recipe ? [{ model: `merge of ${cell.agents.map((a) => a.model).join(', ')}`, temperature: cell.agents[0]!.temperature, system: cell.agents[0]!.system }] : cell.agents;
    const mergedModel = recipe ? await mergedBinding(cell, recipe) : undefined;
    const agents = members.map((a, i) => {
      const b = mergedModel ?? binding(a.model);
      const cached = opts.answers ? cachingEngine(b.engine, b.cacheKey, opts.answers, itemCounts) : b.engine;
      return {
        id: `a${i + 1}`,
        name: `Agent ${i + 1} · ${a.model}`,
        model: a.model,
        engine: itemEngine(cached, item, ds.stop ?? []),
        temperature: a.temperature,
        ...(a.system !== undefined ? { system: a.system } : {}),
      };
    });
    const trace: TraceEvent[] = [];
    for await (const e of runStrategy({
      strategy: cell.method,
      prompt: item.prompt,
      agents,
      knobs: { ...(fitted?.knobs ?? {}), ...cell.knobs },
      seed: cell.seed,
      maxTokens: experiment.datasets[cell.dataset]!.maxTokens ?? ds.maxTokens,
      signal: controller.signal,
      runId: `${cellIndex.get(cell.key)}:${item.id}`,
      ...(fitted?.state !== undefined ? { fitted: fitted.state } : {}),
    })) {
      trace.push(e);
    }
    counts.hits += itemCounts.hits;
    counts.misses += itemCounts.misses;
    const end = trace[trace.length - 1];
    if (end?.type !== 'run-end' || end.status === 'cancelled') throw controller.signal.reason ?? new Error('cancelled');
    if (end.status === 'error') {
      throw new ExperimentRunError(`${cell.method} on ${ds.id} ${cell.split} item ${item.id}: ${end.message ?? 'failed'}`, !trace.some((e) => e.type === 'message-start'));
    }
    onTrace?.(trace);
    const final = trace.find((e): e is Extract<TraceEvent, { type: 'final' }> => e.type === 'final');
    const output = final?.text ?? '';
    const ends = trace.filter((e): e is Extract<TraceEvent, { type: 'message-end' }> => e.type === 'message-end');
    const usage = trace.find((e): e is Extract<TraceEvent, { type: 'usage' }> => e.type === 'usage');
    const scored = await ds.score(item, output, { ...opts.scoring, signal: controller.signal });
    const finalMsg = ends.find((m) => m.agent === final?.agent && m.text === output);
    const row: StoredRow = {
      cellKey: cell.key,
      id: item.id,
      ...(item.group !== undefined ? { group: item.group } : {}),
      prompt: item.prompt,
      reference: item.reference,
      output,
      parsed: scored.parsed,
      score: scored.score,
      ...(scored.metrics ? { metrics: scored.metrics } : {}),
      ...(scored.error !== undefined ? { error: scored.error } : {}),
      ...(finalMsg?.meanProb !== undefined ? { confidence: finalMsg.meanProb } : {}),
      calls: usage?.calls ?? ends.length,
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
      seconds: ends.reduce((s, m) => s + m.usage.total_ms, 0) / 1000,
      cachedCalls: itemCounts.hits,
      ...(opts.traces === false ? {} : { trace }),
    };
    return row;
  }

  async function runCells(list: Cell[], phase: Progress['phase'], fits: Map<string, Fitted>): Promise<void> {
    // Round-robin over cells, so the items in flight use different engines and run side by side;
    // weight-level cells come after, one cell at a time: each answers with its own merged model,
    // and interleaving them would unload and reload merges (only MERGED_LOADED stay loaded).
    const pending = (cell: Cell) => itemsOf(cell).filter((item) => !rows.has(rowKey(cell.key, item.id))).map((item) => ({ cell, item }));
    const isWeight = (cell: Cell) => getStrategy(cell.method).meta.level === 'weight';
    const perCell = list.filter((c) => !isWeight(c)).map(pending);
    const queue: Array<{ cell: Cell; item: EvalItem }> = [];
    for (let i = 0; perCell.some((l) => i < l.length); i++) for (const l of perCell) if (i < l.length) queue.push(l[i]!);
    for (const cell of list.filter(isWeight)) queue.push(...pending(cell));
    report({ phase });
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (queue.length > 0 && failure === undefined && !controller.signal.aborted) {
        if (paused) {
          await new Promise<void>((resolve) => {
            const prev = unpause;
            unpause = () => {
              prev?.();
              resolve();
            };
          });
          continue;
        }
        const next = queue.shift()!;
        try {
          const row = await runItem(next.cell, next.item, fits.get(next.cell.key));
          if (controller.signal.aborted) return;
          await opts.state?.append(row);
          rows.set(rowKey(row.cellKey, row.id), row);
          doneThisSession += 1;
          report({ cell: next.cell.labels[0] ?? next.cell.method });
        } catch (e) {
          if (!controller.signal.aborted) failure ??= e;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
    if (failure !== undefined) {
      controller.abort(failure);
      throw failure;
    }
  }

  /**
   * A finished cell's rows in item order, with the data set's joint rule applied to the split's
   * scores (groupScores: MoCo's culturebench scores a question_id group 1 only when all its items
   * are 1). A row whose score the rule changed keeps its own in `metrics.itemScore`.
   */
  function cellRows(key: string, dataset: number, items: readonly EvalItem[], what: string): StoredRow[] {
    const list = items.map((it) => {
      const r = rows.get(rowKey(key, it.id));
      if (!r) throw new ExperimentRunError(`internal: result of ${what} on item ${it.id} is missing`);
      return r;
    });
    const group = opts.datasets[dataset]!.groupScores;
    if (!group) return list;
    const scores = group(items, list.map((r) => r.score));
    return list.map((r, i) => (scores[i] === r.score ? r : { ...r, score: scores[i]!, metrics: { ...r.metrics, itemScore: r.score } }));
  }

  /** The recipe with the cell's model ids in place of agent indices. */
  function resolveRecipe(cell: Cell, r: MergeRecipe): ResolvedRecipe {
    const model = (agent: number): string => {
      const a = cell.agents[agent];
      if (!a) throw new ExperimentRunError(`${cell.method}: a candidate names agent ${agent + 1}, but the cell has ${cell.agents.length}`);
      return a.model;
    };
    return { method: r.method, base: r.base === null ? null : model(r.base), models: r.models.map((m) => ({ model: model(m.agent), parameters: m.parameters })), parameters: r.parameters, ...(r.seed !== undefined ? { seed: r.seed } : {}) };
  }

  /** The recipe's identity: its SHA-256 over the inputs' cache keys (the weights' content), not their names. */
  function recipeKey(r: ResolvedRecipe): Promise<string> {
    const key = (m: string) => binding(m).cacheKey;
    return sha256Hex(canonicalJson({ method: r.method, base: r.base === null ? null : key(r.base), models: r.models.map((m) => ({ model: key(m.model), parameters: m.parameters })), parameters: r.parameters, seed: r.seed ?? 0 }));
  }

  const MERGED_LOADED = 3;
  const merged = new Map<string, ModelBinding>();
  const loaded = new Map<string, { engine: Promise<Engine>; busy: number; used: number }>();
  let useClock = 0;

  /** Loads the merge `key` (merging it), unloading the least recently used idle merges beyond MERGED_LOADED. */
  function loadMerged(r: ResolvedRecipe, key: string): { engine: Promise<Engine>; busy: number; used: number } {
    let entry = loaded.get(key);
    if (!entry) {
      if (!opts.merger) throw new ExperimentRunError('internal: a merged model was asked for without a merger');
      entry = { engine: opts.merger.load(r, key, controller.signal), busy: 0, used: 0 };
      entry.engine.catch(() => loaded.delete(key));
      loaded.set(key, entry);
      const idle = [...loaded].filter(([k, e]) => k !== key && e.busy === 0).sort((a, b) => a[1].used - b[1].used);
      for (const [k, e] of idle.slice(0, Math.max(0, loaded.size - MERGED_LOADED))) {
        loaded.delete(k);
        void e.engine.then((en) => en.unload()).catch(() => undefined);
      }
    }
    entry.used = ++useClock;
    return entry;
  }

  /** The binding of a merged candidate: an engine that merges and loads on its first call (a fully cached candidate never does). */
  async function mergedBinding(cell: Cell, recipe: MergeRecipe): Promise<ModelBinding> {
    if (!opts.merger) throw new ExperimentRunError(`${cell.method} is a weight-level method and this runner cannot merge models: run it in the Experiments tab or with npm run experiment`);
    const r = resolveRecipe(cell, recipe);
    const key = await recipeKey(r);
    const known = merged.get(key);
    if (known) return known;
    const info = { ...binding(r.base ?? r.models[0]!.model).engine.info, model: `merge ${key.slice(0, 12)}` };
    async function* call(open: (e: Engine) => AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
      const entry = loadMerged(r, key);
      entry.busy += 1;
      try {
        yield* open(await entry.engine);
      } finally {
        entry.busy -= 1;
      }
    }
    const lazy: Engine = {
      info,
      chat: (q, o) => call((e) => e.chat(q, o)),
      complete: (q, o) => call((e) => e.complete(q, o)),
      unload: async () => {
        const entry = loaded.get(key);
        loaded.delete(key);
        if (entry) await (await entry.engine).unload();
      },
    };
    const b: ModelBinding = { engine: gatedEngine(lazy, new Gate(1)), cacheKey: `merge:${key}` };
    merged.set(key, b);
    return b;
  }

  /** Saves a weight-level cell's merge through the merger and reports it. */
  async function saveMerge(cell: Cell, recipe: MergeRecipe, bestSoFar: boolean): Promise<string> {
    const r = resolveRecipe(cell, recipe);
    const label = cell.labels[0] ?? cell.method;
    const name = await opts.merger!.save(r, await recipeKey(r), `${label} · ${opts.datasets[cell.dataset]!.id}${bestSoFar ? ' (best so far)' : ''}`);
    report({ saved: [...(progress.saved ?? []), { cell: label, name, recipe: recipeText(recipe), bestSoFar }] });
    return name;
  }

  function devEvidence(cell: Cell): DevEvidence {
    const devItems = itemsOf({ ...cell, split: 'dev' });
    const perAgent = cell.agents.map((a) => cellRows(memberCellKey(a.model, cell.dataset, 'dev', cell.seed), cell.dataset, devItems, `${a.model} on dev`));
    return {
      agentScores: perAgent.map((rs) => rs.reduce((s, r) => s + r.score, 0) / Math.max(1, rs.length)),
      items: devItems.map((it, i) => ({
        prompt: it.prompt,
        group: it.group ?? opts.datasets[cell.dataset]!.id,
        scores: perAgent.map((rs) => rs[i]!.score),
        confidences: perAgent.map((rs) => rs[i]!.confidence),
      })),
    };
  }

  function fitCell(cell: Cell): Fitted {
    const strategy = getStrategy(cell.method);
    const fitted = strategy.fit!(devEvidence(cell), resolveKnobs(strategy.meta, cell.knobs).knobs);
    // A value the experiment file set wins over a fitted one.
    const knobs: Record<string, KnobValue> = {};
    for (const [k, v] of Object.entries(fitted.knobs ?? {})) if (!(k in cell.knobs)) knobs[k] = v;
    return { ...fitted, knobs };
  }

  async function searchCell(cell: Cell): Promise<Fitted> {
    const strategy = getStrategy(cell.method);
    const devCell: Cell = { ...cell, split: 'dev' };
    const devItems = itemsOf(devCell);
    const label = cell.labels[0] ?? cell.method;
    const steps: SearchStep[] = [];
    let calls = 0;
    let cached = 0;
    let refused = 0;
    let firstRefusal = '';
    report({ phase: 'searching on dev', cell: label, search: { cell: label, steps: [] } });
    const weight = strategy.meta.level === 'weight';
    if (weight && !opts.merger) throw new ExperimentRunError(`${cell.method} is a weight-level method and this runner cannot merge models: run it in the Experiments tab or with npm run experiment`);
    // A failed candidate stops the run: abort its siblings' calls too (as runCells does).
    const searching = strategy.search!({
      agents: cell.agents.length,
      knobs: resolveKnobs(strategy.meta, cell.knobs).knobs,
      seed: cell.seed,
      signal: controller.signal,
      dev: devEvidence(cell),
      evaluate: async (state, onItem) => {
        // A candidate the method refuses on an item before any call (say, a graph whose fan-in does
        // not fit the context) is a poor candidate, not a broken run: it scores 0 on that item and
        // the search goes on. Any other failure (an engine error mid-run) still stops the run.
        const done = await Promise.all(
          devItems.map(async (item, i) => {
            try {
              return await runItem(devCell, item, { state, note: '' }, onItem && ((trace) => onItem(i, trace)));
            } catch (e) {
              if (controller.signal.aborted || !(e instanceof ExperimentRunError) || !e.beforeAnyCall) throw e;
              refused += 1;
              firstRefusal ||= e.message;
              return undefined;
            }
          }),
        );
        calls += done.reduce((n, r) => n + (r?.calls ?? 0), 0);
        cached += done.reduce((n, r) => n + (r?.cachedCalls ?? 0), 0);
        const raw = done.map((r) => r?.score ?? 0);
        const scores = opts.datasets[cell.dataset]!.groupScores?.(devItems, raw) ?? raw;
        return scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length);
      },
      progress: (step) => {
        steps.push(step);
        report({ search: { cell: label, steps: [...steps] } });
      },
    }).catch((e: unknown) => {
      if (!controller.signal.aborted) controller.abort(e);
      throw e;
    });
    let fitted: Fitted;
    try {
      fitted = await searching;
    } catch (e) {
      // Cancelled mid-search: a weight-level search keeps its best merge so far as a model.
      const best = steps.at(-1)?.bestState;
      if (userCancelled && weight && isRecipe(best)) await saveMerge(cell, best, true);
      throw e;
    }
    const saved = weight && isRecipe(fitted.state) ? `; saved as the model "${await saveMerge(cell, fitted.state, false)}"` : '';
    // A search that reported no iterations (a cascade fitting thresholds) leaves no empty plot behind.
    if (steps.length === 0) {
      const { search: _none, ...rest } = progress;
      progress = rest;
      report({});
    }
    // A value the experiment file set wins over a searched one (as in fitCell).
    const knobs: Record<string, KnobValue> = {};
    for (const [k, v] of Object.entries(fitted.knobs ?? {})) if (!(k in cell.knobs)) knobs[k] = v;
    const refusals = refused > 0 ? `; ${refused} candidate run(s) on dev were refused before any call and scored 0 (first: ${firstRefusal})` : '';
    return { ...fitted, knobs, note: `${fitted.note}; the search made ${calls} calls on ${devItems.length} dev items (${cached} from the cache)${refusals}${saved}` };
  }

  function assemble(fits: Map<string, Fitted>): ResultsFile {
    const items: ItemResult[] = [];
    const cellResults = cells.map((c, ci): CellResult => {
      for (const { cellKey: _k, ...row } of cellRows(c.key, c.dataset, itemsOf(c), c.labels[0] ?? c.method)) {
        items.push({ ...row, cell: ci });
      }
      const find = (model: string, split: 'dev' | 'test'): number => {
        const i = cellIndex.get(memberCellKey(model, c.dataset, split === 'dev' ? 'dev' : c.split, c.seed));
        if (i === undefined) throw new ExperimentRunError(`internal: no member cell for ${model}`);
        return i;
      };
      const fit = fits.get(c.key);
      const ds = opts.datasets[c.dataset]!;
      const collab = c.role === 'collaboration';
      return {
        method: c.method,
        labels: c.labels,
        agents: c.agents,
        knobs: { ...c.knobs, ...(fit?.knobs ?? {}) },
        ...(fit ? { fitted: { note: fit.note, ...(fit.knobs && Object.keys(fit.knobs).length ? { knobs: fit.knobs } : {}) } } : {}),
        dataset: ds.id,
        split: c.split,
        seed: c.seed,
        role: c.role,
        memberCells: collab ? c.members.map((m) => find(m, 'test')) : [],
        baselineCells: collab && ds.splits.dev ? c.baseline.map((m) => find(m, 'test')) : [],
        baselineDevCells: collab && ds.splits.dev ? c.baseline.map((m) => find(m, 'dev')) : [],
        n: 0,
        score: 0,
        ci95: [0, 0],
        cost: { calls: 0, promptTokens: 0, completionTokens: 0, seconds: 0, cachedCalls: 0 },
      };
    });
    return summarize({ experiment, cells: cellResults, items });
  }

  return {
    get progress() {
      return progress;
    },
    pause() {
      paused = true;
      report({});
    },
    resume() {
      paused = false;
      const u = unpause;
      unpause = undefined;
      u?.();
      report({});
    },
    cancel() {
      if (userCancelled) return;
      userCancelled = true;
      controller.abort(new Error('cancelled'));
      paused = false;
      const u = unpause;
      unpause = undefined;
      u?.();
    },
    async run(): Promise<RunOutcome> {
      t0 = performance.now();
      for (const r of (await opts.state?.load()) ?? []) {
        // Rows of cells no longer in the grid (an edited experiment) are ignored, not misfiled.
        if (cellIndex.has(r.cellKey)) rows.set(rowKey(r.cellKey, r.id), r);
      }
      report({ resumed: rows.size });
      const needsFit = (c: Cell) => c.role === 'collaboration' && (getStrategy(c.method).fit !== undefined || getStrategy(c.method).search !== undefined);
      const fits = new Map<string, Fitted>();
      try {
        await runCells(cells.filter((c) => !needsFit(c)), 'members and plain methods', fits);
        if (userCancelled) return cancelled();
        for (const c of cells.filter(needsFit)) {
          if (!opts.datasets[c.dataset]!.splits.dev) throw new ExperimentRunError(`${c.method} fits on a dev split and ${opts.datasets[c.dataset]!.id} has none: use a data set with a dev split`);
          fits.set(c.key, getStrategy(c.method).search ? await searchCell(c) : fitCell(c));
          if (userCancelled) return cancelled();
        }
        await runCells(cells.filter(needsFit), 'methods fitted on dev', fits);
        if (userCancelled) return cancelled();
      } catch (e) {
        if (userCancelled) return cancelled();
        throw e;
      } finally {
        // Merged candidates are the runner's own engines: unload them (their files stay with the merger).
        for (const e of loaded.values()) void e.engine.then((en) => en.unload()).catch(() => undefined);
        loaded.clear();
      }
      const results = assemble(fits);
      report({ phase: 'done' });
      return { status: 'done', results };
    },
  };

  function cancelled(): RunOutcome {
    report({ phase: 'cancelled' });
    return { status: 'cancelled' };
  }
}
