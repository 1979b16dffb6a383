/**
 * Node-only ByteSource/ByteSink over files (tools and CLIs: merge, training export, tests).
 * Kept out of src/lib so the library stays free of Node imports and runs in workers.
 */
import { open } from 'node:fs/promises';
import { checkRange, type ByteSink, type ByteSource } from '../../src/lib/merge/source.ts';
import { basename } from 'node:path';

/** Opens `path` for random-access reads. Call `close()` when done. */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  const name = basename(path);
  const readInto = async (offset: number, target: Uint8Array): Promise<void> => {
    const length = target.byteLength;
    checkRange(name, size, offset, length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(target, done, length - done, offset + done);
      if (bytesRead === 0) throw new RangeError(`${name}: file shrank while reading at ${offset + done}`);
      done += bytesRead;
    }
  };
  return {
    name,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    close: () => fh.close(),
  };
}

/**
 * Creates (or truncates) `path` and appends to it. Writes go to `path + '.part'` and are renamed
 * onto `path` by `close()`, so a failed export never leaves a half-written model under the final name.
 * `abort()` removes the partial file.
 */
export async function fileSink(path: string): Promise<ByteSink & { close(): Promise<void>; abort(): Promise<void> }> {
  const { rename, rm } = await import('node:fs/promises');
  const part = `${path}.part`;
  const fh = await open(part, 'w');
  let closed = false;
  return {
    async write(bytes: Uint8Array): Promise<void> {
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
        done += bytesWritten;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      // Marked closed only once the rename has succeeded: a failed rename (the target is a
      // directory, the disk went away) must leave abort() able to remove the .part.
      await fh.close();
      try {
        await rename(part, path);
      } catch (e) {
        closed = true;
        await rm(part, { force: true });
        throw e;
      }
      closed = true;
    },
    async abort(): Promise<void> {
      if (closed) return;
      closed = true;
      // The handle may be closed already (a failed close()); removing the file is what matters.
      await fh.close().catch(() => undefined);
      await rm(part, { force: true });
    },
  };
}
