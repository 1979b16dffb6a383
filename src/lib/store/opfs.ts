/**
 * Model files in the origin-private file system (OPFS), one directory ("models/" by default).
 *
 * Writes never leave a half-written model behind: bytes go to a temporary name
 * (".partial-<random>"), the caller's `validate` runs on the finished temporary file, and only
 * then is it renamed to its final name (FileSystemFileHandle.move, Chromium ≥ 110). Any failure —
 * validation, quota, network, cancel — removes the temporary file.
 *
 * Works in the page and in workers (navigator.storage.getDirectory exists in both).
 */
import { EngineError } from '../engines/engine.ts';

export interface StoredFile {
  name: string;
  size: number;
  lastModified: number;
}

export interface WriteOptions {
  signal?: AbortSignal;
  onProgress?: (written: number, total: number) => void;
  /** Expected total bytes (for progress); 0 when unknown. */
  total?: number;
  /** Runs on the complete temporary file; throw to reject it (nothing is kept). */
  validate?: (file: File) => Promise<void>;
}

const PARTIAL = '.partial-';

type MovableHandle = FileSystemFileHandle & { move(newName: string): Promise<void> };

export class OpfsStore {
  readonly dirName: string;

  constructor(dirName = 'models') {
    this.dirName = dirName;
  }

  /** Whether this browser offers OPFS at all. */
  static available(): boolean {
    return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
  }

  async #dir(): Promise<FileSystemDirectoryHandle> {
    if (!OpfsStore.available()) {
      throw new EngineError('unsupported', 'this browser has no origin-private file system (OPFS); use a current Chromium, Edge or Firefox.');
    }
    const root = await navigator.storage.getDirectory();
    return root.getDirectoryHandle(this.dirName, { create: true });
  }

  /** OPFS path of a stored file, as the engine worker's `{kind:'opfs', path}` source expects. */
  path(name: string): string {
    return `${this.dirName}/${name}`;
  }

  async list(): Promise<StoredFile[]> {
    const dir = await this.#dir();
    const out: StoredFile[] = [];
    for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (handle.kind !== 'file' || name.startsWith(PARTIAL)) continue;
      const f = await (handle as FileSystemFileHandle).getFile();
      out.push({ name, size: f.size, lastModified: f.lastModified });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async has(name: string): Promise<boolean> {
    const dir = await this.#dir();
    try {
      await dir.getFileHandle(name);
      return true;
    } catch {
      return false;
    }
  }

  async file(name: string): Promise<File> {
    const dir = await this.#dir();
    try {
      return await (await dir.getFileHandle(name)).getFile();
    } catch {
      throw new EngineError('load-failed', `${name} is not in the browser's model cache any more — import it again.`);
    }
  }

  async remove(name: string): Promise<void> {
    const dir = await this.#dir();
    await dir.removeEntry(name).catch((err: unknown) => {
      if ((err as DOMException)?.name !== 'NotFoundError') throw err;
    });
  }

  /** Removes temporary files left by a tab closed mid-write. */
  async sweepPartials(): Promise<number> {
    const dir = await this.#dir();
    const stale: string[] = [];
    for await (const [name] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      if (name.startsWith(PARTIAL)) stale.push(name);
    }
    for (const name of stale) await dir.removeEntry(name).catch(() => undefined);
    return stale.length;
  }

  /**
   * Streams `source` (a Blob/File or a byte stream) into `name`, atomically: validate, then rename.
   * An existing file of the same name is replaced only after the new one validated.
   */
  async write(name: string, source: Blob | ReadableStream<Uint8Array>, opts: WriteOptions = {}): Promise<File> {
    checkName(name);
    const dir = await this.#dir();
    const tmpName = `${PARTIAL}${Math.random().toString(36).slice(2)}-${name}`;
    const tmp = await dir.getFileHandle(tmpName, { create: true });
    const total = source instanceof Blob ? source.size : (opts.total ?? 0);
    try {
      const writable = await tmp.createWritable();
      const stream = source instanceof Blob ? source.stream() : source;
      const reader = stream.getReader();
      const onAbort = (): void => void reader.cancel().catch(() => undefined);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let written = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (opts.signal?.aborted) throw new EngineError('aborted', `storing ${name} was cancelled; nothing was kept.`);
          if (done) break;
          await writable.write(value as Uint8Array<ArrayBuffer>);
          written += value.byteLength;
          opts.onProgress?.(written, Math.max(total, written));
        }
        await writable.close();
      } catch (err) {
        await writable.abort().catch(() => undefined);
        throw err;
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
      if (opts.validate) await opts.validate(await tmp.getFile());
      await dir.removeEntry(name).catch(() => undefined);
      await (tmp as MovableHandle).move(name);
      return await (await dir.getFileHandle(name)).getFile();
    } catch (err) {
      await dir.removeEntry(tmpName).catch(() => undefined);
      if (err instanceof DOMException && err.name === 'QuotaExceededError') {
        throw new EngineError('quota', `not enough browser storage for ${name} — delete cached models or press "keep my models" to ask for more.`);
      }
      throw err;
    }
  }
}

function checkName(name: string): void {
  if (!name || name.includes('/') || name.includes('\\') || name.startsWith(PARTIAL) || name === '.' || name === '..') {
    throw new EngineError('bad-request', `"${name}" cannot be used as a stored file name; choose a plain file name without slashes.`);
  }
}
