// The one Content-Security-Policy of the app, used by the dev server, the static server and
// (through vite.config.ts) the <meta> tag in the built index.html.
// - script-src 'self' + 'wasm-unsafe-eval': our bundles and WebAssembly compilation, nothing inline.
// - worker-src 'self' blob:: wllama starts its llama.cpp worker from a blob URL it builds itself.
// - connect-src: 'self' for the app and its models; http(s) for the OpenAI-compatible engine and
//   web-llm's model downloads, which go to user-chosen servers. No script can come from them.
// - style-src 'unsafe-inline' only covers style attributes Svelte sets (widths of progress bars).
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: data: http: https:",
  "img-src 'self' blob: data:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
