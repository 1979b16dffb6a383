// The Experiments tab on the built app with the real built-in pool (llama.cpp wasm workers, the
// pool's data sets, IndexedDB): a small grid chosen in the tab runs to a results table; a cell opens
// its items and an item its full trace; the JSON export reads back (after a reload) into the same
// table; a page killed mid-run is reopened, resumes from IndexedDB and gives exactly the results of
// the uninterrupted run; malformed data set files and unknown models are refused with their places.
import { test, expect, type Page, type Locator } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openApp, showTab, watchErrors } from './helpers.ts';
import { toBase64Url } from '../../src/app/experiment-choices.ts';

test.describe.configure({ mode: 'serial' });

function tab(page: Page): Locator {
  return page.getByRole('tabpanel', { name: 'Experiments' });
}

/** The grid, chosen with the tab's checkboxes: 2 methods × 2 data sets × 3 items on two pool models. */
async function chooseGrid(page: Page): Promise<void> {
  const t = tab(page);
  const setup = t.getByRole('region', { name: 'Experiment setup' });
  await setup.getByRole('checkbox', { name: /Two-digit arithmetic/ }).check();
  await setup.getByRole('checkbox', { name: /invented world/ }).check();
  await setup.getByRole('checkbox', { name: /Majority vote/ }).check();
  await setup.getByRole('checkbox', { name: /Trained router/ }).check();
  await setup.getByRole('checkbox', { name: 'arithmetic-specialist' }).check();
  await setup.getByRole('checkbox', { name: 'world-specialist' }).check();
  await setup.getByLabel('Items per data set').fill('3');
  await setup.getByLabel('Items per data set').dispatchEvent('change');
}

async function exportJson(page: Page): Promise<{ text: string; json: any }> {
  const [download] = await Promise.all([page.waitForEvent('download'), tab(page).getByRole('button', { name: 'Export JSON' }).click()]);
  const text = readFileSync((await download.path())!, 'utf8');
  return { text, json: JSON.parse(text) };
}

/** What must not change between runs: each cell's identity and statistics, each item's answer. */
function outcome(r: any) {
  return {
    cells: r.cells.map((c: any) => [c.labels, c.method, c.dataset, c.split, c.n, c.score, c.ci95, c.gain?.estimate ?? null, c.emergence ?? null]),
    items: r.items.map((it: any) => [it.cell, it.id, it.output, it.parsed, it.score]),
  };
}

let uninterrupted: any;
let experimentText = '';

test('a grid chosen in the tab runs on the pool; cell → items → trace; export and re-import give the same table', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Experiments');
  await chooseGrid(page);
  const t = tab(page);
  experimentText = await t.getByLabel('Experiment file (JSON; edit freely)').inputValue();
  expect(JSON.parse(experimentText).methods.map((m: any) => m.method)).toEqual(['vote', 'router']);

  await t.getByRole('button', { name: 'Run', exact: true }).click();
  const table = t.getByRole('table', { name: 'Results' });
  await expect(table).toBeVisible({ timeout: 240_000 });
  await expect(t.getByRole('status', { name: 'Run progress' })).toHaveText('36 / 36');
  // rows: the two methods and the two members; columns: the two data sets
  await expect(table.getByRole('rowheader')).toHaveText(['arithmetic-specialist (member)', 'Majority vote', 'Trained router', 'world-specialist (member)']);

  // sorting by a data set column orders the rows by that score
  await table.getByRole('button', { name: 'pool/arithmetic', exact: true }).click();
  await expect(table.getByRole('columnheader', { name: /^pool\/arithmetic/ })).toHaveAttribute('aria-sort', 'descending');
  await expect(table.getByRole('rowheader').last()).toHaveText('world-specialist (member)');

  // a cell → its items → an item's full trace
  await table.getByRole('button', { name: /^Majority vote on pool\/arithmetic: / }).click();
  const items = t.getByRole('region', { name: 'Cell items' });
  await expect(items.getByRole('table', { name: 'Items' }).getByRole('row')).toHaveCount(4);
  await items.getByRole('button', { name: /^Trace of item / }).first().click();
  const trace = items.getByRole('region', { name: 'Trace' });
  await expect(trace.getByRole('status', { name: 'Run status' })).toHaveText('done');
  await expect(trace.getByRole('article').first()).toBeVisible();

  // the plots are drawn (Observable Plot's SVG) under the app's CSP
  await expect(t.getByRole('figure', { name: 'Score against cost' }).locator('svg').first()).toBeVisible();
  await expect(t.getByRole('figure', { name: 'Gain heatmap' }).locator('svg').first()).toBeVisible();

  const exported = await exportJson(page);
  expect(exported.json.items.every((it: any) => Array.isArray(it.trace) && it.trace.length > 0)).toBe(true);
  uninterrupted = exported.json;
  const before = await table.innerText();

  await page.reload();
  await showTab(page, 'Experiments');
  await tab(page).getByLabel('Import results').setInputFiles({ name: 'results.json', mimeType: 'application/json', buffer: Buffer.from(exported.text) });
  await expect(tab(page).getByRole('table', { name: 'Results' })).toBeVisible();
  // the same table (default sort), and the same file when exported again
  await tab(page).getByRole('table', { name: 'Results' }).getByRole('button', { name: 'pool/arithmetic', exact: true }).click();
  expect(await tab(page).getByRole('table', { name: 'Results' }).innerText()).toBe(before);
  expect((await exportJson(page)).json).toEqual(exported.json);
  expect(errors).toEqual([]);
});

