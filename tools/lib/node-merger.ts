/**
 * The CLI's Merger for weight-level methods (src/lib/eval/runner.ts): a candidate is merged in
 * Node by the very merge engine the Merge tab runs (planMerge + executeMerge, src/lib/merge),
 * streamed into a GGUF file in the harness page's models folder, and loaded there by llama.cpp
 * (HarnessEngine) like any other model of the experiment. The final merge is saved beside the
 * results as `<name>.gguf` with its recipe as `<name>.recipe.json` (mergekit's config with the
 * experiment's model files).
 */
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../../src/lib/engines/engine.ts';
import type { Merger } from '../../src/lib/eval/runner.ts';
import { readGGUF } from '../../src/lib/merge/gguf/index.ts';
import { inputRefs } from '../../src/lib/merge/config.ts';
import { planMerge, type MergeInput } from '../../src/lib/merge/plan.ts';
import { recipeConfig, recipeDocument, type ResolvedRecipe } from '../../src/lib/merge/recipe.ts';
import { executeMerge } from '../../src/lib/merge/stream.ts';
import { fileSink, fileSource } from './node-source.ts';

/** Merges `recipe` (model ids of `paths`) into `out`; nothing is left under `out` on failure. */
export async function mergeRecipeToFile(recipe: ResolvedRecipe, paths: ReadonlyMap<string, string>, out: string, name: string, signal?: AbortSignal): Promise<void> {
  const cfg = recipeConfig(recipe, name);
  const { refs } = inputRefs(cfg);
  const sources = await Promise.all(
    refs.map((ref) => {
      const p = paths.get(ref);
      if (!p) throw new Error(`a merge candidate names model ${ref}, which has no GGUF file in this experiment`);
      return fileSource(p);
    }),
  );
  try {
    const inputs: MergeInput[] = [];
    for (const [i, src] of sources.entries()) inputs.push({ ref: refs[i]!, source: src, file: await readGGUF(src) });
    // A pinned creation time: the same recipe gives the same bytes (and the same answers).
    const plan = planMerge(cfg, inputs, { created: '1970-01-01T00:00:00.000Z', outputName: name });
    const sink = await fileSink(out);
    try {
      await executeMerge(plan, { sink, ...(signal ? { signal } : {}) });
    } catch (e) {
      await sink.abort();
      throw e;
    }
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

export interface NodeMergerOptions {
  /** Each experiment model id's GGUF file. */
  paths: ReadonlyMap<string, string>;
  /** The harness page's models folder (served as ./models/). */
  modelsDir: string;
  /** Opens a loaded engine for `./models/<file>` (HarnessEngine on the experiment's page). */
  open(id: string, file: string, path: string): Engine;
  /** Where final merges are saved (the results file's folder). */
  saveDir: string;
}

const slug = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'merge';

export function nodeMerger(o: NodeMergerOptions): Merger {
  return {
    async load(recipe, key, signal) {
      const id = `merge-${key.slice(0, 16)}`;
      const path = join(o.modelsDir, `${id}.gguf`);
      if (!existsSync(path)) await mergeRecipeToFile(recipe, o.paths, path, id, signal);
      return o.open(id, `${id}.gguf`, path);
    },
    async save(recipe, _key, name) {
      const base = join(o.saveDir, slug(name));
      await mergeRecipeToFile(recipe, o.paths, `${base}.gguf`, name);
      const doc = recipeDocument({ ...recipe, base: recipe.base === null ? null : o.paths.get(recipe.base)!, models: recipe.models.map((m) => ({ ...m, model: o.paths.get(m.model)! })) }, name);
      await writeFile(`${base}.recipe.json.part`, JSON.stringify(doc, null, 1) + '\n');
      await rename(`${base}.recipe.json.part`, `${base}.recipe.json`).catch(async (e: unknown) => {
        await rm(`${base}.recipe.json.part`, { force: true });
        throw e;
      });
      return `${base}.gguf`;
    },
  };
}
