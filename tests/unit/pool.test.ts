// The shipped pool: every model in public/models/index.json is a GGUF with the base's exact tensor
// names, shapes and types (so the pool merges), its own name, the pool's chat template and prompt
// format, a model card with data, steps, seed, command, time and scores on every task; and the
// shipped results table agrees with what the shipped data and models give when recomputed (test
// counts, the router's routing, the reproducibility digest) and supports the pool's claims.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { getMeta, readGGUF, type GGUFFile } from '../../src/lib/merge/gguf/index.ts';
import { loadTask, parseManifest, type DatasetItem } from '../../src/lib/eval/datasets.ts';
import { trainRouter } from '../../src/lib/eval/router.ts';
import { tensorDigest } from '../../tools/pool/digest.ts';
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

describe('shipped results, recomputed where the data allow', () => {
  // results.json records figures measured in a browser run; what can be recomputed here from the
  // shipped data sets and models with the project's own code (data loading, the router, the GGUF
  // reader) is recomputed, and the rest is checked for consistency with it.
  const path = resolve(REPO_ROOT, 'tools/pool/results.json');
  type Est = { estimate: number; n: number };
  const results = JSON.parse(readFileSync(path, 'utf8')) as {
    rows: Array<{ id: string; perTask: Record<string, Est> }>;
    mixedTest: { items: number; perTask: Record<string, number> };
    devUsedForChoices: { perTask: number };
    routerAccuracy: number;
    reproducibility: { task: string; tensorsSha256: string; shippedTensorsSha256: string; identicalWeights: boolean };
    specialistVsBase: Record<string, { specialist: number; base: number; diff: number; lo: number }>;
  };
  const row = (id: string) => {
    const r = results.rows.find((x) => x.id === id);
    if (!r) throw new Error(`results.json has no row ${id}`);
    return r;
  };
  const splits = async () => {
    const out: Record<string, { dev: DatasetItem[]; test: DatasetItem[] }> = {};
    for (const t of tasks) {
      const s = await loadTask(t, async (p) => readFileSync(resolve(REPO_ROOT, 'public/datasets', p), 'utf8'), ['dev', 'test']);
      out[t.id] = { dev: s.dev!, test: s.test! };
    }
    return out;
  };

  it('every row is scored on every item of each shipped test split', async () => {
    const data = await splits();
    const ids = results.rows.map((r) => r.id);
    for (const id of ['base', 'generalist', 'vote-different', 'vote-samples', 'router', 'merge', ...tasks.map((t) => `${t.id}-specialist`)]) expect(ids, id).toContain(id);
    for (const t of tasks) {
      const n = data[t.id]!.test.length;
      expect(results.mixedTest.perTask[t.id], t.id).toBe(n);
      for (const r of results.rows) {
        expect(r.perTask[t.id]!.n, `${r.id} on ${t.id}`).toBe(n);
        // Per-item scores are 0 or 1 on these tasks, so an accuracy is a whole number of items over n.
        const solved = r.perTask[t.id]!.estimate * n;
        expect(Math.abs(solved - Math.round(solved)), `${r.id} on ${t.id}`).toBeLessThan(1e-9);
      }
    }
    expect(results.mixedTest.items).toBe(tasks.reduce((s, t) => s + data[t.id]!.test.length, 0));
  });

  it('the router trained on the dev prompts routes the test prompts as recorded, and its row is the routed specialists’', async () => {
    const data = await splits();
    const dev = tasks.flatMap((t) => data[t.id]!.dev.slice(0, results.devUsedForChoices.perTask).map((it) => ({ prompt: it.prompt, label: t.id })));
    const router = trainRouter(dev);
    let right = 0;
    let total = 0;
    for (const t of tasks) {
      const routes = data[t.id]!.test.map((it) => router.route(it.prompt).label);
      right += routes.filter((l) => l === t.id).length;
      total += routes.length;
      // Every item of this task went to its specialist, so the router row equals that specialist's score.
      if (routes.every((l) => l === t.id)) expect(row('router').perTask[t.id]!.estimate, t.id).toBe(row(`${t.id}-specialist`).perTask[t.id]!.estimate);
    }
    expect(right / total).toBe(results.routerAccuracy);
  });

  it('the shipped specialist has the tensor digest the reproducibility run compared', async () => {
    const r = results.reproducibility;
    const digest = await tensorDigest(resolve(MODELS, `${r.task}-specialist.gguf`));
    expect(digest).toBe(r.shippedTensorsSha256);
    expect(r.identicalWeights).toBe(r.tensorsSha256 === digest);
    const card = readFileSync(resolve(MODELS, `${r.task}-specialist.md`), 'utf8');
    expect(card.includes('bit-identical tensors')).toBe(r.identicalWeights);
    expect(card).toContain(digest.slice(0, 16));
  });

  it('each specialist beats the base on its own task outside the 95% interval, with the rows’ accuracies', () => {
    for (const t of tasks) {
      const s = results.specialistVsBase[t.id]!;
      expect(s.specialist, t.id).toBe(row(`${t.id}-specialist`).perTask[t.id]!.estimate);
      expect(s.base, t.id).toBe(row('base').perTask[t.id]!.estimate);
      expect(s.diff, t.id).toBeCloseTo(s.specialist - s.base, 12);
      expect(s.lo, t.id).toBeGreaterThan(0);
    }
  });
});
