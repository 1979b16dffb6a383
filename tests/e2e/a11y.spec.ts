/**
 * Accessibility: axe-core (@axe-core/playwright, WCAG 2.0/2.1 A and AA rules) on every tab of the
 * app in Chromium, first as a newcomer sees it (nothing loaded), then with stories260K loaded and a
 * debate run in the playground (trace, flow drawing, answers on screen). No serious or critical
 * violation is allowed; the failure message lists each rule, its impact and the offending nodes.
 */
import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { importStories, loadModel, openApp, runAndWait, setupPlayground, watchErrors } from './helpers.ts';

const TABS = ['Models', 'Playground', 'Experiments', 'Methods', 'Merge'] as const;

async function violations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

async function scanTabs(page: Page): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const name of TABS) {
    await page.getByRole('tab', { name }).click();
    await expect(page.getByRole('tab', { name })).toHaveAttribute('aria-selected', 'true');
    const v = await violations(page);
    if (v.length > 0) found[name] = v;
  }
  return found;
}

test('every tab has no serious or critical axe violation, empty and after a debate run', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = watchErrors(page);
  await openApp(page);
  expect(await scanTabs(page), 'on first open').toEqual({});
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'debate', agents: 2, model: 'stories260K.gguf', prompt: 'Once upon a time', maxTokens: 12 });
  await runAndWait(page);
  expect(await violations(page), 'playground after a debate').toEqual([]);
  expect(await scanTabs(page), 'with a model loaded').toEqual({});
  expect(errors).toEqual([]);
});
