// MoCo's weight-level methods in the Experiments tab, on the built-in pool with real components:
// the merge worker merges every candidate (streamed into OPFS), a wllama worker loads it and answers
// the dev items, the search is plotted as it goes; a cancel mid-search saves the best merge so far
// as a model with its recipe; after a reload the run resumes (the answer cache re-asks nothing)
// through a greedy soup and a model-swarm search to their results; the saved merge loads in the
// playground and generates. Budget: two pool models, 2 dev and 1 test arithmetic items, 2 swarm
// iterations.
import { test, expect, type Page, type Locator } from '@playwright/test';
import { openApp, showTab, watchErrors, setupPlayground, runAndWait, playground, laneMessages, modelCard } from './helpers.ts';

const EXPERIMENT = JSON.stringify({
  models: { g: 'generalist', a: 'arithmetic-specialist' },
  datasets: [{ path: 'pool/arithmetic', split: 'test', limit: 1, devLimit: 2 }],
  methods: [
    { method: 'greedy-soup', agents: ['g', 'a'], label: 'soup' },
    { method: 'model-swarms', agents: ['g', 'a'], knobs: { iterations: 2 }, label: 'swarm' },
  ],
  seeds: [1],
});

function tab(page: Page): Locator {
  return page.getByRole('tabpanel', { name: 'Experiments' });
}

test('greedy soup and model swarms: candidates merged and scored on dev, plotted live, cancelled (best so far saved), resumed after a reload; the saved merge generates', async ({ page }) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Experiments');
  const text = tab(page).getByLabel('Experiment file (JSON; edit freely)');
  await text.fill(EXPERIMENT);
  await text.dispatchEvent('change');
  await tab(page).getByRole('button', { name: 'Run', exact: true }).click();

  // The soup's search starts with the best member alone (iteration 0); cancel while its first
  // candidate soup is being merged and run on dev.
  const plot = tab(page).getByRole('figure', { name: 'Search on dev' });
  await expect(plot.getByRole('status', { name: 'Best candidate' })).toContainText('linear of', { timeout: 90_000 });
  await expect(plot.locator('figcaption')).toContainText('soup: search on dev');
  await tab(page).getByRole('button', { name: 'Cancel' }).click();
  const saved = tab(page).getByRole('list', { name: 'Saved merges' });
  await expect(saved).toContainText('soup: best merge so far (the search was cancelled) saved as the model “soup · pool/arithmetic (best so far)” — linear of a', { timeout: 60_000 });
  await expect(tab(page).getByRole('button', { name: 'Resume' })).toBeVisible({ timeout: 30_000 });
  await showTab(page, 'Models');
  await expect(modelCard(page, 'soup · pool/arithmetic (best so far)')).toBeVisible();

  // A reload: the experiment and its finished items are back; Resume runs the rest.
  await page.reload();
  await showTab(page, 'Experiments');
  await expect(tab(page).getByRole('note', { name: 'Saved items' })).toHaveText(/^\d+ finished item\(s\) saved/);
  await tab(page).getByRole('button', { name: 'Resume' }).click();
  // Live: the swarm's plot appears while it searches, before any result.
  await expect(plot.locator('figcaption')).toContainText('swarm: search on dev', { timeout: 120_000 });
  await expect(tab(page).getByRole('table', { name: 'Results' })).toBeVisible({ timeout: 120_000 });
  await expect(tab(page).getByRole('group', { name: 'Progress' })).toContainText('resumed');
  // The soup's final merge is saved unless that very merge (same recipe key) was saved already,
  // as the best so far: then that model is named.
  await expect(saved).toContainText(/soup: best merge saved as the model “soup · pool\/arithmetic( \(best so far\))?” — linear of a/);
  await expect(saved).toContainText('swarm: best merge saved as the model “swarm · pool/arithmetic” — linear of a1 × ');
  // Iteration 1 (the models themselves) and 2 (two merged particles): two dots at each.
  await expect(plot.getByRole('status', { name: 'Best candidate' })).toContainText('linear of a1 × ');
  await expect(plot.locator('svg circle')).toHaveCount(4);
  const results = tab(page).getByRole('table', { name: 'Results' });
  await expect(results).toContainText('soup');
  await expect(results).toContainText('swarm');

  // The saved swarm merge is a model like any other: it loads in the playground and generates.
  await setupPlayground(page, { method: 'single', agents: 1, model: 'swarm · pool/arithmetic', prompt: 'What is 2 + 3?', seed: 1, maxTokens: 12, temperature: 0 });
  await runAndWait(page);
  await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
  expect((await laneMessages(page, /^Agent 1 .* lane$/).first().locator('pre').innerText()).trim().length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
