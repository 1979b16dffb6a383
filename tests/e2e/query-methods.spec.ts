/**
 * Issue 12's query-level methods end to end on the built app with the real built-in pool (llama.cpp
 * wasm workers, the pool's data sets, IndexedDB):
 * - in the Experiments tab, each method on two pool models and two tasks — the trained router with
 *   k nearest neighbours and with logistic regression, the graph router, the prompt router, and the
 *   cascade with token and with "just ask" confidence, all fitted on dev — with each item's trace
 *   checked for what the method decides on: the router's score per model, the cascade's confidence
 *   and per-agent threshold per step and its dev cost–quality curve; the views draw the router
 *   scores table and the cost–quality plot (Observable Plot's SVG) under the app's CSP;
 * - in the playground (no dev split), the prompt router on stories260K shows the router model's
 *   reply, the rule applied and its scores, and the "just ask" cascade asks each tier but the last.
 */
import { test, expect, type Page, type Locator } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { importStories, loadModel, openApp, playground, runAndWait, setupPlayground, showTab, watchErrors } from './helpers.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';

test.describe.configure({ mode: 'serial' });

type Route = Extract<TraceEvent, { type: 'route' }>;
type Curve = Extract<TraceEvent, { type: 'curve' }>;
const routes = (t: TraceEvent[]): Route[] => t.filter((e): e is Route => e.type === 'route');

function tab(page: Page): Locator {
  return page.getByRole('tabpanel', { name: 'Experiments' });
}

const METHODS = [
  { method: 'router', knobs: { classifier: 'knn', k: 3 }, label: 'router-knn' },
  { method: 'router', knobs: { classifier: 'logistic' }, label: 'router-logistic' },
  { method: 'graph-router', label: 'graph-router' },
  { method: 'prompt-router', label: 'prompt-router' },
  { method: 'cascade', label: 'cascade-token' },
  { method: 'cascade', knobs: { confidence: 'ask' }, label: 'cascade-ask' },
];

