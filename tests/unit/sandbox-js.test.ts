// The Node code sandbox against the escapes a hostile-input review found (issue 10): model code that
// reaches the host process, bypasses the timeout, forges a score or exhausts memory. Each attack must
// end promptly with a failed (or honest) score and leave this test process untouched.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCodeShape } from '../../src/lib/eval/code.ts';
import { nodeSandbox } from '../../tools/lib/node-sandbox.ts';

/** `String.fromCharCode(…)` of a text: quoted strings are refused by the shape check, this is not. */
const chars = (s: string) => `String.fromCharCode(${[...s].map((c) => c.charCodeAt(0)).join(',')})`;
/** Catastrophic backtracking: runs for ages without loop syntax or braces. */
const SPIN = `/(a+)+b/.test(Array(40).join(${chars('a')}))`;
const DOUBLE = [{ input: 1, output: 2 }, { input: 2, output: 4 }, { input: -3, output: -6 }];

const sandbox = nodeSandbox();
/** Every attack must pass the shape check, or it would prove nothing about the sandbox. */
const sb = {
  run(code: string, tests: typeof DOUBLE, ms: number) {
    expect(checkCodeShape(code), code).toBe(null);
    return sandbox.run(code, tests, ms);
  },
};
let server: Server;
let hits = 0;
let url = '';

beforeAll(async () => {
  server = createServer((_req, res) => { hits++; res.end('ok'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  sandbox.close();
  return new Promise<void>((r) => server.close(() => r()));
});

describe('the Node code sandbox keeps model code away from the host', () => {
  it('cannot reach the host process to end it', async () => {
    for (const route of ['this.constructor.constructor', '[].constructor.constructor', 'Object.constructor']) {
      const r = await sb.run(`(${route}(${chars('return process')})().exit(77), x=>x*2)`, DOUBLE, 2000);
      expect(r, route).toMatchObject({ ok: false, passed: 0 });
      // (vitest turns process.exit into an exception, so the exit code is what shows the host was reached)
      const r2 = await sb.run(`(${route}(${chars('return process')})().exitCode=77, x=>x*2)`, DOUBLE, 2000);
      expect(r2, route).toMatchObject({ ok: false, passed: 0 });
      expect(process.exitCode, route).not.toBe(77);
    }
  });

  it('finds no process, require or global object by name', async () => {
    for (const name of ['process', 'globalThis.process', 'global.process', 'require(String.fromCharCode(102,115))', 'self.process']) {
      const r = await sb.run(`(${name}.exitCode=77, x=>x*2)`, DOUBLE, 2000);
      expect(r, name).toMatchObject({ ok: false, passed: 0 });
      expect(process.exitCode, name).not.toBe(77);
    }
  });

  it('cannot set host environment variables', async () => {
    const r = await sb.run(`(this.constructor.constructor(${chars('return process')})().env.CHORUS_PWNED=1, x=>x*2)`, DOUBLE, 2000);
    expect(r.ok).toBe(false);
    expect(process.env.CHORUS_PWNED).toBeUndefined();
    const r2 = await sb.run(`([].constructor.constructor(${chars('return process')})().env.CHORUS_PWNED=1, x=>x*2)`, DOUBLE, 2000);
    expect(r2.ok).toBe(false);
    expect(process.env.CHORUS_PWNED).toBeUndefined();
  });

  it('cannot reach the network through the host fetch', async () => {
    for (const route of ['this.constructor.constructor', '[].constructor.constructor']) {
      const r = await sb.run(`(${route}(${chars('return fetch')})()(${chars(url)}), x=>x*2)`, DOUBLE, 2000);
      expect(r.ok, route).toBe(false);
    }
    await new Promise((res) => setTimeout(res, 200));
    expect(hits).toBe(0);
  });

  it("cannot pollute the host's Object.prototype", async () => {
    await sb.run('(this.constructor.prototype.polluted=1, x=>x*2)', DOUBLE, 2000);
    await sb.run('(Object.prototype.polluted=1, x=>x*2)', DOUBLE, 2000);
    await sb.run('([].constructor.prototype.polluted=1, x=>x*2)', DOUBLE, 2000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the Node code sandbox cannot outlast its time limit', () => {
  it('a toJSON planted on Object.prototype does not run in the host', async () => {
    const t0 = Date.now();
    const r = await sb.run(`(Object.prototype.toJSON=x=>${SPIN}, x=>x*2)`, DOUBLE, 1000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The function itself is correct; the planted toJSON must neither hang nor change the count.
    expect(r).toMatchObject({ passed: 3, total: 3 });
  }, 30_000);

  it('a loop queued as a microtask is cut off', async () => {
    const t0 = Date.now();
    const r = await sb.run(`(Promise.resolve().then(x=>${SPIN}), x=>x*2)`, DOUBLE, 1000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.total).toBe(3);
    // This process's own microtasks still run at once.
    const t1 = Date.now();
    await Promise.resolve();
    expect(Date.now() - t1).toBeLessThan(100);
  }, 30_000);

  it('a loop in the function is killed at the time limit', async () => {
    const t0 = Date.now();
    const r = await sb.run(`x=>${SPIN}`, DOUBLE, 300);
    expect(r).toMatchObject({ ok: false, passed: 0, error: 'timed out after 300 ms' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 30_000);
});

describe('the Node code sandbox counts honestly', () => {
  it('an overridden array iterator cannot forge passes', async () => {
    const r = await sb.run('(Array.prototype[Symbol.iterator]=[].keys, x=>void 0)', DOUBLE, 2000);
    expect(r.passed).toBe(0);
  });

  it('an overridden Object.is, Function.prototype.call or JSON cannot forge passes', async () => {
    for (const plant of ['Object.is=x=>1', 'Function.prototype.call=x=>2', 'Function.prototype.apply=x=>2', 'JSON.stringify=x=>x', 'Number.prototype.valueOf=x=>2']) {
      const r = await sb.run(`(${plant}, x=>void 0)`, DOUBLE, 2000);
      expect(r.passed, plant).toBe(0);
    }
  });
});

describe('the Node code sandbox has a memory limit', () => {
  const BOMB = '(Array(2**27).fill(0).map(Math.random), x=>x*2)';

  it('a memory bomb ends promptly with a failed score and this process does not grow', async () => {
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    const r = await sb.run(BOMB, DOUBLE, 1000);
    expect(r).toMatchObject({ ok: false, passed: 0 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20);
  }, 30_000);

  it('with time to spare, the heap cap and the resident-memory cap stop it', async () => {
    // The heap bomb of the review, and memory outside V8's heap (a typed array is not old space).
    for (const bomb of [BOMB, '(new Uint8Array(2**31).fill(1), x=>x*2)']) {
      const r = await sb.run(bomb, DOUBLE, 120_000);
      expect(r, bomb).toMatchObject({ ok: false, passed: 0, error: 'ran out of memory (the sandbox process was stopped)' });
    }
  }, 240_000);
});
