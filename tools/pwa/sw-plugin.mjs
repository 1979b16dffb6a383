// Vite plugin: after the build is written, list every file of the output (our bundles, wllama's
// wasm, the worker chunks, public/ files) and write sw.js, the service worker that precaches them,
// so that after one visit the app loads with the network off (issue 2, item 5).
// The cache name carries a hash of the file list and contents, so a new build replaces the old cache.
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('./sw.js', import.meta.url));

/** Files not precached: source maps (debug only) and model weights (kept in OPFS by the model store, not twice). */
export function precached(path) {
  return !path.endsWith('.map') && !path.endsWith('.gguf') && path !== 'sw.js';
}

async function walk(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

export function serviceWorker() {
  let outDir = 'dist';
  return {
    name: 'chorus-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir.startsWith('/') ? config.build.outDir : join(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = (await walk(outDir)).map((f) => relative(outDir, f).split(sep).join('/')).filter(precached).sort();
      const hash = createHash('sha256');
      for (const f of files) hash.update(f).update(await readFile(join(outDir, f)));
      const version = hash.digest('hex').slice(0, 16);
      const urls = ['./', ...files.map((f) => `./${f}`)];
      const body = await readFile(TEMPLATE, 'utf8');
      const head = `const VERSION = ${JSON.stringify(version)};\nconst PRECACHE = ${JSON.stringify(urls)};\n`;
      await writeFile(join(outDir, 'sw.js'), head + body);
    },
  };
}
