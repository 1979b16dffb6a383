import { describe, expect, it } from 'vitest';
import { chooseWllamaBuild, wasmFeatures } from '../../src/lib/engines/wllama-build.ts';

describe('wllama build selection (default vs self-hosted compat)', () => {
  it('the default build only when both JSPI and memory64 are there', () => {
    expect(chooseWllamaBuild({ jspi: true, memory64: true })).toEqual({ name: 'default', label: 'wllama default build' });
    expect(chooseWllamaBuild({ jspi: false, memory64: true })).toEqual({ name: 'compat', label: 'wllama compat build (no JSPI)' });
    expect(chooseWllamaBuild({ jspi: true, memory64: false })).toEqual({ name: 'compat', label: 'wllama compat build (no memory64)' });
    expect(chooseWllamaBuild({ jspi: false, memory64: false })).toEqual({ name: 'compat', label: 'wllama compat build (no JSPI, no memory64)' });
  });

  it('detects the features the way wllama does: WebAssembly.Suspending, and an i64-addressed Memory', () => {
    // Node's own engine, whatever it offers, against an engine with neither feature.
    const here = wasmFeatures();
    expect(here.jspi).toBe('Suspending' in WebAssembly);
    const without = { Memory: function Memory(d: { address?: string }) { if (d.address) throw new TypeError('no memory64'); } } as unknown as typeof WebAssembly;
    expect(wasmFeatures(without)).toEqual({ jspi: false, memory64: false });
  });

});
