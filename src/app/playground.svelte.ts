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
import { applyEvent, emptyTraceView, type TraceView } from '../lib/render/trace-view.ts';
import { decodeSetup, encodeSetup } from '../lib/settings/url.ts';
import { MAX_AGENTS, MIN_AGENTS, defaultAgent, defaultSetup, withMethod, type AgentSetup, type Setup } from '../lib/settings/schema.ts';
import type { KnobValue } from '../lib/strategies/types.ts';
import type { TraceEvent } from '../lib/trace.ts';

/** What the playground needs from the model registry (src/app/models.svelte.ts satisfies it). */
export interface ModelProvider {
  readonly models: readonly { id: string; name: string; status: string }[];
  load(id: string): Promise<Engine>;
  engineFor(id: string): Engine | undefined;
}

export class Playground {
  #setup = $state<Setup>(defaultSetup());
  #view = $state<TraceView>(emptyTraceView());
  #linkWarnings = $state<string[]>([]);
  #running = $state(false);
  #preparing = $state<string | null>(null);
  #controller: AbortController | null = null;
  #events: TraceEvent[] = [];
  readonly #models: ModelProvider;
  /** True when the page was opened with a setup in its URL (the app then opens the playground). */
  readonly hasLinkedSetup: boolean;

  constructor(models: ModelProvider, hash: string = typeof location === 'undefined' ? '' : location.hash) {
    this.#models = models;
    const query = hash.replace(/^#/, '');
    this.hasLinkedSetup = /(^|&)v=/.test(query);
    if (this.hasLinkedSetup) {
      const { setup, warnings } = decodeSetup(query);
      this.#setup = setup;
      this.#linkWarnings = warnings;
    }
  }

  get setup(): Setup {
    return this.#setup;
  }
  get view(): TraceView {
    return this.#view;
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
  /** Model ids the setup names that the registry does not know: the link needs them imported. */
  get missingModels(): string[] {
    const known = new Set(this.#models.models.map((m) => m.id));
    return [...new Set(this.#setup.agents.map((a) => a.model).filter((id) => id !== '' && !known.has(id)))];
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
    return true;
  }

  dismissLinkWarnings(): void {
    this.#linkWarnings = [];
  }

  setAgent(index: number, patch: Partial<AgentSetup>): void {
    const a = this.#setup.agents[index];
    if (!a) return;
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
    const known = new Set(this.#models.models.map((m) => m.id));
    let changed = false;
    for (const a of this.#setup.agents) {
      if (a.model === '' || !known.has(a.model)) {
        a.model = id;
        changed = true;
      }
    }
    if (changed && opts.sync !== false) this.#sync();
  }
  /** Points every agent at `id` ("open this model in the playground", e.g. a fresh merge). */
  useModel(id: string): void {
    for (const a of this.#setup.agents) a.model = id;
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
    const setup = $state.snapshot(this.#setup) as Setup;
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
      }
      this.#preparing = null;
      // Agents are named after the model's display name, not its storage id ("Agent 2 · stories260K.gguf").
      const agents = agentsFromSetup(setup.agents, (model) => engines.get(model) as Engine).map((a, i) => ({
        ...a,
        name: `Agent ${i + 1} · ${this.#models.models.find((m) => m.id === a.model)?.name ?? a.model}`,
      }));
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
      }
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
    }
  }

  #sync(): void {
    if (typeof history === 'undefined') return;
    history.replaceState(history.state, '', `${location.pathname}${location.search}${this.link}`);
  }
}
