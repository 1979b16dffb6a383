/**
 * What the model manager shows about a GGUF file, from its header alone: architecture, size,
 * tensor types, context length, vocabulary, chat template. Keys follow llama.cpp's
 * gguf-py/gguf/constants.py (`{arch}.context_length`, `tokenizer.chat_template`, …).
 */
import { getMeta } from './reader.ts';
import { ggmlTypeName, type GGUFFile, type GGUFScalar } from './types.ts';

export interface ModelSummary {
  architecture: string;
  name?: string;
  /** Sum of the element counts of all tensors. */
  parameterCount: number;
  /** Type name → number of tensors of that type, e.g. { F32: 11, Q8_0: 37 }. */
  tensorTypes: Record<string, number>;
  /** general.file_type (llama_ftype), as a number, and its name when known. */
  fileType?: number;
  fileTypeName?: string;
  contextLength?: number;
  vocabSize?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  tensorCount: number;
  hasChatTemplate: boolean;
  chatTemplate?: string;
  /** Tokenizer model (e.g. "llama", "gpt2"), when present. */
  tokenizerModel?: string;
}

/** llama.h `enum llama_ftype` names (LLAMA_FTYPE_MOSTLY_*), for display. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4_MOE',
};

function num(v: GGUFScalar | GGUFScalar[] | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

export function summarize(file: GGUFFile): ModelSummary {
  const archValue = getMeta(file, 'general.architecture');
  const architecture = typeof archValue === 'string' ? archValue : 'unknown';
  const name = getMeta(file, 'general.name');
  const tensorTypes: Record<string, number> = {};
  let parameterCount = 0;
  for (const t of file.tensors) {
    parameterCount += t.nElements;
    const k = ggmlTypeName(t.type);
    tensorTypes[k] = (tensorTypes[k] ?? 0) + 1;
  }
  const a = (k: string): number | undefined => num(getMeta(file, `${architecture}.${k}`));
  const tokens = getMeta(file, 'tokenizer.ggml.tokens');
  const template = getMeta(file, 'tokenizer.chat_template');
  const fileType = num(getMeta(file, 'general.file_type'));
  const tokenizerModel = getMeta(file, 'tokenizer.ggml.model');
  const out: ModelSummary = {
    architecture,
    parameterCount,
    tensorTypes,
    tensorCount: file.tensors.length,
    hasChatTemplate: typeof template === 'string' && template.length > 0,
  };
  if (typeof name === 'string') out.name = name;
  if (fileType !== undefined) {
    out.fileType = fileType;
    const ftName = FILE_TYPES[fileType];
    if (ftName) out.fileTypeName = ftName;
  }
  const ctx = a('context_length');
  if (ctx !== undefined) out.contextLength = ctx;
  // The vocabulary is the token list when present; some converters also write {arch}.vocab_size.
  const vocab = Array.isArray(tokens) ? tokens.length : a('vocab_size');
  if (vocab !== undefined) out.vocabSize = vocab;
  const emb = a('embedding_length');
  if (emb !== undefined) out.embeddingLength = emb;
  const blocks = a('block_count');
  if (blocks !== undefined) out.blockCount = blocks;
  const heads = a('attention.head_count');
  if (heads !== undefined) out.headCount = heads;
  const kv = a('attention.head_count_kv');
  if (kv !== undefined) out.headCountKv = kv;
  if (typeof template === 'string' && template.length > 0) out.chatTemplate = template;
  if (typeof tokenizerModel === 'string') out.tokenizerModel = tokenizerModel;
  return out;
}
