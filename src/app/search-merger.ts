/**
 * The Experiments tab's Merger for weight-level methods (src/lib/eval/runner.ts): each candidate
 * is merged by the merge worker (the Merge tab's worker and engine, streamed into OPFS under
 * `search-candidates/`), loaded in its own wllama engine worker like any stored model, and its file
 * deleted when the runner unloads it. The final merge (or the best so far, when the run is
 * cancelled) is written to the models folder and registered as a merged model whose provenance
 * carries its recipe (the merge config) and the search's key, so a resumed run finds it instead
 * of saving it twice.
 */
import type { Engine } from '../lib/engines/engine.ts';
import type { Merger } from '../lib/eval/runner.ts';
import { inputRefs } from '../lib/merge/config.ts';
import { recipeConfig, type ResolvedRecipe } from '../lib/merge/recipe.ts';
import type { MergeInputRef } from '../../workers/merge.api.ts';
import { spawnWllamaWorker } from './engines.ts';
import { MergeWorkerClient } from './merge.svelte.ts';
import { safeFileName, type ModelEntry, type ModelRegistry } from './models.svelte.ts';

/** One input of a merge: the experiment model's file and what its header says. */
export interface SearchInput {
  blob: Blob;
  name: string;
  contextLength?: number;
  vocabSize?: number;
}

const CANDIDATES = 'search-candidates';

export function browserMerger(registry: Pick<ModelRegistry, 'modelsDir' | 'models' | 'addOpfsModel'>, input: (model: string) => Promise<SearchInput>): Merger {
  const client = new MergeWorkerClient();
  const quiet = { onProgress: () => undefined, onStats: () => undefined };

  async function merge(recipe: ResolvedRecipe, name: string, dir: string, fileName: string, signal: AbortSignal) {
    const config = recipeConfig(recipe, name);
    const refs = inputRefs(config).refs;
    const files = await Promise.all(refs.map((ref) => input(ref)));
    const inputs: MergeInputRef[] = refs.map((ref, i) => ({ format: 'gguf', ref, name: files[i]!.name, blob: files[i]!.blob }));
    const run = await client.run((api, id, onProgress, onStats) => api.run(id, config, inputs, dir, fileName, onProgress, onStats), { ...quiet, signal });
    return { run, first: files[0]! };
  }

  return {
    async load(recipe, key, signal) {
      const name = `merge ${key.slice(0, 12)}`;
      const { run, first } = await merge(recipe, name, CANDIDATES, `${key.slice(0, 16)}.gguf`, signal);
      const remove = async () => {
        const root = await navigator.storage.getDirectory();
        await (await root.getDirectoryHandle(CANDIDATES)).removeEntry(run.fileName).catch(() => undefined);
      };
      let engine: Engine;
      try {
        engine = await spawnWllamaWorker(
          { kind: 'opfs', path: `${CANDIDATES}/${run.fileName}`, name },
          { nThreads: 1, gpu: 'off', ...(first.contextLength !== undefined && { contextLength: first.contextLength }), ...(first.vocabSize !== undefined && { expectedVocab: first.vocabSize }) },
          { signal },
        );
      } catch (e) {
        await remove();
        throw e;
      }
      return {
        info: engine.info,
        chat: (r, o) => engine.chat(r, o),
        complete: (r, o) => engine.complete(r, o),
        unload: async () => {
          await engine.unload();
          await remove();
        },
      };
    },
    async save(recipe, key, name) {
      const known = registry.models.find((m: ModelEntry) => (m.provenance as { search?: string } | undefined)?.search === key);
      if (known) return known.name;
      const { run } = await merge(recipe, name, registry.modelsDir, `${safeFileName(name).replace(/\.gguf$/i, '')}.gguf`, new AbortController().signal);
      const entry = await registry.addOpfsModel(run.fileName, { name, source: 'merged', provenance: { ...run.provenance, search: key } });
      return entry.name;
    },
  };
}
