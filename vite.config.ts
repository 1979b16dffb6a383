import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
// @ts-expect-error plain ES module shared with tools/serve.mjs
import { CSP_META } from './tools/csp.mjs';
// @ts-expect-error plain ES module (Node side of the build only)
import { compatAssetFileNames, serviceWorker } from './tools/pwa/sw-plugin.mjs';
// @ts-expect-error plain ES module (Node side of the build only)
import { pyodideAssets } from './tools/pyodide/vite-plugin.mjs';
// @ts-expect-error plain ES module (Node side of the build only)
import { wllamaResults } from './tools/wllama/results-plugin.mjs';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Puts the app's CSP into the built index.html as a <meta> tag, so any static host gets it. */
function cspMeta(): Plugin {
  return {
    name: 'chorus-csp-meta',
    apply: 'build',
    transformIndexHtml(html) {
      return html.replace('<head>', `<head>\n    <meta http-equiv="Content-Security-Policy" content="${CSP_META as string}" />`);
    },
  };
}

export default defineConfig({
  plugins: [svelte(), cspMeta(), pyodideAssets() as Plugin, serviceWorker() as Plugin, wllamaResults() as Plugin],
  base: './',
  build: { target: 'esnext', sourcemap: true, chunkSizeWarningLimit: 8000, rollupOptions: { output: { assetFileNames: compatAssetFileNames } } },
  worker: { format: 'es', plugins: () => [wllamaResults() as Plugin], rollupOptions: { output: { assetFileNames: compatAssetFileNames } } },
  optimizeDeps: { exclude: ['@wllama/wllama', '@mlc-ai/web-llm'] },
  server: { host: '127.0.0.1', headers: isolation },
  preview: { host: '127.0.0.1', headers: isolation },
});
