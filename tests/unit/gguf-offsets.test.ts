/**
 * Tensor data offsets at the edge of what a JavaScript number holds exactly. GGUF stores offsets as
 * u64; past 2^53 − 1 a Number rounds them, and a reader that converted first would then call the
 * file "truncated" (its tensors seem to lie beyond the end) and tell the user to download it again,
 * which cannot help. An offset no file can reach is corruption and must be reported as such.
 */
import { describe, expect, it } from 'vitest';
import { GGMLType, GGUFError, GGUFWriter, bytesSource, memorySink, meta, readGGUF } from '../../src/lib/merge/gguf/index.ts';

/** A valid one-tensor file, and the byte position of that tensor's u64 data offset in its header. */
async function oneTensor(): Promise<{ bytes: Uint8Array; offsetAt: number }> {
  const sink = memorySink();
  const w = new GGUFWriter(sink);
  w.addMetadata([meta.string('general.architecture', 'test')]);
  w.addTensorInfo({ name: 'only.weight', shape: [8], type: GGMLType.F32 });
  for (const t of w.tensorInfos()) await w.writeTensorData(t.name, new Uint8Array(t.byteSize));
  await w.finish();
  const bytes = sink.bytes();
  // The tensor info: u64 name length, the name, u32 n_dims (1), one u64 dim, u32 type, u64 offset.
  const name = new TextEncoder().encode('only.weight');
  let at = -1;
  for (let i = 0; i + 8 + name.length <= bytes.length && at < 0; i++) {
    if (new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(i, true) === BigInt(name.length) && name.every((c, k) => bytes[i + 8 + k] === c)) at = i;
  }
  if (at < 0) throw new Error('tensor name not found in the test file');
  return { bytes, offsetAt: at + 8 + name.length + 4 + 8 + 4 };
}

function withOffset(bytes: Uint8Array, at: number, offset: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(at, offset, true);
  return copy;
}

async function readError(bytes: Uint8Array): Promise<GGUFError> {
  const err = await readGGUF(bytesSource(bytes, 'model.gguf')).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GGUFError);
  return err as GGUFError;
}

describe('tensor data offsets beyond 2^53', () => {
  it('the untouched file reads, with its offset at 0', async () => {
    const { bytes, offsetAt } = await oneTensor();
    expect(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(offsetAt, true)).toBe(0n);
    const f = await readGGUF(bytesSource(bytes, 'model.gguf'));
    expect(f.tensors[0]).toMatchObject({ name: 'only.weight', offset: 0 });
  });

  for (const offset of [2n ** 53n, 2n ** 53n + 32n, 2n ** 64n - 32n]) {
    it(`offset ${offset} (aligned, not a safe integer) is corrupt, not truncated`, async () => {
      const { bytes, offsetAt } = await oneTensor();
      const e = await readError(withOffset(bytes, offsetAt, offset));
      expect(e.code).toBe('corrupt');
      // The wording may change; the file, the tensor, the offset and the verdict must be named.
      expect(e.message).toMatch(new RegExp(`^model\\.gguf is corrupt: .*tensor only\\.weight.* ${offset}\\b`));
    });
  }

  it('the largest aligned safe offset, 2^53 − 32, is read exactly: it is not where the tensor must start (llama.cpp: the running sum of sizes, 0 here), so corrupt, with that offset named', async () => {
    const { bytes, offsetAt } = await oneTensor();
    const offset = 2 ** 53 - 32;
    const e = await readError(withOffset(bytes, offsetAt, BigInt(offset)));
    expect(e.code).toBe('corrupt');
    expect(e.message).toMatch(new RegExp(`^model\\.gguf is corrupt: .*tensor only\\.weight.* ${offset}\\b`));
  });
});
