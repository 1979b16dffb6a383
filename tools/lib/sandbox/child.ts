/**
 * A separate Node process for untrusted code (model-written JavaScript or Python), so that nothing it
 * does can touch the scorer: the code sandboxes (node-sandbox.ts, node-python.ts) and any CLI use it.
 *
 * The child is `node` with:
 * - no environment variables at all (`env: {}`), so it can read no host secrets;
 * - Node's permission model (`--permission`, `--experimental-permission` before Node 22): file reads
 *   only under the paths given, no file writes, no child processes, no worker threads, no addons
 *   (https://nodejs.org/api/permissions.html);
 * - `--disallow-code-generation-from-strings`, so `eval` and `new Function` throw: the classic
 *   `[].constructor.constructor('return process')()` route out of a harness is closed;
 * - no `fetch` (`--no-experimental-fetch` where Node still has it; the child also removes network
 *   globals before it runs anything);
 * - a V8 heap cap (`--max-old-space-size`) and a resident-memory cap checked here from outside
 *   (/proc/<pid>/status every 20 ms on Linux; elsewhere only the heap cap holds);
 * - SIGKILL at the time limit, which covers everything from the moment the job starts until the
 *   reply arrives (microtasks, getters, finalisers: whatever runs in the child runs on its clock).
 *
 * Protocol: the child starts, gets ready (Pyodide boots here), and writes `ready\n` on fd 3; the job
 * is then written to its stdin and stdin is closed; the child writes `start\n` once it has read the
 * job, before any of it runs — the time limit counts from there, so a slow start on a loaded machine
 * is not charged to the code — then one line of JSON, its reply, on fd 3, and is killed at once. stdout is ignored and fd 3 is not reachable from the code it runs,
 * so printing cannot forge a reply; the reply is parsed here and the caller validates it as untrusted data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface ChildSandboxOptions {
  /** The child's entry: a plain .mjs file (no loader, no TypeScript), readable under allowRead. */
  entry: string;
  /** Arguments after the entry. */
  args?: string[];
  /** Paths the child may read (its entry must be among them; a directory ending in '/' covers its files). */
  allowRead: string[];
  /** V8 old-space cap in MiB. */
  heapMb: number;
  /** Resident-memory cap in MiB (checked from outside on Linux). */
  rssMb: number;
  /** How long the child may take to get ready, in ms. */
  bootMs: number;
}

export type ChildOutcome =
  | { kind: 'reply'; reply: unknown }
  | { kind: 'timeout' }
  | { kind: 'memory' }
  | { kind: 'failed'; message: string };

/** Longest reply line accepted (replies are a few fields; anything longer is an attack or a bug). */
const MAX_REPLY_BYTES = 64 * 1024;
const MAX_STDERR_BYTES = 16 * 1024;

function permissionFlags(allowRead: string[]): string[] {
  const flags = process.allowedNodeEnvironmentFlags;
  const permission = flags.has('--permission') ? '--permission' : '--experimental-permission';
  return [permission, ...allowRead.map((p) => `--allow-fs-read=${p}`)];
}

function nodeFlags(o: ChildSandboxOptions): string[] {
  const flags = process.allowedNodeEnvironmentFlags;
  return [
    ...permissionFlags(o.allowRead),
    '--disallow-code-generation-from-strings',
    ...(flags.has('--no-experimental-fetch') ? ['--no-experimental-fetch'] : []),
    `--max-old-space-size=${o.heapMb}`,
    '--no-warnings',
  ];
}

async function rssMb(pid: number): Promise<number | null> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * One started child, waiting for its job. Starting it early (see `ChildSpare`) hides its boot time;
 * it runs exactly one job and is then killed, so nothing one job does can reach the next.
 */
