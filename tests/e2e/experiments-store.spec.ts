// The experiment runner in a real tab with its IndexedDB stores (src/lib/store/experiments-db.ts):
// the page is reloaded mid-run (everything in memory is lost), the run is reopened from IndexedDB,
// skips what was finished, and gives the results of an uninterrupted run; a second run of the same
// experiment is answered from the IndexedDB answer cache. Models are the unit tests' scripted ones.
import { test, expect, type Page } from '@playwright/test';
import { buildSync } from 'esbuild';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../support/paths.ts';

const bundle = buildSync({
  entryPoints: [resolve(REPO_ROOT, 'tests/e2e/support/experiments-entry.ts')],
  bundle: true,
  format: 'iife',
  globalName: 'ChorusExperiments',
  write: false,
  target: 'es2022',
}).outputFiles[0]!.text + '\nglobalThis.ChorusExperiments = ChorusExperiments;';

const EXPERIMENT = {
  models: { d: 'd.gguf', n: 'n.gguf' },
  datasets: [{ path: 'toy', split: 'test' }],
  methods: [
    { method: 'vote', agents: ['d', 'n', { model: 'd', temperature: 0.9 }], label: 'vote' },
    { method: 'router', agents: ['d', 'n'], label: 'router' },
  ],
  seeds: [1],
};

/** Starts (or resumes) the run `run` in database `db`; resolves with the outcome when `wait`. */
async function start(page: Page, db: string, run: string, wait: boolean) {
  await page.evaluate(bundle);
  return page.evaluate(async ([dbName, runName, exp, waitForIt]) => {
    const X = (globalThis as any).ChorusExperiments;
    const conn = await X.openExperimentsDb(dbName);
    const models: Record<string, any> = {
      d: new X.ScriptedModel('d', (p: string) => ({ text: String(X.readToy(p).x * 2), logprob: -0.2 }), 40),
      n: new X.ScriptedModel('n', (p: string) => ({ text: String(X.readToy(p).x + 1), logprob: -0.3 }), 40),
    };
    const runner = X.createRunner({
      experiment: X.parseExperiment(JSON.stringify(exp)),
      datasets: [X.toyDataset(6, 12)],
      models: (id: string) => ({ engine: models[id], cacheKey: id }),
      answers: new X.IdbAnswerStore(conn),
      state: new X.IdbRunState(conn, runName),
      concurrency: 1,
    });
    (globalThis as any).runner = runner;
    const running = runner.run();
    if (!waitForIt) return null;
    const out = await running;
    const calls = models.d.calls.length + models.n.calls.length;
    if (out.status !== 'done') return { status: out.status, calls };
    const r = out.results;
    return {
      status: 'done',
      calls,
      resumed: runner.progress.resumed,
      total: runner.progress.total,
      cells: r.cells.map((c: any) => [c.labels, c.score, c.ci95]),
      items: r.items.map((it: any) => [it.cell, it.id, it.output, it.score, it.trace.map((e: any) => e.type).join(',')]),
    };
  }, [db, run, EXPERIMENT, wait] as const);
}

test('a run reloaded mid-way resumes from IndexedDB and equals an uninterrupted run; a rerun costs no call', async ({ page }) => {
  await page.goto('./');
  const whole = await start(page, 'exp-test-whole', 'r', true);
  expect(whole!.status).toBe('done');

  await page.goto('./');
  await start(page, 'exp-test-resume', 'r', false);
  await page.waitForFunction(() => ((globalThis as any).runner?.progress.done ?? 0) >= 10, null, { timeout: 60_000 });
  await page.reload(); // the tab dies mid-run
  const resumed = await start(page, 'exp-test-resume', 'r', true);
  expect(resumed!.status).toBe('done');
  expect(resumed!.resumed).toBeGreaterThanOrEqual(10);
  expect(resumed!.resumed).toBeLessThan(resumed!.total);
  expect(resumed!.calls).toBeLessThan(whole!.calls);
  expect(resumed!.cells).toEqual(whole!.cells);
  expect(resumed!.items).toEqual(whole!.items);

  await page.reload();
  const again = await start(page, 'exp-test-whole', 'r2', true);
  expect(again!.calls).toBe(0);
  expect(again!.items).toEqual(whole!.items);
});
