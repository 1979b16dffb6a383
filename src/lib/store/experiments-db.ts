/**
 * The experiment runner's storage in the tab (IndexedDB through `idb`): the answer cache and the
 * state of each run, so a reload or a crash resumes a run where it stopped (src/lib/eval/runner.ts).
 *
 * A database of its own ("chorus-experiments"), apart from the app's model records (db.ts): the cache
 * can grow large and be cleared alone, and its schema moves with the runner. Versioned the same
 * way: APPEND a migration to change the schema; the version is MIGRATIONS.length.
 *
 * Stores:
 * - answers  {key, value: CachedAnswer, at}: the answer cache, keyed by src/lib/eval/cache.ts's key.
 * - rows     StoredRow + {run}, key [run, cellKey, id], index byRun: the finished items of each run.
 * Every write is one IndexedDB transaction, so an entry is stored whole or not at all.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { AnswerStore, CachedAnswer } from '../eval/cache.ts';
import type { RunStateStore, StoredRow } from '../eval/runner.ts';

interface ExperimentsDB extends DBSchema {
  answers: { key: string; value: { key: string; value: CachedAnswer; at: number } };
  rows: { key: [string, string, string]; value: StoredRow & { run: string }; indexes: { byRun: string } };
}

type Migration = (db: IDBPDatabase<ExperimentsDB>) => void;

export const EXPERIMENT_MIGRATIONS: Migration[] = [
  // v1: the answer cache and the finished rows of each run.
  (db) => {
    db.createObjectStore('answers', { keyPath: 'key' });
    db.createObjectStore('rows', { keyPath: ['run', 'cellKey', 'id'] }).createIndex('byRun', 'run');
  },
];

export const EXPERIMENTS_DB_NAME = 'chorus-experiments';

export function openExperimentsDb(name = EXPERIMENTS_DB_NAME): Promise<IDBPDatabase<ExperimentsDB>> {
  const opened: Promise<IDBPDatabase<ExperimentsDB>> = openDB<ExperimentsDB>(name, EXPERIMENT_MIGRATIONS.length, {
    upgrade(db, oldVersion) {
      for (let v = oldVersion; v < EXPERIMENT_MIGRATIONS.length; v++) EXPERIMENT_MIGRATIONS[v]!(db);
    },
    blocking() {
      // Another tab wants a newer schema: let its upgrade run.
      void opened.then((db) => db.close());
    },
  });
  return opened;
}

export class IdbAnswerStore implements AnswerStore {
  constructor(private readonly db: IDBPDatabase<ExperimentsDB>) {}
  async get(key: string): Promise<CachedAnswer | undefined> {
    return (await this.db.get('answers', key))?.value;
  }
  async put(key: string, value: CachedAnswer): Promise<void> {
    await this.db.put('answers', { key, value, at: Date.now() });
  }
}

/**
 * The state of one run. `run` names it; use the experiment's hash (as the CLI does) so reopening the
 * same experiment resumes it, and a changed experiment starts afresh.
 */
export class IdbRunState implements RunStateStore {
  constructor(
    private readonly db: IDBPDatabase<ExperimentsDB>,
    readonly run: string,
  ) {}
  async load(): Promise<StoredRow[]> {
    const rows = await this.db.getAllFromIndex('rows', 'byRun', this.run);
    return rows.map(({ run: _run, ...row }) => row);
  }
  async append(row: StoredRow): Promise<void> {
    await this.db.put('rows', { ...row, run: this.run });
  }
  /** Forgets the run's rows (after its results are saved, or to start over). */
  async clear(): Promise<void> {
    const tx = this.db.transaction('rows', 'readwrite');
    for (const key of await tx.store.index('byRun').getAllKeys(this.run)) await tx.store.delete(key);
    await tx.done;
  }
}
