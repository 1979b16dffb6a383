/**
 * The app's shared state, created once by App.svelte and reached by every view through a typed
 * Svelte context: the model registry (H3's src/app/models.svelte.ts), the playground run state, the
 * Experiments tab's state (experiments.svelte.ts), and
 * which tab is showing (so a view can send the user elsewhere, e.g. "import this model").
 */
import { getContext, setContext } from 'svelte';
import { getRegistry, type ModelRegistry } from './models.svelte.ts';
import { Playground } from './playground.svelte.ts';
import { Experiments } from './experiments.svelte.ts';
import { browserMerger } from './search-merger.ts';

export type TabId = 'models' | 'playground' | 'merge' | 'experiments' | 'methods';

export class AppState {
  readonly models: ModelRegistry;
  readonly playground: Playground;
  readonly experiments: Experiments;
  #tab = $state<TabId>('models');

  constructor() {
    // The page's one registry (the merge view reaches the same one through getRegistry()).
    this.models = getRegistry();
    void this.models.init();
    this.playground = new Playground(this.models);
    // Weight-level methods merge their candidates with the merge worker and save the best here.
    this.experiments = new Experiments(this.models, undefined, (input) => browserMerger(this.models, input));
    // A shared link opens its view (playground setup or experiment); otherwise start where models are loaded.
    this.#tab = this.playground.hasLinkedSetup ? 'playground' : this.experiments.hasLinkedExperiment ? 'experiments' : 'models';
  }

  get tab(): TabId {
    return this.#tab;
  }
  showTab(tab: TabId): void {
    this.#tab = tab;
  }
}

const KEY = Symbol('chorus-app');

export function createAppState(): AppState {
  return setContext(KEY, new AppState());
}

export function getApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('getApp() called outside the Chorus app (no AppState in context)');
  return app;
}
