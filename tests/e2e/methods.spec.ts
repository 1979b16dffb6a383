/**
 * The methods page and the message-flow drawing (issue 13), in Chromium with the built-in pool and
 * the real stories260K: every registered method is listed with its level and cost; debate's
 * drawing, from a dry run of its real code on scripted answers, has N × R nodes and the who-sees-
 * what edges; "Try it" opens the playground with the method set; a real debate lights the live
 * drawing's nodes as they stream. The accessibility checks here are explicit — names, roles, the
 * hidden edge list, keyboard tabs, safe paper links; axe's rules run on every tab in a11y.spec.ts.
 */
import { test, expect, type Page } from '@playwright/test';
import { importStories, loadModel, openApp, playground, runAndWait, setupPlayground, watchErrors } from './helpers.ts';
import { strategies } from '../../src/lib/strategies/registry.ts';

const methodsTab = (page: Page) => page.getByRole('tabpanel', { name: 'Methods' });
const card = (page: Page, id: string) => methodsTab(page).locator(`article[data-method="${id}"]`);

async function openMethods(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Methods' }).click();
  await expect(page.getByRole('tab', { name: 'Methods' })).toHaveAttribute('aria-selected', 'true');
}

test('the methods page lists every registered method with its level, paper and cost; weight level lists the merge methods', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await openMethods(page);
  for (const { meta } of strategies) {
    const c = card(page, meta.id);
    await expect(c.getByRole('heading', { name: meta.name, level: 4 })).toBeVisible();
    await expect(c.getByTestId('level')).toHaveText(meta.level);
    await expect(methodsTab(page).locator(`section[data-level="${meta.level}"] article[data-method="${meta.id}"]`)).toHaveCount(1);
    await expect(c.getByTestId('cost')).toContainText(meta.cost!.formula);
    await expect(c.getByTestId('cost')).toContainText(meta.cost!.perToken ? /With the default knobs and N = \d+: (at most )?\d+ steps? per token/ : /With the default knobs and N = \d+: (at most )?\d+ calls?/);
    const paper = c.getByRole('link', { name: new RegExp(meta.paper.title.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
    await expect(paper).toHaveAttribute('href', meta.paper.url);
    await expect(paper).toHaveAttribute('rel', 'noopener noreferrer');
    await expect(paper).toHaveAttribute('target', '_blank');
  }
  // Debate at N = 3 with 2 rounds by vote: 6 calls, stated before any run.
  await expect(card(page, 'debate').getByTestId('cost')).toContainText('N = 3: 6 calls');
  await expect(card(page, 'cascade').getByTestId('cost')).toContainText('N = 3: at most 3 calls');
  await expect(methodsTab(page).locator('section[data-level="weight"] li[data-merge-method]')).not.toHaveCount(0);
  if (!strategies.some((s) => s.meta.level === 'logit')) await expect(methodsTab(page).locator('section[data-level="logit"]')).toContainText('None yet.');
  expect(errors).toEqual([]);
});

test('debate’s drawing comes from a dry run: 3 × 2 message nodes, each revision sees all 3 first answers, a vote and the final; accessible', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await openMethods(page);
  const c = card(page, 'debate');
  // Drawn lazily: nothing until the reader opens it.
  await expect(c.locator('svg')).toHaveCount(0);
  await c.getByText('Message flow', { exact: true }).click();
  const svg = c.getByRole('img', { name: /^Message flow: 6 messages from 3 agents in 2 rounds, 9 shown-answer links, a vote, a final answer$/ });
  await expect(svg).toBeVisible();
  await expect(c.locator('figcaption')).toContainText('Drawn from a dry run with scripted answers — no model is called');
  await expect(svg.locator('g[data-kind="message"]')).toHaveCount(6);
  for (const to of ['a1.r2.s0', 'a2.r2.s0', 'a3.r2.s0']) {
    const from = await svg.locator(`path[data-kind="sees"][data-to="${to}"]`).evaluateAll((ps) => ps.map((p) => p.getAttribute('data-from')).sort());
    expect(from).toEqual(['a1.r1.s0', 'a2.r1.s0', 'a3.r1.s0']);
  }
  await expect(svg.locator('path[data-kind="ballot"][data-to="vote.r2"]')).toHaveCount(3);
  await expect(svg.locator('path[data-kind="final"][data-from="vote.r2"]')).toHaveCount(1);
  await expect(svg.locator('g[data-msg-id]')).toHaveCount(8);
  expect(await svg.locator('g[data-msg-id]').evaluateAll((gs) => gs.every((g) => g.getAttribute('data-state') === 'done'))).toBe(true);
  // Screen readers get every edge in words.
  const edges = c.getByRole('list', { name: 'Who sees what' }).getByRole('listitem');
  await expect(edges).toHaveCount(13);
  await expect(edges.first()).toHaveText(/Agent 1, round 2 revision is shown Agent 1, round 1 answer/);
  // The tabs stay keyboard-accessible with the new tab: ArrowLeft from Methods selects Experiments.
  await page.getByRole('tab', { name: 'Methods' }).focus();
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByRole('tab', { name: 'Experiments' })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('End');
  await expect(page.getByRole('tab', { name: 'Methods' })).toHaveAttribute('aria-selected', 'true');
  expect(errors).toEqual([]);
});

test('Try it opens the playground with the method set, on the built-in pool and an arithmetic item', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await openMethods(page);
  await card(page, 'debate').getByRole('button', { name: 'Try it' }).click();
  await expect(page.getByRole('tab', { name: 'Playground' })).toHaveAttribute('aria-selected', 'true');
  const pg = playground(page);
  await expect(pg.getByLabel('Method')).toHaveValue('debate');
  await expect(pg.getByLabel('Agent 1 model')).toHaveValue('builtin:generalist');
  await expect(pg.getByLabel('Agent 2 model')).toHaveValue('builtin:arithmetic-specialist');
  await expect(pg.getByLabel('Agent 3 model')).toHaveValue('builtin:generalist');
  await expect(pg.getByLabel('Reference answer')).toContainText('arithmetic-dev-1');
  await expect(pg.getByLabel('Cost')).toContainText('6 calls');
  expect(page.url()).toContain('m=debate');
  expect(errors).toEqual([]);
});

