/**
 * Test helper: a PythonSandbox that runs programs in the system CPython (/usr/bin/python3) as a
 * child process. It stands in for the Pyodide sandbox (src/lib/eval/python.ts) in unit tests of
 * MoCo's coding score only; it is real Python, not a fake. Like MoCo's own runner it starts Python
 * isolated (-I) in an empty temporary folder with a bare environment, adds an audit hook that
 * refuses network, new processes and file access outside that folder and the standard library,
 * and kills the process at the time limit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PythonSandbox } from '../../src/lib/eval/task.ts';

export const PYTHON3 = '/usr/bin/python3';

// sys.addaudithook (PEP 578): raising in the hook aborts the audited action.
const GUARD = `
import sys, os
_home = os.getcwd()
_lib = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)
def _guard(event, args):
    if event.startswith(('socket.', 'subprocess.', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.fork')) or event in ('os.system', 'pty.spawn'):
        raise PermissionError('sandbox: ' + event + ' is not allowed')
    if event == 'open' and args and isinstance(args[0], (str, bytes)):
        p = os.path.abspath(os.fsdecode(args[0]))
        if not (p.startswith(_home) or p.startswith(_lib)):
            raise PermissionError('sandbox: no access to ' + p)
sys.addaudithook(_guard)
del _guard
`;

export function python3SubprocessSandbox(): PythonSandbox {
  return {
    run(program, timeoutMs) {
      const dir = mkdtempSync(join(tmpdir(), 'chorus-py-'));
      writeFileSync(join(dir, 'program.py'), `${GUARD}\n${program}`);
      return new Promise((resolve) => {
        const child = spawn(PYTHON3, ['-I', 'program.py'], { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 4000) stderr += d.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
          if (signal === 'SIGKILL') resolve({ ok: false, timedOut: true, error: `stopped after ${timeoutMs} ms` });
          else if (code === 0) resolve({ ok: true });
          else resolve({ ok: false, error: stderr.trim().split('\n').pop() ?? `exit ${code}` });
        });
      });
    },
  };
}
