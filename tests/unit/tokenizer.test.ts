/**
 * Chorus's SentencePiece tokenizer (src/lib/engines/tokenizer.ts) against llama.cpp itself
 * (node-llama-cpp 3.21.1: `model.tokenize` is llama.cpp's common_tokenize without BOS), token for
 * token, on the real vocabularies: stories260K.gguf and a pool fine-tune. The texts are every dev
 * prompt of the pool's data sets, edge cases (leading/trailing/multiple spaces, newlines, tabs,
 * non-ASCII text that needs byte fallback, emoji, special tokens' texts, the empty string) and 1000
 * seeded random strings.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { readGGUF, bytesSource } from '../../src/lib/merge/gguf/index.ts';
import { SpmTokenizer, TokenizerError, vocabularyFingerprint } from '../../src/lib/engines/tokenizer.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

const EDGE_CASES = [
  '',
  ' ',
  '  ',
  'a',
  'Hello world',
  ' Hello world',
  'Hello  world',
  'Hello world ',
  'Once upon a time, there was a little girl named Lily.',
  'Q: 12+7\nA:',
  'line one\nline two\n\nline four\n',
  '\n',
  '\tindented\ttabs',
  'café naïve résumé',
  'Ünïcödé ß ø å æ',
  '日本語のテキスト',
  'emoji 😀🎉 and 👍🏽',
  'mixed: 1+1=2, 3*4=12; x/y!? #$%&',
  '<s>',
  'before <s> after',
  'a</s>b',
  '<unk> here',
  '<0x41> is not a byte here',
  '   leading spaces',
  'trailing spaces   ',
  'def f(x):\n    return x * 2\n',
  'print("hi")',
  'Lily went to the park and',
  'The cat said "hello" to the dog.',
  'Ｆｕｌｌｗｉｄｔｈ',
  '\u00a0non-breaking\u00a0space',
  '▁already▁escaped',
];

/** Seeded random strings over a mix of ASCII, spaces, newlines, accented, CJK and emoji characters and special tokens' texts. */
function randomTexts(count: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const alphabet = [...'abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789 .,;:!?"\'()[]{}+-*/=_\n\t', 'é', 'ü', 'ß', '日', '本', '😀', '👍🏽', '\u2581', '<s>', '</s>', '<unk>', '  ', 'the ', 'ing', ' was'];
  return Array.from({ length: count }, () => {
    let text = '';
    const n = Math.floor(rand() * 40);
    for (let i = 0; i < n; i++) text += alphabet[Math.floor(rand() * alphabet.length)];
    return text;
  });
}

function datasetPrompts(): string[] {
  const out: string[] = [];
  for (const task of ['arithmetic', 'code', 'reading', 'reverse', 'safety', 'world']) {
    const lines = readFileSync(resolve(REPO_ROOT, 'public/datasets', task, 'dev.jsonl'), 'utf8').split('\n').filter(Boolean);
    for (const line of lines) out.push((JSON.parse(line) as { prompt: string }).prompt);
  }
  return out;
}

async function ours(path: string): Promise<SpmTokenizer> {
  return SpmTokenizer.fromGGUF(await readGGUF(bytesSource(new Uint8Array(readFileSync(path)), path)), path);
}

let llama: Llama;
const models: { name: string; path: string; cpp?: LlamaModel; tok?: SpmTokenizer }[] = [
  { name: 'stories260K', path: '' },
  { name: 'reverse-specialist', path: resolve(REPO_ROOT, 'public/models/reverse-specialist.gguf') },
];

beforeAll(async () => {
  models[0]!.path = storiesModel();
  llama = await getLlama({ gpu: false, build: 'never' });
  for (const m of models) {
    m.cpp = await llama.loadModel({ modelPath: m.path });
    m.tok = await ours(m.path);
  }
}, 120_000);
afterAll(async () => {
  await llama?.dispose();
});

