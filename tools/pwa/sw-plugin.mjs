// Vite plugin: after the build is written, list every file of the output (our bundles, wllama's
// wasm, the worker chunks, public/ files) and write sw.js, the service worker that makes the app
// work offline (issue 2, item 5; issue 10).
// - PRECACHE: what the shell needs, fetched when the service worker installs.
// - ON_DEMAND: engines most visitors never start — web-llm's bundles (6 MB each: the page's
//   dynamic chunk and its worker) and wllama's compat build (19 MB, only for browsers without
//   JSPI or memory64), and Pyodide (pyodide/, 14 MB: only experiments with MoCo's coding items score
//   in Python), and the ONNX engine (onnxruntime-web's wasm, 29 MB, and the pool's .onnx exports,
//   1.3 MB each: only models loaded on the ONNX engine need them), and the second pool's check-only
//   item sets (pool2/fresh-77/, pool2/halves/). They are cached the first time
//   the page fetches them, then work offline.
// The cache name carries a hash of every file's name and contents, so a new build replaces the old
// cache (ON_DEMAND entries whose hashed names did not change are carried over).
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('./sw.js', import.meta.url));

/**
 * Build files cached on first use instead of at install. The names come from our sources
 * (src/app/webllm.ts → webllm-<hash>.js, workers/webllm.worker.ts → webllm.worker-<hash>.js) and
 * from compatAssetFileNames below.
 */
export const ON_DEMAND = [
  /^assets\/webllm(\.worker)?-[^/]+\.js$/,
  /^assets\/wllama-compat-[^/]+\.(js|wasm)$/,
  /^pyodide\//,
  /^assets\/ort-wasm-[^/]+\.wasm$/,
  /^models\/[^/]+\.onnx$/,
  // The second pool's check-only item sets (fresh items, the sum training halves): read by the
  // experiment CLI and the checks in experiments/, not by the app's shell.
  /^pool2\/(fresh-\d+|halves)\//,
];

/**
 * Rollup's assetFileNames for the app and its workers: Vite's default name, except that
 * @wllama/wllama-compat's files (both called wllama.*, like the default build's wasm) are named
 * wllama-compat-<hash>.*, so ON_DEMAND can tell them apart.
 */
export function compatAssetFileNames(info) {
  const from = [...(info.originalFileNames ?? []), ...(info.names ?? [])].join(' ');
  return /@wllama\/wllama-compat\//.test(from) ? 'assets/wllama-compat-[hash][extname]' : 'assets/[name]-[hash][extname]';
}

/** Files not cached at all: source maps (debug only), model weights (kept in OPFS by the model store, not twice), sw.js. */
export function precached(path) {
  return classify(path) === 'precache';
}

/** 'skip' (never cached), 'on-demand' (cached on first use) or 'precache' (cached at install). */
export function classify(path) {
  if (path.endsWith('.map') || path.endsWith('.gguf') || path === 'sw.js') return 'skip';
  return ON_DEMAND.some((re) => re.test(path)) ? 'on-demand' : 'precache';
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

/** Writes <outDir>/sw.js for the build in outDir; returns its version and lists. */
export async function writeServiceWorker(outDir) {
  const files = (await walk(outDir)).map((f) => relative(outDir, f).split(sep).join('/')).filter((f) => classify(f) !== 'skip').sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(await readFile(join(outDir, f)));
  const version = hash.digest('hex').slice(0, 16);
  const precache = ['./', ...files.filter((f) => classify(f) === 'precache').map((f) => `./${f}`)];
  const onDemand = files.filter((f) => classify(f) === 'on-demand').map((f) => `./${f}`);
  const body = await readFile(TEMPLATE, 'utf8');
  const head = `const VERSION = ${JSON.stringify(version)};\nconst PRECACHE = ${JSON.stringify(precache)};\nconst ON_DEMAND = ${JSON.stringify(onDemand)};\n`;
  await writeFile(join(outDir, 'sw.js'), head + body);
  return { version, precache, onDemand };
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
      await writeServiceWorker(outDir);
    },
  };
}
