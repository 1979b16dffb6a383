/**
 * Playground run state: the setup being edited (kept in the URL hash through H4's encodeSetup /
 * decodeSetup, so a link reproduces it), and the run in progress, drawn from its TraceEvent stream
 * (folded into a view model by src/lib/render/trace-view.ts). Setup changes go through named methods.
 *
 *   const pg = new Playground(models);      // reads location.hash
 *   pg.setPrompt('2+2?'); pg.setMethod('debate'); await pg.run(); pg.cancel();
 *   pg.view  → TraceView (lanes, rounds, votes, routes, final, usage)
 */
import { runStrategy, agentsFromSetup } from '../lib/run.ts';
import type { Engine } from '../lib/engines/engine.ts';
import { ReplicaSet } from '../lib/engines/replicas.ts';
import { applyEvent, emptyTraceView, type TraceView } from '../lib/render/trace-view.ts';
import { applyFlowEvent, emptyFlow, type FlowGraph } from '../lib/flow.ts';
import { decodeSetup, encodeSetup } from '../lib/settings/url.ts';
import { DEFAULT_AGENT_COUNT, MAX_AGENTS, MIN_AGENTS, defaultAgent, defaultSetup, withMethod, type AgentSetup, type Setup } from '../lib/settings/schema.ts';
import { getStrategy } from '../lib/strategies/registry.ts';
import type { KnobValue } from '../lib/strategies/types.ts';
import type { TraceEvent } from '../lib/trace.ts';
import { resolveModelRef } from './model-ref.ts';
import { PoolItems, scoreItem, type ItemScore, type PickedItem } from './pool-items.ts';
import type { SplitName } from '../lib/eval/datasets.ts';

/**
 * The setup a first visit starts from when the built-in pool is there: a cascade that asks the
 * generalist first and passes the question to the arithmetic specialist when the generalist is
 * unsure, on an arithmetic item of the dev split with its reference answer shown. On this item the
 * generalist's answer (wrong) is under the threshold and the specialist's (right) above it: the
 * run shows a deferral and a correct mark (tests/e2e/first-minutes.spec.ts checks it).
 */
export const STARTER = {
  method: 'cascade',
  models: ['builtin:generalist', 'builtin:arithmetic-specialist'],
  // 0.8 rather than the method's 0.6: the generalist answers this item "114" with mean token
  // probability 0.625 (measured in the app), which 0.6 would accept.
  knobs: { threshold: 0.8 },
  item: 'arithmetic-dev-1',
} as const;

/** What the playground needs from the model registry (src/app/models.svelte.ts satisfies it). */
export interface ModelProvider {
  readonly models: readonly { id: string; name: string; status: string; sha256?: string; description?: string }[];
  load(id: string): Promise<Engine>;
  engineFor(id: string): Engine | undefined;
}

export class Playground {
  #setup = $state<Setup>(defaultSetup());
  #view = $state<TraceView>(emptyTraceView());
  /** The run's message flow (who sees what), folded from the same events as the view. */
  #flow = $state<FlowGraph>(emptyFlow());
  #linkWarnings = $state<string[]>([]);
  #running = $state(false);
  #preparing = $state<string | null>(null);
  #controller: AbortController | null = null;
  #events: TraceEvent[] = [];
  #item = $state.raw<PickedItem | null>(null);
  #itemError = $state<string | null>(null);
  #score = $state.raw<ItemScore | null>(null);
  readonly #models: ModelProvider;
  readonly pool: PoolItems;
  /** True when the page was opened with a setup in its URL (the app then opens the playground). */
  readonly hasLinkedSetup: boolean;

