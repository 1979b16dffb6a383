// What the code sandboxes cost per program in Node (not a test): wall time of one JavaScript run
// (a fresh process each) and one Python run (a fresh Pyodide process each, the next booted ahead),
// one after another, plus the first Python boot. Prints a small JSON object.
// Usage: npx tsx tools/bench/sandbox.ts [runs]
import { loadavg } from 'node:os';
import { nodeSandbox } from '../lib/node-sandbox.ts';
import { nodePythonSandbox } from '../lib/node-python.ts';

const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const js = nodeSandbox();
const jsMs: number[] = [];
for (let i = 0; i < runs * 4; i++) {
  const t = performance.now();
  const r = await js.run('x=>x*3+1', [{ input: 1, output: 4 }], 5000);
  if (!r.ok) throw new Error(`js run failed: ${r.error}`);
  jsMs.push(performance.now() - t);
}
js.close();

const py = nodePythonSandbox();
const pyMs: number[] = [];
for (let i = 0; i < runs + 1; i++) {
  const t = performance.now();
  const r = await py.run('def f(x):\n    return x * 3 + 1\nassert f(1) == 4', 10_000);
  if (!r.ok) throw new Error(`python run failed: ${r.error}`);
  pyMs.push(performance.now() - t);
}
py.close();

console.log(JSON.stringify({
  jsRunMedianMs: Math.round(median(jsMs)),
  pythonFirstRunMs: Math.round(pyMs[0]!),
  pythonRunMedianMs: Math.round(median(pyMs.slice(1))),
  runs,
  loadAverage1m: Number(loadavg()[0]!.toFixed(1)),
  cpus: (await import('node:os')).cpus().length,
}));
