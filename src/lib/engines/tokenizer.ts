/**
 * The GGUF vocabulary's tokenizer in TypeScript, token for token with llama.cpp, for engines that
 * run a model without llama.cpp (the ONNX engine, src/lib/engines/onnx.ts) and for anything that
 * must count or line up tokens.
 *
 * Supported: `tokenizer.ggml.model = "llama"` (SentencePiece, "SPM"), the vocabulary of every
 * llama-architecture model in the pool (stories260K and its fine-tunes). Other tokenizer models
 * (gpt2 byte-level BPE, …) are refused with a message naming the model.
 *
 * What llama.cpp does (src/llama-vocab.cpp: `tokenize`, `tokenizer_st_partition`,
 * `llm_tokenizer_spm_session`, `token_to_piece`), reproduced here:
 * - Special tokens first: the text is split at the literal texts of special tokens (CONTROL,
 *   USER_DEFINED and UNKNOWN types), longest first; CONTROL and UNKNOWN only when `parseSpecial`
 *   (llama-server parses them in prompts; `common_tokenize(…, parse_special)`).
 * - Each text piece gets a leading space when the previous piece was special or it is the first
 *   (`tokenizer.ggml.add_space_prefix`, default true), then every ' ' becomes '▁' (U+2581).
 * - The piece is split into UTF-8 characters; adjacent symbols merge while some adjacent pair
 *   spells a vocabulary token: the highest score first, ties to the leftmost pair.
 * - A final symbol that is no token is written as its UTF-8 bytes, `<0xXX>` byte-fallback tokens.
 * - BOS is prepended when asked and the vocabulary adds one (`tokenizer.ggml.add_bos_token`,
 *   default true for SPM).
 * - Detokenizing: normal pieces with '▁' turned back into spaces, byte tokens as their byte, the
 *   unknown and control tokens (BOS, EOS) as nothing; the bytes are then decoded as UTF-8.
 *
 * tests/unit/tokenizer.test.ts compares every output with llama.cpp itself (node-llama-cpp).
 * No DOM here: this file runs in workers, in the page and in Node.
 */
import { getMeta, type GGUFFile } from '../merge/gguf/index.ts';

/** llama.cpp's token types (`tokenizer.ggml.token_type`, llama_token_type). */
export const TokenType = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface VocabularyData {
  tokens: string[];
  scores: number[];
  /** Per token; absent means every token is normal. */
  types?: number[];
  bos?: number;
  eos?: number;
  /** Default true (llama.cpp's SPM default). */
  addBos?: boolean;
  /** Default true (llama.cpp's SPM default). */
  addSpacePrefix?: boolean;
}

export interface TokenizeOptions {
  /** Prepend BOS when the vocabulary adds one (default true). */
  addBos?: boolean;
  /** Read special tokens' texts ("<s>") in the text as those tokens (default true, as llama-server does with prompts). */
  parseSpecial?: boolean;
}

const SPACE = '\u2581';
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}

export class SpmTokenizer {
  readonly tokens: readonly string[];
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly addBos: boolean;
  readonly #scores: readonly number[];
  readonly #types: readonly number[];
  readonly #addSpacePrefix: boolean;
  readonly #index = new Map<string, number>();
  readonly #byteIds = new Int32Array(256).fill(-1);
  /** Special tokens that may split a text, longest text first (llama.cpp's cache_special_tokens). */
  readonly #specials: { id: number; text: string; type: number }[] = [];
  readonly #pieces: Uint8Array[] = [];

  constructor(data: VocabularyData) {
    const n = data.tokens.length;
    if (n === 0) throw new TokenizerError('the vocabulary is empty (tokenizer.ggml.tokens has no entries) — the model file is damaged; re-import it.');
    if (data.scores.length !== n) throw new TokenizerError(`the vocabulary has ${n} tokens but ${data.scores.length} scores — the model file is damaged; re-import it.`);
    if (data.types && data.types.length !== n) throw new TokenizerError(`the vocabulary has ${n} tokens but ${data.types.length} token types — the model file is damaged; re-import it.`);
    this.tokens = data.tokens;
    this.#scores = data.scores;
    this.#types = data.types ?? new Array<number>(n).fill(TokenType.normal);
    this.bos = data.bos;
    this.eos = data.eos;
    this.addBos = (data.addBos ?? true) && data.bos !== undefined;
    this.#addSpacePrefix = data.addSpacePrefix ?? true;
    const encoder = new TextEncoder();
    for (let id = 0; id < n; id++) {
      const text = data.tokens[id]!;
      // As llama.cpp's token_to_id map: a later duplicate wins.
      this.#index.set(text, id);
      const type = this.#types[id]!;
      if (type === TokenType.byte) {
        const m = BYTE_TOKEN.exec(text);
        if (m) this.#byteIds[parseInt(m[1]!, 16)] = id;
      }
      if ((type === TokenType.control || type === TokenType.userDefined || type === TokenType.unknown) && text.length > 0) {
        this.#specials.push({ id, text, type });
      }
      this.#pieces.push(pieceBytes(text, type, encoder));
    }
    // llama.cpp sorts by byte length, longest first (a stable sort keeps ID order for equal lengths).
    this.#specials.sort((a, b) => encoder.encode(b.text).length - encoder.encode(a.text).length);
  }

