/**
 * tools/train/export.ts `--f16` (the second pool's models): matrices as F16, norms as F32, metadata
 * and tensor order as the base's. The F16 bytes are compared with numpy's float16 conversion (an
 * independent implementation of IEEE half, round to nearest even), the F32 ones with the input.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORIES_PATH } from '../support/paths.ts';
import { exportModel, exportType } from '../../tools/train/export.ts';
import { GGMLType, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { fileSource } from '../../tools/lib/node-source.ts';

async function tensorsOf(path: string) {
  const src = await fileSource(path);
  try {
    const f = await readGGUF(src);
    const out: { name: string; shape: number[]; type: GGMLType; bytes: Uint8Array }[] = [];
    for (const t of f.tensors) out.push({ name: t.name, shape: [...t.shape], type: t.type, bytes: new Uint8Array(await readTensorData(src, f, t)) });
    return { tensors: out, meta: f.metadata };
  } finally {
    await src.close();
  }
}

describe('export.ts --f16', () => {
  it('stores each matrix as F16 (numpy float16 bytes) and each norm as F32 (input bytes), at about half the size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'export-f16-'));
    const base = await tensorsOf(STORIES_PATH);
    // A checkpoint: the base's weights, shifted so no value is a half-precision one by accident.
    const parts = base.tensors.map((t) => {
      const v = new Float32Array(t.bytes.slice().buffer);
      return v.map((x, i) => x * 1.0001 + (i % 7) * 1e-5);
    });
    const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      all.set(new Uint8Array(p.buffer), at);
      at += p.byteLength;
    }
    writeFileSync(join(dir, 'ck.f32'), all);
    writeFileSync(join(dir, 'ck.json'), JSON.stringify({ id: 'ck', task: 'sum', tasks: ['sum'], steps: 1, batch: 1, lr: 0.001, seed: 1, train_seconds: 0, command: 'test', optimizer: 'test', examples_seen: 1, final_loss: 0 }));
    for (const d of ['f16', 'f32', 'f16-again']) mkdirSync(join(dir, d));
    const f16Path = await exportModel('ck', join(dir, 'f16'), dir, { f16: true });
    const f32Path = await exportModel('ck', join(dir, 'f32'), dir);
    const half = await tensorsOf(f16Path);
    const full = await tensorsOf(f32Path);
    expect(half.tensors.map((t) => [t.name, t.shape])).toEqual(base.tensors.map((t) => [t.name, t.shape]));
    expect(half.meta.map((m) => m.key)).toEqual(full.meta.map((m) => m.key));
    const matrices = half.tensors.filter((t) => t.shape.length >= 2);
    expect(matrices.length).toBeGreaterThan(10);
    expect(half.tensors.filter((t) => t.shape.length < 2).length).toBeGreaterThan(5);
    writeFileSync(join(dir, 'values.f32'), Buffer.concat(parts.filter((_, i) => base.tensors[i]!.shape.length >= 2).map((p) => Buffer.from(p.buffer))));
    const numpy = execFileSync('/usr/bin/python3', ['-c', `import numpy as np, sys; sys.stdout.buffer.write(np.fromfile('${join(dir, 'values.f32')}', dtype='<f4').astype('<f2').tobytes())`], { maxBuffer: 64 << 20 });
    expect(Buffer.compare(Buffer.concat(matrices.map((t) => Buffer.from(t.bytes))), numpy)).toBe(0);
    half.tensors.forEach((t, i) => {
      expect(t.type, t.name).toBe(t.shape.length >= 2 ? GGMLType.F16 : GGMLType.F32);
      if (t.type === GGMLType.F32) expect(Buffer.compare(Buffer.from(t.bytes), Buffer.from(parts[i]!.buffer)), t.name).toBe(0);
    });
    // Without --f16 every tensor is the checkpoint's F32, byte for byte.
    full.tensors.forEach((t, i) => {
      expect(t.type).toBe(GGMLType.F32);
      expect(Buffer.compare(Buffer.from(t.bytes), Buffer.from(parts[i]!.buffer)), t.name).toBe(0);
    });
    const ratio = statSync(f16Path).size / statSync(f32Path).size;
    expect(ratio).toBeGreaterThan(0.45);
    expect(ratio).toBeLessThan(0.56);
    // The same checkpoint exported twice gives the same bytes.
    const again = await exportModel('ck', join(dir, 'f16-again'), dir, { f16: true });
    expect(Buffer.compare(readFileSync(again), readFileSync(f16Path))).toBe(0);
  }, 60_000);

  it('exportType: F16 only for tensors of two or more dimensions, and only when asked', () => {
    expect(exportType([64, 512], true)).toBe(GGMLType.F16);
    expect(exportType([64, 64, 1], true)).toBe(GGMLType.F16);
    expect(exportType([64], true)).toBe(GGMLType.F32);
    expect(exportType([64, 512], false)).toBe(GGMLType.F32);
  });
});
