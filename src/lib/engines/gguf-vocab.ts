/**
 * A GGUF model's vocabulary, read with the project's own GGUF reader: the token pieces, the
 * fingerprint that `sameVocabulary` compares (stepper.ts), and llama.cpp's SentencePiece
 * ("llama" tokenizer model) tokenization and detokenization in TypeScript.
 *
 * Why here: wllama 3.13 exposes no tokenize/detokenize call, and its completion call refuses a
 * prompt given as token IDs (checked in headless Chromium: `prompt: [1, 400, 300]`, mixed arrays
 * and nested arrays all fail inside the wasm with "Invalid typed array length: 1163217991", while
 * the same text prompt works). The wllama stepper therefore sends text, and needs the model's own
 * tokenizer to turn text into the IDs every stepper speaks.
 *
 * The tokenizer follows llama.cpp's `llm_tokenizer_spm` (src/llama-vocab.cpp): a space prefix,
 * spaces as U+2581, UTF-8 characters as symbols, then the best-scoring mergeable bigram first
 * (ties: the leftmost), and byte fallback (`<0xXX>`) for pieces the vocabulary lacks.
 * tests/unit/gguf-vocab.test.ts checks it token for token against llama.cpp (node-llama-cpp) on
 * the data sets' prompts. Other tokenizer models (BPE, WPM, …) are refused with a clear message.
 *
 * No DOM: runs in workers, in the page and in Node.
 */
import { getMeta, readGGUF, type ByteSource } from '../merge/gguf/index.ts';
import type { VocabularyInfo } from './stepper.ts';
import { EngineError } from './engine.ts';

const SPACE = '\u2581';
/** llama.cpp token types (gguf-py constants.TokenType). */
const TYPE_CONTROL = 3;
const TYPE_BYTE = 6;

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

/** SHA-256 of the token pieces in ID order (JSON array): equal fingerprints ⇒ IDs mean the same text. */
export async function vocabularyFingerprint(tokens: readonly string[]): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(tokens));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return 'sha256:' + Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reads the vocabulary of a GGUF file (header only; tensors are not read). */
export async function readGgufVocabulary(src: ByteSource): Promise<GgufVocabulary> {
  const file = await readGGUF(src);
  const tokens = getMeta(file, 'tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => typeof t === 'string')) {
    throw new EngineError('unsupported', `${src.name}: the file has no tokenizer.ggml.tokens list, so its tokens cannot be stepped — use a GGUF converted with its tokenizer.`);
  }
  const model = String(getMeta(file, 'tokenizer.ggml.model') ?? '');
  const scoresRaw = getMeta(file, 'tokenizer.ggml.scores');
  const typesRaw = getMeta(file, 'tokenizer.ggml.token_type');
  const scores = Array.isArray(scoresRaw) ? scoresRaw.map(Number) : tokens.map(() => 0);
  const types = Array.isArray(typesRaw) ? typesRaw.map(Number) : tokens.map(() => 1);
  const id = (key: string): number | undefined => {
    const v = getMeta(file, key);
    return typeof v === 'number' && v >= 0 && v < tokens.length ? v : typeof v === 'bigint' && v < BigInt(tokens.length) ? Number(v) : undefined;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = [id('tokenizer.ggml.eos_token_id'), id('tokenizer.ggml.eot_token_id')].filter((x): x is number => x !== undefined);
  const addSpace = getMeta(file, 'tokenizer.ggml.add_space_prefix');
  const info: VocabularyInfo = { size: tokens.length, fingerprint: await vocabularyFingerprint(tokens as string[]), eos: [...new Set(eos)], ...(bos !== undefined && { bos }) };
  return spmVocabulary(tokens as string[], scores, types, info, model, addSpace !== false, src.name);
}

export function spmVocabulary(tokens: readonly string[], scores: readonly number[], types: readonly number[], info: VocabularyInfo, model: string, addSpacePrefix: boolean, name: string): GgufVocabulary {
  const index = new Map<string, number>();
  // Later duplicates win, as in llama.cpp's token_to_id map.
  tokens.forEach((t, i) => index.set(t, i));
  const unk = index.get('<unk>') ?? 0;
  const byteId = new Map<number, number>();
  tokens.forEach((t, i) => {
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
    if (m && types[i] === TYPE_BYTE) byteId.set(parseInt(m[1]!, 16), i);
  });
  const supported = model === 'llama';

  function tokenize(text: string, addBos: boolean): number[] {
    if (!supported) {
      throw new EngineError('unsupported', `${name}: its tokenizer model is "${model}"; Chorus tokenizes only SentencePiece ("llama") vocabularies in the browser so far — step this model through an OpenAI-compatible server instead.`);
    }
    const out: number[] = addBos && info.bos !== undefined ? [info.bos] : [];
    if (text === '') return out;
    const normal = (addSpacePrefix ? ' ' + text : text).replaceAll(' ', SPACE);
    // Symbols: one per UTF-8 character, as a doubly linked list (llm_symbol).
    const sym = Array.from(normal).map((s, i, all) => ({ text: s, prev: i - 1, next: i + 1 < all.length ? i + 1 : -1 }));
    // Max-heap on (score, then leftmost); a sorted insert keeps it simple for prompt-sized inputs.
    type Bigram = { left: number; right: number; score: number; text: string };
    const queue: Bigram[] = [];
    const before = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const t = sym[left]!.text + sym[right]!.text;
      const tid = index.get(t);
      if (tid === undefined) return;
      const b = { left, right, score: scores[tid] ?? 0, text: t };
      let i = queue.length;
      while (i > 0 && before(b, queue[i - 1]!)) i--;
      queue.splice(i, 0, b);
    };
    for (let i = 1; i < sym.length; i++) tryAdd(i - 1, i);
    while (queue.length > 0) {
      const b = queue.shift()!;
      const l = sym[b.left]!;
      const r = sym[b.right]!;
      // Outdated: one side was merged away or grew since the bigram was queued.
      if (l.text === '' || r.text === '' || l.text + r.text !== b.text) continue;
      l.text = b.text;
      r.text = '';
      l.next = r.next;
      if (r.next >= 0) sym[r.next]!.prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    // A merged symbol is always a token (only token bigrams are queued); a lone character the
    // vocabulary lacks falls back to its UTF-8 bytes (llm_tokenizer_spm's resegment).
    const emit = (t: string): void => {
      const tid = index.get(t);
      if (tid !== undefined) out.push(tid);
      else for (const byte of new TextEncoder().encode(t)) out.push(byteId.get(byte) ?? unk);
    };
    for (let i = 0; i >= 0 && i < sym.length; i = sym[i]!.next) if (sym[i]!.text) emit(sym[i]!.text);
    return out;
  }

  function piece(id: number): string {
    return new TextDecoder().decode(pieceBytes(id));
  }

  function pieceBytes(id: number): Uint8Array {
    const t = tokens[id];
    if (t === undefined || types[id] === TYPE_CONTROL) return new Uint8Array(0);
    if (types[id] === TYPE_BYTE) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    return new TextEncoder().encode(t.replaceAll(SPACE, ' '));
  }

  function detokenize(ids: readonly number[], stripPrefix = false): string {
    const parts = ids.map(pieceBytes);
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    const text = new TextDecoder().decode(all);
    return stripPrefix && addSpacePrefix && text.startsWith(' ') ? text.slice(1) : text;
  }

  return { info, tokens, model, tokenize, piece, detokenize };
}
