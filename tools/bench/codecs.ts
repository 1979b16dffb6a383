/**
 * Codec and GGUF throughput (`npx tsx tools/bench/codecs.ts`): decode and encode speed of every
 * codec on 2^20 values (million values per second, best of 3 after a warm-up), and the time to read
 * stories260K.gguf's header and to rewrite the whole file through the writer. Prints a table, then
 * one JSON line (the tools/bench/run.mjs convention). Measures; asserts nothing.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodableTypes, getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGUFWriter, bytesSource, ggmlTypeName, memorySink, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';

const n = 1 << 20;
const x = new Float32Array(n);
let seed = 1;
for (let i = 0; i < n; i++) {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  x[i] = (seed / 2 ** 32 - 0.5) * 0.1;
}

async function best(f: () => unknown, reps = 3): Promise<number> {
  await f();
  let min = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const codecs: Record<string, { decodeMvps: number; encodeMvps?: number }> = {};
for (const type of decodableTypes()) {
  const c = getCodec(type);
  const bytes = c.encode ? c.encode(x) : new Uint8Array((n / c.blockSize) * c.typeSize);
  const out = new Float32Array(n);
  const dec = await best(() => c.decode(bytes, n, out));
  const enc = c.encode ? await best(() => c.encode!(x, bytes), 1) : undefined;
  codecs[ggmlTypeName(type)] = { decodeMvps: +(n / dec / 1e3).toFixed(1), ...(enc !== undefined ? { encodeMvps: +(n / enc / 1e3).toFixed(1) } : {}) };
}
console.table(codecs);

const file = new Uint8Array(readFileSync(resolve(import.meta.dirname, '../../../shared/models/stories260K.gguf')));
const src = bytesSource(file, 'stories260K.gguf');
const headerMs = await best(() => readGGUF(src), 10);
const f = await readGGUF(src);
const rewriteMs = await best(async () => {
  const w = new GGUFWriter(memorySink());
  w.addMetadata(f.metadata);
  for (const t of f.tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: t.type });
  for (const t of f.tensors) await w.writeTensorData(t.name, await readTensorData(src, f, t));
  await w.finish();
}, 5);
console.log(`stories260K.gguf: header read ${headerMs.toFixed(2)} ms, full rewrite ${rewriteMs.toFixed(2)} ms`);
console.log(JSON.stringify({ values: n, codecs, storiesHeaderReadMs: +headerMs.toFixed(2), storiesRewriteMs: +rewriteMs.toFixed(2) }));
