import { test, expect } from '@playwright/test';
import { importStories, loadModel, modelCard, openApp, playground, runAndWait, setupPlayground, showTab, watchErrors } from './helpers.ts';

test('after one visit the app loads with the network off, and a model from OPFS loads and generates', async ({ page, context }) => {
  const errors = watchErrors(page);
  await openApp(page);
  // The service worker has precached the build (shell, bundles, wllama's wasm, the worker chunk).
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((r) => navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true }));
    }
  });
  const cached = await page.evaluate(async () => {
    const keys = await caches.keys();
    const cache = await caches.open(keys.find((k) => k.startsWith('chorus-'))!);
    return (await cache.keys()).map((r) => new URL(r.url).pathname);
  });
  expect(cached.some((p) => p.endsWith('.wasm'))).toBe(true);
  expect(cached.some((p) => /engine\.worker.*\.js$/.test(p))).toBe(true);
  expect(cached).toContain('/');

  await importStories(page);

  await context.setOffline(true);
  // Prove the network really is off for this page: a fresh request for an uncached path fails.
  expect(await page.evaluate(() => fetch('/not-cached-' + Date.now() + '.txt').then(() => 'online', () => 'offline'))).toBe('offline');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

  await showTab(page, 'Models');
  await expect(modelCard(page, 'stories260K.gguf').getByRole('status')).toHaveText('stored');
  await loadModel(page, 'stories260K.gguf');
  await setupPlayground(page, { method: 'single', agents: 1, prompt: 'Once upon a time', maxTokens: 16, temperature: 0 });
  await runAndWait(page);
  await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
  const text = await playground(page).getByRole('region', { name: 'Trace' }).getByRole('article').first().locator('pre').innerText();
  expect(text.trim().length).toBeGreaterThan(5);
  await context.setOffline(false);
  expect(errors).toEqual([]);
});
