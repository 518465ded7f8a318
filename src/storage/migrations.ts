/**
 * Applies the committed drizzle-kit migrations to a SQLite file. Migrations
 * are read once per process; each database records how many it has applied
 * in `PRAGMA user_version`, so opening an up-to-date file costs one pragma.
 */
import type Database from "better-sqlite3";
import { readMigrationFiles } from "drizzle-orm/migrator";

export interface Migration {
  readonly statements: readonly string[];
}

/** Reads migrations/ (journal + SQL) in order; throws if the folder is missing or malformed. */
export function loadMigrations(migrationsFolder: string): Migration[] {
  return readMigrationFiles({ migrationsFolder }).map((m) => ({
    statements: m.sql.map((s) => s.trim()).filter((s) => s.length > 0),
  }));
}

/** Brings the database up to date in one transaction; a newer file than this code is refused. */
export function applyMigrations(sqlite: Database.Database, migrations: readonly Migration[]): void {
  const current = sqlite.pragma("user_version", { simple: true }) as number;
  if (current === migrations.length) return;
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this server (${migrations.length}); upgrade the server`);
  }
  sqlite.transaction(() => {
    for (const m of migrations.slice(current)) for (const stmt of m.statements) sqlite.exec(stmt);
    sqlite.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