export class SandboxChild {
  private readonly child: ChildProcess;
  private readonly ready: Promise<ChildOutcome | null>;
  private lines: string[] = [];
  private partial = '';
  private waiting: ((line: string | null) => void) | null = null;
  private stderr = '';
  private overMemory = false;
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private memTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: ChildSandboxOptions) {
    this.child = spawn(process.execPath, [...nodeFlags(o), o.entry, ...(o.args ?? [])], {
      env: {},
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.exitPromise = new Promise((resolve) => {
      const ended = (e?: Error) => {
        if (e && this.stderr === '') this.stderr = e.message;
        this.exited = true;
        clearInterval(this.memTimer);
        this.deliver(null);
        resolve();
      };
      // 'close', not 'exit': 'exit' can come before the last data on the reply pipe has been read
      // (Node's docs: stdio may still be open then), and a reply the child wrote just before it ended
      // was lost as "ended without a reply" on a loaded machine. 'close' comes once the pipes are
      // drained. 'error': the process could not be started (or killed); 'close' may then never come.
      this.child.once('close', () => ended());
      this.child.once('error', ended);
    });
    this.child.stdin!.on('error', () => { /* the child died first; its exit says why */ });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => {
      if (this.stderr.length < MAX_STDERR_BYTES) this.stderr += d.slice(0, MAX_STDERR_BYTES - this.stderr.length);
    });
    const replies = this.child.stdio[3] as Readable;
    replies.setEncoding('utf8');
    replies.on('data', (d: string) => this.onData(d));
    replies.on('error', () => { /* closed with the child */ });
    if (process.platform === 'linux' && this.child.pid !== undefined) {
      const pid = this.child.pid;
      this.memTimer = setInterval(() => {
        void rssMb(pid).then((mb) => {
          if (mb !== null && mb > o.rssMb && !this.exited) {
            this.overMemory = true;
            this.kill();
          }
        });
      }, 20);
      this.memTimer.unref();
    }
    this.ready = this.expectReady();
    // A spare that no one takes must not keep the process alive.
    this.unref();
  }

  private onData(d: string): void {
    this.partial += d;
    if (this.partial.length > MAX_REPLY_BYTES) {
      this.partial = '';
      this.kill();
      return;
    }
    let i: number;
    while ((i = this.partial.indexOf('\n')) >= 0) {
      this.lines.push(this.partial.slice(0, i));
      this.partial = this.partial.slice(i + 1);
    }
    if (this.lines.length > 0 && this.waiting) this.deliver(this.lines.shift()!);
  }

  private deliver(line: string | null): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    w(line);
  }

  private nextLine(): Promise<string | null> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift()!);
    if (this.exited) return Promise.resolve(null);
    return new Promise((resolve) => { this.waiting = resolve; });
  }

  private async expectReady(): Promise<ChildOutcome | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), this.o.bootMs); });
    const line = await Promise.race([this.nextLine(), timeout]);
    clearTimeout(timer);
    if (line === 'ready') return null;
    this.kill();
    await this.exitPromise;
    if (line === 'timeout') return { kind: 'failed', message: `the sandbox process did not start within ${this.o.bootMs} ms` };
    return this.failure('the sandbox process did not start');
  }

  private failure(what: string): ChildOutcome {
    if (this.overMemory || /heap out of memory|Reached heap limit|Out of memory|Cannot enlarge memory/i.test(this.stderr)) return { kind: 'memory' };
    const last = this.stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-1)[0];
    return { kind: 'failed', message: last ? `${what}: ${last.slice(0, 300)}` : what };
  }

  private unref(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stderr, this.child.stdio[3]]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private ref(): void {
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stderr, this.child.stdio[3]]) (s as unknown as { ref?: () => void } | null)?.ref?.();
  }

  /** Sends the job (stdin, then closed) once the child is ready; resolves with its one reply. */
  async run(job: string, timeoutMs: number): Promise<ChildOutcome> {
    this.ref();
    try {
      const notReady = await this.ready;
      if (notReady) return notReady;
      this.child.stdin!.end(job);
      // The child says `start` once it holds the job, just before any of it runs; the limit counts from there.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const received = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), this.o.bootMs); });
      const start = await Promise.race([this.nextLine(), received]);
      clearTimeout(timer);
      if (start !== 'start') {
        this.kill();
        await this.exitPromise;
        return start === 'timeout' ? { kind: 'failed', message: 'the sandbox process did not take the job' } : this.failure('the sandbox process ended without a reply');
      }
      const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
      const line = await Promise.race([this.nextLine(), timeout]);
      clearTimeout(timer);
      this.kill();
      if (line === 'timeout') return this.overMemory ? { kind: 'memory' } : { kind: 'timeout' };
      if (line === null) {
        await this.exitPromise;
        return this.failure('the sandbox process ended without a reply');
      }
      try {
        return { kind: 'reply', reply: JSON.parse(line) as unknown };
      } catch {
        return { kind: 'failed', message: 'the sandbox process sent a reply that is not JSON' };
      }
    } finally {
      this.kill();
      this.unref();
    }
  }

  /** SIGKILL: nothing the child runs can delay or refuse it. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Resolves once the process has exited. */
  exited$(): Promise<void> {
    return this.exitPromise;
  }
}

/** Keeps one child started ahead, so the next job does not wait for a boot. */
export class ChildSpare {
  private spare: SandboxChild | null = null;
  constructor(private readonly options: ChildSandboxOptions, private readonly keepSpare: boolean) {}

  /** A ready-to-use child (the spare, or a new one); starts the next spare. */
  take(): SandboxChild {
    const c = this.spare ?? new SandboxChild(this.options);
    this.spare = this.keepSpare ? new SandboxChild(this.options) : null;
    return c;
  }

  /** Kills the spare (e.g. at the end of a scoring batch). */
  close(): void {
    this.spare?.kill();
    this.spare = null;
  }
}