test('a real debate on stories260K lights the live drawing: nodes go pending → active → done as messages stream', async ({ page }) => {
  const errors = watchErrors(page);
  await openApp(page);
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'debate', agents: 3, prompt: 'Lily found a ball. What color was the ball?', seed: 5, maxTokens: 24 });
  // Record every state any node of the live drawing shows, as the DOM changes.
  await page.evaluate(() => {
    const seen = new Set<string>();
    (window as unknown as { flowStates: Set<string> }).flowStates = seen;
    new MutationObserver(() => {
      for (const g of document.querySelectorAll('#panel-playground g[data-msg-id]')) seen.add(`${g.getAttribute('data-kind')}:${g.getAttribute('data-state')}`);
    }).observe(document.getElementById('panel-playground')!, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
  await runAndWait(page, 120_000);
  await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
  const svg = playground(page).getByRole('region', { name: 'Trace' }).getByRole('img', { name: /^Message flow: 6 messages from 3 agents in 2 rounds, 9 shown-answer links/ });
  await expect(svg).toBeVisible();
  expect(await svg.locator('g[data-kind="message"]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')))).toEqual(Array(6).fill('done'));
  await expect(svg.locator('path[data-kind="sees"][data-lit="true"]')).toHaveCount(9);
  const states = await page.evaluate(() => [...(window as unknown as { flowStates: Set<string> }).flowStates].sort());
  expect(states).toEqual(expect.arrayContaining(['message:active', 'message:done']));
  // The drawing is collapsible.
  await playground(page).locator('summary', { hasText: 'Message flow' }).click();
  await expect(svg).toBeHidden();
  expect(errors).toEqual([]);
});
