import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ES module (the build's Node side)
import { compatAssetFileNames, precached, serviceWorker } from '../../tools/pwa/sw-plugin.mjs';

interface SwPlugin {
  configResolved(config: { root: string; build: { outDir: string } }): void;
  closeBundle(): Promise<void>;
}

function fakeBuild(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-sw-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

async function runPlugin(dir: string): Promise<{ version: string; precache: string[]; onDemand: string[]; source: string }> {
  const plugin = (serviceWorker as () => SwPlugin)();
  plugin.configResolved({ root: '/', build: { outDir: dir } });
  await plugin.closeBundle();
  const source = readFileSync(join(dir, 'sw.js'), 'utf8');
  const version = JSON.parse(/const VERSION = (".*?");/.exec(source)![1]!) as string;
  const precache = JSON.parse(/const PRECACHE = (\[.*?\]);/.exec(source)![1]!) as string[];
  const onDemand = JSON.parse(/const ON_DEMAND = (\[.*?\]);/.exec(source)![1]!) as string[];
  return { version, precache, onDemand, source };
}

describe('service worker generated at build (offline PWA)', () => {
  it('precaches every build file, including wasm and worker chunks, but not maps, models or itself', async () => {
    const dir = fakeBuild({
      'index.html': '<html></html>', 'assets/index-a1.js': 'x', 'assets/engine.worker-b2.js': 'w', 'assets/wllama-c3.wasm': 'wasm',
      'assets/index-a1.js.map': '{}', 'models/tiny.gguf': 'GGUF', 'models/index.json': '{}', 'manifest.webmanifest': '{}',
    });
    const { precache, source } = await runPlugin(dir);
    expect(precache).toEqual([
      './', './assets/engine.worker-b2.js', './assets/index-a1.js', './assets/wllama-c3.wasm', './index.html', './manifest.webmanifest', './models/index.json',
    ]);
    expect(source).toContain("addEventListener('fetch'");
    expect(precached('sw.js')).toBe(false);
  });

  it('names its cache after the build contents, so a new build replaces the old cache', async () => {
    const a = await runPlugin(fakeBuild({ 'index.html': 'one', 'assets/a.js': 'x' }));
    const same = await runPlugin(fakeBuild({ 'index.html': 'one', 'assets/a.js': 'x' }));
    const changed = await runPlugin(fakeBuild({ 'index.html': 'one', 'assets/a.js': 'y' }));
    expect(a.version).toBe(same.version);
    expect(a.version).not.toBe(changed.version);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it("precaches the shell only: web-llm's bundles, wllama's compat build, Pyodide and pool2's check-only item sets are cached on first use", async () => {
    const dir = fakeBuild({
      'index.html': '<html></html>', 'assets/index-a1.js': 'x', 'assets/engine.worker-b2.js': 'w', 'assets/wllama-c3.wasm': 'wasm',
      'assets/webllm-d4.js': 'web-llm', 'assets/webllm.worker-e5.js': 'web-llm worker',
      'assets/wllama-compat-f6.wasm': 'compat wasm', 'assets/wllama-compat-g7.js': 'compat glue',
      'pyodide/pyodide.asm.wasm': 'python', 'pyodide/python.worker.js': 'python worker',
      'pool2/datasets/sum/test.jsonl': 'pool', 'pool2/fresh-77/sum/test.jsonl': 'fresh', 'pool2/halves/index.json': 'halves',
    });
    const { precache, onDemand, source } = await runPlugin(dir);
    expect(precache).toEqual(['./', './assets/engine.worker-b2.js', './assets/index-a1.js', './assets/wllama-c3.wasm', './index.html', './pool2/datasets/sum/test.jsonl']);
    expect(onDemand).toEqual([
      './assets/webllm-d4.js', './assets/webllm.worker-e5.js', './assets/wllama-compat-f6.wasm', './assets/wllama-compat-g7.js',
      './pool2/fresh-77/sum/test.jsonl', './pool2/halves/index.json', './pyodide/pyodide.asm.wasm', './pyodide/python.worker.js',
    ]);
    // The fetch handler stores exactly those files the first time they are fetched.
    expect(source).toMatch(/onDemand\.has\(url\.href\) && res\.status === 200\) event\.waitUntil\(cache\.put/);
  });

  it("names @wllama/wllama-compat's files wllama-compat-*, other assets keep Vite's default name", () => {
    expect(compatAssetFileNames({ names: ['wllama.wasm'], originalFileNames: ['../node_modules/@wllama/wllama-compat/wasm/wllama.wasm'] })).toBe('assets/wllama-compat-[hash][extname]');
    expect(compatAssetFileNames({ names: ['wllama.wasm'], originalFileNames: ['../node_modules/@wllama/wllama/esm/wasm/wllama.wasm'] })).toBe('assets/[name]-[hash][extname]');
    expect(compatAssetFileNames({ names: ['index.css'], originalFileNames: ['index.html'] })).toBe('assets/[name]-[hash][extname]');
  });

});
