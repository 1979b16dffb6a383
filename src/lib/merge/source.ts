/**
 * Random-access byte sources and sequential byte sinks: the only I/O the GGUF reader, writer and
 * the merge pipeline know about. The same reader code runs on a File picked by the user, a Blob,
 * an OPFS file (`handle.getFile()`), bytes in memory, or a Node file (tools/lib/node-source.ts).
 * Reads are slices, never the whole file, so a multi-GB model is never held in memory.
 */

/** Random-access, read-only bytes. `read` returns exactly `length` bytes or rejects. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads exactly `target.byteLength` bytes at `offset` into `target`, allocating nothing
   * (the merge reads F16 tensors straight into the SIMD kernels' memory this way).
   */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
}

/**
 * Sequential append-only output: an OPFS sync access handle, a Node file descriptor, an in-memory
 * array. The writer awaits every `write`, so a sink may apply back-pressure.
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void> | void;
  close?(): Promise<void> | void;
}

/** Checks a read request against the source size; shared by every source so messages agree. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`${name}: invalid read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > size) {
    throw new RangeError(
      `${name}: read of ${length} bytes at offset ${offset} goes past the end of the file (${size} bytes)`,
    );
  }
}

/** A source over a Blob, a File, or an OPFS file (`await handle.getFile()`). */
export function blobSource(blob: Blob, name?: string): ByteSource {
  const label = name ?? ('name' in blob && typeof blob.name === 'string' ? blob.name : 'blob');
  return {
    name: label,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(label, blob.size, offset, length);
      const buf = await blob.slice(offset, offset + length).arrayBuffer();
      return new Uint8Array(buf);
    },
  };
}

/** A source over bytes already in memory. `read` returns views, not copies. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read(offset: number, length: number): Promise<Uint8Array> {
      try {
        checkRange(name, bytes.byteLength, offset, length);
      } catch (e) {
        return Promise.reject(e);
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** An in-memory sink; `bytes()` concatenates everything written so far. Tests and small files. */
export function memorySink(): ByteSink & { bytes(): Uint8Array; readonly length: number } {
  const chunks: Uint8Array[] = [];
  let length = 0;
  return {
    write(bytes: Uint8Array): void {
      // Copy: the caller may reuse its buffer after the write resolves.
      chunks.push(bytes.slice());
      length += bytes.byteLength;
    },
    get length(): number {
      return length;
    },
    bytes(): Uint8Array {
      const out = new Uint8Array(length);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
    },
  };
}
