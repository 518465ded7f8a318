/**
 * What the server does when storage fails under it, as opposed to being busy.
 *
 * Disk full: SQLite answers SQLITE_FULL (and Node ENOSPC) and rolls the
 * write back, so nothing acknowledged is lost; the caller gets 503
 * STORAGE_FULL with Retry-After, reads keep working, and writes work again as
 * soon as space is freed, without a restart.
 *
 * A damaged tenant file: the server remembers every tenant it has stored
 * data for (table `tenants` in DATA_DIR/service.db), so a known tenant whose
 * file is missing or empty is not silently started afresh, and a file SQLite
 * finds is not a database or corrupt is not served "retry later" forever.
 * Either way that tenant is refused with 503 TENANT_DATA_DAMAGED, it is
 * logged once at error level with the file and the reason, every other
 * tenant keeps serving, and `/health` counts degraded tenants without naming
 * them. When the file changes on disk (restored from a backup) the next
 * request tries it again.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import type { Logger } from "pino";
import { TENANT_PATTERN, type TenantFileGuard } from "./tenant-db.js";

export type StorageFault = "full" | "damaged" | "busy";

/**
 * A tenant refused because its file is missing, empty or corrupt. The HTTP
 * layer answers it (and a raw SQLITE_CORRUPT/NOTADB) with 503
 * TENANT_DATA_DAMAGED; this layer knows no error codes of the API.
 */
export class TenantDataDamagedError extends Error {
  override name = "TenantDataDamagedError";
  constructor(readonly tenant: string) {
    super(`tenant ${tenant}: data file missing or damaged`);
  }
}

