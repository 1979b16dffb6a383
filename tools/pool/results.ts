/**
 * `npm run pool:build` — builds the built-in pool's shipped artefacts, with the real engine:
 * every model runs in llama.cpp (wllama 3.13) in headless Chromium on the bare harness page
 * (tools/pool/harness), greedy unless stated, on the test split of every task (the mixed test set).
 * Choices that need tuning (which three models vote, which model is sampled, which merge
 * configuration ships, the router) are made on the dev splits only.
 *
 * Writes tools/pool/results.json (per-model scores for the cards, specialist vs base, the
 * reproducibility check), the merged model public/models/pool-merge.gguf (the merge candidate best
 * on dev), and regenerates public/models/index.json and the model cards. The README's results table
 * is no longer made here: the experiment runner makes it (experiments/pool.json, `npm run
 * pool:results`, tools/pool/table.ts).
 *
 * Options: --skip-merge (reuse public/models/pool-merge.gguf), --outputs <file> (raw outputs,
 * default /tmp/chorus-pool-outputs.json), --rerun <task>=<gguf> (a second training run of that
 * task's specialist with the same seed, compared with the shipped one; see tools/train/run_all.sh).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest, loadTask, type DatasetItem, type TaskInfo } from '../../src/lib/eval/datasets.ts';
import { scoreOutput, answerKey } from '../../src/lib/eval/metrics.ts';
import { bootstrapCI, pairedBootstrap, emergenceRate, majorityVote, mean, type Interval } from '../../src/lib/eval/stats.ts';
import { trainRouter } from '../../src/lib/eval/router.ts';
import { tensorDigest } from './digest.ts';
import { nodeSandbox } from '../lib/node-sandbox.ts';
import { stageHarness } from './stage.ts';
import { openHarness } from './browser.ts';
import { writeCards } from './cards.ts';
import { poolPromptMeta, retag } from '../train/export.ts';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = resolve(ROOT, 'public/datasets');
const BASE = resolve(ROOT, '../shared/models/stories260K.gguf');
const SEED = 1;
const SAMPLE_TEMPERATURE = 0.7;

const args = process.argv.slice(2);
const flag = (n: string): string | undefined => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};
// --models/--out/--limit exist for trying the pipeline on other files or a few items per task;
// the shipped table uses the defaults (public/models, tools/pool, every item).
const MODELS = resolve(flag('--models') ?? resolve(ROOT, 'public/models'));
const OUT = resolve(flag('--out') ?? resolve(ROOT, 'tools/pool'));
const LIMIT = flag('--limit') === undefined ? Infinity : Number(flag('--limit'));
// Dev choices (voters, sampled model, merge configuration) use the first 40 dev items of each task:
// enough to rank the candidates, and it keeps the whole run within minutes on two shared cores.
const CACHE = '/tmp/chorus-pool-cache';
const WARM = args.includes('--warm');
const DEV_LIMIT = Math.min(LIMIT, Number(flag('--dev-limit') ?? 40));

type Split = 'dev' | 'test';
interface Row { id: string; kind: string; description: string; perTask: Record<string, Interval>; mixed: Interval;
  vsBest?: { diff: number; lo: number; hi: number; significant: boolean }; emergence?: { unsolvedByAll: number; solved: number; rate: number; members: string[] } }

async function main(): Promise<void> {
  const manifest = parseManifest(readFileSync(resolve(DATA, 'index.json'), 'utf8'));
  const tasks = manifest.tasks;
  const data: Record<string, { dev: DatasetItem[]; test: DatasetItem[]; info: TaskInfo }> = {};
  for (const t of tasks) {
    const s = await loadTask(t, async (p) => readFileSync(resolve(DATA, p), 'utf8'), ['dev', 'test']);
    data[t.id] = { dev: s.dev!.slice(0, DEV_LIMIT), test: s.test!.slice(0, LIMIT), info: t };
  }
  const items = (split: Split) => tasks.flatMap((t) => data[t.id]![split].map((it) => ({ task: t, item: it })));
  const mixed = { dev: items('dev'), test: items('test') };

  const specialists = tasks.map((t) => `${t.id}-specialist`);
  const singles = [...specialists, 'generalist'];
  mkdirSync(CACHE, { recursive: true });
  for (const id of singles) {
    if (!existsSync(resolve(MODELS, `${id}.gguf`)) && !WARM) throw new Error(`public/models/${id}.gguf is missing — train and export it first (tools/train/run_all.sh, tools/train/export.ts)`);
  }

  // --- merge candidates (chosen on dev) -------------------------------------------------------
  const mergeDir = '/tmp/chorus-pool-merge';
  mkdirSync(mergeDir, { recursive: true });
  // Candidate merges of the six specialists (mergekit parameter names); the one with the best dev
  // accuracy ships as pool-merge.gguf. Linear averaging needs no base model.
  const candidates = [
    { id: 'ties-d0.5-norm', method: 'ties', params: 'normalize: true', per: 'weight: 1.0, density: 0.5', base: true },
    { id: 'ties-d0.2-norm', method: 'ties', params: 'normalize: true', per: 'weight: 1.0, density: 0.2', base: true },
    { id: 'ties-d0.8-norm', method: 'ties', params: 'normalize: true', per: 'weight: 1.0, density: 0.8', base: true },
    { id: 'ties-d0.5-sum', method: 'ties', params: 'normalize: false', per: 'weight: 1.0, density: 0.5', base: true },
    { id: 'task-arith-0.5', method: 'task_arithmetic', params: 'normalize: false', per: 'weight: 0.5', base: true },
    { id: 'task-arith-1.0', method: 'task_arithmetic', params: 'normalize: false', per: 'weight: 1.0', base: true },
    { id: 'linear-avg', method: 'linear', params: 'normalize: true', per: 'weight: 1.0', base: false },
  ];
  const skipMerge = args.includes('--skip-merge') || WARM;
  if (!skipMerge) {
    for (const c of candidates) {
      const yaml = [`merge_method: ${c.method}`, ...(c.base ? [`base_model: ${BASE}`] : []), 'models:',
        ...specialists.map((s) => `  - model: ${resolve(MODELS, `${s}.gguf`)}\n    parameters: {${c.per}}`),
        `parameters: {${c.params}}`, 'dtype: float32', `out: ${resolve(mergeDir, `${c.id}.gguf`)}`, ''].join('\n');
      writeFileSync(resolve(mergeDir, `${c.id}.yaml`), yaml);
      const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(ROOT, 'tools/cli/merge.ts'), resolve(mergeDir, `${c.id}.yaml`)], { cwd: ROOT, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`merge ${c.id} failed: ${r.stderr.trim()}`);
      console.error(r.stdout.trim() || r.stderr.trim());
      const raw = resolve(mergeDir, `${c.id}.gguf`);
      await retag(raw, resolve(mergeDir, `${c.id}.tagged.gguf`), poolPromptMeta('pool-merge'));
      renameSync(resolve(mergeDir, `${c.id}.tagged.gguf`), raw);
    }
  }

  // --- generation in the browser ---------------------------------------------------------------
  const staged: Record<string, string> = { 'base.gguf': BASE };
  for (const id of singles) if (existsSync(resolve(MODELS, `${id}.gguf`))) staged[`${id}.gguf`] = resolve(MODELS, `${id}.gguf`);
  // --warm only fills the output cache for the models that exist now (no merge, no table).
  if (!WARM) {
    if (!skipMerge) for (const c of candidates) staged[`merge-${c.id}.gguf`] = resolve(mergeDir, `${c.id}.gguf`);
    else staged['pool-merge.gguf'] = resolve(MODELS, 'pool-merge.gguf');
  }
  const rerunArg = flag('--rerun');
  const [rerunTask, rerun] = rerunArg ? (rerunArg.split('=') as [string, string]) : [undefined, undefined];
  if (rerunArg && (!rerunTask || !rerun || !data[rerunTask])) throw new Error(`--rerun wants <task>=<file.gguf> with a task of index.json, got ${rerunArg}`);
  if (rerun) staged['rerun.gguf'] = resolve(rerun);
  const dir = stageHarness('/tmp/chorus-pool-harness', staged);
  const { page, close } = await openHarness(dir, Number(process.env.H6_PORT ?? 4186));
  const outputs: Record<string, Record<string, string[]>> = {};
  const t0 = Date.now();
  async function generate(model: string, file: string, split: Split, p: { temperature?: number; seed?: number; tasks?: string[] } = {}): Promise<string[]> {
    const key = `${model}|${split}|${p.temperature ?? 0}|${p.seed ?? 0}`;
    const out: string[] = [];
    // Outputs are cached by model bytes + prompts + settings, so an interrupted or repeated run
    // (or --warm while other models still train) never generates the same thing twice.
    const fileHash = createHash('sha256').update(readFileSync(staged[file]!)).digest('hex');
    let loaded = false;
    for (const t of tasks) {
      if (p.tasks && !p.tasks.includes(t.id)) continue;
      const prompts = data[t.id]![split].map((it) => it.prompt);
      const settings = { max_tokens: t.maxTokens ?? 16, temperature: p.temperature ?? 0, seed: p.seed ?? 0, stop: ['\n'] };
      const cacheFile = resolve(CACHE, createHash('sha256').update(JSON.stringify([fileHash, prompts, settings])).digest('hex') + '.json');
      if (existsSync(cacheFile)) {
        out.push(...(JSON.parse(readFileSync(cacheFile, 'utf8')) as string[]));
        continue;
      }
      if (!loaded) {
        await page.evaluate(([id, url]) => (window as any).harness.load(id, url), [model, `./models/${file}`]);
        loaded = true;
      }
      const texts = await page.evaluate(
        ([id, ps, st]) => (window as any).harness.completeMany(id, ps, st),
        [model, prompts, settings] as const,
      ) as string[];
      writeFileSync(cacheFile, JSON.stringify(texts));
      out.push(...texts);
    }
    if (loaded) await page.evaluate((m) => (window as any).harness.unload(m), model);
    (outputs[key] ??= {}).all = out;
    console.error(`${key}: ${out.length} outputs (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    return out;
  }
  const sandbox = nodeSandbox();
  async function score(outs: string[], split: Split, taskFilter?: string[]): Promise<number[]> {
    const list = mixed[split].filter((x) => !taskFilter || taskFilter.includes(x.task.id));
    if (list.length !== outs.length) throw new Error(`internal: ${outs.length} outputs for ${list.length} items`);
    return Promise.all(list.map((x, i) => scoreOutput(x.task.metric, outs[i]!, x.item, sandbox)));
  }

  const testScores: Record<string, number[]> = {};
  const devScores: Record<string, number[]> = {};
  const testOut: Record<string, string[]> = {};
  const devOut: Record<string, string[]> = {};
  try {
    if (WARM) {
      await generate('base', 'base.gguf', 'test');
      for (const id of singles) {
        if (!staged[`${id}.gguf`]) continue;
        await generate(id, `${id}.gguf`, 'dev');
        await generate(id, `${id}.gguf`, 'test');
      }
      return;
    }
    testOut.base = await generate('base', 'base.gguf', 'test');
    testScores.base = await score(testOut.base, 'test');
    for (const id of singles) {
      devOut[id] = await generate(id, `${id}.gguf`, 'dev');
      devScores[id] = await score(devOut[id], 'dev');
      testOut[id] = await generate(id, `${id}.gguf`, 'test');
      testScores[id] = await score(testOut[id], 'test');
    }
    // merge: pick on dev, evaluate the pick on test
    let mergePick = 'pool-merge';
    const mergeDev: Record<string, number> = {};
    if (!skipMerge) {
      for (const c of candidates) {
        const o = await generate(`merge-${c.id}`, `merge-${c.id}.gguf`, 'dev');
        mergeDev[c.id] = mean(await score(o, 'dev'));
      }
      const best = candidates.reduce((a, b) => ((mergeDev[b.id] ?? 0) > (mergeDev[a.id] ?? 0) ? b : a));
      mergePick = best.id;
      writeFileSync(resolve(MODELS, 'pool-merge.gguf'), readFileSync(resolve(mergeDir, `${best.id}.gguf`)));
      writeFileSync(resolve(MODELS, 'pool-merge.yaml'), readFileSync(resolve(mergeDir, `${best.id}.yaml`), 'utf8')
        .replaceAll(`${MODELS}/`, '').replace(BASE, '../../../shared/models/stories260K.gguf').replace(/out: .*/, 'out: pool-merge.gguf'));
      testOut.merge = await generate(`merge-${best.id}`, `merge-${best.id}.gguf`, 'test');
    } else {
      testOut.merge = await generate('pool-merge', 'pool-merge.gguf', 'test');
    }
    testScores.merge = await score(testOut.merge, 'test');

    // best single model by dev (mixed), sampled three times
    const bestDev = singles.reduce((a, b) => (mean(devScores[b]!) > mean(devScores[a]!) ? b : a));
    const samples: string[][] = [];
    for (const seed of [1, 2, 3]) samples.push(await generate(bestDev, `${bestDev}.gguf`, 'test', { temperature: SAMPLE_TEMPERATURE, seed }));
    const rerunInfo: Record<string, unknown> = {};
    if (rerun && rerunTask) {
      const o = await generate('rerun', 'rerun.gguf', 'test', { tasks: [rerunTask] });
      const s = await score(o, 'test', [rerunTask]);
      const start = mixed.test.findIndex((x) => x.task.id === rerunTask);
      const shippedOut = testOut[`${rerunTask}-specialist`]!.slice(start, start + s.length);
      const shippedScores = testScores[`${rerunTask}-specialist`]!.slice(start, start + s.length);
      rerunInfo.task = rerunTask;
      rerunInfo.file = rerun;
      rerunInfo.tensorsSha256 = await tensorDigest(rerun);
      rerunInfo.shippedTensorsSha256 = await tensorDigest(resolve(MODELS, `${rerunTask}-specialist.gguf`));
      rerunInfo.identicalWeights = rerunInfo.tensorsSha256 === rerunInfo.shippedTensorsSha256;
      rerunInfo.sameOutputs = o.every((x, i) => x === shippedOut[i]);
      rerunInfo.testAccuracy = { rerun: mean(s), shipped: mean(shippedScores) };
    }

    // --- collaborations --------------------------------------------------------------------------
    const test = mixed.test;
    const keyOf = (outs: string[], i: number) => answerKey(test[i]!.task.metric, outs[i]!);
    // vote over three different models: the three best singles on dev, in that order (ties → first)
    const voters = [...singles].sort((a, b) => mean(devScores[b]!) - mean(devScores[a]!)).slice(0, 3);
    const vote = (outsList: string[][]) => test.map((_, i) => {
      const w = majorityVote(outsList.map((o) => keyOf(o, i)));
      return outsList[w < 0 ? 0 : w]![i]!;
    });
    testOut['vote-different'] = vote(voters.map((v) => testOut[v]!));
    testScores['vote-different'] = await score(testOut['vote-different'], 'test');
    testOut['vote-samples'] = vote(samples);
    testScores['vote-samples'] = await score(testOut['vote-samples'], 'test');
    // router trained on dev prompts → the specialist of the predicted task
    const router = trainRouter(mixed.dev.map((x) => ({ prompt: x.item.prompt, label: x.task.id })));
    const routes = test.map((x) => router.route(x.item.prompt).label);
    const routerAccuracy = mean(routes.map((r, i) => (r === test[i]!.task.id ? 1 : 0)));
    testOut.router = test.map((_, i) => testOut[`${routes[i]}-specialist`]![i]!);
    testScores.router = await score(testOut.router, 'test');

    // --- table ---------------------------------------------------------------------------------
    const ci = (xs: number[]) => bootstrapCI(xs, { seed: SEED, iterations: 2000 });
    const bestTest = singles.reduce((a, b) => (mean(testScores[b]!) > mean(testScores[a]!) ? b : a));
    const perTask = (xs: number[]) => {
      const r: Record<string, Interval> = {};
      let at = 0;
      for (const t of tasks) {
        const n = data[t.id]!.test.length;
        r[t.id] = ci(xs.slice(at, at + n));
        at += n;
      }
      return r;
    };
    const row = (id: string, kind: string, description: string, members?: string[]): Row => {
      const xs = testScores[id]!;
      const r: Row = { id, kind, description, perTask: perTask(xs), mixed: ci(xs) };
      if (kind !== 'single' && kind !== 'base') {
        const d = pairedBootstrap(xs, testScores[bestTest]!, { seed: SEED });
        r.vsBest = { diff: d.estimate, lo: d.lo, hi: d.hi, significant: d.lo > 0 || d.hi < 0 };
        if (members) {
          const e = emergenceRate(xs, members.map((m) => testScores[m]!));
          r.emergence = { unsolvedByAll: e.unsolvedByAll, solved: e.solvedByCollaboration, rate: e.rate, members };
        }
      }
      return r;
    };
    const rows: Row[] = [
      row('base', 'base', 'stories260K, not fine-tuned'),
      ...singles.map((id) => row(id, 'single', id === 'generalist' ? 'one model trained on the mixture, with the total steps × batch of the six specialists' : `fine-tuned on ${id.replace('-specialist', '')} only`)),
      row('vote-different', 'vote', `majority vote of three different models (best three on dev: ${voters.join(', ')})`, voters),
      row('vote-samples', 'vote', `majority vote of three samples (temperature ${SAMPLE_TEMPERATURE}, seeds 1–3) of the best single model on dev (${bestDev})`, [bestDev]),
      row('router', 'router', `naive-Bayes router trained on dev prompts → specialist (routing accuracy on test ${(routerAccuracy * 100).toFixed(1)}%)`, specialists),
      row('merge', 'merge', `${skipMerge ? reusedMergeLabel(MODELS) : candidates.find((c) => c.id === mergePick)!.method + ' merge of the six specialists (' + mergePick + ', chosen on dev)'}`, specialists),
    ];
    // Each specialist against the base on its own task: paired bootstrap of the difference.
    const specialistVsBase: Record<string, { specialist: number; base: number; diff: number; lo: number; hi: number }> = {};
    {
      let at = 0;
      for (const t of tasks) {
        const n = data[t.id]!.test.length;
        const a = testScores[`${t.id}-specialist`]!.slice(at, at + n);
        const b = testScores.base!.slice(at, at + n);
        const d = pairedBootstrap(a, b, { seed: SEED });
        specialistVsBase[t.id] = { specialist: mean(a), base: mean(b), diff: d.estimate, lo: d.lo, hi: d.hi };
        at += n;
      }
    }
    const results = {
      generated: new Date().toISOString(), engine: 'wllama 3.13 (llama.cpp wasm, CPU, 1 thread) in headless Chromium', decoding: 'greedy, stop at newline, max 16 tokens',
      bootstrap: { iterations: 2000, seed: SEED, level: 0.95, method: 'percentile; paired for differences' },
      mixedTest: { items: test.length, perTask: Object.fromEntries(tasks.map((t) => [t.id, data[t.id]!.test.length])) },
      devUsedForChoices: { items: mixed.dev.length, perTask: DEV_LIMIT },
      bestSingleOnTest: bestTest, bestSingleOnDev: bestDev, voters, routerAccuracy,
      mergeCandidatesDev: mergeDev, mergePick, devMixed: Object.fromEntries(singles.map((s) => [s, mean(devScores[s]!)])),
      specialistVsBase, reproducibility: rerunInfo, rows, seconds: Math.round((Date.now() - t0) / 1000),
    };
    writeFileSync(resolve(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    writeFileSync(flag('--outputs') ?? '/tmp/chorus-pool-outputs.json', JSON.stringify({ testOut, devOut }, null, 1));
    const notes: Record<string, string[]> = {};
    if (rerunTask && rerunInfo.identicalWeights !== undefined) {
      const acc = rerunInfo.testAccuracy as { rerun: number; shipped: number };
      notes[`${rerunTask}-specialist`] = [`Reproducibility: retrained with the same command and seed (tools/train/run_all.sh trains it twice): ${rerunInfo.identicalWeights ? 'bit-identical tensors' : 'DIFFERENT tensors'} (sha256 of all tensor data ${String(rerunInfo.tensorsSha256).slice(0, 16)}…), ${rerunInfo.sameOutputs ? 'identical' : 'different'} test outputs, test accuracy ${pct(acc.rerun)}% vs ${pct(acc.shipped)}% shipped.`];
    }
    await writeCards(rows, tasks, MODELS, notes);
    console.log(`wrote ${resolve(OUT, 'results.json')} and the model cards`);
  } finally {
    await close();
  }
}

const pct = (x: number) => (x * 100).toFixed(1);

main().catch((e: unknown) => {
  console.error(`pool:build: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

/** How the table names the shipped merge when --skip-merge reuses it: from the config that made it. */
function reusedMergeLabel(modelsDir: string): string {
  const config = parseYaml(readFileSync(resolve(modelsDir, 'pool-merge.yaml'), 'utf8')) as { merge_method?: string };
  return `${config.merge_method ?? 'unknown'} merge of the six specialists (pool-merge.gguf from public/models/pool-merge.yaml, the configuration a full run chose on dev)`;
}
