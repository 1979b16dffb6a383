/**
 * Synthetic llama-shaped GGUF models for the merge benchmark and the merge e2e's cancel test,
 * written with the project's own GGUF writer (streamed: one tensor in memory at a time). Tensor
 * names and shapes follow llama.cpp's llama layout; values are pseudo-random F16 (or F32) around
 * zero, different per seed, so task vectors between two seeds are dense and of mixed sign.
 */
import { encodeTensor } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType, GGUFWriter, meta, type ByteSink } from '../../src/lib/merge/gguf/index.ts';

export interface SyntheticModel {
  layers: number;
  dim?: number;
  ffn?: number;
  vocab?: number;
  seed: number;
  type?: GGMLType.F16 | GGMLType.F32;
}

export function syntheticTensors(m: SyntheticModel): { name: string; shape: number[] }[] {
  const dim = m.dim ?? 1024, ffn = m.ffn ?? 2816, vocab = m.vocab ?? 8192;
  const out = [{ name: 'token_embd.weight', shape: [dim, vocab] }];
  for (let i = 0; i < m.layers; i++) {
    out.push(
      { name: `blk.${i}.attn_norm.weight`, shape: [dim] },
      { name: `blk.${i}.attn_q.weight`, shape: [dim, dim] },
      { name: `blk.${i}.attn_k.weight`, shape: [dim, dim] },
      { name: `blk.${i}.attn_v.weight`, shape: [dim, dim] },
      { name: `blk.${i}.attn_output.weight`, shape: [dim, dim] },
      { name: `blk.${i}.ffn_norm.weight`, shape: [dim] },
      { name: `blk.${i}.ffn_gate.weight`, shape: [dim, ffn] },
      { name: `blk.${i}.ffn_up.weight`, shape: [dim, ffn] },
      { name: `blk.${i}.ffn_down.weight`, shape: [ffn, dim] },
    );
  }
  out.push({ name: 'output_norm.weight', shape: [dim] }, { name: 'output.weight', shape: [dim, vocab] });
  return out;
}

/** Writes the model to `sink` (and closes it through the writer's finish()). */
export async function writeSyntheticModel(sink: ByteSink, m: SyntheticModel): Promise<void> {
  const type = m.type ?? GGMLType.F16;
  const tensors = syntheticTensors(m);
  const vocab = m.vocab ?? 8192;
  const w = new GGUFWriter(sink);
  w.addMetadata([
    meta.string('general.architecture', 'llama'),
    meta.string('general.name', `synthetic-${m.layers}L-seed${m.seed}`),
    meta.u32('llama.block_count', m.layers),
    meta.u32('llama.embedding_length', m.dim ?? 1024),
    meta.u32('llama.feed_forward_length', m.ffn ?? 2816),
    meta.u32('llama.context_length', 2048),
    meta.string('tokenizer.ggml.model', 'llama'),
    meta.stringArray('tokenizer.ggml.tokens', Array.from({ length: vocab }, (_, i) => `<t${i}>`)),
  ]);
  for (const t of tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type });
  // One pool of random values per seed, reused at a tensor-specific offset: cheap to make, and
  // still different between seeds at every position.
  const POOL = 1 << 20;
  const pool = new Float32Array(POOL);
  let s = (m.seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < POOL; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    pool[i] = (s / 4294967296 - 0.5) * 0.1;
  }
  let k = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const off = (k++ * 7919) % POOL;
    for (let i = 0; i < n; i++) v[i] = t.shape.length === 1 ? 1 + pool[(off + i) % POOL]! : pool[(off + i) % POOL]!;
    await w.writeTensorData(t.name, encodeTensor(type, v));
  }
  await w.finish();
}
