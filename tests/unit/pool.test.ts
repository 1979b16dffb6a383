// The shipped pool: every model in public/models/index.json is a GGUF with the base's exact tensor
// names, shapes and types (so the pool merges), its own name, the pool's chat template and prompt
// format, a model card with data, steps, seed, command, time and scores on every task; and the
// shipped results table supports the pool's claims (specialists beat the base on their task).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { getMeta, readGGUF, type GGUFFile } from '../../src/lib/merge/gguf/index.ts';
import { parseManifest } from '../../src/lib/eval/datasets.ts';
import { fileSource } from '../../tools/lib/node-source.ts';

const MODELS = resolve(REPO_ROOT, 'public/models');
const index = JSON.parse(readFileSync(resolve(MODELS, 'index.json'), 'utf8')) as {
  models: Array<{ id: string; file: string; card: string; kind: string; task?: string; promptFormat: string; vocabSize: number;
    provenance: { method: string; parameters: Record<string, unknown> }; scores: Record<string, { accuracy: number; lo: number; hi: number; n: number }> }>;
};
const tasks = parseManifest(readFileSync(resolve(REPO_ROOT, 'public/datasets/index.json'), 'utf8')).tasks;

async function header(path: string): Promise<GGUFFile> {
  const src = await fileSource(path);
  try {
    return await readGGUF(src);
  } finally {
    await src.close();
  }
}

describe('shipped pool models', () => {
  it('has a specialist per task, a generalist and a merge', () => {
    for (const t of tasks) expect(index.models.some((m) => m.kind === 'specialist' && m.task === t.id), t.id).toBe(true);
    expect(index.models.some((m) => m.kind === 'generalist')).toBe(true);
    expect(index.models.some((m) => m.kind === 'merge')).toBe(true);
  });

  for (const m of index.models) {
    it(`${m.id}: same tensors as the base, own name, chat template, prompt format`, async () => {
      const base = await header(storiesModel());
      const f = await header(resolve(MODELS, m.file));
      expect(f.tensors.map((t) => [t.name, t.shape, t.type])).toEqual(base.tensors.map((t) => [t.name, t.shape, t.type]));
      expect((getMeta(f, 'tokenizer.ggml.tokens') as string[])).toEqual(getMeta(base, 'tokenizer.ggml.tokens'));
      expect(m.vocabSize).toBe(512);
      expect(getMeta(f, 'general.name')).toBe(m.id);
      expect(getMeta(f, 'chorus.prompt_format')).toBe(m.promptFormat);
      expect(String(getMeta(f, 'tokenizer.chat_template'))).toContain('Q: ');
      expect(m.promptFormat).toBe(tasks[0]!.promptFormat);
      expect(getMeta(f, 'chorus.provenance.method')).toBe(m.provenance.method);
    });

    it(`${m.id}: model card with training details and scores on every task`, () => {
      const card = readFileSync(resolve(MODELS, m.card), 'utf8');
      for (const t of tasks) {
        expect(m.scores[t.id], t.id).toBeDefined();
        expect(m.scores[t.id]!.n).toBe(t.splits.test);
        expect(card).toContain(`| ${t.id} |`);
      }
      if (m.kind !== 'merge') {
        expect(card).toMatch(/Steps: \d+ × batch \d+/);
        expect(card).toMatch(/seed \d+/);
        expect(card).toContain('tools/train/train.py');
        expect(card).toMatch(/Training time: [\d.]+ s/);
      }
    });
  }
});

describe('shipped results', () => {
  const path = resolve(REPO_ROOT, 'tools/pool/results.json');
  it('exists with every row', () => {
    expect(existsSync(path)).toBe(true);
    const r = JSON.parse(readFileSync(path, 'utf8')) as { rows: Array<{ id: string }> };
    for (const id of ['base', 'generalist', 'vote-different', 'vote-samples', 'router', 'merge']) expect(r.rows.some((x) => x.id === id), id).toBe(true);
  });

  it('a retrained specialist (same seed) reproduced the shipped weights and outputs', () => {
    const r = JSON.parse(readFileSync(path, 'utf8')) as { reproducibility: { identicalWeights: boolean; sameOutputs: boolean; task: string } };
    expect(r.reproducibility.identicalWeights).toBe(true);
    expect(r.reproducibility.sameOutputs).toBe(true);
    expect(readFileSync(resolve(MODELS, `${r.reproducibility.task}-specialist.md`), 'utf8')).toContain('bit-identical tensors');
  });

  it('each specialist beats the base on its own task outside the 95% interval', () => {
    const r = JSON.parse(readFileSync(path, 'utf8')) as { specialistVsBase: Record<string, { diff: number; lo: number }> };
    for (const t of tasks) expect(r.specialistVsBase[t.id]!.lo, t.id).toBeGreaterThan(0);
  });
});
