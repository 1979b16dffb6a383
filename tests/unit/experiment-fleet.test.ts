/**
 * `npm run experiment` over a serving fleet: the real CLI, a model entry of two endpoints, each a
 * real llama.cpp (tools/lib/llama-openai-server.ts: node-llama-cpp serving stories260K.gguf) in this
 * process. Endpoint two is stopped once it has answered twice; every item still finishes, both
 * endpoints answered, and the results equal a run on endpoint one alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/lib/eval/experiment.ts';
import type { ResultsFile } from '../../src/lib/eval/results.ts';
import { loadLlama, startLlamaServer, type LlamaServer, type LoadedLlama } from '../../tools/lib/llama-openai-server.ts';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'chorus-experiment-fleet-'));
let llama: LoadedLlama;
let one: LlamaServer;
let two: LlamaServer;

beforeAll(async () => {
  llama = await loadLlama(storiesModel());
  [one, two] = await Promise.all([startLlamaServer(llama), startLlamaServer(llama)]);
}, 120_000);
afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process, whose event loop serves the endpoints. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '-s', 'experiment', '--', ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr: stderr.trim() }));
  });
}

function experiment(name: string, model: object): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      models: { tiny: model },
      datasets: [{ path: join(REPO_ROOT, 'public/datasets'), split: 'test', tasks: ['arithmetic', 'world'], limit: 6, devLimit: 1 }],
      methods: [{ method: 'vote', agents: [{ model: 'tiny', temperature: 0.8 }, { model: 'tiny', temperature: 0.8 }] }],
      seeds: [3],
    }),
  );
  return file;
}

const answers = (r: ResultsFile) => r.items.map((it) => [r.cells[it.cell]!.method, r.cells[it.cell]!.split, it.id, it.output, it.score]);

describe('npm run experiment over a fleet of two real llama.cpp endpoints', () => {
  it('finishes every item when one endpoint is stopped mid-run, with both endpoints used, and gives the single endpoint’s results', async () => {
    const fleetFile = experiment('fleet', { endpoints: [{ baseUrl: one.url, model: 'stories260K' }, { baseUrl: two.url, model: 'stories260K' }] });
    const fleetOut = join(dir, 'fleet.results.json');
    let stoppedAt = -1;
    // Watch endpoint two (in this process) and stop it once it has answered twice.
    const watch = setInterval(() => {
      if (stoppedAt < 0 && two.served >= 2) {
        stoppedAt = two.served;
        void two.stop();
      }
    }, 5);
    const r = await cli([fleetFile, '--out', fleetOut, '--no-cache']).finally(() => clearInterval(watch));
    expect(r.code, r.stderr).toBe(0);
    expect(stoppedAt).toBeGreaterThanOrEqual(2);
    const res = JSON.parse(readFileSync(fleetOut, 'utf8')) as ResultsFile;
    const total = res.cells.reduce((s, c) => s + c.n, 0);
    expect(res.items).toHaveLength(total);
    expect(res.items.length).toBeGreaterThanOrEqual(12);
    for (const it of res.items) expect(it.trace!.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    // Both endpoints answered: two until it was stopped, one the rest (its retries included).
    const calls = res.cells.reduce((s, c) => s + c.cost.calls, 0);
    expect(one.served + two.served).toBeGreaterThanOrEqual(calls);
    expect(one.served).toBeGreaterThan(0);
    // The CLI reports each endpoint; two is down.
    // The CLI reports each endpoint: one never failed; two answered, then failed. (Its count
    // may be one under the server's: an answer finished at the moment of the stop can be cut off.)
    expect(r.stderr).toContain(`fleet tiny: ${one.url} served ${one.served}, failed 0`);
    const line = new RegExp(`fleet tiny: ${two.url.replace(/\./g, '\\.')} served (\\d+), failed ([1-9]\\d*)`).exec(r.stderr);
    expect(line, r.stderr).not.toBeNull();
    expect(Number(line![1])).toBeGreaterThanOrEqual(stoppedAt - 1);
    expect(Number(line![1])).toBeGreaterThan(0);

    // The same experiment on endpoint one alone gives the same answers (seeded calls, one model).
    const soloOut = join(dir, 'solo.results.json');
    const solo = await cli([experiment('solo', { baseUrl: one.url, model: 'stories260K' }), '--out', soloOut, '--no-cache']);
    expect(solo.code, solo.stderr).toBe(0);
    expect(answers(res)).toEqual(answers(JSON.parse(readFileSync(soloOut, 'utf8')) as ResultsFile));
  }, 600_000);
});

describe('a fleet in the experiment file', () => {
  const file = (endpoints: unknown[]) => JSON.stringify({ models: { f: { endpoints } }, datasets: [{ path: 'd', split: 'test' }], methods: [{ method: 'single', agents: ['f'] }], seeds: [1] });
  it('takes each endpoint’s concurrency, and refuses one that is not a whole number ≥ 1 by name', () => {
    const e = parseExperiment(file([{ baseUrl: 'http://a:1', model: 'm', concurrency: 3 }, { baseUrl: 'http://b:1', model: 'm' }]), 'x.json');
    expect(e.models.f).toEqual({ kind: 'fleet', endpoints: [{ baseUrl: 'http://a:1', model: 'm', concurrency: 3 }, { baseUrl: 'http://b:1', model: 'm' }] });
    expect(() => parseExperiment(file([{ baseUrl: 'http://a:1', model: 'm', concurrency: 0 }]), 'x.json')).toThrow(/x\.json: models\.f\.endpoints\[0\]\.concurrency must be a whole number ≥ 1, the requests this server takes at once \(got 0\)/);
  });
});
