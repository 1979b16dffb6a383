/**
 * `npm run experiment` end to end: the real CLI on the real stories260K.gguf and the pool's data
 * sets, generating with real llama.cpp (wllama) in headless Chromium. Success writes a valid results
 * file (and a second run is answered from the cache); every bad input exits non-zero with one line
 * on stderr and writes nothing; `--list` prints every method's metadata as JSON.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';
import { strategyIds } from '../../src/lib/strategies/registry.ts';
import type { ResultsFile } from '../../src/lib/eval/results.ts';

const dir = mkdtempSync(join(tmpdir(), 'chorus-experiment-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync('npm', ['run', '-s', 'experiment', '--', ...args], { encoding: 'utf8', cwd: REPO_ROOT, timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** The CLI without blocking this process, so a server in this process can answer it. */
function cliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('npm', ['run', '-s', 'experiment', '--', ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => done({ code, stdout, stderr: stderr.trim() }));
  });
}

function experiment(name: string, body: object): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

const tiny = {
  models: { base: storiesModel() },
  datasets: [{ path: join(REPO_ROOT, 'public/datasets'), split: 'test', tasks: ['arithmetic', 'safety'], limit: 2, devLimit: 2 }],
  methods: [
    { method: 'single', agents: ['base'], label: 'base' },
    { method: 'vote', agents: [{ model: 'base', temperature: 0.8 }, { model: 'base', temperature: 0.8 }, 'base'], label: 'vote3' },
  ],
  seeds: [5],
};

