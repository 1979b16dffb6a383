/**
 * The project's own GGUF reader and writer (ggml/docs/gguf.md). Everything here is pure
 * TypeScript over ByteSource/ByteSink, so it runs in the merge worker, the page and Node alike.
 */
export * from './types.ts';
export { readGGUF, readTensorData, readTensorInto, readTensorRows, rowByteSize, rowCount, getMeta, getTensor } from './reader.ts';
export { GGUFWriter, layoutTensors, type TensorSpec, type GGUFWriterOptions } from './writer.ts';
export { summarize, type ModelSummary } from './summary.ts';
export { meta, setMeta, removeMeta, provenanceMetadata, withProvenance, PROVENANCE_PREFIX, type Provenance } from './metadata.ts';
export { memorySink, blobSource, bytesSource, type ByteSource, type ByteSink } from '../source.ts';