describe('SpmTokenizer: token for token with llama.cpp', () => {
  const texts = [...EDGE_CASES, ...datasetPrompts(), ...randomTexts(1000, 12)];

  for (const m of models) {
    it(`${m.name}: ${texts.length} texts, special tokens parsed and not, tokenize equal to llama.cpp's`, () => {
      const cpp = m.cpp!;
      const tok = m.tok!;
      let compared = 0;
      for (const text of texts) {
        for (const parseSpecial of [true, false]) {
          const want = Array.from(cpp.tokenize(text, parseSpecial));
          expect(tok.tokenize(text, { addBos: false, parseSpecial }), `${JSON.stringify(text)} (parseSpecial ${parseSpecial})`).toEqual(want);
          compared++;
        }
      }
      expect(compared).toBe(texts.length * 2);
    });

    it(`${m.name}: detokenize equals llama.cpp's llama_detokenize, decode its pieces, for every text and every single token`, () => {
      const cpp = m.cpp!;
      const tok = m.tok!;
      const bos = cpp.tokens.bos!;
      for (const text of texts) {
        const ids = Array.from(cpp.tokenize(text, false));
        expect(tok.detokenize(ids), JSON.stringify(text)).toBe(cpp.detokenize(ids as Token[], false));
        // A leading control token (BOS) takes llama_detokenize's leading-space removal: what is left is the pieces.
        expect(tok.decode(ids), JSON.stringify(text)).toBe(cpp.detokenize([bos, ...ids] as Token[], false));
      }
      for (let id = 0; id < tok.size; id++) {
        expect(tok.detokenize([id]), `token ${id} ${JSON.stringify(tok.tokens[id])}`).toBe(cpp.detokenize([id as Token], false));
        expect(tok.tokenText(id), `token ${id} ${JSON.stringify(tok.tokens[id])}`).toBe(cpp.detokenize([bos, id] as Token[], false));
      }
    });
  }

  it('prepends BOS when asked (llama.cpp adds it for these vocabularies) and not otherwise', () => {
    const tok = models[0]!.tok!;
    expect(tok.addBos).toBe(true);
    expect(tok.tokenize('Once upon a time')[0]).toBe(models[0]!.cpp!.tokens.bos);
    expect(tok.tokenize('Once upon a time', { addBos: false })).toEqual(tok.tokenize('Once upon a time').slice(1));
    expect(tok.tokenize('')).toEqual([models[0]!.cpp!.tokens.bos]);
  });

  it('round-trips text through tokenize and detokenize; decode keeps the space prefix tokenize added', () => {
    const tok = models[0]!.tok!;
    for (const text of ['Once upon a time', 'café 😀\nnext line', 'Q: 69 + 46 = ?\nA:']) {
      expect(tok.detokenize(tok.tokenize(text, { addBos: false }))).toBe(text);
      expect(tok.decode(tok.tokenize(text, { addBos: true }))).toBe(` ${text}`);
    }
  });
});

describe('vocabulary fingerprint', () => {
  it('is equal for the base and a fine-tune that kept its vocabulary, and differs when one token text changes', async () => {
    const [base, tuned] = [models[0]!.tok!, models[1]!.tok!];
    const a = await vocabularyFingerprint(base.tokens);
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await vocabularyFingerprint(tuned.tokens)).toBe(a);
    const changed = [...base.tokens];
    changed[100] = `${changed[100]}x`;
    expect(await vocabularyFingerprint(changed)).not.toBe(a);
    // Order matters: two tokens swapped mean different IDs.
    const swapped = [...base.tokens];
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    expect(await vocabularyFingerprint(swapped)).not.toBe(a);
  });
});

describe('refusals', () => {
  it('a non-SentencePiece vocabulary is refused with the model named and the fix', async () => {
    const file = await readGGUF(bytesSource(new Uint8Array(readFileSync(storiesModel())), 'x.gguf'));
    const gpt2 = { ...file, metadata: file.metadata.map((e) => (e.key === 'tokenizer.ggml.model' ? { ...e, value: 'gpt2' } : e)) };
    expect(() => SpmTokenizer.fromGGUF(gpt2, 'x.gguf')).toThrow(TokenizerError);
    expect(() => SpmTokenizer.fromGGUF(gpt2, 'x.gguf')).toThrow(/x\.gguf: tokenizer\.ggml\.model is "gpt2".*wllama engine/);
  });

  it('an ID outside the vocabulary is refused by name', () => {
    expect(() => models[0]!.tok!.detokenize([1, 512])).toThrow(/token ID 512 is outside the vocabulary of 512 tokens/);
  });
});
