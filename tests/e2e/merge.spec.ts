/**
 * Merging in the browser, through the merge view, with real wllama: stories260K merged with
 * itself (linear, equal weights) loads and generates exactly what the original generates (greedy,
 * same seed); task arithmetic with weight 0 equals the base; corrupt, truncated and differently
 * shaped inputs give clear errors and leave nothing in OPFS; an F16 TIES merge (the SIMD kernels on
 * kernel threads in the merge worker) writes the very tensors the command line writes; the newer
 * mergekit methods are offered with their knobs and a seeded DELLA merge matches the command line;
 * a slices frankenmerge loads and generates in wllama.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importFile, importStories, laneMessages, listedModels, modelCard, playground, runAndWait, setupPlayground, showTab, tempDir, truncatedStories, watchErrors, STORIES_ID } from './helpers.ts';
import { storiesVariant } from '../unit/merge-fixtures.ts';
import { writeSyntheticModel } from '../../tools/bench/merge-model.ts';
import { fileSink } from '../../tools/lib/node-source.ts';
import { bytesSource, getMeta, readGGUF } from '../../src/lib/merge/gguf/index.ts';
import { STORIES_PATH as STORIES_FILE } from '../support/paths.ts';

/** Every file in OPFS's models directory, temporary ones included. */
async function opfsFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('models', { create: true });
    const names: string[] = [];
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names.sort();
  });
}

async function pickModel(page: Page, input: number, id: string) {
  await page.getByLabel(`Input ${input} model`).selectOption(id);
}
async function setNumber(page: Page, label: string, v: number) {
  const f = page.getByLabel(label, { exact: true });
  await f.fill(String(v));
  await f.dispatchEvent('change');
}
async function mergeAndWait(page: Page) {
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Merge result' }).or(page.getByRole('alert', { name: 'Merge error' }))).toBeVisible({ timeout: 60_000 });
}
async function compare(page: Page, prompt: string) {
  const result = page.getByRole('region', { name: 'Merge result' });
  await result.getByLabel('Compare prompt').fill(prompt);
  await result.getByRole('button', { name: 'Generate both' }).click();
  await expect(result.getByLabel('Comparison verdict')).toBeVisible({ timeout: 90_000 });
  return {
    verdict: await result.getByLabel('Comparison verdict').textContent(),
    reference: await result.getByLabel('Reference output').textContent(),
    merged: await result.getByLabel('Merged output').textContent(),
  };
}