  constructor(models: ModelProvider, hash: string = typeof location === 'undefined' ? '' : location.hash, pool: PoolItems = new PoolItems()) {
    this.#models = models;
    this.pool = pool;
    const query = hash.replace(/^#/, '');
    this.hasLinkedSetup = /(^|&)v=/.test(query);
    if (this.hasLinkedSetup) {
      const { setup, warnings } = decodeSetup(query);
      this.#setup = setup;
      this.#linkWarnings = warnings;
      void this.#loadLinkedItem();
    }
  }

  /** The data-set item the prompt came from (its reference answer and metric), or null. */
  get item(): PickedItem | null {
    return this.#item;
  }
  /** Why the last item could not be picked, or null. */
  get itemError(): string | null {
    return this.#itemError;
  }
  /** The latest run's final answer scored against the item's reference, or null. */
  get score(): ItemScore | null {
    return this.#score;
  }

  get setup(): Setup {
    return this.#setup;
  }
  get view(): TraceView {
    return this.#view;
  }
  get flow(): FlowGraph {
    return this.#flow;
  }
  get running(): boolean {
    return this.#running;
  }
  /** What the run is waiting for before its first event ("Loading stories260K…"), or null. */
  get preparing(): string | null {
    return this.#preparing;
  }
  /** Problems found in the link this page was opened with (each says what was used instead). */
  get linkWarnings(): string[] {
    return this.#linkWarnings;
  }
  /** Every event of the latest run, as emitted (for export and tests). */
  get events(): readonly TraceEvent[] {
    return this.#events;
  }
  /** Model references the setup names that resolve to no model here (model-ref.ts): the link needs them imported. */
  get missingModels(): string[] {
    return [...new Set(this.#setup.agents.map((a) => a.model).filter((ref) => ref !== '' && resolveModelRef(ref, this.#models.models) === undefined))];
  }
  get link(): string {
    return `#${encodeSetup(this.#setup)}`;
  }

  /** Replaces the setup with the one in a link's hash (a link pasted into an open tab); false when it holds none. */
  openLink(hash: string): boolean {
    const query = hash.replace(/^#/, '');
    if (!/(^|&)v=/.test(query) || `#${query}` === this.link) return false;
    const { setup, warnings } = decodeSetup(query);
    this.#setup = setup;
    this.#linkWarnings = warnings;
    this.clearTrace();
    this.resolveModels();
    void this.#loadLinkedItem();
    return true;
  }

  /**
   * Points each agent whose model reference is not a local id at the model it resolves to (by
   * content hash or name, model-ref.ts), without touching the URL. Returns whether any changed.
   */
  resolveModels(): boolean {
    let changed = false;
    for (const a of this.#setup.agents) {
      const id = resolveModelRef(a.model, this.#models.models);
      if (id !== undefined && id !== a.model) {
        a.model = id;
        changed = true;
      }
    }
    return changed;
  }

  /** Forgets the latest run's trace and score (a new link, another model: the old run no longer describes the setup). */
  clearTrace(): void {
    if (this.#running) return;
    this.#view = emptyTraceView();
    this.#flow = emptyFlow();
    this.#events = [];
    this.#score = null;
  }

  /**
   * A first visit (no link, no model chosen yet): the STARTER setup when the built-in pool is
   * there, otherwise every agent on the first usable model with the default prompt.
   */
  async start(firstModel: string | undefined): Promise<void> {
    if (this.hasLinkedSetup || this.#setup.agents.some((a) => a.model !== '')) return;
    const known = new Set(this.#models.models.map((m) => m.id));
    if (STARTER.models.every((id) => known.has(id))) {
      const setup = withMethod($state.snapshot(this.#setup) as Setup, STARTER.method);
      setup.agents = STARTER.models.map((model) => ({ ...defaultAgent(model), temperature: 0 }));
      Object.assign(setup.knobs, STARTER.knobs);
      this.#setup = setup;
      await this.pickItem(STARTER.item, { sync: false });
    } else if (firstModel !== undefined) this.fillModel(firstModel, { sync: false });
  }

  /** Fills the prompt from a built-in data-set item and shows its reference; max tokens becomes the task's budget. */
  async pickItem(id: string, opts: { sync?: boolean } = {}): Promise<void> {
    try {
      const picked = await this.pool.get(id);
      this.#item = picked;
      this.#itemError = null;
      this.#score = null;
      this.#setup.prompt = picked.item.prompt;
      this.#setup.item = picked.id;
      if (picked.task.maxTokens !== undefined) this.#setup.maxTokens = picked.task.maxTokens;
      if (opts.sync !== false) this.#sync();
    } catch (err) {
      this.#itemError = err instanceof Error ? err.message : String(err);
    }
  }

  /** A random item of a task's split (uniform; Math.random: nothing here needs to be reproducible but the run). */
  async pickRandomItem(taskId: string, split: SplitName): Promise<void> {
    try {
      const items = await this.pool.items(taskId, split);
      const item = items[Math.floor(Math.random() * items.length)];
      if (!item) throw new Error(`${taskId}/${split} has no items`);
      await this.pickItem(item.id);
    } catch (err) {
      this.#itemError = err instanceof Error ? err.message : String(err);
    }
  }

  /** A link that names an item: fetch it for its reference; a prompt that is not the item's drops the item. */
  async #loadLinkedItem(): Promise<void> {
    const id = this.#setup.item;
    this.#item = null;
    this.#score = null;
    if (!id) return;
    try {
      const picked = await this.pool.get(id);
      if (this.#setup.item !== id) return;
      if (picked.item.prompt !== this.#setup.prompt) {
        delete this.#setup.item;
        this.#linkWarnings = [...this.#linkWarnings, `the prompt is not the prompt of item ${id}; it is kept without a reference answer`];
        return;
      }
      this.#item = picked;
    } catch (err) {
      delete this.#setup.item;
      this.#linkWarnings = [...this.#linkWarnings, `${err instanceof Error ? err.message : String(err)}; the prompt is kept without a reference answer`];
    }
  }

  dismissLinkWarnings(): void {
    this.#linkWarnings = [];
  }

  setAgent(index: number, patch: Partial<AgentSetup>): void {
    const a = this.#setup.agents[index];
    if (!a) return;
    if (patch.model !== undefined && patch.model !== a.model) this.clearTrace();
    Object.assign(a, patch);
    this.#sync();
  }
  addAgent(): void {
    if (this.#setup.agents.length >= MAX_AGENTS) return;
    const last = this.#setup.agents[this.#setup.agents.length - 1];
    this.#setup.agents.push(last ? { ...last } : defaultAgent(this.#models.models[0]?.id ?? ''));
    this.#sync();
  }
  removeAgent(index: number): void {
    if (this.#setup.agents.length <= MIN_AGENTS) return;
    this.#setup.agents.splice(index, 1);
    this.#sync();
  }
  /**
   * Points every agent without a model (or with an unknown one) at `id`: used after an import, and
   * at start-up with the first known model (then without touching the URL, so a plain visit does not
   * become a "link").
   */
  fillModel(id: string, opts: { sync?: boolean } = {}): void {
    // References that name a model here (by hash or name) keep it; only the rest take `id`.
    let changed = this.resolveModels();
    const known = new Set(this.#models.models.map((m) => m.id));
    for (const a of this.#setup.agents) {
      if (a.model === '' || !known.has(a.model)) {
        a.model = id;
        changed = true;
      }
    }
    if (changed) this.clearTrace();
    if (changed && opts.sync !== false) this.#sync();
  }
  /** Points every agent at `id` ("open this model in the playground", e.g. a fresh merge). */
  useModel(id: string): void {
    for (const a of this.#setup.agents) a.model = id;
    this.clearTrace();
    this.#sync();
  }
  /**
   * "Try it" from the methods page: `method` with its default knobs (the starter's for the
   * starter's method) on the starter's data-set item, with as many agents as the method takes up to
   * DEFAULT_AGENT_COUNT, on the built-in pool's generalist and arithmetic specialist in turn; where
   * the pool is not there, on the models the agents already use (or the first usable one).
   */
  async tryMethod(method: string): Promise<void> {
    if (this.#running) return;
    const { needs } = getStrategy(method).meta;
    const n = Math.min(Math.max(DEFAULT_AGENT_COUNT, needs.minAgents), needs.maxAgents ?? MAX_AGENTS);
    const current = $state.snapshot(this.#setup) as Setup;
    const setup = withMethod({ ...current, knobs: {} }, method);
    if (method === STARTER.method) Object.assign(setup.knobs, STARTER.knobs);
    const known = new Set(this.#models.models.filter((m) => m.status !== 'error').map((m) => m.id));
    const pool = STARTER.models.every((id) => known.has(id));
    const fallback = current.agents.find((a) => known.has(a.model))?.model ?? [...known][0] ?? '';
    setup.agents = Array.from({ length: n }, (_, i) => {
      const mine = current.agents[i]?.model ?? '';
      const model = pool ? STARTER.models[i % STARTER.models.length] : known.has(mine) ? mine : fallback;
      return defaultAgent(model);
    });
    this.#setup = setup;
    this.#linkWarnings = [];
    this.clearTrace();
    await this.pickItem(STARTER.item);
    this.#sync();
  }

  setMethod(method: string): void {
    this.#setup = withMethod($state.snapshot(this.#setup) as Setup, method);
    this.#sync();
  }
  setKnob(id: string, value: KnobValue): void {
    this.#setup.knobs[id] = value;
    this.#sync();
  }
  setPrompt(prompt: string): void {
    this.#setup.prompt = prompt;
    // An edited prompt is no longer the item's: no reference, no score.
    if (this.#item && prompt !== this.#item.item.prompt) {
      this.#item = null;
      this.#score = null;
      delete this.#setup.item;
    }
    this.#sync();
  }
  setSeed(seed: number): void {
    this.#setup.seed = seed;
    this.#sync();
  }
  setMaxTokens(n: number): void {
    this.#setup.maxTokens = n;
    this.#sync();
  }

  /** Loads the models the agents need (once each: agents of one model share its engine), then runs. */
  async run(): Promise<void> {
    if (this.#running) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#running = true;
    this.#events = [];
    this.#score = null;
    this.resolveModels();
    const setup = $state.snapshot(this.#setup) as Setup;
    const item = this.#item;
    try {
      const engines = new Map<string, Engine>();
      for (const id of new Set(setup.agents.map((a) => a.model))) {
        if (id === '') throw new Error('an agent has no model: choose a model for every agent (import one in the Models tab)');
        const entry = this.#models.models.find((m) => m.id === id);
        if (!entry) throw new Error(`model "${id}" is not available here: import it in the Models tab`);
        let engine = this.#models.engineFor(id);
        if (!engine) {
          this.#preparing = `Loading ${entry.name}…`;
          engine = await this.#models.load(id);
        }
        if (controller.signal.aborted) break;
        engines.set(id, engine);
        // Parallel agents: start loading one instance per agent of this model now; the run starts
        // on the instances there are and the others join as they finish loading.
        if (engine instanceof ReplicaSet) void engine.reserve(setup.agents.filter((a) => a.model === id).length);
      }
      this.#preparing = null;
      // Agents are named after the model's display name, not its storage id ("Agent 2 · stories260K.gguf"),
      // and carry a built-in's card description (the prompt router shows it to its router model).
      const agents = agentsFromSetup(setup.agents, (model) => engines.get(model) as Engine).map((a, i) => {
        const entry = this.#models.models.find((m) => m.id === a.model);
        return { ...a, name: `Agent ${i + 1} · ${entry?.name ?? a.model}`, ...(entry?.description !== undefined && { description: entry.description }) };
      });
      if (controller.signal.aborted) {
        this.#fail('cancelled before the run started', 'cancelled');
        return;
      }
      for await (const ev of runStrategy({
        strategy: setup.method, agents, prompt: setup.prompt, knobs: setup.knobs, seed: setup.seed,
        maxTokens: setup.maxTokens, signal: controller.signal,
      })) {
        this.#events.push(ev);
        applyEvent(this.#view, ev);
        applyFlowEvent(this.#flow, ev);
      }
      const final = this.#view.final;
      if (item && final && this.#view.status === 'done' && this.#item === item) this.#score = await scoreItem(item, final.text, final.abstained);
    } catch (err) {
      this.#fail(err instanceof Error ? err.message : String(err), 'error');
    } finally {
      this.#preparing = null;
      this.#running = false;
      this.#controller = null;
    }
  }

  /** Stops the run: the signal reaches every engine call, which ends promptly. */
  cancel(): void {
    this.#controller?.abort();
  }

  /** A failure before the strategy started, drawn as a run that ended at once (the trace view shows why). */
  #fail(message: string, status: 'error' | 'cancelled'): void {
    const s = this.#setup;
    const start: TraceEvent = { type: 'run-start', t: 0, runId: 'not-started', strategy: s.method, agents: [], knobs: {}, seed: s.seed, prompt: s.prompt };
    const events: TraceEvent[] = [start];
    if (status === 'error') events.push({ type: 'error', t: 0, message, fatal: true });
    events.push({ type: 'run-end', t: 0, status, message });
    for (const ev of events) {
      this.#events.push(ev);
      applyEvent(this.#view, ev);
      applyFlowEvent(this.#flow, ev);
    }
  }

  #sync(): void {
    if (typeof history === 'undefined') return;
    history.replaceState(history.state, '', `${location.pathname}${location.search}${this.link}`);
  }
}
