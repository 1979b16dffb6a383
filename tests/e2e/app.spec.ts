import { test, expect } from '@playwright/test';
import { openApp, watchErrors } from './helpers.ts';

test.describe('app shell', () => {
  test('loads cross-origin isolated with the strict CSP, and shows the backend', async ({ page }) => {
    const errors = watchErrors(page);
    const res = await page.goto('./');
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
    await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
    // The same policy is in the page itself, so any static host enforces it.
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).toContain("default-src 'self'");
    expect(meta).not.toContain("'unsafe-eval'");
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await expect(page.getByLabel('Backend')).toContainText('CPU wasm');
    await expect(page.getByLabel('Backend')).toContainText(/threads available/);
    await expect(page.getByLabel('Backend')).toContainText(/WebGPU/);
    expect(errors).toEqual([]);
  });

  test('a page load logs no console error or warning, and frame-ancestors is in the header only', async ({ page }) => {
    const logged: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') logged.push(`${m.type()}: ${m.text()}`);
    });
    const errors = watchErrors(page);
    const res = await page.goto('./');
    await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
    await page.evaluate(() => navigator.serviceWorker.ready);
    // A second load goes through the service worker, whose cached responses must behave the same.
    await page.reload();
    await expect(page.getByRole('heading', { name: 'Chorus', level: 1 })).toBeVisible();
    expect(logged).toEqual([]);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).not.toContain('frame-ancestors');
    expect(errors).toEqual([]);
  });

  test('browser support (Chromium): isolated, SharedArrayBuffer, OPFS, JSPI and memory64 (what the default wllama build needs)', async ({ page }) => {
    await openApp(page);
    const f = await page.evaluate(async () => {
      let memory64 = false;
      try {
        new WebAssembly.Memory({ address: 'i64', initial: 1n } as unknown as WebAssembly.MemoryDescriptor);
        memory64 = true;
      } catch { /* no memory64 */ }
      return {
        crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer === 'function', jspi: 'Suspending' in WebAssembly, memory64,
        opfs: await navigator.storage.getDirectory().then(() => true, () => false), webgpu: 'gpu' in navigator,
      };
    });
    expect(f).toEqual({ crossOriginIsolated: true, sharedArrayBuffer: true, jspi: true, memory64: true, opfs: true, webgpu: true });
  });

  test('tabs work from the keyboard and only working views are offered', async ({ page }) => {
    await openApp(page);
    const tabs = page.getByRole('tab');
    const names = await tabs.allTextContents();
    expect(names.slice(0, 2)).toEqual(['Models', 'Playground']);
    await page.getByRole('tab', { name: 'Models' }).focus();
    await page.keyboard.press('ArrowRight');
    await expect(page.getByRole('tab', { name: 'Playground' })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByRole('tab', { name: 'Playground' })).toBeFocused();
    await expect(page.getByRole('tabpanel', { name: 'Playground' })).toBeVisible();
    await expect(page.getByRole('tabpanel', { name: 'Models' })).toBeHidden();
    await page.keyboard.press('Home');
    await expect(page.getByRole('tab', { name: 'Models' })).toHaveAttribute('aria-selected', 'true');
    // The playground lists every registered method; knobs come from the method's metadata.
    await page.getByRole('tab', { name: 'Playground' }).click();
    const methods = await page.getByRole('tabpanel', { name: 'Playground' }).getByLabel('Method').locator('option').allTextContents();
    expect(methods.join(' ')).toMatch(/vote/i);
    expect(methods.join(' ')).toMatch(/debate/i);
    await page.getByRole('tabpanel', { name: 'Playground' }).getByLabel('Method').selectOption('debate');
    await expect(page.getByRole('tabpanel', { name: 'Playground' }).getByLabel(/rounds/i).first()).toBeVisible();
  });

  test('is an installable PWA: manifest and an active service worker', async ({ page }) => {
    await openApp(page);
    const manifest = await (await page.request.get('./manifest.webmanifest')).json();
    expect(manifest).toMatchObject({ display: 'standalone', start_url: './' });
    expect(manifest.icons.length).toBeGreaterThan(0);
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope).toMatch(/\/$/);
    // Chromium's own installability check (the one behind its "Install app" button) finds nothing missing.
    const cdp = await page.context().newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    // "in-incognito" is the test browser's context (Playwright contexts are off-the-record), not the app.
    expect(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);
  });
});

test('running without any model explains what to do instead of failing silently', async ({ page }) => {
  // The built-in pool would give every agent a model; a host that serves no pool manifest leaves none.
  await page.route('**/models/index.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await openApp(page);
  await page.getByRole('tab', { name: 'Playground' }).click();
  const pg = page.getByRole('tabpanel', { name: 'Playground' });
  await expect(pg.getByText(/No models yet/)).toBeVisible();
  await pg.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(pg.getByRole('status', { name: 'Run status' })).toHaveText('error');
  await expect(pg.getByRole('region', { name: 'Trace' }).getByRole('alert')).toContainText(/choose a model for every agent|import one/);
});
