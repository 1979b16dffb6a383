// Vite plugin: self-hosts Pyodide (the Python sandbox of src/lib/eval/python.ts) from our own origin,
// never a CDN. The build gets `pyodide/` with Pyodide's loader, its wasm, its lock file and the Python
// standard library copied from node_modules/pyodide (nothing committed), and the sandbox worker
// (workers/python.worker.ts) as `pyodide/python.worker.js`, a fixed name the page can start (see
// src/app/python-sandbox.ts). The dev server serves the same paths.
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const PYODIDE_DIR = dirname(require.resolve('pyodide/package.json'));
const WORKER = fileURLToPath(new URL('../../workers/python.worker.ts', import.meta.url));
/** What loadPyodide fetches in a browser (pyodide.mjs → pyodide.asm.mjs, .wasm, lock file, stdlib). */
export const PYODIDE_FILES = ['pyodide.mjs', 'pyodide.asm.mjs', 'pyodide.asm.wasm', 'pyodide-lock.json', 'python_stdlib.zip'];
const TYPES = { '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.zip': 'application/zip' };

export function pyodideAssets() {
  let isBuild = false;
  return {
    name: 'chorus-pyodide',
    configResolved(config) {
      isBuild = config.command === 'build';
    },
    buildStart() {
      if (isBuild) this.emitFile({ type: 'chunk', id: WORKER, fileName: 'pyodide/python.worker.js' });
    },
    generateBundle() {
      for (const f of PYODIDE_FILES) this.emitFile({ type: 'asset', fileName: `pyodide/${f}`, source: readFileSync(join(PYODIDE_DIR, f)) });
    },
    configureServer(server) {
      server.middlewares.use(async (req, res, next) => {
        const path = (req.url ?? '').split('?')[0];
        const m = /\/pyodide\/([^/]+)$/.exec(path);
        if (!m) return next();
        if (m[1] === 'python.worker.js') {
          const out = await server.transformRequest('/workers/python.worker.ts');
          if (!out) return next();
          res.setHeader('Content-Type', 'text/javascript');
          res.end(out.code);
          return;
        }
        if (!PYODIDE_FILES.includes(m[1])) return next();
        res.setHeader('Content-Type', TYPES[m[1].slice(m[1].lastIndexOf('.'))] ?? 'application/octet-stream');
        createReadStream(join(PYODIDE_DIR, m[1])).pipe(res);
      });
    },
  };
}
