/**
 * Every method on the real model in the built app: stories260K (wllama, in its engine worker)
 * shared by the agents, the setup given as a link made with encodeSetup (so the URL format is
 * exercised in the browser too), the trace read from the playground. Same seed → same run is
 * checked at temperature > 0, where it is not trivially true.
 */
import { test, expect, type Page } from '@playwright/test';
import { encodeSetup } from '../../src/lib/settings/url.ts';
import { defaultSetup, withMethod, type Setup } from '../../src/lib/settings/schema.ts';
import { STORIES_ID, importStories, openApp, watchErrors } from './helpers.ts';

function link(method: string, agents: number, knobs: Record<string, string | number>, patch: Partial<Setup> = {}): string {
  const setup = withMethod(defaultSetup(STORIES_ID), method);
  setup.agents = setup.agents.slice(0, 1);
  while (setup.agents.length < agents) setup.agents.push({ ...setup.agents[0]! });
  Object.assign(setup.knobs, knobs);
  setup.prompt = 'Once upon a time, there was a little dog named';
  setup.seed = 1234;
  setup.maxTokens = 24;
  return encodeSetup({ ...setup, ...patch });
}

/** Opens the app on a setup link (reloading so the playground reads the hash) and runs it. */
async function runLink(page: Page, query: string): Promise<void> {
  await page.goto(`./#${query}`);
  await page.reload();
  await page.getByRole('tab', { name: 'Playground' }).click();
  await expect(page.getByRole('region', { name: 'Setup' }).getByRole('combobox', { name: 'Method', exact: true })).toHaveValue(new URLSearchParams(query).get('m')!);
  await runAgain(page);
}

async function runAgain(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.getByRole('status', { name: 'Run status' })).toHaveText(/^(done|error|cancelled)$/, { timeout: 90_000 });
}

const trace = (page: Page) => page.getByRole('region', { name: 'Trace' });

/** Every message's text in trace order, and the final answer: a fingerprint of the run. */
async function fingerprint(page: Page): Promise<string[]> {
  // The message bodies (not their headers, which carry timings).
  const messages = await trace(page).getByRole('article').locator('.body').allInnerTexts();
  const final = await trace(page).getByRole('region', { name: 'Final answer' }).innerText();
  return [...messages, final];
}

test.describe('methods on the real model (stories260K)', () => {
  let errors: string[] = [];
  test.beforeEach(async ({ page }) => {
    errors = watchErrors(page);
    await openApp(page);
    await importStories(page);
  });
  test.afterEach(() => {
    expect(errors).toEqual([]);
  });

  test('single: one agent answers, the final answer is its text', async ({ page }) => {
    await runLink(page, link('single', 2, { agent: 2, answerType: 'text' }));
    await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done');
    await expect(trace(page).getByRole('article')).toHaveCount(1);
    await expect(trace(page).getByRole('group', { name: /Agent 2 .*lane/ }).getByRole('article')).toHaveCount(1);
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toContainText('from Agent 2');
    await expect(trace(page).getByLabel('Usage')).toContainText(/^1 calls? /);
  });

  test('vote: three agents sharing one model each answer, the tally and tie rule are shown', async ({ page }) => {
    await runLink(page, link('vote', 3, { samples: 1, answerType: 'text' }));
    await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done');
    for (const n of [1, 2, 3]) await expect(trace(page).getByRole('group', { name: new RegExp(`Agent ${n} .*lane`) }).getByRole('article')).toHaveCount(1);
    const vote = trace(page).getByRole('group', { name: 'Vote, round 1' });
    await expect(vote).toBeVisible();
    await expect(vote).toContainText('Tie rule: most votes; ties → highest summed mean token probability');
    await expect(trace(page).getByLabel('Usage')).toContainText(/^3 calls /);
  });

  test('cascade: each deferral shows the mean token probability against the threshold', async ({ page }) => {
    // Threshold 1: no answer is that sure, so agents 1 and 2 defer and agent 3 is accepted as the last.
    await runLink(page, link('cascade', 3, { threshold: 1 }));
    await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done');
    const routes = trace(page).getByRole('group', { name: 'Route decision' });
    await expect(routes).toHaveCount(3);
    await expect(routes.nth(0)).toContainText(/defer.*confidence 0\.\d{3}\s*vs threshold 1.*mean token probability 0\.\d{3} < threshold 1: defer to the next agent/s);
    await expect(routes.nth(2)).toContainText(/accept.*last agent: accept its answer/s);
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toContainText('from Agent 3');
    // Threshold 0: the first agent is accepted at once; one call only.
    await runLink(page, link('cascade', 3, { threshold: 0 }));
    await expect(routes).toHaveCount(1);
    await expect(routes.first()).toContainText(/accept.*≥ threshold 0: accept/s);
    await expect(trace(page).getByLabel('Usage')).toContainText(/^1 calls? /);
  });

  test('debate with a judge: rounds of revisions, then the judge agent decides', async ({ page }) => {
    await runLink(page, link('debate', 3, { rounds: 2, final: 'judge', judge: 2 }));
    await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done');
    await expect(trace(page).getByRole('region', { name: 'Round 1: answers' }).getByRole('article')).toHaveCount(3);
    await expect(trace(page).getByRole('region', { name: 'Round 2: revisions' }).getByRole('article')).toHaveCount(3);
    await expect(trace(page).getByRole('region', { name: /^Judge: Agent 2/ }).getByRole('article')).toHaveCount(1);
    await expect(trace(page).getByRole('region', { name: 'Final answer' })).toContainText('from Agent 2');
    await expect(trace(page).getByLabel('Usage')).toContainText(/^7 calls /);
  });

  test('same seed → same run at temperature 0.9; another seed → another run', async ({ page }) => {
    const hot = (seed: number) => {
      const q = link('debate', 3, { rounds: 2 }, { seed });
      return q.replace(/a=([^&]*)@0\.7/g, 'a=$1@0.9');
    };
    await runLink(page, hot(99));
    await expect(page.getByRole('status', { name: 'Run status' })).toHaveText('done');
    const first = await fingerprint(page);
    expect(first).toHaveLength(7);
    await runAgain(page);
    expect(await fingerprint(page)).toEqual(first);
    await runLink(page, hot(100));
    expect(await fingerprint(page)).not.toEqual(first);
  });
});
