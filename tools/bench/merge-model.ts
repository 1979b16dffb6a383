/**
 * Synthetic llama-shaped GGUF models for the merge benchmark and the merge e2e's cancel test,
 * written with the project's own GGUF writer (streamed: one tensor in memory at a time). Tensor
 * names and shapes follow llama.cpp's llama layout; values are pseudo-random F16 (or F32) around
 * zero, different per seed, so task vectors between two seeds are dense and of mixed sign.
 */
import { GGMLType, GGUFWriter, meta, type ByteSink } from '../../src/lib/merge/gguf/index.ts';
import { encodeWith } from '../../src/lib/merge/stream.ts';
import { simdKernels } from '../../src/lib/merge/wasm/index.ts';

export interface SyntheticModel {
  layers: number;
  dim?: number;
  ffn?: number;
  vocab?: number;
  seed: number;
  /** Every tensor's type, or 'Q4_K_M': the mix llama.cpp's Q4_K_M quantisation writes (q4KMType). */
  type?: GGMLType.F16 | GGMLType.F32 | 'Q4_K_M';
}

/**
 * The type llama.cpp gives a tensor of a Q4_K_M file (llama_tensor_get_type in src/llama-quant.cpp,
 * without its special cases for other architectures and 70B models): norms stay F32, output.weight
 * is Q6_K, attn_v and ffn_down are Q6_K in the layers use_more_bits picks (the first and last
 * eighth, every third in between) and Q4_K elsewhere, like every other matrix.
 */
export function q4KMType(name: string, layers: number): GGMLType {
  if (name.endsWith('_norm.weight')) return GGMLType.F32;
  if (name === 'output.weight') return GGMLType.Q6_K;
  const layer = /^blk\.(\d+)\.(attn_v|ffn_down)\.weight$/.exec(name);
  if (layer) {
    const i = Number(layer[1]);
    const moreBits = i < Math.floor(layers / 8) || i >= Math.floor((7 * layers) / 8) || (i - Math.floor(layers / 8)) % 3 === 2;
    if (moreBits) return GGMLType.Q6_K;
  }
  return GGMLType.Q4_K;
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
  const typeOf = (name: string): GGMLType => (type === 'Q4_K_M' ? q4KMType(name, m.layers) : type);
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
  for (const t of tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: typeOf(t.name) });
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
    // The SIMD codecs where they apply (the same bytes as the JavaScript ones, many times faster).
    await w.writeTensorData(t.name, await encodeWith(simdKernels(), typeOf(t.name), v));
  }
  await w.finish();
}
