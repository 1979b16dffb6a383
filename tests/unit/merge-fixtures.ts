/** Builds GGUF variants of stories260K with the project's writer, for merge tests (never copied into the repo). */
import { readFileSync } from 'node:fs';
import { storiesModel } from '../support/paths.ts';
import { GGUFWriter, bytesSource, memorySink, readGGUF, readTensorData, type GGUFMetadataEntry } from '../../src/lib/merge/gguf/index.ts';

/** A plain Uint8Array (not a Buffer, whose slice() shares memory), so copies really are copies. */
export function storiesBytes(): Uint8Array {
  return new Uint8Array(readFileSync(storiesModel()));
}

export interface VariantEdit {
  metadata?: (m: GGUFMetadataEntry[]) => GGUFMetadataEntry[];
  drop?: string[];
  replace?: Record<string, { shape: number[]; data: Float32Array }>;
  /** Multiply every (F32) weight by this factor. */
  scale?: number;
}

/** stories260K rewritten with edits: metadata, dropped or reshaped tensors, scaled weights. */
export async function storiesVariant(edit: VariantEdit, base: Uint8Array = storiesBytes()): Promise<Uint8Array> {
  const src = bytesSource(base, 'stories260K.gguf');
  const f = await readGGUF(src);
  const sink = memorySink();
  const w = new GGUFWriter(sink, { alignment: f.alignment });
  w.addMetadata(edit.metadata ? edit.metadata(f.metadata) : f.metadata);
  const kept = f.tensors.filter((t) => !edit.drop?.includes(t.name));
  for (const t of kept) w.addTensorInfo({ name: t.name, shape: edit.replace?.[t.name]?.shape ?? t.shape, type: t.type });
  for (const t of kept) {
    const r = edit.replace?.[t.name];
    let bytes: Uint8Array;
    if (r) bytes = new Uint8Array(r.data.buffer.slice(0));
    else {
      bytes = (await readTensorData(src, f, t)).slice();
      if (edit.scale !== undefined) {
        const v = new Float32Array(bytes.buffer);
        for (let i = 0; i < v.length; i++) v[i] = v[i]! * edit.scale;
      }
    }
    await w.writeTensorData(t.name, bytes);
  }
  await w.finish();
  return sink.bytes();
}
