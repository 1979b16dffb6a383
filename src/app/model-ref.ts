/**
 * Which local model a link's model reference means. Links carry the model id of the browser that
 * made them ("file:stories260K.gguf", "builtin:generalist"), or a name typed by hand, as in the
 * README's example ("stories260K"), or a content hash ("sha256:5f13…"). Ids differ between
 * browsers and imports, so a reference is resolved, in this order:
 *   1. an exact model id;
 *   2. "sha256:<64 hex>" (or the bare hex): the model whose file has that SHA-256 (built-ins carry
 *      it in public/models/index.json; imported files get it when they are imported);
 *   3. by name: the reference and each model's name and id compared without the source prefix
 *      ("file:", "builtin:", "webllm:", "openai:"), without a ".gguf" ending and ignoring case.
 * The first model in the registry's order wins a tie (built-ins first, then imports in order).
 */
export interface ResolvableModel {
  id: string;
  name: string;
  sha256?: string;
}

const HASH = /^(?:sha256:)?([0-9a-f]{64})$/i;

/** A model reference reduced to what names compare on: no source prefix, no .gguf, lower case. */
export function modelStem(ref: string): string {
  return ref.trim().replace(/^(file|builtin|webllm|openai):/i, '').replace(/\.gguf$/i, '').toLowerCase();
}

export function resolveModelRef(ref: string, models: readonly ResolvableModel[]): string | undefined {
  if (ref === '') return undefined;
  const exact = models.find((m) => m.id === ref);
  if (exact) return exact.id;
  const hash = HASH.exec(ref.trim())?.[1]?.toLowerCase();
  if (hash) return models.find((m) => m.sha256?.toLowerCase() === hash)?.id;
  const stem = modelStem(ref);
  return models.find((m) => modelStem(m.name) === stem || modelStem(m.id) === stem)?.id;
}
