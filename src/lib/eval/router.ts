/**
 * A prompt router trained on labelled prompts (the dev splits): multinomial naive Bayes over lower-
 * cased word and digit-pattern features with add-one smoothing (Manning, Raghavan & Schütze,
 * "Introduction to Information Retrieval", ch. 13). Small, deterministic, explainable: route()
 * returns the label and the per-label log scores, so a view can show why a prompt went where it did.
 */

export interface RouteDecision {
  label: string;
  scores: Record<string, number>;
}

export interface Router {
  labels: readonly string[];
  route(prompt: string): RouteDecision;
}

/** Words, with every digit replaced by '0' so "37 + 58" and "12 + 4" share features. */
export function promptFeatures(prompt: string): string[] {
  return prompt.toLowerCase().replace(/[0-9]/g, '0').match(/[a-z]+|0+|[^\sa-z0-9]/g) ?? [];
}

export function trainRouter(examples: ReadonlyArray<{ prompt: string; label: string }>): Router {
  if (examples.length === 0) throw new Error('trainRouter: no labelled prompts — give it the dev splits');
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const counts = new Map<string, Map<string, number>>();
  const totals = new Map<string, number>();
  const docs = new Map<string, number>();
  const vocab = new Set<string>();
  for (const l of labels) counts.set(l, new Map());
  for (const e of examples) {
    docs.set(e.label, (docs.get(e.label) ?? 0) + 1);
    const c = counts.get(e.label)!;
    for (const f of promptFeatures(e.prompt)) {
      vocab.add(f);
      c.set(f, (c.get(f) ?? 0) + 1);
      totals.set(e.label, (totals.get(e.label) ?? 0) + 1);
    }
  }
  const V = vocab.size;
  const prior = new Map(labels.map((l) => [l, Math.log((docs.get(l) ?? 0) / examples.length)]));
  return {
    labels,
    route(prompt: string): RouteDecision {
      const feats = promptFeatures(prompt);
      const scores: Record<string, number> = {};
      let best = labels[0]!;
      for (const l of labels) {
        const c = counts.get(l)!;
        const denom = Math.log((totals.get(l) ?? 0) + V + 1);
        let s = prior.get(l)!;
        for (const f of feats) s += Math.log((c.get(f) ?? 0) + 1) - denom;
        scores[l] = s;
        if (s > scores[best]!) best = l;
      }
      return { label: best, scores };
    },
  };
}