test('each query-level method runs on the pool in an experiment; traces carry router scores, confidences, thresholds and the cost–quality curve', async ({ page }) => {
  test.setTimeout(600_000);
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Experiments');
  const t = tab(page);
  const setup = t.getByRole('region', { name: 'Experiment setup' });
  await setup.getByRole('checkbox', { name: /Two-digit arithmetic/ }).check();
  await setup.getByRole('checkbox', { name: /invented world/ }).check();
  await setup.getByRole('checkbox', { name: /Majority vote/ }).check();
  await setup.getByRole('checkbox', { name: 'arithmetic-specialist' }).check();
  await setup.getByRole('checkbox', { name: 'world-specialist' }).check();
  await setup.getByLabel('Items per data set').fill('3');
  await setup.getByLabel('Items per data set').dispatchEvent('change');
  const box = t.getByLabel('Experiment file (JSON; edit freely)');
  const chosen = JSON.parse(await box.inputValue());
  const agents = chosen.methods[0].agents;
  expect(agents).toEqual(['arithmetic-specialist', 'world-specialist']);
  // The pool's mixed data set (its six tasks, 3 test and 3 dev items each), so a router has several
  // tasks to learn from; the tab's choices otherwise kept.
  const experiment = { ...chosen, datasets: [{ path: 'pool', split: 'test', limit: 3 }], methods: METHODS.map((m) => ({ ...m, agents })) };
  await box.fill(JSON.stringify(experiment, null, 2));
  await box.dispatchEvent('change');
  await t.getByRole('button', { name: 'Run', exact: true }).click();
  const table = t.getByRole('table', { name: 'Results' });
  await expect(table).toBeVisible({ timeout: 540_000 });

  const [download] = await Promise.all([page.waitForEvent('download'), t.getByRole('button', { name: 'Export JSON' }).click()]);
  const results = JSON.parse(readFileSync((await download.path())!, 'utf8'));
  const cellsOf = (label: string) => results.cells.map((c: any, i: number) => [c, i]).filter(([c]: [any]) => c.labels.includes(label));
  const itemsOf = (label: string) => {
    const idx = new Set(cellsOf(label).map(([, i]: [any, number]) => i));
    return results.items.filter((it: any) => idx.has(it.cell));
  };
  for (const m of METHODS) {
    const items = itemsOf(m.label);
    expect(items, `${m.label}: 3 test items × 6 tasks`).toHaveLength(18);
    expect(cellsOf(m.label), `${m.label}: one cell`).toHaveLength(1);
    for (const it of items) expect(it.trace.at(-1), `${m.label} ${it.id}: done`).toMatchObject({ type: 'run-end', status: 'done' });
    // Every method here but the prompt router fits on dev.
    if (m.method !== 'prompt-router') for (const [c] of cellsOf(m.label)) expect(c.fitted?.note, `${m.label}: fitted on dev`).toBeTruthy();
  }

  // Routers: one route per item, before the one answer, with a score for each model it chose among.
  for (const label of ['router-knn', 'router-logistic', 'graph-router']) {
    for (const it of itemsOf(label)) {
      const [r] = routes(it.trace);
      expect(routes(it.trace), `${label}: one route`).toHaveLength(1);
      expect(r!.from).toBeNull();
      expect(r!.scores!.length, `${label}: a score per model`).toBeGreaterThanOrEqual(1);
      expect(r!.scores!.every((s) => Number.isFinite(s.score))).toBe(true);
      // The chosen agent has the top score (a classifier scores only the agents some dev prompt was labelled with).
      const top = Math.max(...r!.scores!.map((s) => s.score));
      expect(r!.scores!.find((s) => s.agent === r!.to)?.score, `${label}: the chosen agent scores highest`).toBe(top);
      if (label === 'graph-router') expect(r!.scores!.map((s) => s.agent)).toEqual(['a1', 'a2']);
      expect(it.trace.filter((e: TraceEvent) => e.type === 'message-start')).toHaveLength(1);
    }
  }
  for (const [c] of cellsOf('router-logistic')) expect(c.fitted.note).toMatch(/^logistic-regression router trained on 18 dev prompts/);
  for (const [c] of cellsOf('router-knn')) expect(c.fitted.note).toMatch(/^3-nearest-neighbours router trained on 18 dev prompts/);
  // Logistic regression's scores are probabilities over the labels it was trained on.
  for (const it of itemsOf('router-logistic')) {
    const sum = routes(it.trace)[0]!.scores!.reduce((s, x) => s + x.score, 0);
    expect(sum).toBeGreaterThan(0.999);
    expect(sum).toBeLessThan(1.001);
  }
  // Prompt router: the router model's call, then the route with the rule it applied, then the answer.
  for (const it of itemsOf('prompt-router')) {
    const purposes = it.trace.filter((e: TraceEvent) => e.type === 'message-start').map((e: any) => e.purpose);
    expect(purposes).toEqual(['route', 'answer']);
    const r = routes(it.trace)[0]!;
    expect(r.scores!.map((s) => s.agent)).toEqual(['a1', 'a2']);
    expect(r.reason).toMatch(/^the router replied ".*"(: number [12]|: the name |, which names no model 1–2)/);
  }
  // Cascades: the dev curve first; per step the confidence against that agent's fitted threshold.
  for (const label of ['cascade-token', 'cascade-ask']) {
    for (const [c] of cellsOf(label)) expect(c.fitted.note).toMatch(label === 'cascade-ask' ? /median of each agent's self-assessed confidence on 18 dev items/ : /median of each agent's mean token probability on 18 dev items/);
    for (const it of itemsOf(label)) {
      const curve = it.trace.find((e: TraceEvent) => e.type === 'curve') as Curve;
      expect(curve.points.length).toBeGreaterThanOrEqual(2);
      // Threshold 0: the first tier answers (asked too with just-ask; a reply with no number still defers).
      // Above 1: every tier answers, every tier but the last is asked: N, or 2N − 1 calls.
      if (label === 'cascade-token') expect(curve.points[0]!.calls).toBe(1);
      else expect(curve.points[0]!.calls).toBeGreaterThanOrEqual(2);
      expect(curve.points.at(-1)).toMatchObject({ threshold: 1.01, calls: label === 'cascade-token' ? 2 : 3 });
      expect(curve.chosen!.threshold).toBe('fitted');
      const steps = routes(it.trace);
      expect(steps.length).toBeGreaterThanOrEqual(1);
      expect(steps[0]!.from).toBe('a1');
      expect(typeof steps[0]!.threshold).toBe('number');
      if (label === 'cascade-token') expect(typeof steps[0]!.confidence).toBe('number');
      if (label === 'cascade-ask') {
        const asked = it.trace.filter((e: TraceEvent) => e.type === 'message-start' && e.purpose === 'confidence');
        // Two tiers: the first is asked after its answer; the last is accepted without asking.
        expect(asked).toHaveLength(1);
      }
    }
  }

  // The views: a router item shows its scores table, a cascade item the cost–quality plot.
  await table.getByRole('button', { name: /^graph-router on / }).click();
  const cellItems = t.getByRole('region', { name: 'Cell items' });
  await cellItems.getByRole('button', { name: /^Trace of item / }).first().click();
  const scores = cellItems.getByRole('region', { name: 'Trace' }).getByRole('table', { name: 'Router scores' });
  await expect(scores).toBeVisible();
  await expect(scores.getByRole('row')).toHaveCount(3);
  await table.getByRole('button', { name: /^cascade-ask on / }).click();
  await cellItems.getByRole('button', { name: /^Trace of item / }).first().click();
  const curve = cellItems.getByRole('region', { name: 'Trace' }).getByRole('figure', { name: 'Cost–quality curve' });
  await expect(curve.locator('svg').first()).toBeVisible();
  await expect(curve).toContainText(/Fitted thresholds on dev: accuracy \d+\.\d% at \d\.\d\d calls per query/);
  expect(errors).toEqual([]);
});

