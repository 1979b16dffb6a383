/**
 * Codec and GGUF throughput (`npx tsx tools/bench/codecs.ts [--ggml DIR] [--values N] [--rounds R]`):
 * - decode and encode speed of every JavaScript codec on 2^20 values (million values per second,
 *   best of 3 after a warm-up), and the time to read stories260K.gguf's header and to rewrite the
 *   whole file through the writer;
 * - the quantised codecs people merge (Q8_0, Q4_K, Q5_K, Q6_K) on N = 2^24 normal values, side by
 *   side in one run: the JavaScript codecs, the WebAssembly SIMD codecs on one thread (through
 *   SimdKernels.encodeQuant and decodeQuantView as the merge executor calls them: f32 read in place
 *   and bytes copied out for encoding, bytes copied in and f32 read in place for decoding), and
 *   ggml's reference C
 *   (quantize_row_*_ref, dequantize_row_*) compiled here with `cc -O2` and driven by ggml-codecs.c,
 *   when a ggml checkout is named (--ggml DIR or GGML_SRC: the folder with src/ggml-quants.c) and a C
 *   compiler exists — otherwise skipped with a note. R rounds (default 3), medians reported; encodes
 *   once per round, decodes best of 3. Checks that all three write the same bytes. Targets (issue 14):
 *   SIMD encoders ≥ 1.0× the native reference, decoders ≥ 0.5×.
 * Prints tables, then one JSON line (the tools/bench/run.mjs convention). Measures; asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { decodableTypes, getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType, GGUFWriter, bytesSource, ggmlTypeName, memorySink, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { simdKernels } from '../../src/lib/merge/wasm/index.ts';

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

// ---- Quantised codecs: JavaScript, SIMD (one thread) and ggml's reference C, side by side ----

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const QN = Number(arg('--values') ?? 1 << 24);
const ROUNDS = Number(arg('--rounds') ?? 3);
const GGML = arg('--ggml') ?? process.env.GGML_SRC;
const QTYPES = [GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];
const TARGET = { encode: 1.0, decode: 0.5 };

const qx = new Float32Array(QN);
{
  // Standard normal values (Box–Muller on a seeded xorshift), as the issue measured.
  let s = 0x9e3779b9;
  const u = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < QN; i++) qx[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const work = mkdtempSync(join(os.tmpdir(), 'chorus-codecs-'));
/** ggml's driver, built once: its path, or why there is none. */
function buildGgml(): { exe: string; commit: string } | { note: string } {
  if (!GGML) return { note: 'ggml reference skipped: name a ggml checkout with --ggml DIR or GGML_SRC (the folder with src/ggml-quants.c)' };
  if (!existsSync(join(GGML, 'src/ggml-quants.c'))) return { note: `ggml reference skipped: ${GGML}/src/ggml-quants.c does not exist` };
  const cc = process.env.CC ?? 'cc';
  const flags = ['-O2', '-std=gnu11', '-w', '-I', join(GGML, 'include'), '-I', join(GGML, 'src')];
  const q = spawnSync(cc, [...flags, '-c', join(GGML, 'src/ggml-quants.c'), '-o', join(work, 'q.o')], { encoding: 'utf8' });
  if (q.error || q.status !== 0) return { note: `ggml reference skipped: no working C compiler (${cc}: ${q.error?.message ?? q.stderr.trim().split('\n')[0]})` };
  const exe = join(work, 'ggml-codecs');
  const d = spawnSync(cc, [...flags, join(import.meta.dirname, 'ggml-codecs.c'), join(work, 'q.o'), '-lm', '-o', exe], { encoding: 'utf8' });
  if (d.status !== 0) return { note: `ggml reference skipped: the driver did not build (${d.stderr.trim().split('\n')[0]})` };
  const git = spawnSync('git', ['-C', GGML, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  return { exe, commit: git.status === 0 ? git.stdout.trim() : (process.env.GGML_COMMIT ?? 'unknown') };
}
const ggml = buildGgml();
if ('note' in ggml) console.log(ggml.note);
else writeFileSync(join(work, 'x.f32'), new Uint8Array(qx.buffer));

const simd = simdKernels();
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
type Speeds = { encode: number[]; decode: number[] };
const runs: Record<string, { js: Speeds; simd: Speeds; ggml: Speeds }> = {};
const identical: Record<string, { jsSimd: boolean; ggmlSimd: boolean | null }> = {};
for (const t of QTYPES) runs[ggmlTypeName(t)] = { js: { encode: [], decode: [] }, simd: { encode: [], decode: [] }, ggml: { encode: [], decode: [] } };
const mvps = (ms: number) => QN / ms / 1e3;
for (let round = 0; round < ROUNDS; round++) {
  for (const t of QTYPES) {
    const c = getCodec(t);
    const name = ggmlTypeName(t);
    const r = runs[name]!;
    const y = new Float32Array(QN);
    const jsBytes = new Uint8Array((QN / c.blockSize) * c.typeSize);
    let t0 = performance.now();
    c.encode!(qx, jsBytes);
    r.js.encode.push(mvps(performance.now() - t0));
    r.js.decode.push(mvps(await best(() => c.decode(jsBytes, QN, y))));
    if (simd) {
      const simdBytes = new Uint8Array(jsBytes.length);
      // Warm-up: the kernels' memory grows to full size once, and V8 tiers the kernels up.
      await simd.decodeQuant(t, jsBytes, QN, y);
      for (let w = 0; w < 3; w++) await simd.encodeQuant(t, qx.subarray(0, 1 << 16));
      // Encoded from values in the kernels' memory, as the merge executor has the method write them.
      const xv = simd.viewF32(QN);
      xv.set(qx);
      t0 = performance.now();
      await simd.encodeQuant(t, xv, simdBytes);
      r.simd.encode.push(mvps(performance.now() - t0));
      // Decoded in place, as the merge executor reads them (decodeQuantView: no copy out).
      r.simd.decode.push(mvps(await best(async () => {
        await simd.decodeQuantView(t, simdBytes, QN);
        simd.releaseViews();
      })));
      identical[name] = { jsSimd: Buffer.from(jsBytes).equals(Buffer.from(simdBytes)), ggmlSimd: null };
    }
  }
  if (!('note' in ggml)) {
    const out = spawnSync(ggml.exe, [join(work, 'x.f32'), work, '1', '3'], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`ggml driver failed: ${out.stderr}`);
    const secs = JSON.parse(out.stdout) as Record<string, { encodeSeconds: number; decodeSeconds: number }>;
    for (const t of QTYPES) {
      const name = ggmlTypeName(t);
      runs[name]!.ggml.encode.push(QN / secs[name]!.encodeSeconds / 1e6);
      runs[name]!.ggml.decode.push(QN / secs[name]!.decodeSeconds / 1e6);
    }
  }
  console.log(`round ${round + 1}/${ROUNDS} done (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
}
if (!('note' in ggml) && simd) {
  // The reference's bytes against the SIMD codecs' (ggml wrote them in the last round).
  for (const t of QTYPES) {
    const name = ggmlTypeName(t);
    const c = getCodec(t);
    const mine = (await simd.encodeQuant(t, qx, new Uint8Array((QN / c.blockSize) * c.typeSize)))!;
    identical[name]!.ggmlSimd = Buffer.from(readFileSync(join(work, `${name}.bin`))).equals(Buffer.from(mine));
  }
}
rmSync(work, { recursive: true, force: true });

const r1 = (v: number) => +v.toFixed(1);
const r2 = (v: number) => +v.toFixed(2);
const quantised: Record<string, unknown> = {};
const table: Record<string, Record<string, number | string>> = {};
for (const t of QTYPES) {
  const name = ggmlTypeName(t);
  const r = runs[name]!;
  const m = (s: Speeds) => ({ encodeMvps: r1(median(s.encode)), decodeMvps: r1(median(s.decode)) });
  const js = m(r.js);
  const sm = simd ? m(r.simd) : null;
  const native = r.ggml.encode.length ? m(r.ggml) : null;
  const vs = sm && native ? { encode: r2(median(r.simd.encode) / median(r.ggml.encode)), decode: r2(median(r.simd.decode) / median(r.ggml.decode)) } : null;
  quantised[name] = {
    js, simd: sm, ggml: native, simdVsGgml: vs,
    targetsMet: vs ? { encode: vs.encode >= TARGET.encode, decode: vs.decode >= TARGET.decode } : null,
    simdVsJs: sm ? { encode: r2(sm.encodeMvps / js.encodeMvps), decode: r2(sm.decodeMvps / js.decodeMvps) } : null,
    identical: identical[name] ?? null,
  };
  for (const op of ['encode', 'decode'] as const) {
    const key = op === 'encode' ? 'encodeMvps' : 'decodeMvps';
    table[`${name} ${op}`] = {
      'JS M/s': js[key], 'SIMD 1T M/s': sm?.[key] ?? '-', 'ggml -O2 M/s': native?.[key] ?? '-',
      'SIMD/ggml': vs?.[op] ?? '-', target: `≥ ${TARGET[op]}`, met: vs ? (vs[op] >= TARGET[op] ? 'yes' : 'NO') : '-',
    };
  }
}
console.log(`quantised codecs on ${QN} normal values, medians of ${ROUNDS} rounds:`);
console.table(table);
console.log('identical bytes:', JSON.stringify(identical));
console.log(JSON.stringify({
  values: n, codecs, storiesHeaderReadMs: +headerMs.toFixed(2), storiesRewriteMs: +rewriteMs.toFixed(2),
  quantised: {
    values: QN, rounds: ROUNDS, loadAvg: os.loadavg().map(r2), targets: TARGET, types: quantised,
    ggml: 'note' in ggml ? { skipped: ggml.note } : { commit: ggml.commit, compiler: `${process.env.CC ?? 'cc'} -O2`, threads: 1 },
  },
}));