test('a page killed mid-run is reopened, resumes from IndexedDB and equals the uninterrupted run', async ({ browser }) => {
  test.setTimeout(300_000);
  expect(uninterrupted, 'the first test ran').toBeTruthy();
  const context = await browser.newContext();
  const page = await context.newPage();
  await openApp(page);
  await showTab(page, 'Experiments');
  const text = tab(page).getByLabel('Experiment file (JSON; edit freely)');
  await text.fill(experimentText);
  await text.dispatchEvent('change');
  await tab(page).getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => {
    const s = document.querySelector('[aria-label="Run progress"]')?.textContent ?? '';
    const done = Number(s.split('/')[0]);
    return done >= 4;
  }, null, { timeout: 240_000, polling: 20 });
  await page.close(); // the tab dies mid-run: workers, runner and page memory are gone

  const again = await context.newPage();
  const errors = watchErrors(again);
  await openApp(again);
  await showTab(again, 'Experiments');
  // the last experiment is back, with its finished items saved
  await expect(tab(again).getByLabel('Experiment file (JSON; edit freely)')).toHaveValue(experimentText);
  await expect(tab(again).getByRole('note', { name: 'Saved items' })).toHaveText(/^\d+ finished item\(s\) saved/);
  const saved = Number((await tab(again).getByRole('note', { name: 'Saved items' }).innerText()).split(' ')[0]);
  expect(saved).toBeGreaterThanOrEqual(4);
  expect(saved).toBeLessThan(36);
  await tab(again).getByRole('button', { name: 'Resume' }).click();
  await expect(tab(again).getByRole('table', { name: 'Results' })).toBeVisible({ timeout: 240_000 });
  await expect(tab(again).getByRole('group', { name: 'Progress' })).toContainText(`${saved} resumed`);
  const resumed = (await exportJson(again)).json;
  expect(outcome(resumed)).toEqual(outcome(uninterrupted));
  expect(errors).toEqual([]);
  await context.close();
});