  /** The tokenizer of a GGUF file's header (`tokenizer.ggml.*`); refuses vocabularies it does not implement. */
  static fromGGUF(file: GGUFFile, name = 'the model'): SpmTokenizer {
    const model = getMeta(file, 'tokenizer.ggml.model');
    if (model !== 'llama') {
      throw new TokenizerError(
        `${name}: tokenizer.ggml.model is ${model === undefined ? 'missing' : JSON.stringify(model)}; Chorus's own tokenizer implements SentencePiece ("llama") vocabularies only — run this model on the wllama engine instead.`,
      );
    }
    const tokens = getMeta(file, 'tokenizer.ggml.tokens');
    const scores = getMeta(file, 'tokenizer.ggml.scores');
    const types = getMeta(file, 'tokenizer.ggml.token_type');
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
      throw new TokenizerError(`${name}: tokenizer.ggml.tokens is missing or not a list of strings — the file is damaged; re-import it.`);
    }
    const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);
    const id = (key: string): number | undefined => {
      const v = num(getMeta(file, key));
      return v !== undefined && v >= 0 && v < tokens.length ? v : undefined;
    };
    const flag = (key: string): boolean | undefined => {
      const v = getMeta(file, key);
      return typeof v === 'boolean' ? v : undefined;
    };
    return new SpmTokenizer({
      tokens: tokens as string[],
      scores: Array.isArray(scores) ? scores.map((s) => num(s) ?? 0) : new Array<number>(tokens.length).fill(0),
      ...(Array.isArray(types) && { types: types.map((t) => num(t) ?? TokenType.normal) }),
      bos: id('tokenizer.ggml.bos_token_id') ?? 1,
      eos: id('tokenizer.ggml.eos_token_id') ?? 2,
      ...(flag('tokenizer.ggml.add_bos_token') !== undefined && { addBos: flag('tokenizer.ggml.add_bos_token') }),
      ...(flag('tokenizer.ggml.add_space_prefix') !== undefined && { addSpacePrefix: flag('tokenizer.ggml.add_space_prefix') }),
    });
  }

  get size(): number {
    return this.tokens.length;
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    const out: number[] = [];
    if ((options.addBos ?? true) && this.addBos) out.push(this.bos!);
    let prevSpecial = true;
    for (const part of this.#partition(text, options.parseSpecial ?? true)) {
      if (typeof part === 'number') {
        out.push(part);
        prevSpecial = true;
      } else {
        const piece = (this.#addSpacePrefix && prevSpecial ? ' ' : '') + part;
        this.#encodePiece(piece.replaceAll(' ', SPACE), out);
        prevSpecial = false;
      }
    }
    return out;
  }

  /**
   * The text of token IDs as llama.cpp's llama_detokenize writes it (remove_special and
   * unparse_special false): the pieces joined, less one leading space of the first piece when the
   * vocabulary adds a space prefix (the space tokenize added). Use `decode` for a continuation.
   */
  detokenize(ids: readonly number[]): string {
    return new TextDecoder().decode(this.bytesOf(ids, this.#addSpacePrefix));
  }

  /** The pieces of token IDs joined, as llama-server streams them (a continuation keeps its first space). */
  decode(ids: readonly number[]): string {
    return new TextDecoder().decode(this.bytesOf(ids));
  }

  /**
   * The raw bytes of token IDs (bytes of byte-fallback tokens joined before any UTF-8 decoding, so
   * a streaming decoder may hold an incomplete sequence back); `stripFirstSpace` drops one leading
   * space of the first piece, as llama_detokenize does.
   */
  bytesOf(ids: readonly number[], stripFirstSpace = false): Uint8Array {
    const parts = ids.map((id) => this.#piece(id));
    if (stripFirstSpace && parts[0]?.[0] === 0x20) parts[0] = parts[0].subarray(1);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** One token's piece alone (as a candidate is shown). */
  tokenText(id: number): string {
    return new TextDecoder().decode(this.#piece(id));
  }

  #piece(id: number): Uint8Array {
    const p = this.#pieces[id];
    if (p === undefined) throw new TokenizerError(`token ID ${id} is outside the vocabulary of ${this.size} tokens.`);
    return p;
  }

  /** Text pieces and special-token IDs, in order (llama.cpp's tokenizer_st_partition). */
  #partition(text: string, parseSpecial: boolean): (string | number)[] {
    let parts: (string | number)[] = text === '' ? [] : [text];
    for (const s of this.#specials) {
      if (!parseSpecial && s.type !== TokenType.userDefined) continue;
      const next: (string | number)[] = [];
      for (const p of parts) {
        if (typeof p === 'number') {
          next.push(p);
          continue;
        }
        let from = 0;
        for (let at = p.indexOf(s.text); at !== -1; at = p.indexOf(s.text, from)) {
          if (at > from) next.push(p.slice(from, at));
          next.push(s.id);
          from = at + s.text.length;
        }
        if (from < p.length) next.push(p.slice(from));
      }
      parts = next;
    }
    return parts;
  }

  /** One text piece (spaces already '▁') by merges of the highest score (llm_tokenizer_spm_session). */
  #encodePiece(text: string, out: number[]): void {
    const sym = Array.from(text); // one symbol per Unicode character (= one UTF-8 character)
    const n = sym.length;
    if (n === 0) return;
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const heap = new BigramHeap();
    const tryAdd = (left: number, right: number): void => {
      if (left === -1 || right === -1) return;
      const joined = sym[left]! + sym[right]!;
      const id = this.#index.get(joined);
      if (id === undefined) return;
      heap.push({ left, right, score: this.#scores[id]!, size: joined.length });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b; b = heap.pop()) {
      const l = sym[b.left]!;
      const r = sym[b.right]!;
      // One side merged since this pair was queued: skip it (llama.cpp checks the same sizes).
      if (l.length === 0 || r.length === 0 || l.length + r.length !== b.size) continue;
      sym[b.left] = l + r;
      sym[b.right] = '';
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      tryAdd(prev[b.left]!, b.left);
      tryAdd(b.left, next[b.left]!);
    }
    const encoder = new TextEncoder();
    for (let i = 0; i !== -1; i = next[i]!) {
      const s = sym[i]!;
      const id = this.#index.get(s);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // Only single characters can be unknown (every merge spells a token): their UTF-8 bytes.
      for (const byte of encoder.encode(s)) out.push(this.#byteToken(byte));
    }
  }

  #byteToken(byte: number): number {
    const id = this.#byteIds[byte]!;
    if (id >= 0) return id;
    // llama.cpp's byte_to_token falls back to the byte as a one-character token, and fails without one.
    const plain = this.#index.get(String.fromCharCode(byte));
    if (plain !== undefined && byte < 0x80) return plain;
    throw new TokenizerError(`the vocabulary has no byte-fallback token <0x${byte.toString(16).toUpperCase().padStart(2, '0')}> for a character of the text — this text cannot be tokenized for this model.`);
  }
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** A binary max-heap of bigrams: the highest score first, then the leftmost (llm_bigram_spm::comparator). */
class BigramHeap {
  readonly #a: Bigram[] = [];

  static #before(x: Bigram, y: Bigram): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }

  push(b: Bigram): void {
    const a = this.#a;
    a.push(b);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!BigramHeap.#before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): Bigram | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < a.length && BigramHeap.#before(a[l]!, a[best]!)) best = l;
      if (r < a.length && BigramHeap.#before(a[r]!, a[best]!)) best = r;
      if (best === i) break;
      [a[i], a[best]] = [a[best]!, a[i]!];
      i = best;
    }
    return top;
  }
}

/** A token's bytes when detokenized (llama.cpp token_to_piece, special = false: no text for control and unknown tokens). */
function pieceBytes(text: string, type: number, encoder: TextEncoder): Uint8Array {
  switch (type) {
    case TokenType.unknown:
    case TokenType.control:
    case TokenType.unused:
    case TokenType.undefined:
      return new Uint8Array(0);
    case TokenType.byte: {
      const m = BYTE_TOKEN.exec(text);
      return m ? new Uint8Array([parseInt(m[1]!, 16)]) : new Uint8Array(0);
    }
    default:
      return encoder.encode(text.replaceAll(SPACE, ' '));
  }
}

/**
 * The vocabulary's fingerprint: SHA-256 of the JSON list of token texts in ID order, as
 * "sha256:<hex>". Equal fingerprints mean token IDs spell the same texts (stepper.ts sameVocabulary);
 * every engine's stepper uses this one function so fingerprints compare across engines.
 */
export async function vocabularyFingerprint(tokens: readonly string[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(tokens)));
  return `sha256:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