/** What kind of storage failure `err` is, if it is one. */
export function classifyStorageError(err: unknown): StorageFault | null {
  if (err instanceof TenantDataDamagedError) return "damaged";
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  if (code.startsWith("SQLITE_FULL") || code === "ENOSPC" || code === "EDQUOT") return "full";
  if (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")) return "damaged";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "busy";
  return null;
}

/** /health says storage is full for this long after the last write that found it full. */
const FULL_REPORT_MS = 60_000;
const FULL_LOG_EVERY_MS = 60_000;

interface Damage {
  reason: string;
  since: string;
  /** The file as it was when found damaged; a different one is tried again. */
  signature: string;
}

export interface StorageStatus {
  /** A write found the disk full within the last minute. */
  full: boolean;
  degradedTenants: { tenant: string; reason: string; since: string }[];
}

/** Tenants with a non-empty file in `dir` (the tenants directory; absent on a first start). */
export function tenantFilesWithData(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((f) => f.endsWith(".db") && TENANT_PATTERN.test(f.slice(0, -3)))
    .filter((f) => (sizeOf(path.join(dir, f)) ?? 0) > 0)
    .map((f) => f.slice(0, -3));
}

function signatureOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function sizeOf(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

export class StorageHealth implements TenantFileGuard {
  readonly #db: Database.Database;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #known = new Set<string>();
  readonly #damaged = new Map<string, Damage>();
  readonly #remember: Database.Statement<[string, string]>;
  readonly #fileOf: (tenant: string) => string;
  #fullAt = -Infinity;
  #fullLoggedAt = -Infinity;

  /**
   * `db` is the service database (DATA_DIR/service.db). `onDisk` are the
   * tenants with a non-empty file at start: remembered, so a server that ran
   * before this registry existed protects the tenants it already has.
   */
  constructor(opts: { db: Database.Database; log: Logger; now?: () => number; onDisk: readonly string[]; fileOf: (tenant: string) => string }) {
    this.#db = opts.db;
    this.#fileOf = opts.fileOf;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#db.exec("CREATE TABLE IF NOT EXISTS tenants (tenant TEXT PRIMARY KEY, first_seen_at TEXT NOT NULL)");
    this.#remember = this.#db.prepare("INSERT OR IGNORE INTO tenants (tenant, first_seen_at) VALUES (?, ?)");
    for (const row of this.#db.prepare("SELECT tenant FROM tenants").all() as { tenant: string }[]) this.#known.add(row.tenant);
    const fresh = opts.onDisk.filter((t) => !this.#known.has(t));
    if (fresh.length > 0) {
      const at = new Date(this.#now()).toISOString();
      this.#db.transaction(() => {
        for (const t of fresh) this.#remember.run(t, at);
      })();
      for (const t of fresh) this.#known.add(t);
    }
  }

  /** Refuses a tenant known to be damaged, unless its file has changed since; refuses a known tenant whose file is gone or empty. */
  beforeOpen(tenant: string, file: string): void {
    const damage = this.#damaged.get(tenant);
    if (damage) {
      if (signatureOf(file) === damage.signature) throw new TenantDataDamagedError(tenant);
      this.#damaged.delete(tenant);
      this.#log.warn({ tenant, file }, "a damaged tenant's file changed on disk; trying it again");
    }
    if (!this.#known.has(tenant)) return;
    const size = sizeOf(file);
    if (size === null) this.#markDamaged(tenant, file, "the file is missing (this server stored data for the tenant before)");
    else if (size === 0) this.#markDamaged(tenant, file, "the file is empty (truncated)");
  }

  /** Turns a failure to open or recover the file into what the caller should see, recording a damaged file. */
  openFailed(tenant: string, file: string, err: unknown): unknown {
    const fault = classifyStorageError(err);
    if (fault === "damaged" && !(err instanceof TenantDataDamagedError)) {
      try {
        this.#markDamaged(tenant, file, describe(err));
      } catch (refusal) {
        return refusal;
      }
    }
    if (fault === "full") this.#full(err);
    return err;
  }

  /** The file opened and migrated: from now on its tenant is known. */
  opened(tenant: string): void {
    if (this.#known.has(tenant)) return;
    this.#remember.run(tenant, new Date(this.#now()).toISOString());
    this.#known.add(tenant);
  }

  /** Throws for a tenant found damaged while its file was open. Costs a size check when nothing is damaged. */
  check(tenant: string): void {
    if (this.#damaged.size > 0 && this.#damaged.has(tenant)) throw new TenantDataDamagedError(tenant);
  }

  get damagedCount(): number {
    return this.#damaged.size;
  }

  /**
   * Looks at an error a request (or background work of `tenant`) ran into:
   * a corrupt file marks the tenant damaged; a full disk is remembered for
   * /health and logged at most once a minute. What the caller is answered is
   * the HTTP layer's (http/errors.ts).
   */
  observe(err: unknown, tenant: string | undefined): void {
    const fault = classifyStorageError(err);
    if (fault === "full") this.#full(err);
    else if (fault === "damaged" && !(err instanceof TenantDataDamagedError) && tenant !== undefined && !this.#damaged.has(tenant)) {
      try {
        this.#markDamaged(tenant, this.#fileOf(tenant), describe(err));
      } catch {
        // marked and logged
      }
    }
  }

  status(): StorageStatus {
    return {
      full: this.#now() - this.#fullAt < FULL_REPORT_MS,
      degradedTenants: [...this.#damaged].map(([tenant, d]) => ({ tenant, reason: d.reason, since: d.since })),
    };
  }

  #full(err: unknown): void {
    const at = this.#now();
    this.#fullAt = at;
    if (at - this.#fullLoggedAt >= FULL_LOG_EVERY_MS) {
      this.#fullLoggedAt = at;
      this.#log.error({ err }, "storage is full: writes are refused with 503 STORAGE_FULL until disk space is freed (nothing acknowledged is lost)");
    }
  }

  /** Records the damage, logs it once, and throws the refusal. */
  #markDamaged(tenant: string, file: string, reason: string): never {
    if (!this.#damaged.has(tenant)) {
      this.#damaged.set(tenant, { reason, since: new Date(this.#now()).toISOString(), signature: signatureOf(file) });
      this.#log.error(
        { tenant, file, reason },
        "TENANT DATA DAMAGED: refusing this tenant with 503 TENANT_DATA_DAMAGED; other tenants keep serving. Restore the file from a backup (see README, Operations)",
      );
    }
    throw new TenantDataDamagedError(tenant);
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === "string" ? `${code}: ${message}` : message;
}
