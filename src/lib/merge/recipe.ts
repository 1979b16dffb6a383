/**
 * A weight-level method's candidate (MergeRecipe, src/lib/strategies/types.ts, with agents turned
 * into model references by the runner) as a merge config, through the same parser a YAML config
 * goes through (parseMergeConfig: YAML is a superset of JSON), so a candidate is checked exactly as
 * a config the user writes. Output types are kept (`dtype` absent).
 */
import { parseMergeConfig, type MergeConfig } from './config.ts';

/** A recipe whose inputs are model references (paths, registry ids) instead of agent indices. */
export interface ResolvedRecipe {
  method: string;
  base: string | null;
  models: { model: string; parameters: Record<string, number> }[];
  parameters: Record<string, number | boolean>;
  seed?: number;
}

/** The mergekit-style document of a recipe (what is saved beside a merged model as its recipe). */
export function recipeDocument(r: ResolvedRecipe, name?: string): Record<string, unknown> {
  return {
    merge_method: r.method,
    ...(r.base !== null ? { base_model: r.base } : {}),
    models: r.models.map((m) => ({ model: m.model, parameters: m.parameters })),
    parameters: r.parameters,
    ...(r.seed !== undefined ? { seed: r.seed } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

export function recipeConfig(r: ResolvedRecipe, name?: string): MergeConfig {
  return parseMergeConfig(JSON.stringify(recipeDocument(r, name)), 'search candidate');
}
