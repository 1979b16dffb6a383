// Starts tools/serve.mjs (the app's real static server, with its COOP/COEP and CSP headers) on a
// free port for tests that need their own server: a copy of the build they change (the update
// test) or another browser (tests/firefox/run.ts). Port 0, so parallel checkouts never collide.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVE = fileURLToPath(new URL('../../tools/serve.mjs', import.meta.url));

export interface Served {
  url: string;
  close(): Promise<void>;
}

export function serveDir(dir: string): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [SERVE, dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`tools/serve.mjs ${dir}: ${why}\n${output}`));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (m?.[1]) {
        resolve({
          url: m[1],
          close: () => new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill();
          }),
        });
      }
    });
    child.once('exit', (code) => fail(`exited with code ${code} before serving`));
    child.once('error', (err) => fail(err.message));
  });
}
