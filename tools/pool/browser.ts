// Starts tools/serve.mjs on a staged harness directory and opens it in headless Chromium
// (playwright-core, the system /usr/bin/chromium). Returns { page, close }.
import { spawn } from 'node:child_process';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`harness server did not answer at ${url} within ${ms} ms`);
}

export async function openHarness(dir: string, port = Number(process.env.H6_PORT ?? 4185)): Promise<{ page: Page; close(): Promise<void> }> {
  const server = spawn(process.execPath, [resolve(root, 'tools/serve.mjs'), dir, '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}/`;
  await waitForServer(url, 15000);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking'] });
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { harness?: unknown }).harness !== undefined, null, { timeout: 30000 });
  return { page, async close() { await browser.close(); server.kill(); } };
}
