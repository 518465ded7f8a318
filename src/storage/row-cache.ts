/**
 * Committed rows kept in memory for reads outside a transaction (the read
 * path: `GET /llm/room/:id` was one SQLite statement and its JSON columns
 * decoded per request, most of our CPU on that route once the socket write is
 * set aside).
 *
 * Correctness rests on three rules. The cache belongs to the one store that
 * writes its table (repository.ts): it is not exported from there, and every
 * write of a row goes through the store's one write function, which calls
 * `forget` inside the transaction, before it can commit or roll back. Rows
 * are only cached by a read outside any transaction, so an uncommitted row
 * is never cached. better-sqlite3 transactions are synchronous, so no read
 * outside a transaction can run between a write and its commit. One process
 * owns DATA_DIR (the lock), so no other writer exists. Cached rows are
 * deep-frozen because callers share them.
 *
 * Entries are keyed by the tenant file's Repository, so a reopened file
 * starts cold and a closed one's entries just age out; the bound is global,
 * not per tenant, so many open tenants cannot multiply it.
 */
import type { TenantDb } from "./tenant-db.js";

function keyOf(t: TenantDb, id: string): string {
  return `${t.repo.id}\u0000${id}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class RowCache<Row extends object> {
  readonly #rows = new Map<string, Row>();

  constructor(readonly maxRows: number) {}

  /** The cached committed row, or the one `load` reads (cached only when no transaction is open). */
  read(t: TenantDb, id: string, load: () => Row | undefined): Row | undefined {
    if (t.sqlite.inTransaction) return load();
    const key = keyOf(t, id);
    const hit = this.#rows.get(key);
    if (hit) {
      // Least recently used goes first: move the hit to the end.
      this.#rows.delete(key);
      this.#rows.set(key, hit);
      return hit;
    }
    const row = load();
    if (row) {
      if (this.#rows.size >= this.maxRows) this.#rows.delete(this.#rows.keys().next().value as string);
      this.#rows.set(key, deepFreeze(row));
    }
    return row;
  }

  /** The row is being written: drop it, so the next read outside a transaction sees the committed state. */
  forget(t: TenantDb, id: string): void {
    if (this.#rows.size > 0) this.#rows.delete(keyOf(t, id));
  }

  get size(): number {
    return this.#rows.size;
  }
}
