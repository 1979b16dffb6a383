/**
 * A compute-bound llama for the parallel-agents bench: stories260K's tokenizer and metadata (so
 * llama.cpp loads it and tokenises exactly as stories260K does) with wider, deeper layers of
 * pseudo-random F32 weights. Its text is noise; its cost per token is real matrix work (about
 * 2 × parameters FLOPs), where stories260K's is mostly wllama's per-token protocol. Written with the
 * project's own GGUF writer; the same arguments give the same bytes.
 *
 *   npx tsx tools/bench/compute-model.ts OUT.gguf [--dim 384] [--layers 6] [--ffn 1024]
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { encodeTensor } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType, GGUFWriter, blobSource, meta, readGGUF, setMeta, type ByteSink } from '../../src/lib/merge/gguf/index.ts';

export interface ComputeModel {
  dim: number;
  layers: number;
  ffn: number;
  /** Attention heads (key/value heads the same). */
  heads?: number;
}

/** Writes the model to `sink`, taking tokenizer and metadata from the stories260K file at `stories`. */
export async function writeComputeModel(sink: ByteSink, stories: Uint8Array<ArrayBuffer>, m: ComputeModel): Promise<void> {
  const heads = m.heads ?? 8;
  if (m.dim % heads !== 0) throw new Error(`compute-model: dim ${m.dim} is not a multiple of ${heads} heads`);
  const src = await readGGUF(blobSource(new Blob([stories])));
  const vocab = src.tensors.find((t) => t.name === 'token_embd.weight')?.shape[1];
  if (!vocab) throw new Error('compute-model: the stories file has no token_embd.weight');
  const metadata = setMeta(
    src.metadata,
    meta.string('general.name', `compute-${m.dim}d-${m.layers}L`),
    meta.u32('llama.embedding_length', m.dim),
    meta.u32('llama.feed_forward_length', m.ffn),
    meta.u32('llama.block_count', m.layers),
    meta.u32('llama.attention.head_count', heads),
    meta.u32('llama.attention.head_count_kv', heads),
    meta.u32('llama.rope.dimension_count', m.dim / heads),
  );
  const tensors: { name: string; shape: number[] }[] = [{ name: 'token_embd.weight', shape: [m.dim, vocab] }];
  for (let i = 0; i < m.layers; i++) {
    for (const [n, shape] of [
      ['attn_norm', [m.dim]], ['attn_q', [m.dim, m.dim]], ['attn_k', [m.dim, m.dim]], ['attn_v', [m.dim, m.dim]],
      ['attn_output', [m.dim, m.dim]], ['ffn_norm', [m.dim]], ['ffn_gate', [m.dim, m.ffn]], ['ffn_up', [m.dim, m.ffn]], ['ffn_down', [m.ffn, m.dim]],
    ] as const) tensors.push({ name: `blk.${i}.${n}.weight`, shape: [...shape] });
  }
  tensors.push({ name: 'output_norm.weight', shape: [m.dim] }, { name: 'output.weight', shape: [m.dim, vocab] });
  const w = new GGUFWriter(sink);
  w.addMetadata(metadata);
  for (const t of tensors) w.addTensorInfo({ name: t.name, shape: t.shape, type: GGMLType.F32 });
  // Tokens the output layer may pick: the vocabulary's normal pieces (token_type 1). Special and
  // byte tokens get a zero output row, so their logit (0) is far under the others': the text is
  // noise made of whole pieces, never a stray byte of invalid UTF-8 (which wllama's stream cannot
  // carry) nor an early end of sequence.
  const types = src.metadata.find((e) => e.key === 'tokenizer.ggml.token_type')?.value as number[] | undefined;
  const normal = (id: number) => (types ? types[id] === 1 : id > 258);
  let s = 0x9e3779b9;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    // Norm weights 1, matrices centred and scaled by 1/√fan-in so activations stay finite; the
    // output layer 10× larger so one normal piece clearly wins each step.
    const scale = t.shape.length === 1 ? 0 : (t.name === 'output.weight' ? 10 : 1) / Math.sqrt(t.shape[0]!);
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      v[i] = t.shape.length === 1 ? 1 : (s / 4294967296 - 0.5) * 2 * scale;
    }
    if (t.name === 'output.weight') for (let id = 0; id < vocab; id++) if (!normal(id)) v.fill(0, id * m.dim, (id + 1) * m.dim);
    await w.writeTensorData(t.name, encodeTensor(GGMLType.F32, v));
  }
  await w.finish();
}

/** Node file sink for the CLI. */
function fileSink(path: string): ByteSink {
  const out = createWriteStream(path);
  return {
    write: (chunk: Uint8Array) => new Promise<void>((res, rej) => out.write(chunk, (e) => (e ? rej(e) : res()))),
    close: () => new Promise<void>((res) => out.end(res)),
  };
}

if (process.argv[1]?.endsWith('compute-model.ts')) {
  const [out, ...rest] = process.argv.slice(2);
  if (!out) throw new Error('usage: npx tsx tools/bench/compute-model.ts OUT.gguf [--dim N] [--layers N] [--ffn N]');
  const opt = (k: string, d: number) => {
    const i = rest.indexOf(`--${k}`);
    return i >= 0 ? Number(rest[i + 1]) : d;
  };
  const stories = readFileSync(new URL('../../../shared/models/stories260K.gguf', import.meta.url));
  await writeComputeModel(fileSink(out), stories, { dim: opt('dim', 384), layers: opt('layers', 6), ffn: opt('ffn', 1024) });
  console.log(`wrote ${out}`);
}
