/**
 * The one data-access rule of this service, stated here once:
 *
 * - **Hot paths** (anything run per request, per event or per turn) use named
 *   prepared statements. A store declares each one at module level with
 *   `statement(name, build)` and runs it as `q.on(t)`. It is prepared on a
 *   tenant's connection the first time it runs there and kept in that
 *   tenant's `Repository`, which the file gets when it opens and loses when
 *   it closes, so a statement never outlives its connection and no query is
 *   built twice. `build` uses drizzle's builder and `.prepare()` (rows come
 *   back as the schema maps them); the event log alone prepares SQL text on
 *   better-sqlite3, because its rows are not drizzle-shaped and its
 *   per-event cost is the service's budget. Per-row inserts and updates by
 *   key go through `RowWriter` (row-writer.ts), which names its statements
 *   by table and columns and keeps them in the same Repository.
 * - **Cold paths** (lists with optional filters, boot-time scans, sweeps)
 *   use drizzle's query builder on `t.db`, built per call.
 * - **A row cache** (`RowCache`, row-cache.ts) belongs to the one store that
 *   writes its table, is not exported from it, and every write there goes
 *   through the one function that drops the row first. Only stores and
 *   src/storage import the schema's tables (the layering check enforces
 *   it), so no other code can write such a table behind the cache's back.
 *
 * The process-wide service db (service-db.ts) is not a tenant's: it
 * prepares its two statements once, when it opens.
 *
 * Why prepared: drizzle builds and compiles a query every time it runs; on
 * the read path that cost more than SQLite itself (profiled: about 40% of a
 * GET's CPU in query building, 14% in better-sqlite3's prepare).
 */
import type Database from "better-sqlite3";
import type { Drizzle, TenantDb } from "./tenant-db.js";

let nextRepositoryId = 1;
let nextSlot = 0;
const declared = new Set<string>();

/** One open tenant file's prepared statements. Built with the TenantDb when the file opens. */
export class Repository {
  /** Unique in the process, so process-wide caches can key rows by file without holding the connection. */
  readonly id = nextRepositoryId++;
  /** Statements declared with `statement()`, by slot. */
  readonly slots: unknown[] = [];
  /** Statements whose shape is known only at run time (RowWriter's column sets), by name. */
  readonly named = new Map<string, unknown>();
}

/** A named statement, prepared once per tenant connection. */
export interface Statement<Q> {
  readonly name: string;
  /** The statement prepared on this tenant's connection (prepared now if this is its first use there). */
  on(t: TenantDb): Q;
}

/**
 * Declares a hot-path statement. Call it at module level, once per name:
 * a name declared twice throws, so two stores cannot silently share a slot.
 */
export function statement<Q>(name: string, build: (conn: { db: Drizzle; sqlite: Database.Database }) => Q): Statement<Q> {
  if (declared.has(name)) throw new Error(`statement ${name} is declared twice`);
  declared.add(name);
  const slot = nextSlot++;
  return {
    name,
    on(t) {
      const slots = t.repo.slots;
      let q = slots[slot] as Q | undefined;
      if (q === undefined) {
        q = build(t);
        slots[slot] = q;
      }
      return q;
    },
  };
}