test('playground: the prompt router shows its router model’s reply and scores; the just-ask cascade asks every tier but the last', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchErrors(page);
  await openApp(page);
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'prompt-router', agents: 3, prompt: 'Q: 2 + 3 = ?\nA:', seed: 3, maxTokens: 8, temperature: 0 });
  await runAndWait(page, 120_000);
  const pg = playground(page);
  await expect(pg.getByRole('status', { name: 'Run status' })).toHaveText('done');
  const trace = pg.getByRole('region', { name: 'Trace' });
  const table = trace.getByRole('table', { name: 'Router scores' });
  await expect(table.getByRole('row')).toHaveCount(4);
  await expect(trace.getByRole('group', { name: 'Route decision' })).toContainText(/the router replied ".*"/);

  await setupPlayground(page, { method: 'cascade', agents: 3, prompt: 'Q: 2 + 3 = ?\nA:', seed: 3, maxTokens: 8, temperature: 0 });
  await pg.getByLabel('Confidence', { exact: true }).selectOption('ask');
  await pg.getByLabel('Confidence threshold').fill('1');
  await pg.getByLabel('Confidence threshold').dispatchEvent('change');
  await runAndWait(page, 120_000);
  await expect(pg.getByRole('status', { name: 'Run status' })).toHaveText('done');
  // Threshold 1: a 260K story model is never fully sure, so every tier defers to the last: 3 answers, 2 questions.
  const decisions = trace.getByRole('group', { name: 'Route decision' });
  await expect(decisions).toHaveCount(3);
  await expect(decisions.nth(0)).toContainText(/defer Agent 1/);
  await expect(decisions.nth(0)).toContainText(/(self-assessed confidence \d\.\d{3} < threshold 1|its reply gave no confidence number): defer to the next agent/);
  await expect(decisions.nth(2)).toContainText('the last agent is not asked its confidence');
  expect(errors).toEqual([]);
});
