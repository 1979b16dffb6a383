/**
 * Shared steps of the app's browser tests, written the way a person uses the app: through roles
 * and labels. The real model is read from ../shared/models (tests/support/paths.ts), never copied.
 */
import { expect, type Page, type Locator, type TestInfo } from '@playwright/test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storiesModel } from '../support/paths.ts';

export const STORIES_ID = 'file:stories260K.gguf';

/** Collects uncaught page errors; tests assert the list stays empty. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

export async function openApp(page: Page, path = './'): Promise<void> {
  await page.goto(path);
  await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
}

export async function showTab(page: Page, name: 'Models' | 'Playground' | 'Merge' | 'Experiments'): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await expect(page.getByRole('tab', { name })).toHaveAttribute('aria-selected', 'true');
}

/** The card of one model in the model manager. */
export function modelCard(page: Page, name: string): Locator {
  return page.getByRole('list', { name: 'Model list' }).getByRole('listitem', { name, exact: true });
}

/** Imports a file through the file picker and waits until the model manager lists it. */
export async function importFile(page: Page, path: string, name: string): Promise<Locator> {
  await showTab(page, 'Models');
  await page.getByLabel('Import GGUF file').setInputFiles(path);
  const card = modelCard(page, name);
  await expect(card).toBeVisible();
  return card;
}

export async function importStories(page: Page): Promise<Locator> {
  return importFile(page, storiesModel(), 'stories260K.gguf');
}

/** Loads a model from its card and waits for its worker to report idle. */
export async function loadModel(page: Page, name: string): Promise<Locator> {
  await showTab(page, 'Models');
  const card = modelCard(page, name);
  await card.getByRole('button', { name: /^(Load|Reload)$/ }).click();
  await expect(card.getByRole('status', { name: `${name} status` })).toHaveText('idle', { timeout: 60_000 });
  return card;
}

/** A fresh temp dir for files a test writes (broken models and the like). */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'chorus-e2e-'));
}

/** A copy of stories260K cut to `fraction` of its bytes: a truncated download. */
export function truncatedStories(dir: string, fraction = 0.5): string {
  const bytes = readFileSync(storiesModel());
  const path = join(dir, 'truncated-stories.gguf');
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  return path;
}

/** Random bytes with a .gguf name: not a GGUF at all. */
export function randomBytesFile(dir: string, size = 64 * 1024): string {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
  const path = join(dir, 'random-bytes.gguf');
  writeFileSync(path, bytes);
  return path;
}

/** The playground's tab panel: playground selectors are scoped to it (other views have their own "Method"). */
export function playground(page: Page): Locator {
  return page.getByRole('tabpanel', { name: 'Playground' });
}

/** Sets up the playground: method, agents (all on one model), prompt, seed, max tokens. */
export async function setupPlayground(
  page: Page,
  opts: { method: string; agents: number; model?: string; prompt: string; seed?: number; maxTokens?: number; temperature?: number },
): Promise<void> {
  await showTab(page, 'Playground');
  const pg = playground(page);
  const rows = pg.getByRole('row', { name: /^Agent \d+$/ });
  while ((await rows.count()) < opts.agents) await pg.getByRole('button', { name: 'Add agent' }).click();
  while ((await rows.count()) > opts.agents) await pg.getByRole('button', { name: `Remove agent ${await rows.count()}` }).click();
  for (let i = 1; i <= opts.agents; i++) {
    await pg.getByLabel(`Agent ${i} model`).selectOption(opts.model ?? STORIES_ID);
    if (opts.temperature !== undefined) await pg.getByLabel(`Agent ${i} temperature`).fill(String(opts.temperature));
    if (opts.temperature !== undefined) await pg.getByLabel(`Agent ${i} temperature`).dispatchEvent('change');
  }
  await pg.getByLabel('Method').selectOption(opts.method);
  await pg.getByRole('textbox', { name: 'Prompt', exact: true }).fill(opts.prompt);
  if (opts.seed !== undefined) {
    await pg.getByLabel('Seed').fill(String(opts.seed));
    await pg.getByLabel('Seed').dispatchEvent('change');
  }
  if (opts.maxTokens !== undefined) {
    await pg.getByLabel('Max tokens').fill(String(opts.maxTokens));
    await pg.getByLabel('Max tokens').dispatchEvent('change');
  }
}

export async function runAndWait(page: Page, timeout = 90_000): Promise<void> {
  await playground(page).getByRole('button', { name: 'Run', exact: true }).click();
  await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText(/^(done|error|cancelled)$/, { timeout });
}

/** The messages drawn in one agent's lane. */
export function laneMessages(page: Page, agentName: RegExp | string): Locator {
  return page.getByRole('region', { name: 'Trace' }).getByRole('group', { name: agentName }).getByRole('article');
}

export async function screenshot(page: Page, info: TestInfo, name: string): Promise<string> {
  const { mkdirSync } = await import('node:fs');
  const dir = join(process.cwd(), 'test-results', 'artifacts');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
  return path;
}

/**
 * How many models the Models tab lists, once the registry has filled the list (it loads the manifest
 * and storage asynchronously; counting at once can read 0 on a slow host). Waits for the first card,
 * then until the count holds still for 300 ms.
 */
export async function listedModels(page: Page): Promise<number> {
  const items = page.getByRole('list', { name: 'Model list' }).getByRole('listitem');
  await expect(items.first()).toBeVisible();
  let before = -1;
  let now = await items.count();
  while (now !== before) {
    before = now;
    await page.waitForTimeout(300);
    now = await items.count();
  }
  return now;
}
