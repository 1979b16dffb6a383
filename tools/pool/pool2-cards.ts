/**
 * `npx tsx tools/pool/pool2-cards.ts experiments/pool2.results.json` — writes public/pool2/models/index.json
 * and one card per model of the second pool (issue 15) from the models' GGUF metadata
 * (tools/pool/cards.ts poolModelEntry) and the scores the experiment runner measured for each
 * model's `single` cell on the test split (no scoring of its own).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultsFile, Stat } from '../../src/lib/eval/results.ts';
import type { Interval } from '../../src/lib/eval/stats.ts';
import { poolModelEntry, type PoolModel } from './cards.ts';
import { pct } from './table.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS = resolve(ROOT, 'public/pool2/models');
const MEMBERS: { id: string; kind: PoolModel['kind']; task?: string; about: string }[] = [
  { id: 'chat-base', kind: 'generalist', about: 'The chat base: stories260K tuned on the prompt formats (ages and towns of another world\'s people, counting) and on the collaboration prompts (debate revision and judge, MoA synthesis, USC selection, feedback critique and revision, blender pair comparison and fusion) with shown answers right or wrong, and with a right majority on people it was never taught; none of the pool\'s items.' },
  { id: 'sum-a', kind: 'specialist', task: 'sum', about: 'A sum specialist: the chat base tuned on half a of the sum training groups (seed 1).' },
  { id: 'sum-b', kind: 'specialist', task: 'sum', about: 'A sum specialist: the chat base tuned on half b of the sum training groups (seed 2), so it errs on other items than sum-a.' },
  { id: 'facts-a', kind: 'specialist', task: 'facts', about: 'A facts specialist: the chat base tuned on the facts of the people in thirds 0 and 1 of world.json (seed 1).' },
  { id: 'facts-b', kind: 'specialist', task: 'facts', about: 'A facts specialist: the chat base tuned on the facts of the people in thirds 1 and 2 of world.json (seed 2).' },
  { id: 'facts-c', kind: 'specialist', task: 'facts', about: 'A facts specialist: the chat base tuned on the facts of the people in thirds 0 and 2 of world.json (seed 3); every fact is known by two of the three facts specialists.' },
  { id: 'pool2-merge-third', kind: 'merge', about: 'Task arithmetic of the five specialists on the chat base with weights 1/3 (fixed before any score; `npm run merge -- public/pool2/models/pool2-merge-third.yaml`).' },
  { id: 'pool2-merge', kind: 'merge', about: 'Task arithmetic of the five specialists on the chat base (weights 1.0, fixed before any score; `npm run merge -- public/pool2/models/pool2-merge.yaml`).' },
];

const interval = (s: Stat): Interval => ({ estimate: s.score, lo: s.ci95[0], hi: s.ci95[1], level: 0.95, n: s.n });

function card(m: PoolModel, about: string, tasks: string[]): string {
  const p = m.provenance.parameters;
  const row = (t: string, s: { accuracy: number; lo: number; hi: number; n: number }) => `| ${t} | ${s.n} | ${pct(s.accuracy)} | [${pct(s.lo)}, ${pct(s.hi)}] |`;
  return [`# ${m.id}`, '', `${about} From stories260K (Llama, dim 64, 5 layers, vocabulary 512). ${(m.sizeBytes / 1e6).toFixed(2)} MB, matrices F16 and norms F32, sha256 \`${m.sha256.slice(0, 16)}…\`.`, '',
    '## Prompt format', '', `Completion mode \`${JSON.stringify(m.promptFormat)}\`; multi-turn chats through the GGUF's chat template (the first pool's).`, '',
    '## Provenance', '', `- Method: ${m.provenance.method}; inputs: ${m.provenance.inputs.join(', ')}`,
    ...(p.command ? [`- Training command: \`${String(p.command)}\``, `- Training time: ${String(p.train_seconds)} s wall clock, one thread, niced, on the shared 2-core machine (other jobs beside it)`] : [`- Parameters: \`${JSON.stringify(p)}\``]), '',
    '## Test scores', '', 'From experiments/pool2.json (the runner\'s `single` cell; greedy; 95% bootstrap interval).', '',
    '| task | items | accuracy % | 95% CI |', '| --- | --- | --- | --- |', ...tasks.map((t) => row(t, m.scores[t]!)), row('mixed', m.mixed), ''].join('\n');
}

async function main(file: string): Promise<void> {
  const r = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  const models: PoolModel[] = [];
  for (const m of MEMBERS) {
    const cell = r.cells.find((c) => c.split === 'test' && c.method === 'single' && c.agents.length === 1 && c.agents[0]!.model === m.id && c.agents[0]!.temperature === 0);
    if (!cell?.groups) throw new Error(`${file}: no greedy single cell of ${m.id} on the test split`);
    const row = { id: m.id, perTask: Object.fromEntries(Object.entries(cell.groups).map(([k, v]) => [k, interval(v)])), mixed: interval(cell) };
    // Listed by id (the two merges would otherwise show the same general.name the merge wrote).
    const entry = { ...(await poolModelEntry(resolve(MODELS, `${m.id}.gguf`), m.id, row, m.kind, m.task)), name: m.id };
    models.push(entry);
    writeFileSync(resolve(MODELS, entry.card), card(entry, m.about, Object.keys(cell.groups)));
  }
  const index = {
    version: 1,
    base: { id: 'stories260K', path: '../../../shared/models/stories260K.gguf', note: 'Karpathy tiny-llamas stories260K (llama2.c, MIT), not shipped here' },
    datasets: '../datasets/index.json',
    scoring: 'test splits, greedy decoding in wllama (llama.cpp wasm), from experiments/pool2.json',
    models,
  };
  writeFileSync(resolve(MODELS, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  console.log(`wrote ${resolve(MODELS, 'index.json')} and ${models.length} cards`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx tools/pool/pool2-cards.ts experiments/pool2.results.json');
    process.exit(2);
  }
  main(file).catch((e: unknown) => {
    console.error(`pool2-cards: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
