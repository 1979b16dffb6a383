// The Python sandbox for MoCo's coding items (issue 11) and its isolation (issue 10's rule): the pure
// parts read replies as MoCo's eval.py does; the Node sandbox runs real Pyodide in a child process,
// passes a correct solution, fails a wrong one, kills an endless loop at the limit and keeps Python
// away from the host's processes, files, environment, network and JavaScript.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPythonReply } from '../../src/lib/eval/python.ts';
import { buildCodingProgram, extractCodeBlock, firstFunctionName, scoreCoding } from '../../src/lib/eval/moco/coding.ts';
import { nodePythonSandbox } from '../../tools/lib/node-python.ts';

const TEST = 'def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n';
const RIGHT = 'Here is my solution:\n```python\ndef add(a, b):\n    return a + b\n```\n';
const WRONG = '```python\ndef add(a, b):\n    return a - b\n```';

describe('reading code out of a reply (MoCo eval.py: extract_code_block, extract_function_name)', () => {
  it('takes the last python or untagged fenced block, else any block, else the whole reply', () => {
    expect(extractCodeBlock('a\n```python\nx = 1\n```\nb\n```\ny = 2\n```')).toBe('y = 2');
    expect(extractCodeBlock('```Python\nz = 3\n```')).toBe('z = 3');
    // A block tagged with another language is only taken when no python/untagged block exists.
    expect(extractCodeBlock('```js\nlet a\n```')).toBe('js\nlet a');
    // MoCo's quirk, kept: after another language's block, the gap between two fences is the last
    // "untagged block" (Python's re.findall on this reply gives '' too).
    expect(extractCodeBlock('```js\nlet a\n```\n```python\nb = 1\n```')).toBe('');
    expect(extractCodeBlock('  def f():\n    return 1  ')).toBe('def f():\n    return 1');
  });

  it('finds the first def and builds the program MoCo runs', () => {
    expect(firstFunctionName('import os\ndef  helper (x):\n  pass\ndef main(): pass')).toBe('helper');
    expect(firstFunctionName('def größe(x): return x')).toBe('größe');
    expect(firstFunctionName('lambda x: x')).toBe(null);
    expect(buildCodingProgram('def f(): pass', 'def check(c): pass')).toBe('def f(): pass\n\ncandidate = f\n\ndef check(c): pass\n\ncheck(candidate)\n');
  });

  it('accepts only a plain { ok, error? } reply from a sandbox', () => {
    expect(readPythonReply({ ok: true })).toEqual({ ok: true });
    expect(readPythonReply({ ok: false, error: 'AssertionError' })).toEqual({ ok: false, error: 'AssertionError' });
    for (const bad of [null, 'ok', [true], { ok: 'yes' }, { ok: true, error: 'x' }, { ok: false, error: 5 }, Object.create({ ok: true })]) {
      expect(readPythonReply(bad).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(readPythonReply({ ok: false, error: 'e'.repeat(1000) }).error).toHaveLength(300);
  });
});

describe('the Node Python sandbox (Pyodide in a child process)', () => {
  const sb = nodePythonSandbox();
  let server: Server;
  let hits = 0;
  let port = 0;
  const hostFile = `/tmp/chorus-sandbox-python-${process.pid}`;

  beforeAll(async () => {
    server = createServer((_req, res) => { hits++; res.end('ok'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    sb.close();
    rmSync(hostFile, { force: true });
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('passes a correct solution and fails a wrong one, as MoCo scores them', async () => {
    expect(await scoreCoding(RIGHT, TEST, sb)).toEqual({ parsed: 'def add(a, b):\n    return a + b', score: 1 });
    expect(await scoreCoding(WRONG, TEST, sb)).toMatchObject({ score: 0, error: 'AssertionError' });
    // Nothing to run (no def, no test): 0 without running anything, as in MoCo.
    expect(await scoreCoding('the answer is 5', TEST, sb)).toEqual({ parsed: 'the answer is 5', score: 0 });
    expect(await scoreCoding(RIGHT, '', sb)).toEqual({ parsed: 'def add(a, b):\n    return a + b', score: 0 });
  }, 300_000);

  it('kills a program that loops forever at the time limit', async () => {
    const r = await scoreCoding('```python\ndef add(a, b):\n    while True:\n        pass\n```', TEST, sb, 2000);
    expect(r).toMatchObject({ score: 0, error: 'the program ran past 2000 ms and was stopped' });
    expect(await sb.run('while True:\n    pass', 1500)).toEqual({ ok: false, timedOut: true, error: 'timed out after 1500 ms' });
  }, 300_000);

  it('a program that allocates without end fails and this process does not grow', async () => {
    const before = process.memoryUsage().rss;
    const r = await sb.run('blocks = []\nwhile True:\n    blocks.append(bytearray(2**26))', 120_000);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/memory|MemoryError/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20);
  }, 300_000);

  it('code that imports os sees only the in-memory file system and cannot start processes', async () => {
    const r = await scoreCoding(`\`\`\`python\nimport os\ndef add(a, b):\n    os.system("touch ${hostFile}")\n    return a + b\n\`\`\``, TEST, sb);
    expect(r).toMatchObject({ score: 0, error: expect.stringMatching(/^PermissionError/) });
    expect(await sb.run("open('/etc/passwd').read()", 10_000)).toMatchObject({ ok: false, error: expect.stringMatching(/^FileNotFoundError/) });
    expect(existsSync(hostFile)).toBe(false);
  }, 300_000);

  it('Python cannot reach host files, environment, network, processes or JavaScript', async () => {
    process.env.CHORUS_SANDBOX_SECRET = 'host secret';
    // Every route is tried; the program fails naming any that worked.
    const program = `
import os, sys
reached = []
def attempt(name, f):
    try:
        f()
        reached.append(name)
    except BaseException:
        pass
attempt("os.system", lambda: os.system("touch ${hostFile}"))
attempt("os.popen", lambda: os.popen("id").read())
def sub():
    import subprocess
    subprocess.run(["touch", "${hostFile}"])
attempt("subprocess", sub)
attempt("/etc/passwd", lambda: open("/etc/passwd").read())
attempt("host dir", lambda: os.listdir("${process.cwd()}"))
if set(os.listdir("/")) - {"tmp", "home", "dev", "proc", "lib"}:
    reached.append("root has " + str(os.listdir("/")))
if "CHORUS_SANDBOX_SECRET" in os.environ or "PATH" in os.environ and os.environ["PATH"] != "/":
    reached.append("host environment")
def js_fetch():
    import js
    js.fetch("http://127.0.0.1:${port}/")
attempt("js.fetch", js_fetch)
def js_eval():
    from pyodide.ffi import to_js
    to_js({}).constructor.constructor("return process")()
attempt("Function via to_js", js_eval)
def api():
    import pyodide_js
attempt("pyodide_js", api)
def http():
    from pyodide.http import pyfetch, open_url
    open_url("http://127.0.0.1:${port}/")
attempt("pyodide.http", http)
def urllib_get():
    import urllib.request
    urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=1)
attempt("urllib", urllib_get)
def sock():
    import socket
    socket.create_connection(("127.0.0.1", ${port}), timeout=1).send(b"GET / HTTP/1.0\\r\\n\\r\\n")
attempt("socket", sock)
assert not reached, "reached: " + ", ".join(reached)
`;
    const r = await sb.run(program, 30_000);
    delete process.env.CHORUS_SANDBOX_SECRET;
    expect(r).toEqual({ ok: true });
    await new Promise((res) => setTimeout(res, 200));
    expect(hits).toBe(0);
    expect(existsSync(hostFile)).toBe(false);
  }, 300_000);
});
