/**
 * A GGUF model's vocabulary as the wllama stepper uses it: the token pieces, the fingerprint that
 * `sameVocabulary` compares (stepper.ts), and llama.cpp's SentencePiece tokenization — all from
 * the one TypeScript tokenizer (tokenizer.ts, shared with the ONNX engine, so fingerprints and IDs
 * agree across engines).
 *
 * Why here: wllama 3.13 exposes no tokenize/detokenize call, and its completion call refuses a
 * prompt given as token IDs (checked in headless Chromium: `prompt: [1, 400, 300]`, mixed arrays
 * and nested arrays all fail inside the wasm with "Invalid typed array length: 1163217991", while
 * the same text prompt works). The wllama stepper therefore sends text, and needs the model's own
 * tokenizer to turn text into the IDs every stepper speaks.
 *
 * tests/unit/gguf-vocab.test.ts checks it token for token against llama.cpp (node-llama-cpp) on
 * the data sets' prompts (tests/unit/tokenizer.test.ts on many more texts). Other tokenizer models
 * (BPE, WPM, …) are refused with a clear message.
 *
 * No DOM: runs in workers, in the page and in Node.
 */
import { getMeta, readGGUF, type ByteSource } from '../merge/gguf/index.ts';
import { SpmTokenizer, TokenizerError, vocabularyFingerprint } from './tokenizer.ts';
import type { VocabularyInfo } from './stepper.ts';
import { EngineError } from './engine.ts';


export interface GgufVocabulary {
  info: VocabularyInfo;
  /** Token pieces in ID order, as stored in `tokenizer.ggml.tokens`. */
  tokens: readonly string[];
  /** `tokenizer.ggml.model` ("llama" = SentencePiece). */
  model: string;
  /** Text → IDs as llama.cpp tokenizes it (no special-token parsing). */
  tokenize(text: string, addBos: boolean): number[];
  /** The text of one token alone (control tokens render as ""). */
  piece(id: number): string;
  /** IDs → text; a leading space that the tokenizer's space prefix added is dropped when `stripPrefix`. */
  detokenize(ids: readonly number[], stripPrefix?: boolean): string;
}

export { vocabularyFingerprint };

/** Reads the vocabulary of a GGUF file (header only; tensors are not read). */
export async function readGgufVocabulary(src: ByteSource): Promise<GgufVocabulary> {
  const file = await readGGUF(src);
  const tokens = getMeta(file, 'tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => typeof t === 'string')) {
    throw new EngineError('unsupported', `${src.name}: the file has no tokenizer.ggml.tokens list, so its tokens cannot be stepped — use a GGUF converted with its tokenizer.`);
  }
  const model = String(getMeta(file, 'tokenizer.ggml.model') ?? '');
  let tokenizer: SpmTokenizer;
  try {
    tokenizer = SpmTokenizer.fromGGUF(file, src.name);
  } catch (e) {
    if (e instanceof TokenizerError) throw new EngineError('unsupported', `${e.message.replace(/ — run this model on the wllama engine instead\.$/, '')} — step this model through an OpenAI-compatible server instead.`);
    throw e;
  }
  const id = (key: string): number | undefined => {
    const v = getMeta(file, key);
    return typeof v === 'number' && v >= 0 && v < tokens.length ? v : typeof v === 'bigint' && v < BigInt(tokens.length) ? Number(v) : undefined;
  };
  const addSpacePrefix = getMeta(file, 'tokenizer.ggml.add_space_prefix') !== false;
  const eos = [id('tokenizer.ggml.eos_token_id'), id('tokenizer.ggml.eot_token_id')].filter((x): x is number => x !== undefined);
  const info: VocabularyInfo = { size: tokens.length, fingerprint: await vocabularyFingerprint(tokens as string[]), eos: [...new Set(eos)], ...(tokenizer.bos !== undefined && { bos: tokenizer.bos }) };
  return {
    info,
    tokens: tokens as string[],
    model,
    // Special tokens' texts are not read as those tokens: a prefix is model text, not markup.
    tokenize: (text, addBos) => tokenizer.tokenize(text, { addBos, parseSpecial: false }),
    piece: (tid) => tokenizer.tokenText(tid),
    detokenize: (ids, stripPrefix = false) => {
      const text = tokenizer.decode(ids);
      return stripPrefix && addSpacePrefix && text.startsWith(' ') ? text.slice(1) : text;
    },
  };
}
