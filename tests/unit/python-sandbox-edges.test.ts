// The Python sandbox's pure parts (src/lib/eval/python.ts) without Pyodide: the traceback's last
// line, the reply check (only a plain {ok, error?} object passes; a getter, a class instance or an
// "ok with an error" is refused), and the Worker-backed sandbox on fake Workers: a fresh Worker per
// program with the next one booted ahead, boot failures and timeouts named, the time limit, the
// reply read through readPythonReply, every Worker terminated.
import { describe, expect, it, vi } from 'vitest';
import { lastErrorLine, MAX_PY_ERROR_CHARS, readPythonReply, SANDBOX_PRELUDE, workerPythonSandbox } from '../../src/lib/eval/python.ts';

const UNEXPECTED = { ok: false, error: 'the sandbox sent an unexpected reply' };

describe('reading errors and replies', () => {
  it('lastErrorLine: the last non-blank line, trimmed, cut to 300 characters; "error" for none', () => {
    expect(lastErrorLine('Traceback (most recent call last):\n  File "x", line 1\n  AssertionError  \n\n  ')).toBe('AssertionError');
    expect(lastErrorLine('')).toBe('error');
    expect(lastErrorLine(' \n \n')).toBe('error');
    expect(MAX_PY_ERROR_CHARS).toBe(300);
    expect(lastErrorLine(`x\n${'e'.repeat(400)}`)).toBe('e'.repeat(300));
  });

  it('readPythonReply passes {ok: true} and {ok: false, error}, cuts the error, and defaults it to "failed"', () => {
    expect(readPythonReply({ ok: true })).toStrictEqual({ ok: true });
    expect(readPythonReply({ ok: false, error: 'NameError: x' })).toStrictEqual({ ok: false, error: 'NameError: x' });
    expect(readPythonReply({ ok: false })).toStrictEqual({ ok: false, error: 'failed' });
    expect(readPythonReply({ ok: false, error: 'e'.repeat(301) })).toStrictEqual({ ok: false, error: 'e'.repeat(300) });
    const bare = Object.create(null) as Record<string, unknown>;
    bare.ok = true;
    expect(readPythonReply(bare)).toStrictEqual({ ok: true });
  });

  it('readPythonReply refuses anything else as "the sandbox sent an unexpected reply"', () => {
    for (const bad of [null, undefined, 1, 'ok', [true], { ok: 'true' }, {}, { ok: false, error: 3 }, { ok: true, error: 'x' }, new (class { ok = true })(), new Map()]) {
      expect(readPythonReply(bad), JSON.stringify(bad)).toStrictEqual(UNEXPECTED);
    }
    // a getter is not read (it could run code or lie): ok counts as missing
    const getter = Object.defineProperty({}, 'ok', { get: () => true, enumerable: true });
    expect(readPythonReply(getter)).toStrictEqual(UNEXPECTED);
    const errGetter = Object.defineProperty({ ok: false }, 'error', { get: () => 'x', enumerable: true });
    expect(readPythonReply(errGetter)).toStrictEqual({ ok: false, error: 'failed' });
  });

  it('the prelude refuses process creation and drops the JavaScript module, then deletes itself', () => {
    expect(SANDBOX_PRELUDE).toContain('raise PermissionError("the Chorus sandbox has no processes, network or host files")');
    expect(SANDBOX_PRELUDE).toContain('sys.modules.pop("pyodide_js", None)');
    expect(SANDBOX_PRELUDE.trim().split('\n').slice(-2)).toEqual(['__chorus_lockdown()', 'del __chorus_lockdown']);
  });
});

type Script = { boot: 'ready' | 'boot-failed' | 'garbage' | 'null' | 'error' | 'silent'; run: unknown | 'error' | 'silent' };

/** A fake module Worker: answers the boot and run messages as its script says, asynchronously. */
class FakeWorker {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  readonly posted: unknown[] = [];
  terminated = false;
  prevented = 0;
  constructor(readonly script: Script) {}
  postMessage(m: { type: string }): void {
    this.posted.push(m);
    const step = m.type === 'boot' ? this.script.boot : this.script.run;
    if (step === 'silent') return;
    setTimeout(() => {
      if (this.terminated) return;
      if (step === 'error') {
        this.onerror?.({ message: `${m.type} crashed`, preventDefault: () => this.prevented++ } as unknown as ErrorEvent);
        return;
      }
      const data = m.type === 'boot' ? (step === 'ready' ? { type: 'ready' } : step === 'boot-failed' ? { type: 'boot-failed', error: 'x'.repeat(400) } : step === 'null' ? null : 'garbage') : step;
      this.onmessage?.({ data } as MessageEvent);
    }, 1);
  }
  terminate(): void {
    this.terminated = true;
  }
}

function sandbox(scripts: Script[]) {
  const workers: FakeWorker[] = [];
  const sb = workerPythonSandbox(() => {
    const w = new FakeWorker(scripts[Math.min(workers.length, scripts.length - 1)]!);
    workers.push(w);
    return w as unknown as Worker;
  }, '/pyodide/');
  return { sb, workers };
}

