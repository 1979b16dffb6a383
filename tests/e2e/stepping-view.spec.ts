/**
 * The per-token view in the built app: a token-level and a logit-level method run in the
 * playground on stories260K (wllama in its engine worker, a replica set shared by both agents),
 * set up by a link; the trace shows one table row per written token with each agent's
 * candidates, who wrote it and why, and the final answer is the rows' tokens.
 */
import { test, expect, type Page } from '@playwright/test';
import { encodeSetup } from '../../src/lib/settings/url.ts';
import { defaultSetup, withMethod } from '../../src/lib/settings/schema.ts';
import { STORIES_ID, importStories, openApp, watchErrors } from './helpers.ts';

function link(method: string, knobs: Record<string, string | number>): string {
  const setup = withMethod(defaultSetup(STORIES_ID), method);
  setup.agents = [setup.agents[0]!, { ...setup.agents[0]! }];
  Object.assign(setup.knobs, knobs);
  setup.prompt = 'Once upon a time, there was a little dog named';
  setup.seed = 1;
  setup.maxTokens = 12;
  return encodeSetup(setup);
}

async function run(page: Page, query: string): Promise<void> {
  await page.goto(`./#${query}`);
  await page.reload();
  await page.getByRole('tab', { name: 'Playground' }).click();
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done', { timeout: 90_000 });
}

test.describe('per-token view (stories260K)', () => {
  let errors: string[] = [];
  test.beforeEach(async ({ page }) => {
    errors = watchErrors(page);
    await openApp(page);
    await importStories(page);
  });
  test.afterEach(() => {
    expect(errors).toEqual([]);
  });

  for (const [method, knobs, by] of [
    ['nudging', { gamma: 1 }, /nudging model writes|continues its word/],
    ['fusion', { mode: 'prob' }, /highest weighted mean probability/],
  ] as const) {
    test(`${method}: one row per token with both agents' candidates, the writer and the reason; the answer is the tokens`, async ({ page }) => {
      await run(page, link(method, knobs));
      const table = page.getByRole('table', { name: 'Per-token view' });
      const rows = table.locator('tbody tr');
      await expect(rows).toHaveCount(12);
      await expect(table.locator('thead th')).toHaveText(['#', 'token', 'written by', /Agent 1/, /Agent 2/, 'combined', 'why']);
      for (let i = 0; i < 12; i++) {
        const cells = rows.nth(i).locator('td');
        await expect(cells.nth(0)).toHaveText(String(i + 1));
        await expect(cells.nth(6)).toContainText(by);
        // Agent 2's candidates are listed with probabilities.
        await expect(cells.nth(4).locator('li').first()).toHaveText(/\d\.\d{3}$/);
      }
      const tokens = (await rows.locator('td:nth-child(2) code').allInnerTexts()).join('').replaceAll('·', ' ').replaceAll('⏎', '\n');
      // The final answer's full text (shown under the extracted answer) is the rows' tokens.
      const final = await page.getByRole('region', { name: 'Final answer' }).locator('pre').innerText();
      expect(tokens.trim().length).toBeGreaterThan(0);
      expect(final.trim()).toBe(tokens.trim());
      if (method === 'fusion') await expect(rows.first().locator('td').nth(5)).toContainText('fused probability');
    });
  }
});
