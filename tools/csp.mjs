// The one Content-Security-Policy of the app, used by the dev server, the static server and
// (through vite.config.ts) the <meta> tag in the built index.html.
// - script-src 'self' + 'wasm-unsafe-eval': our bundles and WebAssembly compilation, nothing inline.
// - worker-src 'self' blob:: wllama starts its llama.cpp worker from a blob URL it builds itself.
// - connect-src: 'self' for the app and its models; http(s) for the OpenAI-compatible engine and
//   web-llm's model downloads, which go to user-chosen servers. No script can come from them.
// - style-src 'unsafe-inline' only covers style attributes Svelte sets (widths of progress bars).
const DIRECTIVES = [
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
];

/** The policy as an HTTP header (tools/serve.mjs, the dev server). */
export const CSP = DIRECTIVES.join('; ');

// CSP3 §6.1 / HTML: frame-ancestors, report-uri and sandbox are ignored in a <meta> policy, and
// browsers log an error on every load that finds them there; only the header can carry them.
const HEADER_ONLY = ['frame-ancestors', 'report-uri', 'sandbox'];

/** The policy for the built index.html's <meta> tag: the header's, less the header-only directives. */
export const CSP_META = DIRECTIVES.filter((d) => !HEADER_ONLY.includes(d.split(' ')[0])).join('; ');
