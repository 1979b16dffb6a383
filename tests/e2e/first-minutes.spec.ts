/**
 * The first minutes in the app (issue 10), with the real built-in pool and stories260K in real
 * workers: the starter setup, a data-set item with its reference and score, links that name a
 * model by name, a run refused before it starts when it cannot fit the context, the cards before
 * Load, the header and cards agreeing on WebGPU, and web-llm rows that cannot run.
 */
import { test, expect, type Page } from '@playwright/test';
import { importStories, loadModel, modelCard, openApp, playground, setupPlayground, showTab, STORIES_ID, watchErrors } from './helpers.ts';

const trace = (page: Page) => playground(page).getByRole('region', { name: 'Trace' });
const status = (page: Page) => playground(page).getByRole('status', { name: 'Run status' });
/** The README's own example link (Setup links). */
const README_LINK = '#v=1&m=debate&a=stories260K@0.7&a=stories260K@0.7&a=stories260K@0.9&sys2=Be+brief.&k.rounds=2&k.final=vote&k.judge=1&k.answerType=auto&s=42&n=48&p=What+is+2%2B2%3F';

test('a first visit starts from a data-set item on the pool: the cascade defers to the specialist, which is right; the item is in the link; a new link clears the trace and resolves stories260K by name', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await importStories(page);
  await showTab(page, 'Playground');
  const pg = playground(page);
  await expect(pg.getByLabel('Method')).toHaveValue('cascade');
  await expect(pg.getByLabel('Agent 1 model')).toHaveValue('builtin:generalist');
  await expect(pg.getByLabel('Agent 2 model')).toHaveValue('builtin:arithmetic-specialist');
  await expect(pg.getByRole('textbox', { name: 'Prompt', exact: true })).toHaveValue('Q: 69 + 46 = ?\nA:');
  await expect(pg.getByLabel('Reference answer')).toContainText('arithmetic-dev-1');
  await expect(pg.getByLabel('Reference answer')).toContainText('reference: 115');

  await pg.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(status(page)).toHaveText('done', { timeout: 110_000 });
  const routes = trace(page).getByRole('group', { name: 'Route decision' });
  await expect(routes.nth(0)).toContainText('defer Agent 1 · generalist → Agent 2 · arithmetic-specialist');
  await expect(routes.nth(1)).toContainText('accept Agent 2 · arithmetic-specialist');
  await expect(routes.nth(1)).not.toContainText('→');
  await expect(trace(page).getByRole('region', { name: 'Final answer' })).toContainText('115');
  await expect(pg.getByRole('status', { name: 'Item score' })).toContainText('✓ correct');

  // The item travels in the link; editing the prompt drops it (no reference for a typed prompt).
  await pg.getByLabel('Seed').fill('43');
  await pg.getByLabel('Seed').dispatchEvent('change');
  expect(page.url()).toContain('i=arithmetic-dev-1');
  await pg.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Q: 1 + 1 = ?\nA:');
  await expect(pg.getByLabel('Reference answer')).toHaveCount(0);
  expect(page.url()).not.toContain('i=arithmetic-dev-1');

  // Opening the README's link: the old trace goes, and "stories260K" is the imported file.
  await page.evaluate((h) => { location.hash = h; }, README_LINK);
  await expect(pg.getByLabel('Method')).toHaveValue('debate');
  await expect(status(page)).toHaveText('idle');
  await expect(trace(page).getByRole('group', { name: 'Route decision' })).toHaveCount(0);
  await expect(page.getByRole('alert', { name: 'Missing models' })).toHaveCount(0);
  for (const i of [1, 2, 3]) await expect(pg.getByLabel(`Agent ${i} model`)).toHaveValue(STORIES_ID);
  expect(errors).toEqual([]);
});

test('the README link opened in a fresh tab after importing stories260K names no missing model; an item link shows its reference', async ({ page }) => {
  await openApp(page);
  await importStories(page);
  await page.goto(`./${README_LINK}`);
  await expect(playground(page).getByLabel('Method')).toHaveValue('debate');
  await expect(playground(page).getByLabel('Agent 1 model')).toHaveValue(STORIES_ID);
  await expect(page.getByRole('alert', { name: 'Missing models' })).toHaveCount(0);
  await page.goto('./#v=1&m=single&a=stories260K@0&s=1&n=16&p=Q%3A+61+-+13+%3D+%3F%0AA%3A&i=arithmetic-dev-0');
  await expect(playground(page).getByLabel('Reference answer')).toContainText('reference: 48');
  await playground(page).getByRole('button', { name: 'Random item' }).click();
  await expect(playground(page).getByLabel('Reference answer')).toContainText(/arithmetic-dev-\d+/);
  expect(await playground(page).getByRole('textbox', { name: 'Prompt', exact: true }).inputValue()).toMatch(/^Q: .*\nA:$/);
});

