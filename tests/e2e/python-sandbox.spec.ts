// The browser's Python sandbox on the built app under its CSP: Pyodide from the app's own origin
// (dist/pyodide, nothing from a CDN), one module Worker per program (src/app/python-sandbox.ts and
// src/lib/eval/python.ts, served to the page as written), scoring MoCo-shaped coding items; an endless
// loop is stopped at the limit, and Python reaches neither host files, processes, the network nor
// the page.
import { test, expect, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../support/paths.ts';

// The app registers a service worker; requests it makes itself would bypass page.route.
test.use({ serviceWorkers: 'block' });
// One page and one sandbox for all tests: its next Worker boots while a test runs.
test.describe.configure({ mode: 'serial', timeout: 300_000 });

const ITEM = { test: 'def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n', language: 'python' };
let server: Server;
let hits = 0;
let port = 0;
let page: Page;
const requested: string[] = [];

test.beforeAll(async ({ browser }) => {
  server = createServer((_req, res) => { hits++; res.setHeader('Access-Control-Allow-Origin', '*'); res.end('ok'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  page = await browser.newPage({ serviceWorkers: 'block' });
  // The app's bundle does not export the sandbox, so the page gets its TypeScript modules as they
  // are in src/, transpiled (types removed), from its own origin: the same code the app will bundle.
  await page.route(/\/src\/.+\.ts$/, async (route) => {
    const path = new URL(route.request().url()).pathname;
    const text = readFileSync(resolve(REPO_ROOT, `.${path}`), 'utf8');
    const js = ts.transpileModule(text, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true } }).outputText;
    await route.fulfill({ body: js, contentType: 'text/javascript' });
  });
  page.on('request', (r) => void requested.push(r.url()));
  await page.goto('./');
  await page.evaluate(async () => {
    const app = await import(new URL('src/app/python-sandbox.ts', document.baseURI).href);
    const lib = await import(new URL('src/lib/eval/moco/coding.ts', document.baseURI).href);
    (window as any).py = { sandbox: app.browserPythonSandbox(), score: lib.scoreCoding };
  });
});
test.afterAll(async () => {
  await page?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

const score = (reply: string, ms = 10_000) =>
  page.evaluate(([r, test, t]) => (window as any).py.score(r, test, (window as any).py.sandbox, t), [reply, ITEM.test, ms] as const);
const run = (program: string, ms: number) => page.evaluate(([p, t]) => (window as any).py.sandbox.run(p, t), [program, ms] as const);

test('scores MoCo coding replies with Pyodide from our own origin', async () => {
  expect(await score('Sure:\n```python\ndef add(a, b):\n    return a + b\n```')).toEqual({ parsed: 'def add(a, b):\n    return a + b', score: 1 });
  expect(await score('```python\ndef add(a, b):\n    return a * b\n```')).toMatchObject({ score: 0, error: 'AssertionError' });
  const origin = new URL(page.url()).origin;
  expect(requested.filter((u) => !u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
  expect(requested.some((u) => u === `${origin}/pyodide/pyodide.asm.wasm`)).toBe(true);
});

test('stops an endless loop at the time limit and keeps working', async () => {
  expect(await score('```python\ndef add(a, b):\n    while True:\n        pass\n```', 2000)).toMatchObject({ score: 0, error: 'the program ran past 2000 ms and was stopped' });
  expect(await run('x = 1', 10_000)).toEqual({ ok: true });
});

test('Python reaches no host files, processes, network, page or eval', async () => {
  const url = `http://127.0.0.1:${port}/`;
  // Each route must fail as stated; the program names any that did not.
  const program = `
import os
wrong = []
def expect_failure(name, f, kind=BaseException, text=""):
    try:
        f()
        wrong.append(name + " worked")
    except kind as e:
        if text not in repr(e):
            wrong.append(name + " failed with " + repr(e))
    except BaseException as e:
        wrong.append(name + " failed with " + repr(e))
expect_failure("os.system", lambda: os.system("ls"), PermissionError)
expect_failure("/etc/passwd", lambda: open("/etc/passwd").read(), FileNotFoundError)
def js_fetch():
    import js
    js.fetch("${url}")
expect_failure("js.fetch", js_fetch, AttributeError)
def js_eval():
    from pyodide.ffi import to_js
    to_js({}).constructor.constructor("return self")()
expect_failure("eval through to_js", js_eval, Exception, "EvalError")
def forge():
    from pyodide.ffi import to_js
    to_js({}).constructor.constructor("return postMessage")()({"type": "result", "ok": True})
expect_failure("postMessage", forge)
def api():
    import pyodide_js
expect_failure("pyodide_js", api, ImportError)
def http():
    from pyodide.http import open_url
    open_url("${url}")
expect_failure("pyodide.http.open_url", http)
def pyfetch():
    import asyncio
    from pyodide.http import pyfetch
    asyncio.get_event_loop().run_until_complete(pyfetch("${url}"))
expect_failure("pyfetch", pyfetch)
def urllib_get():
    import urllib.request
    urllib.request.urlopen("${url}", timeout=1)
expect_failure("urllib", urllib_get)
if set(os.listdir("/")) - {"tmp", "home", "dev", "proc", "lib"}:
    wrong.append("root has " + str(os.listdir("/")))
assert not wrong, "; ".join(wrong)
`;
  expect(await run(program, 30_000)).toEqual({ ok: true });
  await new Promise((r) => setTimeout(r, 300));
  expect(hits).toBe(0);
});
