/**
 * The process-wide database (`DATA_DIR/service.db`): settings that are not
 * any tenant's, such as the operator's global stop. It also holds the data
 * directory's lock: a second server on the same DATA_DIR cannot take it.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { configureConnection } from "./tenant-db.js";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

export interface ServiceDb {
  /** The connection, for modules that keep a table of their own here (storage-health.ts: known tenants). */
  readonly sqlite: Database.Database;
  getSetting(key: string): string | null;
  setSetting(key: string, value: string): void;
  close(): void;
}

/**
 * Takes an exclusive SQLite lock on DATA_DIR/server.lock and keeps it for the
 * life of the process. The kernel drops the lock when the process dies, even
 * on kill -9, so a stale lock can never block a restart.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = new Database(path.join(dataDir, "server.lock"), { timeout: 0 });
  try {
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, started_at TEXT)");
    lock.exec("BEGIN EXCLUSIVE");
    lock.prepare("DELETE FROM holder").run();
    lock.prepare("INSERT INTO holder VALUES (?, ?)").run(process.pid, new Date().toISOString());
    lock.exec("COMMIT");
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code?.startsWith("SQLITE_BUSY")) {
      throw new DataDirLockedError(`another server is already running on DATA_DIR ${dataDir}; stop it or choose another DATA_DIR`);
    }
    throw err;
  }
  return () => lock.close();
}

export function openServiceDb(dataDir: string, busyTimeoutMs: number): ServiceDb {
  const sqlite = new Database(path.join(dataDir, "service.db"));
  configureConnection(sqlite, busyTimeoutMs);
  sqlite.exec("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)");
  const get = sqlite.prepare<[string], { value: string }>("SELECT value FROM settings WHERE key = ?");
  const set = sqlite.prepare(
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  );
  return {
    sqlite,
    getSetting: (key) => get.get(key)?.value ?? null,
    setSetting: (key, value) => void set.run(key, value, new Date().toISOString()),
    close: () => sqlite.close(),
  };
}
