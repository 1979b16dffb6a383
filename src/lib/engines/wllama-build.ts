/**
 * Which llama.cpp wasm build wllama runs, and where its files come from.
 *
 * wllama 3.13's default build needs two WebAssembly features: JSPI (`WebAssembly.Suspending`) and
 * memory64. Browsers without either (Safari; Firefox before JSPI, or with
 * `javascript.options.wasm_js_promise_integration` off) need the compat build of
 * @wllama/wllama-compat (Asyncify instead of JSPI, 32-bit memory; slower). The checks below are the
 * ones wllama itself makes (`needCompat()` in @wllama/wllama/esm/index.js), so what we report is
 * what wllama runs.
 *
 * wllama's own default for compat is jsDelivr; Chorus never fetches code from a CDN, so the compat
 * files are bundled (`?url`: Vite copies them byte for byte into the build) and served from our
 * origin. The service worker caches them on first use rather than precaching them (they are
 * 19 MB and most browsers never need them: tools/pwa/sw-plugin.mjs).
 */
import type { Wllama } from '@wllama/wllama';
import compatWasm from '@wllama/wllama-compat/wasm/wllama.wasm?url';
import compatWorker from '@wllama/wllama-compat/wasm/wllama.js?url';

export interface WasmFeatures {
  /** JS Promise Integration: `WebAssembly.Suspending` exists. */
  jspi: boolean;
  /** A 64-bit-addressed WebAssembly.Memory can be created. */
  memory64: boolean;
}

export interface WllamaBuild {
  name: 'default' | 'compat';
  /** For the engine card: which build and why. */
  label: string;
}

/** The features of this JavaScript engine (page or worker). */
export function wasmFeatures(wasm: typeof WebAssembly = WebAssembly): WasmFeatures {
  let memory64 = false;
  try {
    // The memory64 proposal's descriptor; engines without it throw on `address: 'i64'` with a bigint.
    new wasm.Memory({ address: 'i64', initial: 1n } as unknown as WebAssembly.MemoryDescriptor);
    memory64 = true;
  } catch {
    memory64 = false;
  }
  return { jspi: 'Suspending' in wasm, memory64 };
}

/** The default build when both features are there, the compat build otherwise. */
export function chooseWllamaBuild(features: WasmFeatures): WllamaBuild {
  const missing = [!features.jspi && 'JSPI', !features.memory64 && 'memory64'].filter(Boolean);
  if (missing.length === 0) return { name: 'default', label: 'wllama default build' };
  return { name: 'compat', label: `wllama compat build (no ${missing.join(', no ')})` };
}

/**
 * Points wllama at the chosen build. For 'compat' the mode 'firefox_safari' is needed: in its
 * default mode wllama leaves Firefox on the default build even without JSPI. For 'default' compat
 * is switched off, so wllama can never reach for its CDN copy.
 */
export function applyWllamaBuild(wllama: Wllama, build: WllamaBuild): void {
  if (build.name === 'compat') wllama.setCompat({ wasm: compatWasm, worker: compatWorker }, 'firefox_safari');
  else wllama.setCompat(null);
}
