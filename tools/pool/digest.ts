/**
 * sha256 of a GGUF file's tensor data, tensor by tensor in file order (the header, which carries the
 * model's name and provenance, is left out): two training runs that produced the same weights give
 * the same digest. Used by tools/pool/results.ts (reproducibility) and tests/unit/pool.test.ts.
 */
import { createHash } from 'node:crypto';
import { readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { fileSource } from '../lib/node-source.ts';

export async function tensorDigest(path: string): Promise<string> {
  const src = await fileSource(path);
  try {
    const f = await readGGUF(src);
    const h = createHash('sha256');
    for (const t of f.tensors) h.update(await readTensorData(src, f, t));
    return h.digest('hex');
  } finally {
    await src.close();
  }
}
