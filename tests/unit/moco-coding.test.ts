// MoCo's coding score end to end on hand-made replies: extraction, `candidate = <first def>`, the
// item's test and check(candidate), run by real CPython through the python3-subprocess test helper
// (the Pyodide sandbox, src/lib/eval/python.ts, is built separately and plugs in as ctx.python).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';
import { python3SubprocessSandbox } from '../support/python3-subprocess.ts';
import { parseMocoFile } from '../../src/lib/eval/moco/dataset.ts';
import { scoreCoding } from '../../src/lib/eval/moco/coding.ts';

const ds = parseMocoFile(readFileSync(resolve(REPO_ROOT, 'tests/fixtures/moco/coding.json'), 'utf8'), 'coding.json');
const double = ds.splits.test![0]!;
const python = python3SubprocessSandbox();
const score = (reply: string) => ds.score(double, reply, { python });

describe('coding items scored in real Python', () => {
  it('passes a correct function in a fenced block, whatever its name', async () => {
    const r = await score('Here you go:\n```python\ndef twice(x):\n    return 2 * x\n```\nDone.');
    expect(r).toEqual({ parsed: 'def twice(x):\n    return 2 * x', score: 1 });
  });
  it('runs the last block: an earlier correct one does not count', async () => {
    expect((await score('```python\ndef d(x): return 2*x\n```\nBetter:\n```python\ndef d(x): return x + 2\n```')).score).toBe(0);
  });
  it('scores a reply without fences as code', async () => {
    expect((await score('def d(x):\n    return x * 2')).score).toBe(1);
  });
  it('fails a wrong function, a reply without def, a syntax error and an empty reply', async () => {
    expect((await score('def d(x):\n    return x')).score).toBe(0);
    expect((await score('lambda x: 2 * x')).score).toBe(0);
    expect((await score('def d(x) return 2*x')).score).toBe(0);
    expect(await score('')).toEqual({ parsed: '', score: 0 });
  });
  it('aliases the first def, even when a helper comes first', async () => {
    expect((await score('def helper(x):\n    return x\n\ndef double(x):\n    return helper(x) * 2')).score).toBe(0);
  });
  it('stops code that loops forever at the time limit and scores 0', async () => {
    const t0 = Date.now();
    const r = await scoreCoding('def d(x):\n    while True:\n        pass', (double.raw as { test: string }).test, python, 1500);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.score).toBe(0);
    expect(r.error).toMatch(/ran past 1500 ms/);
  });
  it('scores 0 for code that imports os to run commands or read host files', async () => {
    const shell = await score('```python\nimport os\ndef d(x):\n    os.system("echo pwned")\n    return 2 * x\n```');
    expect(shell.score).toBe(0);
    const files = await score('```python\ndef d(x):\n    open("/etc/passwd").read()\n    return 2 * x\n```');
    expect(files.score).toBe(0);
    // Importing os alone is allowed, as in MoCo: the function is still correct.
    expect((await score('```python\nimport os\ndef d(x):\n    return 2 * x\n```')).score).toBe(1);
  });
  it('reports a missing sandbox instead of scoring', async () => {
    const r = await ds.score(double, 'def d(x): return 2*x', {});
    expect(r.score).toBe(0);
    expect(r.error).toMatch(/Python sandbox/);
  });
});
