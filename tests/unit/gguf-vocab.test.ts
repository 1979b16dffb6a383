/**
 * The GGUF vocabulary's SentencePiece tokenizer (src/lib/engines/gguf-vocab.ts) against llama.cpp
 * itself (node-llama-cpp 3.21.1 on stories260K.gguf): every data-set prompt of the built-in pool,
 * plus texts that exercise the byte fallback and the space prefix, tokenize to the same IDs and
 * detokenize back to the same text.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/lib/merge/gguf/index.ts';
import { readGgufVocabulary, type GgufVocabulary } from '../../src/lib/engines/gguf-vocab.ts';
import { sameVocabulary } from '../../src/lib/engines/stepper.ts';
import { loadLlama, type LoadedLlama } from '../../tools/lib/llama-openai-server.ts';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

let llama: LoadedLlama;
let vocab: GgufVocabulary;

beforeAll(async () => {
  llama = await loadLlama(storiesModel());
  vocab = await readGgufVocabulary(bytesSource(new Uint8Array(readFileSync(storiesModel())), 'stories260K.gguf'));
}, 60_000);
afterAll(async () => llama?.dispose());

function prompts(): string[] {
  const dir = join(REPO_ROOT, 'public/datasets');
  const out: string[] = [];
  for (const task of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const split of ['dev.jsonl', 'test.jsonl']) {
      const lines = readFileSync(join(dir, task.name, split), 'utf8').split('\n').filter(Boolean);
      for (const l of lines.slice(0, 15)) out.push((JSON.parse(l) as { prompt: string }).prompt);
    }
  }
  return out;
}

describe('GGUF SentencePiece tokenizer', () => {
  it('reads the vocabulary: 512 tokens, BOS 1, EOS 2, a sha256 fingerprint shared by the pool (same vocabulary)', async () => {
    expect(vocab.info.size).toBe(512);
    expect(vocab.info.bos).toBe(1);
    expect(vocab.info.eos).toEqual([2]);
    expect(vocab.info.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    const pool = await readGgufVocabulary(bytesSource(new Uint8Array(readFileSync(join(REPO_ROOT, 'public/models/generalist.gguf'))), 'generalist.gguf'));
    expect(sameVocabulary(pool.info, vocab.info)).toBe(true);
    expect(sameVocabulary({ ...pool.info, fingerprint: 'sha256:other' }, vocab.info)).toBe(false);
  });

  it('tokenizes every data-set prompt (15 per split and task) exactly as llama.cpp does, and detokenizes back', () => {
    const texts = [...prompts(), 'Once upon a time', '  two  spaces', 'ünïcödé → 数学 😀', 'tab\tand\nnewline', '', 'a'];
    expect(texts.length).toBeGreaterThan(100);
    for (const text of texts) {
      const ours = vocab.tokenize(text, true);
      const theirs = Array.from(llama.model.tokenize(text, false)).map(Number);
      const withBos = text === '' ? [1] : [1, ...theirs];
      expect(ours, JSON.stringify(text)).toEqual(withBos);
      expect(vocab.detokenize(ours, true)).toBe(text);
    }
  });

  it('gives each token its piece: ▁ as a space, byte tokens as their byte, control tokens as nothing', () => {
    expect(vocab.piece(1)).toBe('');
    expect(vocab.piece(vocab.tokens.indexOf('▁the'))).toBe(' the');
    expect(vocab.detokenize([vocab.tokens.indexOf('<0x41>')])).toBe('A');
  });
});
