/**
 * The experiment runner's storage in Node (the CLI): the answer cache as a directory of files and
 * the run state as a JSONL file next to the results. Both are written so that a crash at any moment
 * leaves nothing half-written that could be read back:
 * - a cache entry is written to a temporary name in the same directory and renamed (rename is atomic
 *   on POSIX file systems), so an entry is whole or absent;
 * - the state file is appended one line per finished item; on load, a last line without its
 *   newline (a crash mid-append) is dropped, and the item it held is simply run again.
 * The state file's first line names the experiment (a hash of its canonical JSON); a state file of
 * another experiment is refused with the fix, never mixed in.
 */
import { appendFile, mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnswerStore, CachedAnswer } from '../../src/lib/eval/cache.ts';
import type { RunStateStore, StoredRow } from '../../src/lib/eval/runner.ts';

export class FileAnswerStore implements AnswerStore {
  #made = false;
  constructor(readonly dir: string) {}

  #path(key: string): string {
    // Two-level fan-out keeps directories small (as git's object store does).
    return join(this.dir, key.slice(0, 2), `${key.slice(2)}.json`);
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    try {
      return JSON.parse(await readFile(this.#path(key), 'utf8')) as CachedAnswer;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(key: string, value: CachedAnswer): Promise<void> {
    const path = this.#path(key);
    if (!this.#made) {
      await mkdir(this.dir, { recursive: true });
      this.#made = true;
    }
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify(value));
    await rename(tmp, path);
  }
}

export class FileRunState implements RunStateStore {
  constructor(
    readonly path: string,
    readonly experimentHash: string,
  ) {}

  async load(): Promise<StoredRow[]> {
    if (!existsSync(this.path)) return [];
    const text = await readFile(this.path, 'utf8');
    const lines = text.split('\n');
    // The last element is "" when the file ends in a newline, or a partly written row otherwise.
    lines.pop();
    const [head, ...rows] = lines;
    const header = head ? (JSON.parse(head) as { experiment?: string }) : {};
    if (header.experiment !== this.experimentHash) {
      throw new Error(`${this.path} holds the state of another experiment (or another version of this one): delete it to start afresh, or run the experiment it belongs to`);
    }
    return rows.map((l) => JSON.parse(l) as StoredRow);
  }

  async append(row: StoredRow): Promise<void> {
    if (!existsSync(this.path)) await writeFile(this.path, JSON.stringify({ experiment: this.experimentHash, format: 'chorus-experiment-state', version: 1 }) + '\n');
    else await this.#repairTail();
    await appendFile(this.path, JSON.stringify(row) + '\n');
  }

  #checked = false;
  /** Drops a partly written last line left by a crash, once, before the first append of this run. */
  async #repairTail(): Promise<void> {
    if (this.#checked) return;
    this.#checked = true;
    const text = await readFile(this.path, 'utf8');
    if (text.endsWith('\n')) return;
    const keep = text.slice(0, text.lastIndexOf('\n') + 1);
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, keep);
    await rename(tmp, this.path);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
