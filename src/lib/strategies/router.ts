/**
 * `router`: trained routing. A multinomial naive-Bayes classifier over the prompt's words
 * (src/lib/eval/router.ts) sends each prompt to one agent, which answers alone. It is trained on a
 * dev split by `fit` (the experiment runner calls it), never on test: each dev prompt is labelled
 * with the agent that solved it; when several did, the one with the best score on that item's group
 * (task) wins, then setup order; a prompt no agent solved goes to its group's best agent. This is
 * MoCo's API-level "trained router" in its simplest explainable form (the route event lists every
 * agent's log score). In the playground, with no dev split, it refuses with that reason.
 */
import { extractAnswer } from '../answers.ts';
import { trainRouter, type Router } from '../eval/router.ts';
import type { DevEvidence, Fitted, Strategy, StrategyMeta } from './types.ts';
import { ANSWER_KNOB, answerTypeOf, callOne, firstMessages } from './common.ts';

const meta: StrategyMeta = {
  id: 'router',
  name: 'Trained router',
  level: 'api',
  description:
    'A small classifier trained on the dev split sends each prompt to the agent most likely to solve it; that agent answers alone. Needs a data set with a dev split (experiments only).',
  paper: { title: 'MoCo: A One-Stop Shop for Model Collaboration Research (trained router)', url: 'https://arxiv.org/abs/2601.21257', year: 2026 },
  knobs: [ANSWER_KNOB],
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

export function fitRouter(dev: DevEvidence): Fitted {
  if (dev.items.length === 0) throw new Error('the trained router needs dev items to learn from: give the data set a dev split');
  const labels = routerLabels(dev);
  const router = trainRouter(dev.items.map((it, i) => ({ prompt: it.prompt, label: `a${labels[i]! + 1}` })));
  const counts = dev.agentScores.map((_, a) => labels.filter((l) => l === a).length);
  return { state: router, note: `naive-Bayes router trained on ${dev.items.length} dev prompts; training labels per agent: ${counts.map((c, a) => `a${a + 1}=${c}`).join(', ')}` };
}

export const router: Strategy = {
  meta,
  fit: (dev) => fitRouter(dev),
  async *run(ctx) {
    const trained = ctx.fitted as Router | undefined;
    if (!trained || typeof trained.route !== 'function') {
      throw new Error('the trained router must first be trained on a dev split: run it in an experiment (npm run experiment, or the Experiments tab)');
    }
    const decision = trained.route(ctx.prompt);
    const index = Number(decision.label.slice(1)) - 1;
    const agent = ctx.agents[index];
    if (!agent) throw new Error(`the router was trained for agent ${decision.label}, which this setup does not have: train it again on this setup`);
    const why = Object.entries(decision.scores).map(([l, s]) => `${l} ${s.toFixed(1)}`).join(', ');
    yield { type: 'route', t: ctx.now(), from: null, to: agent.id, decision: 'route', reason: `naive-Bayes log scores: ${why}` };
    const result = yield* callOne(ctx, { agent, agentIndex: index, round: 1, sample: 0, purpose: 'answer', messages: firstMessages(agent, ctx.prompt) });
    if (ctx.signal.aborted) return;
    if (result.error !== undefined) throw new Error(`${agent.name} failed: ${result.error}`);
    yield { type: 'final', t: ctx.now(), answer: extractAnswer(result.text, answerTypeOf(ctx, meta)).answer, text: result.text, agent: agent.id };
  },
};
