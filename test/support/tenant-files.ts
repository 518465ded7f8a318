/**
 * Migrated tenant files in a temp dir, opened the way the server opens them
 * (foreign keys on), for store-level tests that need no HTTP server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { applyMigrations, loadMigrations } from "../../src/storage/migrations.js";
import { packageRoot } from "../../src/storage/paths.js";
import { tenantHandle, type TenantDb } from "../../src/storage/tenant-db.js";

export interface TenantFiles {
  /** A fresh migrated file named `<name>.db`, as a tenant handle. */
  open(name: string): TenantDb;
  /** Closes every handle and removes the dir. */
  close(): void;
}

export function tenantFiles(prefix: string): TenantFiles {
  const dir = mkdtempSync(path.join(tmpdir(), `roomservice-${prefix}-`));
  const migrations = loadMigrations(path.join(packageRoot(), "migrations"));
  const opened: Database.Database[] = [];
  return {
    open(name) {
      const sqlite = new Database(path.join(dir, `${name}.db`));
      opened.push(sqlite);
      sqlite.pragma("foreign_keys = ON");
      applyMigrations(sqlite, migrations);
      return tenantHandle(name, sqlite);
    },
    close() {
      for (const db of opened) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
