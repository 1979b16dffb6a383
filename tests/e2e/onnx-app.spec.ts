/**
 * The ONNX engine in the app: a built-in model loaded with *Load on ONNX (WebGPU)* runs on
 * onnxruntime-web's WebGPU provider (the card says so, naming the software adapter), and the
 * first-visit cascade then runs with the generalist on it (its confidence from the engine's own
 * log-probabilities) and reaches the same decisions and answer as on wllama (first-minutes.spec.ts).
 */
import { test, expect } from '@playwright/test';
import { modelCard, openApp, playground, showTab, watchErrors } from './helpers.ts';

test('Load on ONNX (WebGPU): the card shows the provider; the starter cascade defers from the generalist on ONNX and accepts the specialist\'s 115', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Models');
  const card = modelCard(page, 'generalist');
  await card.getByRole('button', { name: 'Load on ONNX (WebGPU)' }).click();
  await expect(card.getByRole('status', { name: 'generalist status' })).toHaveText('idle', { timeout: 120_000 });
  await expect(card.getByLabel('generalist backend')).toHaveText(/^WebGPU · onnxruntime-web \(.+\)$/);

  await showTab(page, 'Playground');
  const pg = playground(page);
  await expect(pg.getByLabel('Agent 1 model')).toHaveValue('builtin:generalist');
  await pg.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(pg.getByRole('status', { name: 'Run status' })).toHaveText('done', { timeout: 240_000 });
  const trace = pg.getByRole('region', { name: 'Trace' });
  const routes = trace.getByRole('group', { name: 'Route decision' });
  await expect(routes.nth(0)).toContainText('defer Agent 1 · generalist → Agent 2 · arithmetic-specialist');
  await expect(routes.nth(1)).toContainText('accept Agent 2 · arithmetic-specialist');
  await expect(trace.getByRole('region', { name: 'Final answer' })).toContainText('115');
  // Still the ONNX engine: the run reused the loaded model.
  await showTab(page, 'Models');
  await expect(modelCard(page, 'generalist').getByLabel('generalist backend')).toContainText('onnxruntime-web');
  expect(errors).toEqual([]);
});
