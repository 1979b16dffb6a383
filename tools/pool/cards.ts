/**
 * Writes public/models/index.json and one model card (public/models/<id>.md) per shipped model,
 * from the models' own GGUF metadata (general.name, chat template, chorus.provenance.* written by
 * tools/train/export.ts or the merge CLI) and the scores measured by tools/pool/results.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readGGUF, getMeta } from '../../src/lib/merge/gguf/index.ts';
import type { TaskInfo } from '../../src/lib/eval/datasets.ts';
import type { Interval } from '../../src/lib/eval/stats.ts';
import { fileSource } from '../lib/node-source.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_MODELS = resolve(ROOT, 'public/models');

export interface ScoredRow { id: string; perTask: Record<string, Interval>; mixed: Interval }

export interface PoolModel {
  id: string;
  name: string;
  file: string;
  card: string;
  kind: 'specialist' | 'generalist' | 'merge';
  task?: string;
  sizeBytes: number;
  sha256: string;
  architecture: string;
  vocabSize: number;
  /** Completion-mode prompt format the model was trained with; the GGUF's chat template applies the same. */
  promptFormat: string;
  chatTemplate: string;
  provenance: { method: string; inputs: string[]; parameters: Record<string, unknown> };
  /** Test-split accuracy per task with a 95% bootstrap interval, and on the mixed test set. */
  scores: Record<string, { accuracy: number; lo: number; hi: number; n: number }>;
  mixed: { accuracy: number; lo: number; hi: number; n: number };
}

const sc = (i: Interval) => ({ accuracy: round(i.estimate), lo: round(i.lo), hi: round(i.hi), n: i.n });
function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