test('a debate that cannot fit the 2048-token context is refused before it starts, naming the knobs; agents sharing a model show queued', async ({ page }) => {
  await openApp(page);
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'debate', agents: 3, prompt: 'Lily found a ball. What color was the ball?', seed: 5, maxTokens: 1900 });
  await playground(page).getByRole('button', { name: 'Run', exact: true }).click();
  await expect(status(page)).toHaveText('error', { timeout: 60_000 });
  const message = await trace(page).getByRole('alert').first().innerText();
  expect(message).toMatch(/2048-token context/);
  expect(message).toMatch(/fewer agents \(now 3\), fewer rounds \(now 2; 1 = no revisions\), a smaller max tokens \(now 1900\)/);
  expect(message).not.toMatch(/increas/);
  await expect(trace(page).getByRole('article')).toHaveCount(0);

  // Three agents on one loaded model: while one streams, the others wait in its queue and say so.
  await page.evaluate(() => {
    const seen = new Set<string>();
    (window as unknown as { seenBadges: Set<string> }).seenBadges = seen;
    new MutationObserver(() => {
      for (const b of document.querySelectorAll('article.msg .badge')) seen.add(b.textContent?.trim() ?? '');
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await setupPlayground(page, { method: 'vote', agents: 3, prompt: 'Once upon a time', seed: 3, maxTokens: 48 });
  await playground(page).getByRole('button', { name: 'Run', exact: true }).click();
  await expect(status(page)).toHaveText('done', { timeout: 90_000 });
  expect(await page.evaluate(() => [...(window as unknown as { seenBadges: Set<string> }).seenBadges])).toContain('queued');
});

test('built-in cards show description, size and scores before Load; header and card word the software WebGPU adapter alike', async ({ page }) => {
  await openApp(page);
  await showTab(page, 'Models');
  const card = modelCard(page, 'arithmetic-specialist');
  await expect(card.getByRole('status', { name: 'arithmetic-specialist status' })).toHaveText('available');
  await expect(card).toContainText('A specialist fine-tuned on the arithmetic task');
  await expect(card).toContainText('1.19 MB');
  const scores = card.getByRole('table', { name: 'arithmetic-specialist scores' });
  await expect(scores).toContainText('arithmetic');
  await expect(scores).toContainText('72.7 [65.3, 79.3]');
  await expect(scores).toContainText('mixed');

  const header = page.getByLabel('Backend');
  await expect(header).not.toContainText('checking');
  const soft = (await header.innerText()).includes('software adapter');
  test.skip(!soft, 'this browser has a hardware WebGPU adapter; the software-adapter wording cannot be provoked');
  await expect(header).toContainText('WebGPU: software adapter (SwiftShader) — CPU used');
  await expect(header).not.toContainText('WebGPU ✓');
  const loaded = await loadModel(page, 'arithmetic-specialist');
  await expect(loaded.getByLabel('arithmetic-specialist backend')).toContainText('WebGPU: software adapter (SwiftShader) — CPU used');
});

test("the second pool's models are listed beside the first (public/models/index.json's pools), show their card, load from public/pool2 and answer", async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Models');
  const card = modelCard(page, 'facts-a');
  await expect(card.getByRole('status', { name: 'facts-a status' })).toHaveText('available');
  await expect(card).toContainText('A facts specialist');
  await expect(modelCard(page, 'arithmetic-specialist')).toBeVisible();
  for (const id of ['chat-base', 'sum-a', 'sum-b', 'facts-b', 'facts-c', 'pool2-merge']) await expect(modelCard(page, id)).toBeVisible();
  // ONNX exports ship for the first pool only: its cards offer them, the second pool's do not.
  await expect(modelCard(page, 'arithmetic-specialist').getByRole('button', { name: 'Load on ONNX (WebGPU)' })).toBeVisible();
  await expect(card.getByRole('button', { name: 'Load on ONNX (WebGPU)' })).toHaveCount(0);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await loadModel(page, 'facts-a');
  expect(requests.some((u) => u.endsWith('/pool2/models/facts-a.gguf'))).toBe(true);
  await setupPlayground(page, { method: 'vote', agents: 1, model: 'builtin:facts-a', prompt: 'Q: How old is Bejor?\nA:', maxTokens: 8 });
  await playground(page).getByRole('button', { name: 'Run', exact: true }).click();
  await expect(status(page)).toHaveText('done', { timeout: 60_000 });
  await expect(trace(page).getByRole('region', { name: 'Final answer' })).not.toBeEmpty();
  expect(errors).toEqual([]);
});