test('malformed data set and experiment files show their errors; an unknown model is named with the fix; an experiment opens from a file and a link', async ({ page }) => {
  await openApp(page);
  await showTab(page, 'Experiments');
  const t = tab(page);
  const add = t.getByLabel('Add data set file');
  await add.setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"question": "1+1", "answer": "2"}\n{"question": "2+2", "answer": \n{"question": "3+3", "answer": "6"}\n') });
  const problems = t.getByRole('alert', { name: 'Problems' });
  await expect(problems).toContainText('bad.jsonl');
  await expect(problems.getByRole('listitem')).toContainText([/line 2: is not valid JSON .* each line must be one JSON object/]);
  await expect(t.getByRole('checkbox', { name: /bad\.jsonl/ })).toHaveCount(0);

  await add.setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('question,answer\n1+1,2\n2+2,\n3+3,6,7\n') });
  await expect(problems).toContainText('bad.csv');
  await expect(problems.getByRole('listitem')).toContainText([/row 2: column "answer" is empty/, /row 3: Too many fields/]);

  // a good file is added as a data set of its own
  await add.setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from('question,answer\n1+1,2\n') });
  await expect(t.getByRole('checkbox', { name: /good\.csv/ })).toBeChecked();

  const text = t.getByLabel('Experiment file (JSON; edit freely)');
  await text.fill(JSON.stringify({ models: { x: 'nowhere.gguf' }, datasets: [{ path: 'pool/arithmetic', split: 'test', limit: 1 }], methods: [{ method: 'single', agents: ['x'] }] }));
  await text.dispatchEvent('change');
  await t.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(t.getByRole('alert').filter({ hasText: 'models.x' })).toContainText('"nowhere.gguf" is neither a built-in model');
  await expect(t.getByRole('alert').filter({ hasText: 'models.x' })).toContainText('import the .gguf file in the Models tab');

  // an experiment file: a bad one is refused with the field named, a good one replaces the text
  const open = t.getByLabel('Open experiment file');
  await open.setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"models": {"a": "a.gguf"}, "datasets": [], "methods": []}') });
  await expect(problems).toContainText('broken.json: "datasets" must be a non-empty array');
  const good = JSON.stringify({ models: { a: 'arithmetic-specialist' }, datasets: [{ path: 'pool/arithmetic', split: 'test', limit: 2 }], methods: [{ method: 'single', agents: ['a'] }], seeds: [3] });
  await open.setInputFiles({ name: 'good.json', mimeType: 'application/json', buffer: Buffer.from(good) });
  await expect(text).toHaveValue(good);

  // a link opens the Experiments tab with its experiment
  const linked = JSON.stringify({ models: { w: 'world-specialist' }, datasets: [{ path: 'pool/world', split: 'test', limit: 1 }], methods: [{ method: 'single', agents: ['w'] }] });
  await page.goto(`./#experiment=${toBase64Url(linked)}`);
  await expect(page.getByRole('tab', { name: 'Experiments' })).toHaveAttribute('aria-selected', 'true');
  await expect(tab(page).getByLabel('Experiment file (JSON; edit freely)')).toHaveValue(linked);
  await page.reload(); // opened afresh from the link, not only by a hash change
  await expect(page.getByRole('tab', { name: 'Experiments' })).toHaveAttribute('aria-selected', 'true');
  await expect(tab(page).getByLabel('Experiment file (JSON; edit freely)')).toHaveValue(linked);
});

test("the second pool's data sets and models are offered beside the first's, and a grid on them runs in the tab", async ({ page }) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  await openApp(page);
  await showTab(page, 'Experiments');
  const t = tab(page);
  const setup = t.getByRole('region', { name: 'Experiment setup' });
  // Listed from models/index.json's `pools`: the second pool's tasks by their folder, its models by id.
  await expect(setup.getByRole('checkbox', { name: /Two-digit arithmetic/ })).toBeVisible();
  await setup.getByRole('checkbox', { name: /Ages and towns of invented people/ }).check();
  await setup.getByRole('checkbox', { name: /Single model/ }).check();
  await setup.getByRole('checkbox', { name: 'facts-a', exact: true }).check();
  await setup.getByRole('checkbox', { name: 'facts-b', exact: true }).check();
  await setup.getByLabel('Items per data set').fill('3');
  await setup.getByLabel('Items per data set').dispatchEvent('change');
  const exp = JSON.parse(await t.getByLabel('Experiment file (JSON; edit freely)').inputValue());
  expect(exp.datasets.map((d: any) => d.path)).toEqual(['pool2/datasets/facts']);
  expect(Object.keys(exp.models)).toEqual(['facts-a', 'facts-b']);
  await t.getByRole('button', { name: 'Run', exact: true }).click();
  const table = t.getByRole('table', { name: 'Results' });
  await expect(table).toBeVisible({ timeout: 150_000 });
  await expect(t.getByRole('status', { name: 'Run progress' })).toHaveText('6 / 6');
  await expect(table.getByRole('rowheader')).toHaveText(['facts-a', 'facts-b']);
  await expect(table.getByRole('columnheader', { name: /^pool\/facts/ })).toBeVisible();
  expect(errors).toEqual([]);
});

test('a further pool that cannot be read is left out with a note naming it; the first pool stays listed', async ({ page }) => {
  await page.route('**/pool2/models/index.json', (r) => r.fulfill({ status: 404, body: 'gone' }));
  await openApp(page);
  await showTab(page, 'Experiments');
  const setup = tab(page).getByRole('region', { name: 'Experiment setup' });
  await expect(setup.getByRole('checkbox', { name: /Two-digit arithmetic/ })).toBeVisible();
  await expect(setup.getByRole('checkbox', { name: 'arithmetic-specialist', exact: true })).toBeVisible();
  await expect(setup.getByRole('checkbox', { name: /Ages and towns of invented people/ })).toHaveCount(0);
  await expect(setup.getByRole('checkbox', { name: 'facts-a', exact: true })).toHaveCount(0);
  await expect(tab(page).getByRole('alert').filter({ hasText: 'Not listed' })).toContainText('Not listed: the pool at ../pool2/models/index.json (HTTP 404');
});