export async function writeCards(rows: ScoredRow[], tasks: TaskInfo[], MODELS = DEFAULT_MODELS, notes: Record<string, string[]> = {}): Promise<PoolModel[]> {
  const ids = [...tasks.map((t) => `${t.id}-specialist`), 'generalist', 'pool-merge'];
  const models: PoolModel[] = [];
  for (const id of ids) {
    const row = rows.find((r) => r.id === (id === 'pool-merge' ? 'merge' : id));
    if (!row) throw new Error(`cards: no scores for ${id}`);
    const task = id.endsWith('-specialist') ? id.replace('-specialist', '') : undefined;
    const m = await poolModelEntry(resolve(MODELS, `${id}.gguf`), id, row, id === 'pool-merge' ? 'merge' : id === 'generalist' ? 'generalist' : 'specialist', task);
    models.push(m);
    writeFileSync(resolve(MODELS, m.card), card(m, tasks, notes[id] ?? []));
  }
  const index = {
    version: 1,
    base: { id: 'stories260K', path: '../shared/models/stories260K.gguf', note: 'Karpathy tiny-llamas stories260K (llama2.c, MIT), not shipped here' },
    datasets: 'datasets/index.json',
    scoring: 'test splits, greedy decoding in wllama (llama.cpp wasm), see tools/pool/results.md',
    pools: ['../pool2/models/index.json'], // the second pool's manifest, listed by the app beside this one
    models,
  };
  writeFileSync(resolve(MODELS, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  return models;
}

/** One model's index entry from its GGUF's own metadata (name, chat template, chorus.provenance.*), its bytes and its scores. */
export async function poolModelEntry(path: string, id: string, row: ScoredRow, kind: PoolModel['kind'], task?: string): Promise<PoolModel> {
  const src = await fileSource(path);
  let file;
  try {
    file = await readGGUF(src);
  } finally {
    await src.close();
  }
  const str = (k: string) => String(getMeta(file, k) ?? '');
  const params = JSON.parse(str('chorus.provenance.parameters') || '{}') as Record<string, unknown>;
  const inputs = (getMeta(file, 'chorus.provenance.inputs') as string[] | undefined) ?? [];
  return {
    id, name: str('general.name') || id, file: `${id}.gguf`, card: `${id}.md`, kind, ...(task ? { task } : {}),
    sizeBytes: statSync(path).size, sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
    architecture: str('general.architecture'), vocabSize: (getMeta(file, 'tokenizer.ggml.tokens') as string[]).length,
    promptFormat: str('chorus.prompt_format') || 'Q: {question}\nA:', chatTemplate: str('tokenizer.chat_template'),
    provenance: { method: str('chorus.provenance.method'), inputs, parameters: params },
    scores: Object.fromEntries(Object.entries(row.perTask).map(([k, v]) => [k, sc(v)])), mixed: sc(row.mixed),
  };
}

function card(m: PoolModel, tasks: TaskInfo[], notes: string[]): string {
  const p = m.provenance.parameters;
  const pct = (x: number) => (x * 100).toFixed(1);
  const scores = tasks.map((t) => {
    const s = m.scores[t.id]!;
    return `| ${t.id} | ${t.metric} | ${s.n} | ${pct(s.accuracy)} | [${pct(s.lo)}, ${pct(s.hi)}] |`;
  });
  const training = m.kind === 'merge'
    ? [`- Method: ${m.provenance.method} (H2's merge library, \`npm run merge -- public/models/pool-merge.yaml\`)`,
       `- Inputs: ${m.provenance.inputs.join(', ')}`, `- Parameters: \`${JSON.stringify(p)}\``,
       '- Chosen among three merge configurations by accuracy on the dev splits (never on test).']
    : [`- Data: ${m.kind === 'generalist' ? 'the train splits of all six tasks, each example\'s task drawn uniformly' : `public/datasets/${m.task}/train.jsonl`}`,
       `- Steps: ${String(p.steps)} × batch ${String(p.batch)} (${Number(p.steps) * Number(p.batch)} examples), lr ${String(p.lr)}, seed ${String(p.seed)}`,
       `- Optimiser: ${String(p.optimizer)}`,
       `- Training command: \`${String(p.command)}\``,
       `- Training time: ${String(p.train_seconds)} s on this shared 2-core CPU machine (one thread, no GPU; other jobs ran beside it)`,
       '- Export: `npx tsx tools/train/export.ts ' + m.id + '` (the project\'s GGUF writer; tensors, names, shapes and F32 types identical to the base)'];
  return [`# ${m.id}`, '',
    `${m.kind === 'merge' ? 'A merge of the pool\'s six specialists' : m.kind === 'generalist' ? 'One generalist fine-tuned on the mixture of all six pool tasks with the same total budget (steps × batch) as the six specialists together' : `A specialist fine-tuned on the **${m.task}** task`}, from stories260K (Llama, dim 64, 5 layers, vocabulary 512). ${(m.sizeBytes / 1e6).toFixed(2)} MB, F32, sha256 \`${m.sha256.slice(0, 16)}…\`.`,
    '', '## Prompt format', '',
    `Completion mode: \`${JSON.stringify(m.promptFormat)}\` — the answer follows after a space and ends with EOS. The GGUF's chat template (\`tokenizer.chat_template\`) produces the same text from a user message, so chat works too (checked in wllama).`,
    '', '## Training', '', ...training, ...notes.map((n) => `- ${n}`), '',
    '## Scores on every task\'s test split', '', 'Greedy decoding in wllama (llama.cpp wasm) in headless Chromium; 95% percentile-bootstrap interval (2000 resamples, seed 1).', '',
    '| task | metric | items | accuracy % | 95% CI |', '| --- | --- | --- | --- | --- |', ...scores,
    `| mixed | — | ${m.mixed.n} | ${pct(m.mixed.accuracy)} | [${pct(m.mixed.lo)}, ${pct(m.mixed.hi)}] |`, '',
    '## Limits', '', 'A 260K-parameter model: it knows only the narrow formats it was trained on, and its refusals are pattern matching on the training templates, not a safety guarantee.', ''].join('\n');
}
