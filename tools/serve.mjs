#!/usr/bin/env node
// Serves the static build on 127.0.0.1 with the headers the app needs:
// COOP/COEP make the page cross-origin isolated, which wllama needs for wasm threads
// (SharedArrayBuffer), and the CSP is the same strict policy the page declares in index.html.
// Usage: node tools/serve.mjs [dir] [--port N]   (N = 0: any free port, printed on start)
import { createServer } from 'node:http';
import { stat, readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { CSP } from './csp.mjs';

const args = process.argv.slice(2);
const portFlag = args.indexOf('--port');
const port = Number(portFlag >= 0 ? args[portFlag + 1] : process.env.PORT ?? 4173);
const root = resolve(args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--port') ?? 'dist');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.gguf': 'application/octet-stream', '.jsonl': 'application/x-ndjson', '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
};

try {
  await stat(join(root, 'index.html'));
} catch {
  console.error(`serve: ${join(root, 'index.html')} not found — build the app first with "npm run build".`);
  process.exit(1);
}

const server = createServer(async (req, res) => {
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
  try {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path = normalize(decodeURIComponent(url.pathname));
    let file = join(root, path);
    if (!file.startsWith(root + sep) && file !== root) throw Object.assign(new Error('outside root'), { code: 'ENOENT' });
    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) { file = join(file, 'index.html'); info = await stat(file).catch(() => null); }
    if (!info) {
      // Single-page app: unknown paths without an extension get the shell.
      if (extname(path)) { res.writeHead(404, headers); res.end('not found'); return; }
      file = join(root, 'index.html');
      info = await stat(file);
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const noCache = file.endsWith('index.html') || file.endsWith('sw.js') || file.endsWith('.webmanifest');
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': info.size, 'Cache-Control': noCache ? 'no-cache' : 'public, max-age=3600' });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).pipe(res);
  } catch (err) {
    res.writeHead(500, headers);
    res.end(String(err));
  }
});
// --port 0 takes a free port; the line below names the one taken (tests read it).
server.listen(port, '127.0.0.1', () => {
  console.log(`Chorus is running at http://127.0.0.1:${server.address().port}/  (serving ${root}; Ctrl+C to stop)`);
});