describe('npm run experiment', () => {
  it('runs a tiny experiment on stories260K: exit 0, a valid results file, then the same results from the cache', () => {
    const file = experiment('tiny', tiny);
    const out = join(dir, 'tiny.results.json');
    const cache = join(dir, 'cache');
    const r = cli([file, '--out', out, '--cache', cache]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[\d+\/\d+\] .*% · /); // progress lines
    expect(r.stdout).toMatch(/wrote .*tiny\.results\.json: \d+ cells, \d+ items/);
    const res = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    expect(res.format).toBe('chorus-experiment-results');
    const vote = res.cells.find((c) => c.labels.includes('vote3'))!;
    expect(vote).toMatchObject({ method: 'vote', dataset: 'pool/arithmetic+safety', split: 'test', seed: 5, n: 4 });
    const items = res.items.filter((it) => res.cells[it.cell] === vote);
    expect(items.map((it) => it.id)).toEqual(['arithmetic-test-0', 'arithmetic-test-1', 'safety-test-0', 'safety-test-1']);
    expect(vote.score).toBe(items.reduce((s, it) => s + it.score, 0) / items.length);
    expect(vote.cost.calls).toBe(12);
    for (const it of items) expect(it.trace!.at(-1)).toMatchObject({ type: 'run-end', status: 'done' });
    expect(existsSync(`${out}.state.jsonl`)).toBe(false);

    const again = cli([file, '--out', out, '--cache', cache]);
    expect(again.code, again.stderr).toBe(0);
    const res2 = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    expect(res2.summary.cost.cachedCalls).toBe(res2.summary.cost.calls);
    expect(res2.items.map((it) => it.output)).toEqual(res.items.map((it) => it.output));
  }, 600_000);

  it('prints every method’s metadata as JSON with --list', () => {
    const r = cli(['--list']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ id: string; name: string; level: string; knobs: unknown[]; needs: object; fitsOnDev: boolean }>;
    expect(list.map((m) => m.id)).toEqual([...strategyIds]);
    for (const m of list) expect(Object.keys(m)).toEqual(expect.arrayContaining(['id', 'name', 'level', 'knobs', 'needs', 'fitsOnDev']));
    expect(list.find((m) => m.id === 'router')!.fitsOnDev).toBe(true);
  }, 120_000);

  const fixture = (f: string) => join(REPO_ROOT, 'tests/fixtures', f);
  const CODE = '```python\ndef double(x):\n    return 2 * x\n```';
  let fake: Server | undefined;
  afterAll(() => fake?.close());

  it('reads MoCo files and a user CSV with a mapping through loadDataset, scores MoCo items, and runs a coding reply in the Pyodide sandbox (the "coder" is a fake OpenAI server; the other model is real stories260K)', async () => {
    // stories260K never writes a Python function, so a fake endpoint answers every chat with one:
    // the point is the CLI's real path from a MoCo coding item to Pyodide and back.
    fake = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: CODE }, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    const port = (fake.address() as AddressInfo).port;
    const file = experiment('sources', {
      models: { base: storiesModel(), coder: { baseUrl: `http://127.0.0.1:${port}`, model: 'fake-coder' } },
      datasets: [
        { path: fixture('moco/mcq.json'), split: 'test', limit: 2, maxTokens: 24 },
        { path: fixture('moco/exact.json'), split: 'test', limit: 2, maxTokens: 24 },
        { path: fixture('moco/coding.json'), split: 'test', limit: 1, maxTokens: 24 },
        { path: fixture('user/qa.csv'), split: 'test', limit: 2, maxTokens: 24, mapping: { id: 'id', input: 'question', reference: 'answer' }, taskType: 'exact_match', name: 'my-qa' },
      ],
      methods: [{ method: 'single', agents: ['base'], label: 'base' }, { method: 'single', agents: ['coder'], label: 'coder' }],
      seeds: [1],
    });
    const out = join(dir, 'sources.results.json');
    const r = await cliAsync([file, '--out', out, '--no-cache']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    const cell = (model: string, ds: string) => res.cells.findIndex((c) => c.agents[0]!.model === model && c.dataset === ds);
    const itemsOf = (model: string, ds: string) => res.items.filter((it) => it.cell === cell(model, ds));
    expect(res.cells.map((c) => c.dataset)).toEqual(expect.arrayContaining(['moco/mcq', 'moco/exact', 'moco/coding', 'my-qa']));
    // Every item of every source scored (0–1) with a parsed answer; MoCo's multiple choice as letters.
    expect(itemsOf('base', 'moco/mcq').map((it) => it.id)).toEqual(['10', '11']);
    expect(itemsOf('base', 'my-qa').map((it) => [it.id, it.reference])).toEqual([['q1', 'Paris'], ['q2', '8']]);
    for (const it of res.items) {
      expect(it.score, it.id).toBeGreaterThanOrEqual(0);
      expect(it.score, it.id).toBeLessThanOrEqual(1);
      expect(typeof it.parsed).toBe('string');
    }
    for (const it of itemsOf('base', 'moco/exact')) expect(it.output.length, it.id).toBeGreaterThan(0);
    // The coder's function passes the item's check(candidate) in Python; stories260K's text holds no def.
    expect(itemsOf('coder', 'moco/coding')).toMatchObject([{ id: 'tc/1', parsed: 'def double(x):\n    return 2 * x', score: 1 }]);
    expect(itemsOf('coder', 'moco/coding')[0]!.error).toBeUndefined();
    expect(itemsOf('base', 'moco/coding')).toMatchObject([{ id: 'tc/1', score: 0 }]);
    // The coder's reply is no letter and no boxed answer: 0 on the other sources.
    expect(itemsOf('coder', 'moco/mcq').map((it) => it.score)).toEqual([0, 0]);
  }, 600_000);

  it('--context sets the models\' context: a debate refused at the default 256 tokens runs at 1024, and its multi-turn revisions report their prompt tokens (a model with a chat template)', () => {
    const file = experiment('debate-context', { ...tiny, models: { base: 'generalist' }, datasets: [{ ...tiny.datasets[0], tasks: ['arithmetic'], limit: 1, devLimit: 1 }], methods: [{ method: 'debate', agents: ['base', 'base'], label: 'debate' }] });
    const out = join(dir, 'debate-context.results.json');
    const refused = cli([file, '--out', out, '--no-cache']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/a revision round .* more than base's 256-token context/);
    expect(existsSync(out)).toBe(false);
    const r = cli([file, '--out', out, '--no-cache', '--context', '1024']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    const cell = res.cells.findIndex((c) => c.labels.includes('debate') && c.split === 'test');
    const trace = res.items.find((it) => it.cell === cell)!.trace!;
    const revisions = new Set(trace.flatMap((e) => (e.type === 'message-start' && e.purpose === 'revision' ? [e.msgId] : [])));
    const ends = trace.filter((e) => e.type === 'message-end' && revisions.has(e.msgId));
    expect(ends).toHaveLength(2);
    for (const e of ends) if (e.type === 'message-end') expect(e.usage.prompt_tokens).toBeGreaterThan(50);
    expect(cli([file, '--context', '32']).stderr).toMatch(/--context must be between 64 and 4096 tokens \(got 32\)/);
  }, 600_000);

  it('runs token-level methods through the harness\'s stepping seam: greedy speculative decoding writes exactly the target\'s own greedy answer, with its steps in the trace', () => {
    const file = experiment('speculative', { ...tiny, models: { draft: 'arithmetic-specialist', target: 'generalist' }, datasets: [{ ...tiny.datasets[0], tasks: ['arithmetic', 'world'], limit: 2, devLimit: 1 }], methods: [{ method: 'speculative', agents: ['draft', 'target'], label: 'speculative' }] });
    const out = join(dir, 'speculative.results.json');
    const r = cli([file, '--out', out, '--no-cache', '--context', '1024']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    const spec = res.cells.findIndex((c) => c.labels.includes('speculative') && c.split === 'test');
    const target = res.cells.findIndex((c) => c.method === 'single' && c.agents[0]!.model === 'target' && c.split === 'test');
    const rows = res.items.filter((it) => it.cell === spec);
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const alone = res.items.find((it) => it.cell === target && it.id === row.id)!;
      expect(row.output.trim(), row.id).toBe(alone.output.trim());
      const steps = row.trace!.filter((e) => e.type === 'step');
      expect(steps.length).toBeGreaterThan(0);
    }
  }, 600_000);

  const bad: Array<[string, () => string, RegExp]> = [
    ['an unknown method', () => experiment('bad-method', { ...tiny, methods: [{ method: 'telepathy', agents: ['base'] }] }), /bad-method\.json: methods\[0\]\.method is "telepathy"; choose one of single/],
    ['a missing GGUF file', () => experiment('bad-model', { ...tiny, models: { base: 'nowhere/missing.gguf' } }), /models\.base: nowhere\/missing\.gguf not found/],
    ['a file that is not GGUF', () => {
      writeFileSync(join(dir, 'fake.gguf'), 'not a model at all');
      return experiment('bad-gguf', { ...tiny, models: { base: 'fake.gguf' } });
    }, /models\.base: .*fake\.gguf/],
    ['invalid JSON', () => {
      writeFileSync(join(dir, 'broken.json'), '{"models": ');
      return join(dir, 'broken.json');
    }, /broken\.json is not valid JSON/],
    ['a MoCo file with malformed items (the first problem and how many more)', () => experiment('bad-items', { ...tiny, datasets: [{ path: fixture('moco/bad-items.json'), split: 'test' }] }), /^experiment: datasets\[0\]: bad-items\.json: test\[0\].* — and \d+ more$/],
    ['a user CSV whose mapping names a missing column', () => experiment('bad-mapping', { ...tiny, datasets: [{ path: fixture('user/qa.csv'), split: 'test', mapping: { input: 'prompt', reference: 'answer' }, taskType: 'exact_match' }] }), /qa\.csv: the mapping names column "prompt", which the file does not have/],
    ['a collaboration on a user file, which has no dev split', () => experiment('bad-collab', { ...tiny, datasets: [{ path: fixture('user/qa.csv'), split: 'test', mapping: { input: 'question', reference: 'answer' }, taskType: 'exact_match' }] }), /user\/qa has no dev split, which the grid needs \(single on dev\)/],
    ['an unknown pool task', () => experiment('bad-task', { ...tiny, datasets: [{ path: join(REPO_ROOT, 'public/datasets'), split: 'test', tasks: ['poetry'] }] }), /the pool has no task "poetry": choose from arithmetic/],
  ];
  for (const [what, make, pattern] of bad) {
    it(`refuses ${what}: exit 1, one line, nothing written`, () => {
      const file = make();
      const out = join(dir, 'never.json');
      const before = readdirSync(dir).sort();
      const r = cli([file, '--out', out, '--cache', join(dir, 'never-cache')]);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(readdirSync(dir).sort()).toEqual(before);
    }, 120_000);
  }
});
