import { test, expect } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openApp, playground, showTab, watchErrors } from './helpers.ts';

// What a hostile (or just unlucky) model writes. It reaches the page through a real seam: an
// OpenAI-compatible server (started here) that the app streams from, exactly as it would from
// llama-server or vLLM. Nothing in the app is special-cased for the test.
const MALICIOUS = [
  'Sure! <img src=x onerror="window.__pwned=1;alert(1)"> then ',
  '<scr', 'ipt>window.__pwned=2;alert(2)</script> and ',
  '<svg onload="window.__pwned=3"></svg> ',
  '[click me](javascript:window.__pwned=4) ',
  '![pic](https://evil.example/x.png) ',
  '<a href="javascript:window.__pwned=5">x</a> <iframe src="javascript:window.__pwned=6"></iframe> **bold**',
];

async function evilServer(): Promise<{ base: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'content-type, authorization', 'Access-Control-Allow-Methods': 'POST, GET, OPTIONS' };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { ...cors, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const chunk = (c: object) => res.write(`data: ${JSON.stringify(c)}\n\n`);
    for (const piece of MALICIOUS) chunk({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: MALICIOUS.length } });
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/v1`, server, requests };
}

test('model output with <img onerror>, <script>, javascript: links is shown as text and nothing runs', async ({ page }) => {
  const evil = await evilServer();
  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  const errors = watchErrors(page);
  try {
    await openApp(page);
    await showTab(page, 'Models');
    const form = page.getByRole('region', { name: 'OpenAI-compatible endpoint' });
    await form.getByLabel('Base URL').fill(evil.base);
    await form.getByLabel('Model name').fill('evil-model');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(form.getByRole('status')).toContainText('Added evil-model');

    await showTab(page, 'Playground');
    const pg = playground(page);
    while ((await pg.getByRole('row', { name: /^Agent \d+$/ }).count()) > 1) await pg.getByRole('button', { name: /^Remove agent/ }).last().click();
    await pg.getByLabel('Method').selectOption('single');
    await pg.getByLabel('Agent 1 model').selectOption({ label: 'evil-model @ ' + new URL(evil.base).host });
    await pg.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Say something.');
    await pg.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(pg.getByRole('status', { name: 'Run status' })).toHaveText('done');
    expect(evil.requests).toContain('POST /v1/chat/completions');

    const trace = pg.getByRole('region', { name: 'Trace' });
    // As text: the markup is visible literally in the agent's lane.
    const msg = trace.getByRole('article').first();
    await expect(msg).toContainText('<img src=x onerror="window.__pwned=1;alert(1)">');
    await expect(msg).toContainText('<script>window.__pwned=2;alert(2)</script>');

    // As sanitised markdown: formatting survives, active content does not.
    await pg.getByLabel(/Render finished messages as markdown/).check();
    await expect(msg.locator('strong', { hasText: 'bold' })).toBeVisible();
    await expect(msg).toContainText('<img src=x');
    await expect(msg).toContainText('[image: pic]');

    const found = await page.evaluate(() => {
      const traceEl = document.querySelector('[aria-label="Trace"]')!;
      return {
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
        imgs: traceEl.querySelectorAll('img').length,
        scripts: document.querySelectorAll('script:not([src])').length + traceEl.querySelectorAll('script').length,
        // The app's own flow drawing is an SVG in the trace; any other SVG came from model output.
        svgs: [...traceEl.querySelectorAll('svg')].filter((el) => !el.closest('[data-testid="flow-drawing"]')).length,
        flowDrawings: traceEl.querySelectorAll('[data-testid="flow-drawing"] svg').length,
        iframes: document.querySelectorAll('iframe').length,
        jsLinks: document.querySelectorAll('a[href^="javascript" i]').length,
        handlers: [...traceEl.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
        evilImg: document.querySelectorAll('img[src="x"], img[src*="evil.example"]').length,
      };
    });
    expect(found).toEqual({ pwned: null, imgs: 0, scripts: 0, svgs: 0, flowDrawings: 1, iframes: 0, jsLinks: 0, handlers: 0, evilImg: 0 });
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    evil.server.closeAllConnections();
    evil.server.close();
  }
});

test('the CSP blocks inline script even if markup got into the page', async ({ page }) => {
  // Defence in depth: if a sanitiser bug ever let a <script> through, the policy (no 'unsafe-inline'
  // in script-src) still refuses to run it. Injected here by the test through the DOM, not the app.
  const violations: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await openApp(page);
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.append(s);
    const img = document.createElement('div');
    img.innerHTML = '<img src="data:," onerror="window.__inline = 2">';
    document.body.append(img);
    await new Promise((r) => setTimeout(r, 200));
    return (window as unknown as { __inline?: number }).__inline ?? null;
  });
  expect(ran).toBeNull();
  expect(violations.length).toBeGreaterThan(0);
});
