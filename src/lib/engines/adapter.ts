/**
 * What a WebGPU adapter means for the GGUF engine, in one place: the header (src/ui/EnvStatus.svelte)
 * and each model card (EngineInfo.detail from wllama.ts) use these words, so the two never disagree
 * ("WebGPU ✓" in the header while every card says it runs on the CPU).
 * A software adapter (SwiftShader, or any the browser flags as a fallback) is slower than wasm
 * SIMD on the CPU, so llama.cpp is kept on the CPU with it.
 */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** The software renderer's name when the adapter is one, otherwise null. */
export function softwareAdapterName(info: AdapterInfoLike): string | null {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`;
  if (/swiftshader/i.test(text)) return 'SwiftShader';
  if (info.isFallbackAdapter === true) return 'fallback adapter';
  return null;
}

/** The words both places use for a software adapter. */
export function softwareAdapterNote(name: string): string {
  return `WebGPU: software adapter (${name}) — CPU used`;
}
