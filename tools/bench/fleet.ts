/**
 * Serving fleets: queries per second through FleetEngine with 1 vs 2 endpoints. Each endpoint is
 * tools/lib/llama-openai-server.ts (node-llama-cpp 3.21.1, one slot, 1 CPU thread) serving
 * stories260K.gguf from ../shared/models; each runs in its own process, as separate servers do
 * (in one process the two would share one JavaScript thread). Each round sends N seeded completions at once; rounds alternate 1, 2, 1, 2, …
 * and the medians are compared side by side (the machine is shared and noisy).
 *
 *   npx tsx tools/bench/fleet.ts [--n 16] [--rounds 3] [--tokens 48]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { collect } from '../../src/lib/engines/engine.ts';
import { FleetEngine } from '../../src/lib/engines/fleet.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--n', 16);
const ROUNDS = arg('--rounds', 3);
const TOKENS = arg('--tokens', 48);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One server process; resolves with its URL once it listens. */
function server(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/lib/llama-openai-server.ts', resolve('../shared/models/stories260K.gguf'), '--port', '0', '--threads', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) done({ url: m[1]!, child });
    });
    child.once('exit', (code) => fail(new Error(`the server exited with ${code} before listening`)));
  });
}
const servers = await Promise.all([server(), server()]);
const fleets = { 1: new FleetEngine([{ baseUrl: servers[0]!.url, model: 'stories260K' }]), 2: new FleetEngine(servers.map((s) => ({ baseUrl: s.url, model: 'stories260K' }))) };

async function round(fleet: FleetEngine): Promise<number> {
  const t0 = performance.now();
  const out = await Promise.all(Array.from({ length: N }, (_, i) => collect(fleet.complete({ prompt: `Once upon a time, there was a little ${i % 2 ? 'dog' : 'girl'}`, seed: i + 1, temperature: 0.8, max_tokens: TOKENS }))));
  const s = (performance.now() - t0) / 1000;
  if (out.some((o) => o.usage.completion_tokens === 0)) throw new Error('an empty completion: the server did not generate');
  return N / s;
}

await round(fleets[2]); // warm-up: first-call allocations on both contexts
const qps: Record<1 | 2, number[]> = { 1: [], 2: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const k of [1, 2] as const) {
    const q = await round(fleets[k]);
    qps[k].push(q);
    console.log(`round ${r + 1}: ${k} endpoint(s) ${q.toFixed(2)} queries/s`);
  }
}
const one = median(qps[1]);
const two = median(qps[2]);
console.log(`median: 1 endpoint ${one.toFixed(2)} q/s, 2 endpoints ${two.toFixed(2)} q/s, ratio ${(two / one).toFixed(2)}× (${N} completions of ≤ ${TOKENS} tokens at once per round)`);
for (const s of servers) s.child.kill('SIGTERM');
console.log(JSON.stringify({ queries: N, maxTokens: TOKENS, rounds: ROUNDS, qps1: +one.toFixed(3), qps2: +two.toFixed(3), ratio: +(two / one).toFixed(3) }));
