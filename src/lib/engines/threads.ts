/**
 * How many llama.cpp threads each loaded wllama model gets, so that several models in several
 * workers do not oversubscribe the CPU.
 *
 * The rule (documented in the README):
 *   budget = max(1, floor(hardwareConcurrency / 2))
 *   each of the N loaded models gets max(1, floor(budget / N)) threads; the remainder
 *   (budget mod N) goes one each to the first models, so the total never exceeds the budget
 *   unless there are more models than budget threads (then every model still gets 1).
 *
 * Why half: `navigator.hardwareConcurrency` counts logical cores (SMT siblings included) and
 * llama.cpp's matmuls do not gain from SMT; half also leaves headroom for the page, the UI and
 * the other workers. wllama uses the same halving for a single model (wllama.ts, loadModel).
 * Threads are fixed when a model loads (wllama cannot change them afterwards), so a model loaded
 * when it was alone keeps its share until it is reloaded; new loads use the current count.
 */

export function threadBudget(hardwareConcurrency: number | undefined): number {
  const hc = Number.isFinite(hardwareConcurrency) && (hardwareConcurrency ?? 0) > 0 ? Math.floor(hardwareConcurrency!) : 1;
  return Math.max(1, Math.floor(hc / 2));
}

/** Threads for each of `models` loaded models, in load order. */
export function allocateThreads(hardwareConcurrency: number | undefined, models: number): number[] {
  if (!Number.isInteger(models) || models < 0) throw new RangeError(`model count must be a non-negative integer, got ${models}`);
  const budget = threadBudget(hardwareConcurrency);
  const base = Math.max(1, Math.floor(budget / Math.max(1, models)));
  const extra = models > 0 && base * models < budget ? budget - base * models : 0;
  return Array.from({ length: models }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Threads for a model about to load when `alreadyLoaded` models are loaded already. */
export function threadsForNextModel(hardwareConcurrency: number | undefined, alreadyLoaded: number): number {
  const all = allocateThreads(hardwareConcurrency, alreadyLoaded + 1);
  return all[all.length - 1] ?? 1;
}
