/**
 * Builds the engine harness page (tools/bench/page/) that the engine bench and the engines e2e
 * test drive in headless Chromium. Not part of the app's dist: it exposes the engine layer on
 * `window.chorusHarness` so tests and the bench call the real code paths directly.
 * Usage: npx vite build --config tools/bench/vite.config.ts --outDir /tmp/h3-harness --emptyOutDir
 */
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  base: './',
  plugins: [svelte()],
  logLevel: 'warn',
  build: { target: 'esnext', sourcemap: false, chunkSizeWarningLimit: 8000, reportCompressedSize: false },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@wllama/wllama', '@mlc-ai/web-llm'] },
});
