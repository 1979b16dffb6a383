/**
 * `router`: trained routing. A small classifier over the prompt's words sends each prompt to one
 * agent, which answers alone. It is trained on a dev split by `fit` (the experiment runner calls
 * it), never on test: each dev prompt is labelled with the agent that solved it; when several did,
 * the one with the best score on that item's group (task) wins, then setup order; a prompt no agent
 * solved goes to its group's best agent. The `classifier` knob chooses the classifier
 * (src/lib/eval/router.ts): multinomial naive Bayes over words (the default, and what the pool's
 * results script uses), k-nearest neighbours or logistic regression on TF-IDF word 1–2-grams. This
 * is MoCo's API-level "trained router" in small, explainable forms (the route event lists every
 * agent's score). In the playground, with no dev split, it refuses with that reason.
 */
import { trainKnnRouter, trainLogisticRouter, trainRouter, type Router } from '../eval/router.ts';
import type { DevEvidence, Fitted, KnobValue, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, knob } from './common.ts';
import { answerAlone } from './routing.ts';

export type Classifier = 'naive-bayes' | 'knn' | 'logistic';

const SCORE_LABEL: Record<Classifier, string> = {
  'naive-bayes': 'naive-Bayes log score',
  knn: 'summed cosine similarity of the k nearest dev prompts',
  logistic: 'logistic-regression probability',
};

const meta: StrategyMeta = {
  id: 'router',
  name: 'Trained router',
  level: 'api',
  description:
    'A small classifier trained on the dev split sends each prompt to the agent most likely to solve it; that agent answers alone. Naive Bayes over words, k-nearest neighbours or logistic regression on word 1–2-grams. Needs a data set with a dev split (experiments only).',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (trained router)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [
    {
      id: 'classifier',
      label: 'Classifier',
      help: 'Naive Bayes over words (add-one smoothing); k nearest dev prompts by TF-IDF cosine similarity of word 1–2-grams; or softmax logistic regression on the same features.',
      type: 'select',
      default: 'naive-bayes',
      options: [
        { value: 'naive-bayes', label: 'naive Bayes' },
        { value: 'knn', label: 'k nearest neighbours' },
        { value: 'logistic', label: 'logistic regression' },
      ],
    },
    { id: 'k', label: 'Neighbours (k)', help: 'For k nearest neighbours: how many of the most similar dev prompts vote, each weighted by its similarity.', type: 'integer', default: 5, min: 1, max: 50, step: 1 },
    ANSWER_KNOB,
  ],
  needs: { minAgents: 2, dev: true },
  cost: {
    formula: '1 call: the classifier picks the agent without calling a model',
    calls: () => 1,
    tokens: (_n, _k, maxTokens, promptTokens) => ({ prompt: promptTokens, completion: maxTokens }),
  },
};

/** The dev label of each item: the index of the agent it is routed to during training. */
export function routerLabels(dev: DevEvidence): number[] {
  const groups = [...new Set(dev.items.map((it) => it.group))];
  const groupScore = new Map<string, number[]>();
  for (const g of groups) {
    const inGroup = dev.items.filter((it) => it.group === g);
    groupScore.set(g, dev.agentScores.map((_, a) => inGroup.reduce((s, it) => s + (it.scores[a] ?? 0), 0) / inGroup.length));
  }
  return dev.items.map((it) => {
    const byGroup = groupScore.get(it.group)!;
    const best = (candidates: number[]) => candidates.reduce((a, b) => (byGroup[b]! > byGroup[a]! ? b : a));
    const solvers = it.scores.flatMap((s, a) => (s >= 1 ? [a] : []));
    return best(solvers.length > 0 ? solvers : dev.agentScores.map((_, a) => a));
  });
}

function classifierOf(knobs: Record<string, KnobValue>): Classifier {
  const c = knobs.classifier ?? 'naive-bayes';
  if (c === 'naive-bayes' || c === 'knn' || c === 'logistic') return c;
  throw new Error(`the trained router's classifier must be naive-bayes, knn or logistic (got "${String(c)}")`);
}

/** What `fit` keeps: the trained classifier and which one it is. */
interface RouterState {
  classifier: Classifier;
  router: Router;
}

export function fitRouter(dev: DevEvidence, knobs: Record<string, KnobValue> = {}): Fitted {
  if (dev.items.length === 0) throw new Error('the trained router needs dev items to learn from: give the data set a dev split');
  const classifier = classifierOf(knobs);
  const labels = routerLabels(dev);
  const examples = dev.items.map((it, i) => ({ prompt: it.prompt, label: `a${labels[i]! + 1}` }));
  const k = typeof knobs.k === 'number' ? knobs.k : 5;
  const router = classifier === 'knn' ? trainKnnRouter(examples, k) : classifier === 'logistic' ? trainLogisticRouter(examples) : trainRouter(examples);
  const counts = dev.agentScores.map((_, a) => labels.filter((l) => l === a).length);
  const name = classifier === 'knn' ? `${k}-nearest-neighbours` : classifier === 'logistic' ? 'logistic-regression' : 'naive-Bayes';
  return { state: { classifier, router } satisfies RouterState, note: `${name} router trained on ${dev.items.length} dev prompts; training labels per agent: ${counts.map((c, a) => `a${a + 1}=${c}`).join(', ')}` };
}

export const router: Strategy = {
  meta,
  fit: (dev, knobs) => fitRouter(dev, knobs),
  async *run(ctx) {
    const trained = ctx.fitted as Partial<RouterState> | undefined;
    if (!trained?.router || typeof trained.router.route !== 'function') {
      throw new Error('the trained router must first be trained on a dev split: run it in an experiment (npm run experiment, or the Experiments tab)');
    }
    const classifier = trained.classifier ?? classifierOf({ classifier: knob<string>(ctx, meta, 'classifier') });
    const decision = trained.router.route(ctx.prompt);
    const index = Number(decision.label.slice(1)) - 1;
    if (!ctx.agents[index]) throw new Error(`the router was trained for agent ${decision.label}, which this setup does not have: train it again on this setup`);
    // Agents no dev prompt was labelled with are not among the classifier's labels: they score −∞ / 0.
    const absent = classifier === 'naive-bayes' ? -Infinity : 0;
    const scores = ctx.agents.map((_, i) => decision.scores[`a${i + 1}`] ?? absent);
    const shown = (s: number) => (classifier === 'naive-bayes' ? s.toFixed(1) : s.toFixed(3));
    const why = ctx.agents.map((a, i) => `${a.id} ${Number.isFinite(scores[i]!) ? shown(scores[i]!) : 'never a dev label'}`).join(', ');
    yield* answerAlone(ctx, meta, { index, reason: `${SCORE_LABEL[classifier]}: ${why}`, scores, scoreLabel: SCORE_LABEL[classifier] });
  },
};
