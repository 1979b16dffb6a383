/**
 * The ONNX engine worker's API (workers/onnx.worker.ts), declared once for both sides: the engine
 * worker's calls (load, generate, cancel, unload: workers/engine.api.ts) with ONNX load parameters,
 * plus the stepper's (src/lib/engines/stepper.ts) and the forward-pass record tests read.
 */
import type { EngineWorkerApi, ModelSource, ProgressCallback } from './engine.api.ts';
import type { EngineInfo } from '../src/lib/engines/engine.ts';
import type { NextToken, VocabularyInfo } from '../src/lib/engines/stepper.ts';

/**
 * 'auto': WebGPU when the browser has an adapter (a software one such as SwiftShader included: the
 * card names it, and the README gives its per-token time against wasm), wasm otherwise; 'webgpu'
 * and 'wasm' ask for one (WebGPU fails loudly when the browser has none).
 */
export type OnnxProviderChoice = 'auto' | 'webgpu' | 'wasm';

export interface OnnxLoadParams {
  provider: OnnxProviderChoice;
  /** Where the model's .onnx file is (public/models/<id>.onnx for the pool). */
  onnxUrl: string;
}

export interface OnnxWorkerApi extends Omit<EngineWorkerApi, 'load' | 'stepAhead'> {
  /** `source` is the GGUF the ONNX file was exported from (its header: vocabulary, shape, chat template). */
  load(id: number, source: ModelSource, params: OnnxLoadParams, onProgress: ProgressCallback | null): Promise<EngineInfo>;
  /** Opens the model's stepper (one per worker; opening again starts a fresh sequence); resolves with its vocabulary. */
  stepperOpen(): Promise<VocabularyInfo>;
  /** One step: the full distribution of the token after `prefix` (token IDs). */
  step(prefix: number[], topK: number): Promise<NextToken>;
  tokenize(text: string, addBos: boolean): Promise<number[]>;
  detokenize(ids: number[]): Promise<string>;
  stepperClose(): Promise<void>;
  /** Every forward pass's number of new tokens since load. */
  forwards(): Promise<number[]>;
  /** Every forward pass's WebGPU compute dispatches since load (0 per pass on wasm). */
  dispatches(): Promise<number[]>;
}