describe('the Worker-backed sandbox (fake Workers)', () => {
  it('boots a Worker, runs the program there, terminates it, and boots the next one ahead', async () => {
    const { sb, workers } = sandbox([{ boot: 'ready', run: { type: 'result', ok: true } }]);
    expect(await sb.run('print(1)', 1000)).toStrictEqual({ ok: true });
    expect(workers).toHaveLength(2);
    expect(workers[0]!.posted).toEqual([{ type: 'boot', indexURL: '/pyodide/' }, { type: 'run', program: 'print(1)' }]);
    expect(workers[0]!.terminated).toBe(true);
    expect(workers[1]!.posted).toEqual([{ type: 'boot', indexURL: '/pyodide/' }]);
    expect(workers[1]!.terminated).toBe(false);
    // the second program uses the Worker booted ahead, and boots a third
    expect(await sb.run('print(2)', 1000)).toStrictEqual({ ok: true });
    expect(workers).toHaveLength(3);
    expect(workers[1]!.posted).toEqual([{ type: 'boot', indexURL: '/pyodide/' }, { type: 'run', program: 'print(2)' }]);
    expect(workers[1]!.terminated).toBe(true);
    sb.close();
    expect(workers[2]!.terminated).toBe(true);
    sb.close(); // twice is harmless
  });

  it('a failed program carries its error; a reply of another type or shape is unexpected', async () => {
    const failed = sandbox([{ boot: 'ready', run: { type: 'result', ok: false, error: 'AssertionError' } }]);
    expect(await failed.sb.run('assert 0', 1000)).toStrictEqual({ ok: false, error: 'AssertionError' });
    failed.sb.close();
    const other = sandbox([{ boot: 'ready', run: { type: 'log', ok: true } }]);
    expect(await other.sb.run('x', 1000)).toStrictEqual(UNEXPECTED);
    other.sb.close();
    const extra = sandbox([{ boot: 'ready', run: { type: 'result', ok: true, error: 'but' } }]);
    expect(await extra.sb.run('x', 1000)).toStrictEqual(UNEXPECTED);
    extra.sb.close();
    const nul = sandbox([{ boot: 'ready', run: null }]);
    expect(await nul.sb.run('x', 1000)).toStrictEqual(UNEXPECTED);
    nul.sb.close();
  });

  it('boot failures: the Worker\'s reason cut to 300 characters, an unknown boot reply, a Worker error', async () => {
    const failed = sandbox([{ boot: 'boot-failed', run: 'silent' }]);
    expect(await failed.sb.run('x', 1000)).toStrictEqual({ ok: false, error: `Python did not start: ${'x'.repeat(300)}` });
    expect(failed.workers[0]!.terminated).toBe(true);
    expect(failed.workers[0]!.posted).toHaveLength(1); // the program was never sent
    failed.sb.close();
    const garbage = sandbox([{ boot: 'garbage', run: 'silent' }]);
    expect(await garbage.sb.run('x', 1000)).toStrictEqual({ ok: false, error: 'Python did not start' });
    garbage.sb.close();
    const nul = sandbox([{ boot: 'null', run: 'silent' }]);
    expect(await nul.sb.run('x', 1000)).toStrictEqual({ ok: false, error: 'Python did not start' });
    nul.sb.close();
    const crashed = sandbox([{ boot: 'error', run: 'silent' }]);
    expect(await crashed.sb.run('x', 1000)).toStrictEqual({ ok: false, error: 'Python did not start: boot crashed' });
    expect(crashed.workers[0]!.prevented).toBe(1);
    crashed.sb.close();
  });

  it('a program past its limit is stopped and reported as timed out; a Worker error during the run is named', async () => {
    const slow = sandbox([{ boot: 'ready', run: 'silent' }]);
    const t0 = Date.now();
    expect(await slow.sb.run('while True: pass', 50)).toStrictEqual({ ok: false, timedOut: true, error: 'timed out after 50 ms' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(slow.workers[0]!.terminated).toBe(true);
    slow.sb.close();
    const crashed = sandbox([{ boot: 'ready', run: 'error' }]);
    expect(await crashed.sb.run('x', 1000)).toStrictEqual({ ok: false, error: 'the Python worker failed: run crashed' });
    expect(crashed.workers[0]!.prevented).toBe(1);
    crashed.sb.close();
  });

  it('a Worker that never answers the boot is given up after 300 s', async () => {
    vi.useFakeTimers();
    try {
      const silent = sandbox([{ boot: 'silent', run: 'silent' }]);
      const result = silent.sb.run('x', 1000);
      await vi.advanceTimersByTimeAsync(299_999);
      let settled = false;
      void result.then(() => (settled = true));
      await vi.advanceTimersByTimeAsync(0);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await result).toStrictEqual({ ok: false, error: 'Python did not start within 300 s' });
      silent.sb.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a reply that arrives before the limit clears the timer: no late "timed out"', async () => {
    const { sb } = sandbox([{ boot: 'ready', run: { type: 'result', ok: true } }]);
    const r = await sb.run('x', 30);
    await new Promise((res) => setTimeout(res, 60));
    expect(r).toStrictEqual({ ok: true });
    sb.close();
  });
});
