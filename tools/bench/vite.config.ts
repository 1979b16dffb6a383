/**
 * Builds the engine harness page (tools/bench/page/) that the engine bench and the engines e2e
 * test drive in headless Chromium. Not part of the app's dist: it exposes the engine layer on
 * `window.chorusHarness` so tests and the bench call the real code paths directly.
 * Usage: npx vite build --config tools/bench/vite.config.ts --outDir /tmp/h3-harness --emptyOutDir
 */
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain ES module (Node side of the build only)
import { wllamaResults } from '../wllama/results-plugin.mjs';

export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  base: './',
  plugins: [svelte(), wllamaResults() as Plugin],
  logLevel: 'warn',
  build: { target: 'esnext', sourcemap: false, chunkSizeWarningLimit: 8000, reportCompressedSize: false },
  worker: { format: 'es', plugins: () => [wllamaResults() as Plugin] },
  optimizeDeps: { exclude: ['@wllama/wllama', '@mlc-ai/web-llm'] },
});
