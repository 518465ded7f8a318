/**
 * Per-row writes (insert, update by key) prepared once per tenant connection,
 * the Repository's way to write rows (see repository.ts for the whole rule).
 */
import type { Statement } from "better-sqlite3";
import { getTableColumns, getTableName, is, SQL, type Column, type InferInsertModel, type InferSelectModel, type Table } from "drizzle-orm";
import type { TenantDb } from "./tenant-db.js";

/** The statement `name` of this tenant's Repository, prepared by `build` on first use. */
function named(t: TenantDb, name: string, build: () => Statement): Statement {
  let q = t.repo.named.get(name) as Statement | undefined;
  if (q === undefined) {
    q = build();
    t.repo.named.set(name, q);
  }
  return q;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Per-row writes (insert, update by key) without drizzle's per-call query
 * building, which profiled at about 12% of the CPU of a streaming turn.
 * Statements are prepared once per tenant connection and per set of
 * written columns (a handful per call site), named by both, in the
 * tenant's Repository. Values go through the drizzle columns' own mappers
 * exactly as drizzle's builder applies them: a null stays SQL NULL,
 * anything else goes through `mapToDriverValue` (JSON columns are
 * stringified); an insert fills an absent value with the column's default,
 * else NULL. Rows come back as drizzle returns them: the table's keys in
 * declaration order, NULL as null, anything else through
 * `mapFromDriverValue`. Columns, names and mappers are read from the
 * drizzle table, so the schema stays the one source.
 */
export class RowWriter<T extends Table> {
  readonly #table: string;
  readonly #keys: string[];
  readonly #columns: Column[];
  readonly #byKey: Map<string, Column>;
  readonly #returning: string;
  readonly #defaults: unknown[];

  constructor(table: T) {
    this.#table = quote(getTableName(table));
    const entries = Object.entries(getTableColumns(table) as Record<string, Column>);
    for (const [key, col] of entries) {
      // Only plain values are mapped here; a column that needs SQL or a function on write needs drizzle's builder.
      if (is(col.default, SQL) || col.defaultFn !== undefined || col.onUpdateFn !== undefined || col.generated !== undefined) {
        throw new Error(`RowWriter: column ${getTableName(table)}.${key} has a computed default, update or generated value`);
      }
    }
    this.#keys = entries.map(([key]) => key);
    this.#columns = entries.map(([, col]) => col);
    this.#byKey = new Map(entries);
    this.#returning = this.#columns.map((c) => quote(c.name)).join(", ");
    this.#defaults = this.#columns.map((c) => (c.default === undefined || c.default === null ? null : c.mapToDriverValue(c.default)));
  }

  /** Inserts the row (absent values take the column default) and returns it as stored. */
  insert(t: TenantDb, row: InferInsertModel<T>): InferSelectModel<T> {
    const stmt = named(t, `${this.#table}:insert`, () => {
      const names = this.#columns.map((c) => quote(c.name)).join(", ");
      const marks = this.#columns.map(() => "?").join(", ");
      return t.sqlite.prepare(`insert into ${this.#table} (${names}) values (${marks}) returning ${this.#returning}`).raw(true);
    });
    const values = row as Record<string, unknown>;
    const params = this.#keys.map((key, i) => {
      const v = values[key];
      return v === undefined ? this.#defaults[i] : this.#toDriver(this.#columns[i]!, v);
    });
    return this.#fromDriver(stmt.get(...params) as unknown[]);
  }

  /** Sets the defined values in `changes` on the rows matching every `where` value; returns the first changed row, or undefined when none matched. */
  updateReturning(t: TenantDb, changes: Partial<InferInsertModel<T>>, where: Partial<InferSelectModel<T>>): InferSelectModel<T> | undefined {
    const { stmt, params } = this.#update(t, changes, where, true);
    const raw = stmt.get(...params) as unknown[] | undefined;
    return raw === undefined ? undefined : this.#fromDriver(raw);
  }

  /** As updateReturning, for callers that do not need the row back. */
  update(t: TenantDb, changes: Partial<InferInsertModel<T>>, where: Partial<InferSelectModel<T>>): void {
    const { stmt, params } = this.#update(t, changes, where, false);
    stmt.run(...params);
  }

  #update(t: TenantDb, changes: object, where: object, returning: boolean): { stmt: Statement; params: unknown[] } {
    const params: unknown[] = [];
    const set: Column[] = [];
    let name = returning ? `${this.#table}:update-returning:` : `${this.#table}:update:`;
    // Table order, as drizzle writes the SET list; undefined means "leave as is".
    const values = changes as Record<string, unknown>;
    for (let i = 0; i < this.#keys.length; i++) {
      const v = values[this.#keys[i]!];
      if (v === undefined) continue;
      const col = this.#columns[i]!;
      set.push(col);
      params.push(this.#toDriver(col, v));
      name += `${this.#keys[i]},`;
    }
    if (set.length === 0) throw new Error("No values to set");
    const keyed: Column[] = [];
    name += "|";
    for (const [key, v] of Object.entries(where)) {
      const col = this.#byKey.get(key);
      if (!col || v === undefined) throw new Error(`RowWriter: where.${key} is not a column value of ${this.#table}`);
      keyed.push(col);
      params.push(this.#toDriver(col, v));
      name += `${key},`;
    }
    if (keyed.length === 0) throw new Error("RowWriter: an update needs a where value");
    const stmt = named(t, name, () => {
      const assignments = set.map((c) => `${quote(c.name)} = ?`).join(", ");
      const conds = keyed.map((c) => `${quote(c.name)} = ?`).join(" and ");
      const sql = `update ${this.#table} set ${assignments} where ${conds}`;
      return returning ? t.sqlite.prepare(`${sql} returning ${this.#returning}`).raw(true) : t.sqlite.prepare(sql);
    });
    return { stmt, params };
  }

  #toDriver(col: Column, v: unknown): unknown {
    return v === null ? null : col.mapToDriverValue(v);
  }

  #fromDriver(raw: unknown[]): InferSelectModel<T> {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < this.#keys.length; i++) {
      const v = raw[i];
      row[this.#keys[i]!] = v === null ? null : this.#columns[i]!.mapFromDriverValue(v);
    }
    return row as InferSelectModel<T>;
  }
}
