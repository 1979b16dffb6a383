import { test, expect, type Page } from '@playwright/test';
import { playground, importStories, laneMessages, loadModel, modelCard, openApp, runAndWait, screenshot, setupPlayground, showTab, STORIES_ID, watchErrors } from './helpers.ts';

async function ready(page: Page): Promise<string[]> {
  const errors = watchErrors(page);
  await openApp(page);
  await importStories(page);
  await loadModel(page, 'stories260K.gguf');
  return errors;
}

const trace = (page: Page) => playground(page).getByRole('region', { name: 'Trace' });

test.describe('playground with the real model', () => {
  test('one agent generates text, streamed into its lane, with usage', async ({ page }) => {
    const errors = await ready(page);
    await setupPlayground(page, { method: 'single', agents: 1, prompt: 'Once upon a time', seed: 7, maxTokens: 40, temperature: 0 });
    await runAndWait(page);
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
    const msgs = laneMessages(page, /^Agent 1 .* lane$/);
    await expect(msgs).toHaveCount(1);
    const text = (await msgs.first().locator('pre').innerText()).trim();
    expect(text.length).toBeGreaterThan(20);
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toBeVisible();
    await expect(trace(page).getByLabel('Usage')).toContainText(/1 call · \d+ prompt \+ \d+ completion tokens · [\d.]+ s/);
    // Greedy decoding is deterministic: the same setup gives the same text (run again from the keyboard).
    const firstRun = await trace(page).getAttribute('data-run-id');
    await playground(page).getByRole('textbox', { name: 'Prompt', exact: true }).focus();
    await page.keyboard.press('Control+Enter');
    await expect(trace(page)).not.toHaveAttribute('data-run-id', firstRun ?? '');
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
    expect((await laneMessages(page, /^Agent 1 .* lane$/).first().locator('pre').innerText()).trim()).toBe(text);
    expect(errors).toEqual([]);
  });

  test('vote with three agents sharing one model: every agent answers, the tally states its tie rule', async ({ page }) => {
    await ready(page);
    await setupPlayground(page, { method: 'vote', agents: 3, prompt: 'Tom had 2 apples. How many apples?', seed: 11, maxTokens: 24 });
    await runAndWait(page);
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
    for (const i of [1, 2, 3]) {
      const msgs = laneMessages(page, new RegExp(`^Agent ${i} .* lane$`));
      expect(await msgs.count()).toBeGreaterThanOrEqual(1);
      await expect(msgs.first()).not.toHaveAttribute('aria-busy', 'true');
      expect((await msgs.first().locator('pre').innerText()).trim().length).toBeGreaterThan(0);
    }
    const vote = trace(page).getByRole('group', { name: /^Vote/ });
    await expect(vote).toBeVisible();
    await expect(vote).toContainText('Tie rule:');
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toBeVisible();
    // Same seed, same run: sampled (temperature 0.7) yet identical when run again.
    const first = await trace(page).getByRole('article').locator('pre').allInnerTexts();
    const answer = await trace(page).getByRole('region', { name: 'Final answer' }).innerText();
    await runAndWait(page);
    expect(await trace(page).getByRole('article').locator('pre').allInnerTexts()).toEqual(first);
    expect(await trace(page).getByRole('region', { name: 'Final answer' }).innerText()).toBe(answer);
    // All three agents ran on ONE loaded model: the model manager lists one loaded stories260K,
    // which loaded more instances of itself so the three agents ran at once (parallel agents).
    await showTab(page, 'Models');
    await expect(modelCard(page, 'stories260K.gguf').getByRole('status')).toHaveText('idle');
    await expect(modelCard(page, 'stories260K.gguf').getByLabel('stories260K.gguf instances')).toHaveText('3 instances');
  });

  test('debate with three agents: rounds, every agent in every round, final answer; screenshot saved', async ({ page }, info) => {
    await ready(page);
    await setupPlayground(page, { method: 'debate', agents: 3, prompt: 'Lily found a ball. What color was the ball?', seed: 5, maxTokens: 24 });
    await playground(page).getByLabel(/rounds/i).first().fill('2');
    await playground(page).getByLabel(/rounds/i).first().dispatchEvent('change');
    await runAndWait(page, 120_000);
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
    const rounds = trace(page).getByRole('region', { name: /round/i });
    expect(await rounds.count()).toBeGreaterThanOrEqual(2);
    for (const i of [1, 2, 3]) {
      // Each agent speaks once per round (at least two rounds).
      expect(await laneMessages(page, new RegExp(`^Agent ${i} .* lane$`)).count()).toBeGreaterThanOrEqual(2);
    }
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toBeVisible();
    await screenshot(page, info, 'playground-debate.png');
    // The exported trace is the very event stream the view drew: every agent speaks in every round.
    const [download] = await Promise.all([page.waitForEvent('download'), playground(page).getByRole('button', { name: 'Export trace' }).click()]);
    const { readFileSync } = await import('node:fs');
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { setup: string; events: { type: string; agent?: string; round?: number; strategy?: string }[] };
    expect(exported.setup).toContain('m=debate');
    expect(exported.events[0]).toMatchObject({ type: 'run-start', strategy: 'debate' });
    const spoke = exported.events.filter((e) => e.type === 'message-start').map((e) => `${e.agent}@${e.round}`);
    for (const a of ['a1', 'a2', 'a3']) for (const r of [1, 2]) expect(spoke).toContain(`${a}@${r}`);
    expect(exported.events.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
  });

  test('cascade: the deferral decision is drawn with the confidence that drove it against the threshold', async ({ page }) => {
    await ready(page);
    await setupPlayground(page, { method: 'cascade', agents: 2, prompt: 'Once upon a time', seed: 9, maxTokens: 16 });
    // A threshold no tiny model reaches: the first tier must defer to the second.
    await playground(page).getByLabel('Confidence threshold').fill('0.99');
    await playground(page).getByLabel('Confidence threshold').dispatchEvent('change');
    await runAndWait(page);
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
    const route = trace(page).getByRole('group', { name: 'Route decision' }).first();
    await expect(route).toContainText('defer');
    await expect(route).toContainText(/confidence 0\.\d{3} vs threshold 0\.99/);
    await expect(laneMessages(page, /^Agent 2 .* lane$/)).toHaveCount(1);
    // Tokens carry their probability: hovering shows it with the alternatives.
    const tok = trace(page).locator('.tok').first();
    await expect(tok).toHaveAttribute('title', /^p = \d+\.\d%/);
  });

  test('cancel mid-generation stops every worker: all agents end, the model goes idle', async ({ page }) => {
    await ready(page);
    await setupPlayground(page, { method: 'vote', agents: 3, prompt: 'Once upon a time', seed: 3, maxTokens: 400 });
    await playground(page).getByRole('button', { name: 'Run', exact: true }).click();
    // Wait until tokens are streaming, then cancel with Esc (the keyboard shortcut).
    await expect(trace(page).getByRole('article').first()).toHaveAttribute('aria-busy', 'true');
    await expect(page.getByRole('status', { name: 'stories260K.gguf status' }).first()).toHaveText(/busy/);
    await page.keyboard.press('Escape');
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('cancelled', { timeout: 5_000 });
    await expect(page.getByRole('status', { name: 'stories260K.gguf status' }).first()).toHaveText('idle', { timeout: 5_000 });
    await expect(trace(page).locator('article[aria-busy="true"]')).toHaveCount(0);
    // Cut messages are marked as such and the engine is still usable afterwards.
    await setupPlayground(page, { method: 'single', agents: 1, prompt: 'Once upon a time', maxTokens: 8 });
    await runAndWait(page);
    await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
  });

  test('the whole setup is in the URL; opening the link restores it', async ({ page }) => {
    await ready(page);
    await setupPlayground(page, { method: 'debate', agents: 2, prompt: 'What is 2+2?', seed: 1234, maxTokens: 17, temperature: 0.3 });
    await playground(page).getByLabel('Agent 2 system prompt').fill('Be brief.');
    await playground(page).getByLabel('Agent 2 system prompt').dispatchEvent('change');
    const url = page.url();
    expect(url).toContain('m=debate');
    expect(url).toContain('s=1234');
    await page.goto('about:blank');
    await page.goto(url);
    await expect(page.getByRole('tab', { name: 'Playground' })).toHaveAttribute('aria-selected', 'true');
    await expect(playground(page).getByLabel('Method')).toHaveValue('debate');
    await expect(playground(page).getByRole('row', { name: /^Agent \d+$/ })).toHaveCount(2);
    await expect(playground(page).getByLabel('Agent 2 system prompt')).toHaveValue('Be brief.');
    await expect(playground(page).getByLabel('Agent 1 temperature')).toHaveValue('0.3');
    await expect(playground(page).getByLabel('Seed')).toHaveValue('1234');
    await expect(playground(page).getByLabel('Max tokens')).toHaveValue('17');
    await expect(playground(page).getByRole('textbox', { name: 'Prompt', exact: true })).toHaveValue('What is 2+2?');
    await expect(playground(page).getByLabel('Agent 1 model')).toHaveValue(STORIES_ID);
  });

  test('a link pasted into an open tab (hash change) replaces the setup', async ({ page }) => {
    await openApp(page);
    await page.evaluate(() => { location.hash = '#v=1&m=cascade&a=x@0.2&a=y@0.4&s=77&n=9&p=Hello+there'; });
    await expect(page.getByRole('tab', { name: 'Playground' })).toHaveAttribute('aria-selected', 'true');
    await expect(playground(page).getByLabel('Method')).toHaveValue('cascade');
    await expect(playground(page).getByLabel('Seed')).toHaveValue('77');
    await expect(playground(page).getByRole('textbox', { name: 'Prompt', exact: true })).toHaveValue('Hello there');
    await expect(playground(page).getByLabel('Agent 2 temperature')).toHaveValue('0.4');
  });

  test('a link naming a model this browser lacks says so and offers the import', async ({ page }) => {
    await openApp(page, './#v=1&m=single&a=file:not-here.gguf@0.5&s=1&n=8&p=hi');
    const alert = page.getByRole('alert', { name: 'Missing models' });
    await expect(alert).toContainText('file:not-here.gguf');
    await alert.getByRole('button', { name: 'Import in the Models tab' }).click();
    await expect(page.getByRole('tab', { name: 'Models' })).toHaveAttribute('aria-selected', 'true');
  });
});