test.describe('merge view', () => {
  test('stories260K merged with itself (linear, equal weights) generates exactly what the original generates', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('./');
    await importStories(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await pickModel(page, 1, STORIES_ID);
    await pickModel(page, 2, STORIES_ID);
    await expect(page.getByLabel('Input 1 weight')).toHaveValue('1');
    await expect(page.getByLabel('Input 2 weight')).toHaveValue('1');
    await page.getByLabel('Output name').fill('stories-self');

    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const plan = page.getByRole('table', { name: 'Plan summary' });
    await expect(plan).toContainText('48');
    await expect(plan).toContainText('stories260K.gguf');
    await expect(plan).toContainText(/output size/);

    await mergeAndWait(page);
    const result = page.getByRole('region', { name: 'Merge result' });
    await expect(result.getByRole('status').first()).toContainText('Saved stories-self');
    await expect(page.getByRole('progressbar', { name: 'Merge progress' })).toHaveAttribute('value', '48');
    await expect(page.getByRole('table', { name: 'Tensor statistics' })).toContainText('output.weight');

    const c = await compare(page, 'Once upon a time');
    expect(c.reference!.length).toBeGreaterThan(10);
    expect(c.merged).toBe(c.reference);
    expect(c.verdict).toBe('Identical outputs.');

    // It can be downloaded as a GGUF file the project's reader accepts, with the merge's provenance.
    const [download] = await Promise.all([page.waitForEvent('download'), result.getByRole('button', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe('stories-self.gguf');
    const saved = new Uint8Array(readFileSync((await download.path())!));
    const header = await readGGUF(bytesSource(saved, 'stories-self.gguf'));
    expect(getMeta(header, 'chorus.provenance.method')).toBe('linear');
    expect(header.tensors).toHaveLength(48);

    // It is a model like any other: in the manager, and one click from the playground.
    await showTab(page, 'Models');
    await expect(modelCard(page, 'stories-self')).toBeVisible();
    await showTab(page, 'Merge');
    await result.getByRole('button', { name: 'Open in playground' }).click();
    await expect(page.getByRole('tab', { name: 'Playground' })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByLabel('Agent 1 model')).toHaveValue('file:stories-self.gguf');
    expect((await opfsFiles(page)).filter((n) => n.startsWith('.partial'))).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('task arithmetic with weight 0 equals the base; weight 1 of a changed model does not', async ({ page }) => {
    const dir = tempDir();
    const scaled = join(dir, 'scaled.gguf');
    writeFileSync(scaled, await storiesVariant({ scale: 1.3 }));
    await page.goto('./');
    await importStories(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('task_arithmetic');
    await pickModel(page, 1, STORIES_ID);
    await page.getByLabel('Input 1 is the base').check();
    await page.getByLabel('Input 2 file').setInputFiles(scaled);
    await setNumber(page, 'Input 2 weight', 0);
    await page.getByLabel('Output name').fill('ta-zero');
    await mergeAndWait(page);
    const zero = await compare(page, 'The little dog');
    expect(zero.verdict).toBe('Identical outputs.');
    expect(zero.merged).toBe(zero.reference);

    await setNumber(page, 'Input 2 weight', 1);
    await page.getByLabel('Output name').fill('ta-one');
    await mergeAndWait(page);
    const one = await compare(page, 'The little dog');
    expect(one.verdict).toBe('The outputs differ.');
  });

  test('truncated, corrupt and differently shaped inputs give clear errors and leave nothing in OPFS', async ({ page }) => {
    const dir = tempDir();
    const truncated = truncatedStories(dir, 0.6);
    const corrupt = join(dir, 'corrupt.gguf');
    writeFileSync(corrupt, 'GGUF but not really a model file'.repeat(40));
    const reshaped = join(dir, 'reshaped.gguf');
    writeFileSync(reshaped, await storiesVariant({ replace: { 'blk.2.ffn_up.weight': { shape: [64, 86], data: new Float32Array(64 * 86) } } }));

    await page.goto('./');
    await importStories(page);
    const before = await opfsFiles(page);
    const listed = await listedModels(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await pickModel(page, 1, STORIES_ID);
    const alert = page.getByRole('alert', { name: 'Merge error' });

    await page.getByLabel('Input 2 file').setInputFiles(truncated);
    await mergeAndWait(page);
    await expect(alert).toContainText('A file could not be read');
    await expect(alert).toContainText(/truncated-stories\.gguf is truncated/);
    await expect(alert).toContainText('Nothing was written.');

    await page.getByLabel('Input 2 file').setInputFiles(corrupt);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(alert).toContainText('corrupt.gguf');

    await page.getByLabel('Input 2 file').setInputFiles(reshaped);
    await mergeAndWait(page);
    await expect(alert).toContainText('These models cannot be merged');
    await expect(alert).toContainText('reshaped.gguf: tensor blk.2.ffn_up.weight is [64, 86] here and [64, 172] in stories260K.gguf');

    expect(await opfsFiles(page)).toEqual(before);
    await showTab(page, 'Models');
    await expect(page.getByRole('list', { name: 'Model list' }).getByRole('listitem')).toHaveCount(listed);
  });

  test('a cancelled merge leaves no partial output in OPFS and registers nothing', async ({ page }) => {
    const dir = tempDir();
    const paths = [join(dir, 'synth-a.gguf'), join(dir, 'synth-b.gguf')];
    for (const [i, p] of paths.entries()) await writeSyntheticModel(await fileSink(p), { layers: 2, seed: i + 1 });
    await page.goto('./');
    await showTab(page, 'Models');
    const listed = await listedModels(page);
    const before = await opfsFiles(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('linear');
    await page.getByLabel('Input 1 file').setInputFiles(paths[0]!);
    await page.getByLabel('Input 2 file').setInputFiles(paths[1]!);
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    // Cancel once the first tensors are written (the output file exists under its temporary name).
    await expect(page.getByRole('progressbar', { name: 'Merge progress' })).toBeVisible({ timeout: 30_000 });
    expect((await opfsFiles(page)).some((n) => n.startsWith('.partial-'))).toBe(true);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const alert = page.getByRole('alert', { name: 'Merge error' });
    await expect(alert).toContainText('Cancelled');
    await expect(alert).toContainText('nothing was kept');
    expect(await opfsFiles(page)).toEqual(before);
    await showTab(page, 'Models');
    await expect(page.getByRole('list', { name: 'Model list' }).getByRole('listitem')).toHaveCount(listed);
  });

  test('TIES shows per-tensor statistics as it runs: task-vector norms, kept share, sign agreement', async ({ page }) => {
    const errors = watchErrors(page);
    const dir = tempDir();
    const up = join(dir, 'up.gguf'), down = join(dir, 'down.gguf');
    writeFileSync(up, await storiesVariant({ scale: 1.1 }));
    writeFileSync(down, await storiesVariant({ scale: 0.8 }));
    await page.goto('./');
    await importStories(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('ties');
    await pickModel(page, 1, STORIES_ID);
    await page.getByLabel('Input 1 is the base').check();
    await page.getByLabel('Input 2 file').setInputFiles(up);
    await page.getByRole('button', { name: 'Add input' }).click();
    await page.getByLabel('Input 3 file').setInputFiles(down);
    await setNumber(page, 'Input 2 density', 0.5);
    await setNumber(page, 'Input 3 density', 0.5);
    await mergeAndWait(page);
    const table = page.getByRole('table', { name: 'Tensor statistics' });
    await expect(table).toContainText('2: up.gguf');
    await expect(table).toContainText('3: down.gguf');
    const row = table.getByRole('row').filter({ hasText: 'output.weight' }).first();
    // Both task vectors keep half their entries; they point in opposite directions (+0.1x vs −0.2x),
    // so about half of the kept entries agree with the elected sign.
    await expect(row).toContainText('50.0%');
    const cells = await row.getByRole('cell').allTextContents();
    const agreement = Number(cells[5]!.replace('%', ''));
    expect(agreement).toBeGreaterThan(40);
    expect(agreement).toBeLessThan(60);
    expect(errors).toEqual([]);
  });

  test('an F16 TIES merge in the browser (SIMD kernels on kernel threads) writes the very tensors `npm run merge` writes', async ({ page }) => {
    const errors = watchErrors(page);
    const dir = tempDir();
    const names = ['base.gguf', 'a.gguf', 'b.gguf'];
    const web16Tensors = 12; // token_embd, 9 per layer, output_norm, output
    // Tensors of several 65,536-entry blocks (256 × 1031), so the kernels split them over threads.
    for (const [i, n] of names.entries()) await writeSyntheticModel(await fileSink(join(dir, n)), { layers: 1, dim: 256, ffn: 300, vocab: 1031, seed: i + 5 });
    await page.goto('./');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('ties');
    await page.getByLabel('Input 1 file').setInputFiles(join(dir, 'base.gguf'));
    await page.getByLabel('Input 1 is the base').check();
    await page.getByLabel('Input 2 file').setInputFiles(join(dir, 'a.gguf'));
    await page.getByRole('button', { name: 'Add input' }).click();
    await page.getByLabel('Input 3 file').setInputFiles(join(dir, 'b.gguf'));
    await setNumber(page, 'Input 2 density', 0.5);
    await setNumber(page, 'Input 3 density', 0.3);
    await setNumber(page, 'Input 3 weight', 0.6);
    await page.getByRole('button', { name: 'mergekit YAML' }).click();
    const yaml = (await page.getByLabel('Config as YAML').textContent()) ?? '';
    expect(yaml).toContain('density: 0.3');
    await mergeAndWait(page);
    const result = page.getByRole('region', { name: 'Merge result' });
    await expect(result).toBeVisible();
    // Every tensor (F16 in, F16 out) went through the SIMD kernels, split over this machine's cores.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    await expect(result.getByLabel('Merge kernels')).toHaveText(`${web16Tensors} tensors through the WebAssembly SIMD kernels on ${Math.min(cores, 16)} thread${cores === 1 ? '' : 's'}.`);
    const [download] = await Promise.all([page.waitForEvent('download'), result.getByRole('button', { name: 'Download' }).click()]);
    const browserPath = join(dir, 'browser.gguf');
    await download.saveAs(browserPath);

    // The same YAML, next to the same files, through the command line.
    writeFileSync(join(dir, 'merge.yaml'), yaml);
    execFileSync(process.execPath, ['--import', 'tsx', 'tools/cli/merge.ts', join(dir, 'merge.yaml'), '--out', join(dir, 'cli.gguf')]);
    const read = async (p: string) => {
      const bytes = new Uint8Array(readFileSync(p));
      return { bytes, file: await readGGUF(bytesSource(bytes, p)) };
    };
    const web = await read(browserPath);
    const cli = await read(join(dir, 'cli.gguf'));
    expect(web.file.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(cli.file.tensors.map((t) => [t.name, t.type, t.shape]));
    for (const [i, t] of web.file.tensors.entries()) {
      const c = cli.file.tensors[i]!;
      const a = web.bytes.subarray(web.file.dataOffset + t.offset, web.file.dataOffset + t.offset + t.byteSize);
      const b = cli.bytes.subarray(cli.file.dataOffset + c.offset, cli.file.dataOffset + c.offset + c.byteSize);
      expect(Buffer.from(a).equals(Buffer.from(b)), `tensor ${t.name}`).toBe(true);
    }
    const meta = (f: typeof web.file) => f.metadata.filter((m) => m.key !== 'chorus.provenance.created').map((m) => JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    expect(meta(web.file)).toEqual(meta(cli.file));
    expect(errors).toEqual([]);
  });

  test('TIES-family methods need a base the user chooses (no silent input 1); errors name the view\'s fields, not YAML keys', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('./');
    await importStories(page);
    await showTab(page, 'Merge');
    const alert = page.getByRole('alert', { name: 'Merge error' });
    for (const id of ['ties', 'dare_ties', 'breadcrumbs_ties', 'task_arithmetic']) {
      await page.getByLabel('Merge method').selectOption(id);
      await expect(page.getByLabel('Input 1 is the base')).not.toBeChecked();
      await expect(page.getByLabel('Input 2 is the base')).not.toBeChecked();
    }
    await page.getByLabel('Merge method').selectOption('ties');
    await pickModel(page, 1, STORIES_ID);
    await page.getByLabel('Input 2 file').setInputFiles(join(process.cwd(), 'public/models/arithmetic-specialist.gguf'));
    await expect(page.getByRole('note', { name: 'Base needed' })).toContainText('TIES needs a base');
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(alert).toContainText('Check the settings');
    await expect(alert).toContainText('TIES needs a base model: mark one input as the base');
    await expect(alert).not.toContainText('base_model');
    expect(await page.getByRole('table', { name: 'Plan summary' }).count()).toBe(0);

    await page.getByLabel('Input 1 is the base').check();
    await expect(page.getByRole('note', { name: 'Base needed' })).toHaveCount(0);
    await setNumber(page, 'Input 2 density', 1.5);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(alert).toContainText('Input 2 density must lie between 0 and 1 (it is 1.5)');
    await expect(alert).not.toContainText(/models\[|"density"|parameters/);

    await setNumber(page, 'Input 2 density', 0.5);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(page.getByRole('table', { name: 'Plan summary' })).toContainText('arithmetic-specialist.gguf');
    await expect(alert).toHaveCount(0);
    expect(errors).toEqual([]);
  });

  test('mergekit\'s newer methods are offered with their knobs; a seeded DELLA merge in the browser writes the very tensors `npm run merge` writes', async ({ page }) => {
    const errors = watchErrors(page);
    const dir = tempDir();
    const files = { 'stories260K.gguf': STORIES_FILE, 'arithmetic-specialist.gguf': 'public/models/arithmetic-specialist.gguf', 'world-specialist.gguf': 'public/models/world-specialist.gguf' };
    for (const [n, p] of Object.entries(files)) writeFileSync(join(dir, n), readFileSync(p));
    await page.goto('./');
    await showTab(page, 'Merge');
    const view = page.getByRole('region', { name: 'Merge models' });
    const knobs: Record<string, string[]> = {
      della: ['Input 1 weight', 'Input 1 density', 'Input 1 epsilon', 'normalize (global)', 'rescale (global)', 'Seed'],
      della_linear: ['Input 1 epsilon', 'Seed'],
      sce: ['select_topk (global)'],
      nuslerp: ['Input 1 weight', 'nuslerp_flatten (global)', 'nuslerp_row_wise (global)'],
      multislerp: ['Input 1 weight', 'normalize_weights (global)', 'eps (global)'],
      karcher: ['max_iter (global)', 'tol (global)'],
      nearswap: ['t (global)'],
      arcee_fusion: ['Seed'],
      passthrough: ['Input 1 scale'],
      ram: ['epsilon (global)'],
      ramplus_tl: ['r (global)', 'alpha (global)', 'epsilon (global)'],
    };
    for (const [id, labels] of Object.entries(knobs)) {
      await page.getByLabel('Merge method').selectOption(id);
      for (const l of labels) await expect(view.getByLabel(l, { exact: true }), `${id}: ${l}`).toBeVisible();
    }
    await page.getByLabel('Merge method').selectOption('della');
    await page.getByLabel('Input 1 file').setInputFiles(join(dir, 'stories260K.gguf'));
    await page.getByLabel('Input 1 is the base').check();
    await page.getByLabel('Input 2 file').setInputFiles(join(dir, 'arithmetic-specialist.gguf'));
    await page.getByRole('button', { name: 'Add input' }).click();
    await page.getByLabel('Input 3 file').setInputFiles(join(dir, 'world-specialist.gguf'));
    await setNumber(page, 'Input 2 density', 0.5);
    await setNumber(page, 'Input 2 epsilon', 0.1);
    await setNumber(page, 'Input 3 density', 0.6);
    await view.getByLabel('Seed', { exact: true }).fill('7');
    await view.getByLabel('Seed', { exact: true }).dispatchEvent('change');
    await page.getByRole('button', { name: 'mergekit YAML' }).click();
    const yaml = (await page.getByLabel('Config as YAML').textContent()) ?? '';
    expect(yaml).toContain('merge_method: della');
    expect(yaml).toContain('epsilon: 0.1');
    expect(yaml).toContain('seed: 7');
    await mergeAndWait(page);
    const result = page.getByRole('region', { name: 'Merge result' });
    await expect(result).toBeVisible();
    const [download] = await Promise.all([page.waitForEvent('download'), result.getByRole('button', { name: 'Download' }).click()]);
    await download.saveAs(join(dir, 'browser.gguf'));
    writeFileSync(join(dir, 'merge.yaml'), yaml);
    execFileSync(process.execPath, ['--import', 'tsx', 'tools/cli/merge.ts', join(dir, 'merge.yaml'), '--out', join(dir, 'cli.gguf')]);
    const read = async (p: string) => {
      const bytes = new Uint8Array(readFileSync(p));
      return { bytes, file: await readGGUF(bytesSource(bytes, p)) };
    };
    const web = await read(join(dir, 'browser.gguf'));
    const cli = await read(join(dir, 'cli.gguf'));
    expect(web.file.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(cli.file.tensors.map((t) => [t.name, t.type, t.shape]));
    for (const [i, t] of web.file.tensors.entries()) {
      const c = cli.file.tensors[i]!;
      const a = web.bytes.subarray(web.file.dataOffset + t.offset, web.file.dataOffset + t.offset + t.byteSize);
      const b = cli.bytes.subarray(cli.file.dataOffset + c.offset, cli.file.dataOffset + c.offset + c.byteSize);
      expect(Buffer.from(a).equals(Buffer.from(b)), `tensor ${t.name}`).toBe(true);
    }
    expect(getMeta(web.file, 'chorus.provenance.method')).toBe('della');
    expect(errors).toEqual([]);
  });

  test('slices: a 7-layer frankenmerge of stories260K written by `npm run merge` loads in wllama and generates; a one-slice copy generates what stories260K generates', async ({ page }) => {
    const errors = watchErrors(page);
    const dir = tempDir();
    const yaml = (slices: string, out: string) => `merge_method: passthrough\nslices:\n${slices}out: ${out}\n`;
    const src = (range: string) => `  - sources: [{model: ${STORIES_FILE}, layer_range: ${range}}]\n`;
    writeFileSync(join(dir, 'franken.yaml'), yaml(src('[0, 5]') + src('[3, 5]'), 'franken.gguf'));
    writeFileSync(join(dir, 'copy.yaml'), yaml(src('[0, 5]'), 'copy.gguf'));
    for (const y of ['franken.yaml', 'copy.yaml']) execFileSync(process.execPath, ['--import', 'tsx', 'tools/cli/merge.ts', join(dir, y)]);
    const franken = await readGGUF(bytesSource(new Uint8Array(readFileSync(join(dir, 'franken.gguf'))), 'franken.gguf'));
    expect(getMeta(franken, 'llama.block_count')).toBe(7);
    await page.goto('./');
    await importStories(page);
    await importFile(page, join(dir, 'franken.gguf'), 'franken.gguf');
    await importFile(page, join(dir, 'copy.gguf'), 'copy.gguf');
    const generate = async (model: string) => {
      await setupPlayground(page, { method: 'single', agents: 1, model, prompt: 'Once upon a time', seed: 7, maxTokens: 24, temperature: 0 });
      await runAndWait(page);
      await expect(playground(page).getByRole('status', { name: 'Run status' })).toHaveText('done');
      return (await laneMessages(page, /^Agent 1 .* lane$/).first().locator('pre').innerText()).trim();
    };
    const stacked = await generate('file:franken.gguf');
    const original = await generate(STORIES_ID);
    const copy = await generate('file:copy.gguf');
    expect(stacked.split(/\s+/).length).toBeGreaterThan(5);
    expect(stacked).not.toBe(original);
    expect(copy).toBe(original);
    expect(errors).toEqual([]);
  });

  test('a merge whose base has no chat template keeps an input\'s and says whose (real pool specialist)', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('./');
    await importStories(page);
    await showTab(page, 'Merge');
    await page.getByLabel('Merge method').selectOption('task_arithmetic');
    await pickModel(page, 1, STORIES_ID);
    await page.getByLabel('Input 1 is the base').check();
    await page.getByLabel('Input 2 file').setInputFiles(join(process.cwd(), 'public/models/arithmetic-specialist.gguf'));
    await page.getByLabel('Output name').fill('ta-template');
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await expect(page.getByRole('region', { name: 'Plan' })).toContainText('stories260K.gguf (the base) has no chat template; the output keeps the one of arithmetic-specialist.gguf');
    await mergeAndWait(page);
    const result = page.getByRole('region', { name: 'Merge result' });
    await expect(result.getByLabel('Chat template')).toHaveText('Chat template from arithmetic-specialist.gguf.');
    const [download] = await Promise.all([page.waitForEvent('download'), result.getByRole('button', { name: 'Download' }).click()]);
    const path = join(tempDir(), 'ta-template.gguf');
    await download.saveAs(path);
    const merged = await readGGUF(bytesSource(new Uint8Array(readFileSync(path)), 'ta-template.gguf'));
    const specialist = await readGGUF(bytesSource(new Uint8Array(readFileSync('public/models/arithmetic-specialist.gguf')), 'a.gguf'));
    expect(getMeta(merged, 'tokenizer.chat_template')).toBe(getMeta(specialist, 'tokenizer.chat_template'));
    expect(getMeta(merged, 'chorus.provenance.chat_template')).toBe('arithmetic-specialist.gguf');
    expect(errors).toEqual([]);
  });
});

