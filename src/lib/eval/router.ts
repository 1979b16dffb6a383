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

/**
 * Word n-grams (n = 1, 2) of the router's features: "q", ":", "00", "q :", ": 00", … Bigrams keep a
 * little word order ("reverse the" vs "the reverse"), which bag-of-words naive Bayes ignores.
 */
export function ngramFeatures(prompt: string): string[] {
  const words = promptFeatures(prompt);
  const out = [...words];
  for (let i = 0; i + 1 < words.length; i++) out.push(`${words[i]} ${words[i + 1]}`);
  return out;
}

/** A sparse vector: feature → weight. */
export type SparseVector = Map<string, number>;

/**
 * TF-IDF over n-gram features, L2-normalised (Manning et al., "Introduction to Information
 * Retrieval", ch. 6: tf = raw count, idf = log(N / df) + 1 so a feature in every document still
 * counts a little). Features never seen in training are dropped (they have no idf).
 */
export interface Tfidf {
  vector(prompt: string): SparseVector;
}

export function fitTfidf(prompts: readonly string[]): Tfidf {
  const df = new Map<string, number>();
  for (const p of prompts) for (const f of new Set(ngramFeatures(p))) df.set(f, (df.get(f) ?? 0) + 1);
  const idf = new Map([...df].map(([f, d]) => [f, Math.log(prompts.length / d) + 1]));
  return {
    vector(prompt) {
      const v: SparseVector = new Map();
      for (const f of ngramFeatures(prompt)) {
        const w = idf.get(f);
        if (w !== undefined) v.set(f, (v.get(f) ?? 0) + w);
      }
      const norm = Math.sqrt([...v.values()].reduce((s, x) => s + x * x, 0));
      if (norm > 0) for (const [f, x] of v) v.set(f, x / norm);
      return v;
    },
  };
}

/** Dot product of two sparse vectors (their cosine similarity when both are L2-normalised). */
export function dot(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let s = 0;
  for (const [f, x] of small) s += x * (large.get(f) ?? 0);
  return s;
}

function labelsOf(examples: ReadonlyArray<{ label: string }>, what: string): string[] {
  if (examples.length === 0) throw new Error(`${what}: no labelled prompts — give it the dev splits`);
  return [...new Set(examples.map((e) => e.label))].sort();
}

/** The label with the highest score; a tie goes to the first label (sorted), as in trainRouter. */
function argmax(labels: readonly string[], scores: Record<string, number>): string {
  return labels.reduce((best, l) => (scores[l]! > scores[best]! ? l : best), labels[0]!);
}

/**
 * k-nearest-neighbours router on TF-IDF n-gram vectors: a label's score is the summed cosine
 * similarity of the k most similar training prompts that carry it (similarity-weighted kNN voting;
 * IIR ch. 14.3). Neighbours are ranked by similarity, then by training order, so the choice is
 * deterministic.
 */
export function trainKnnRouter(examples: ReadonlyArray<{ prompt: string; label: string }>, k: number): Router {
  const labels = labelsOf(examples, 'trainKnnRouter');
  if (!Number.isInteger(k) || k < 1) throw new Error(`trainKnnRouter: k must be a whole number ≥ 1 (got ${k})`);
  const tfidf = fitTfidf(examples.map((e) => e.prompt));
  const train = examples.map((e) => ({ v: tfidf.vector(e.prompt), label: e.label }));
  return {
    labels,
    route(prompt) {
      const q = tfidf.vector(prompt);
      const ranked = train.map((t, i) => ({ sim: dot(q, t.v), i, label: t.label })).sort((a, b) => b.sim - a.sim || a.i - b.i);
      const scores: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
      for (const n of ranked.slice(0, k)) scores[n.label]! += n.sim;
      return { label: argmax(labels, scores), scores };
    },
  };
}

export interface LogisticOptions {
  /** Full-batch gradient steps. */
  epochs: number;
  learningRate: number;
  /** L2 penalty on the weights (not the biases). */
  l2: number;
}

export const LOGISTIC_DEFAULTS: LogisticOptions = { epochs: 200, learningRate: 1, l2: 1e-3 };

/**
 * Multinomial logistic regression (softmax) on TF-IDF n-gram vectors, trained by full-batch gradient
 * descent on the mean cross-entropy plus (l2 / 2)·‖W‖² from zero weights — deterministic, no random
 * initialisation (Jurafsky & Martin, "Speech and Language Processing", ch. 5). route() gives each
 * label's probability.
 */
export function trainLogisticRouter(examples: ReadonlyArray<{ prompt: string; label: string }>, options: LogisticOptions = LOGISTIC_DEFAULTS): Router {
  const labels = labelsOf(examples, 'trainLogisticRouter');
  const tfidf = fitTfidf(examples.map((e) => e.prompt));
  const xs = examples.map((e) => tfidf.vector(e.prompt));
  const ys = examples.map((e) => labels.indexOf(e.label));
  const weights: SparseVector[] = labels.map(() => new Map());
  const bias = labels.map(() => 0);
  const probs = (x: SparseVector): number[] => {
    const z = labels.map((_, c) => bias[c]! + dot(weights[c]!, x));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const n = examples.length;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const gw: SparseVector[] = labels.map(() => new Map());
    const gb = labels.map(() => 0);
    xs.forEach((x, i) => {
      const p = probs(x);
      p.forEach((pc, c) => {
        const err = (pc - (ys[i] === c ? 1 : 0)) / n;
        gb[c]! += err;
        const g = gw[c]!;
        for (const [f, v] of x) g.set(f, (g.get(f) ?? 0) + err * v);
      });
    });
    labels.forEach((_, c) => {
      const w = weights[c]!;
      for (const [f, v] of w) w.set(f, v - options.learningRate * options.l2 * v);
      for (const [f, g] of gw[c]!) w.set(f, (w.get(f) ?? 0) - options.learningRate * g);
      bias[c]! -= options.learningRate * gb[c]!;
    });
  }
  return {
    labels,
    route(prompt) {
      const p = probs(tfidf.vector(prompt));
      const scores: Record<string, number> = Object.fromEntries(labels.map((l, c) => [l, p[c]!]));
      return { label: argmax(labels, scores), scores };
    },
  };
}
