/**
 * The Chorus IndexedDB database (through `idb`), versioned with migrations.
 *
 * Each entry of MIGRATIONS upgrades the schema from version i to i+1 and runs inside the
 * versionchange transaction, so a failed migration rolls back and the old data stays readable.
 * To change the schema, APPEND a migration (never edit a shipped one); the database version is
 * MIGRATIONS.length.
 *
 * Stores:
 * - models    ModelRecord, key `id`: every model the registry knows that is not built in
 *             (imported, downloaded, merged, web-llm, OpenAI endpoints), with its header summary.
 * - settings  {key, value}: small app settings.
 * - secrets   {key, value}: API keys the user chose to save (otherwise they stay in memory).
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { WebLLMModelRecordLike } from '../merge/mlc/merge.ts';

export type ModelSourceKind = 'built-in' | 'imported' | 'url' | 'merged' | 'webllm' | 'openai';

export interface ModelRecord {
  id: string;
  name: string;
  source: ModelSourceKind;
  /** OPFS file name (GGUF models), absent for web-llm/OpenAI entries. */
  file?: string;
  size: number;
  /** What H1's summarize() said about the GGUF header (plain JSON). */
  summary?: unknown;
  /** Where a 'url' model came from, the OpenAI base URL, or the MLC model id. */
  origin?: string;
  /** Merged models: inputs, method, parameters. */
  provenance?: unknown;
  /**
   * web-llm models merged here: their web-llm ModelRecord (our URL, the parent's model_lib). An
   * optional field of a plain object, so no migration: older records simply lack it.
   */
  mlc?: WebLLMModelRecordLike;
  /** SHA-256 (hex) of an imported file, for links that name a model by content; optional, so no migration. */
  sha256?: string;
  addedAt: number;
}

export interface ChorusDB extends DBSchema {
  models: { key: string; value: ModelRecord; indexes: { bySource: string } };
  settings: { key: string; value: { key: string; value: unknown } };
  secrets: { key: string; value: { key: string; value: string } };
}

type UpgradeTx = IDBPTransaction<ChorusDB, StoreNames<ChorusDB>[], 'versionchange'>;
export type Migration = (db: IDBPDatabase<ChorusDB>, tx: UpgradeTx) => void | Promise<void>;

export const MIGRATIONS: Migration[] = [
  // v1: model records and settings.
  (db) => {
    db.createObjectStore('models', { keyPath: 'id' });
    db.createObjectStore('settings', { keyPath: 'key' });
  },
  // v2: saved API keys live apart from settings (so settings can be exported without them), and
  // the model list is filtered by source; records from v1 without `addedAt` get one.
  async (db, tx) => {
    db.createObjectStore('secrets', { keyPath: 'key' });
    const models = tx.objectStore('models');
    models.createIndex('bySource', 'source');
    let cursor = await models.openCursor();
    while (cursor) {
      const rec = cursor.value;
      if (typeof rec.addedAt !== 'number') await cursor.update({ ...rec, addedAt: 0 });
      cursor = await cursor.continue();
    }
  },
];

export const DB_NAME = 'chorus';
export const DB_VERSION = MIGRATIONS.length;

/**
 * Opens (and upgrades) the database. `version` lets tests open an older schema to prove the
 * migrations carry data forward.
 */
export function openChorusDb(name = DB_NAME, version = DB_VERSION): Promise<IDBPDatabase<ChorusDB>> {
  if (version < 1 || version > MIGRATIONS.length) throw new RangeError(`database version must be 1..${MIGRATIONS.length}, got ${version}`);
  const opened: Promise<IDBPDatabase<ChorusDB>> = openDB<ChorusDB>(name, version, {
    async upgrade(db, oldVersion, newVersion, tx) {
      for (let v = oldVersion; v < (newVersion ?? version); v++) await MIGRATIONS[v]!(db, tx);
    },
    blocking() {
      // Another tab wants a newer schema: close so its upgrade can run (callers reopen per use).
      void opened.then((db) => db.close());
    },
  });
  return opened;
}
