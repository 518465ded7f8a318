/**
 * Drizzle builds and compiles a query every time it runs: on the read path
 * that cost more than SQLite itself (profiled: about 40% of a GET's CPU in
 * query building, 14% in better-sqlite3's prepare). Hot queries are built
 * once per connection with placeholders and kept here, keyed by the
 * connection, so they go when the handle is closed and garbage collected.
 */
import type { Drizzle, TenantDb } from "./tenant-db.js";

const caches = new WeakMap<Drizzle, Map<string, unknown>>();

/** The query `name` prepared on this tenant's connection, built by `build` on first use. */
export function prepared<Q>(t: TenantDb, name: string, build: (db: Drizzle) => Q): Q {
  let cache = caches.get(t.db);
  if (!cache) {
    cache = new Map();
    caches.set(t.db, cache);
  }
  let q = cache.get(name) as Q | undefined;
  if (q === undefined) {
    q = build(t.db);
    cache.set(name, q);
  }
  return q;
}
