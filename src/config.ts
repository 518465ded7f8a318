/**
 * The service's configuration: the environment, parsed once by zod into a
 * frozen object. `main.ts` is the only caller of `loadConfig(process.env)`;
 * everything else receives the resulting `Config` as an argument.
 */
import path from "node:path";
import { z } from "zod";

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every variable the server reads, with its default and its meaning (the
 * description). The README's configuration table is rendered from this
 * schema (`npm run openapi` writes it; a test fails when it drifts), so a
 * variable cannot be read without being documented.
 */
export const envSchema = z.object({
  HOST: z.string().min(1).default("127.0.0.1").describe("listen address"),
  PORT: intFromEnv(0, 65535).default(8787).describe("listen port"),
  DATA_DIR: z.string().min(1).default("./data").describe("SQLite files (one per tenant), the signing key, the lock; `npm run token` must use the same one"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("pino level"),
  BODY_LIMIT_BYTES: intFromEnv(1024, 64 * 1024 * 1024).default(1024 * 1024).describe("larger request bodies are 413 `PAYLOAD_TOO_LARGE`"),
  BODY_TIMEOUT_MS: intFromEnv(100, 300_000)
    .default(30_000)
    .describe("a request body not received whole this many ms after the request started is 408 `REQUEST_TIMEOUT` and the connection is closed (Node's own limit is 300 s)"),

  TOKEN_ISSUER: z.string().min(1).default("roomservice").describe("`iss` of the tokens this service signs (`npm run token`)"),
  TOKEN_AUDIENCE: z.string().min(1).default("roomservice").describe("`aud` of the tokens this service signs"),
  AUTH_JWKS_URL: z.url().optional().describe("also trust an external issuer through its JWKS (set with `AUTH_ISSUER` and `AUTH_AUDIENCE`)"),
  AUTH_ISSUER: z.string().min(1).optional().describe("`iss` of the external issuer's tokens"),
  AUTH_AUDIENCE: z.string().min(1).optional().describe("`aud` the external issuer's tokens must carry"),
  AUTH_CLOCK_SKEW_S: intFromEnv(0, 300).default(30).describe("tolerated clock skew on `exp`/`nbf`, in seconds"),
  AUTH_MAX_TOKEN_TTL_S: intFromEnv(60, 366 * 86_400)
    .default(30 * 86_400)
    .describe("longest lifetime a token may have left, in seconds: a token whose `exp` is further away is 401"),
  AUTH_EXTERNAL_DEFAULT_ACCESS: z
    .enum(["read", "edit", "full"])
    .default("read")
    .describe("access of an external issuer's token without an `access` claim (this server's own tokens without one get `read`)"),
  AUTH_OPERATOR_SUBJECT: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .describe("the one `sub` of the external issuer whose tokens may carry the operator claim; unset: no external token is an operator"),

  TENANT_DB_IDLE_S: intFromEnv(1, 86_400).default(300).describe("idle tenant database files are closed after this many seconds"),
  SQLITE_BUSY_TIMEOUT_MS: intFromEnv(0, 60_000).default(5000).describe("how long a write waits for a busy tenant file, in ms"),
  SQLITE_CACHE_KIB: intFromEnv(64, 1_048_576)
    .default(2048)
    .describe("page cache of each open tenant file, in KiB (the kernel caches the file too)"),
  SQLITE_CACHE_KIB_PER_TURN: intFromEnv(0, 1_048_576)
    .default(0)
    .describe(
      "page cache a tenant file gets on top of `SQLITE_CACHE_KIB` per turn streaming into it, in KiB (back to `SQLITE_CACHE_KIB` when its turns end); 0 = off. With hundreds of rooms streaming into one file, 64 cut event-loop time per event by about 7% in `bench/tools/storage-ab.ts`, for about 2 MB more RSS per 1,000 streaming rooms",
    ),
  SQLITE_CACHE_MAX_KIB: intFromEnv(64, 1_048_576).default(65_536).describe("largest page cache of one tenant file with turns streaming, in KiB"),
  SQLITE_WAL_MAX_KIB: intFromEnv(1024, 4_194_304)
    .default(65_536)
    .describe("checkpoints run on a background thread; a tenant file's write-ahead log past this many KiB is checkpointed by the server itself, and is truncated back to it when it restarts"),

  PROVIDERS_FILE: z.string().min(1).optional().describe("JSON or YAML file of real model providers (below)"),
  ECHO_TOKEN_DELAY_MS: intFromEnv(0, 10_000).default(1).describe("default pace of the built-in `local/echo` model, in ms per token"),
  PROVIDER_MAX_RETRIES: intFromEnv(0, 10).default(2).describe("retries of a model request that failed (429, 5xx, connection) before anything streamed"),
  PROVIDER_RETRY_MAX_DELAY_MS: intFromEnv(0, 120_000).default(10_000).describe("longest wait between those retries, in ms"),

  EVENT_COALESCE_MS: intFromEnv(0, 5000).default(50).describe("streamed text deltas are merged into one event per window, in ms (0 stores every delta)"),
  EVENT_COMMIT_PACE_MS: intFromEnv(0, 100)
    .default(10)
    .describe("when the event loop is busy (over half its time), group commits of streamed events wait up to this long after the previous one, so they are fewer and larger; the full wait from 90% busy. 0 = commit every tick"),
  SSE_HEARTBEAT_MS: intFromEnv(100, 60_000).default(15_000).describe("`: ping` comment interval on event streams, in ms"),
  SHUTDOWN_GRACE_MS: intFromEnv(0, 600_000).default(10_000).describe("on SIGTERM, running turns get this long before they are interrupted, in ms"),
  LIFECYCLE_SWEEP_MS: intFromEnv(50, 600_000).default(1000).describe("how often idle and release deadlines are checked, in ms"),

  RATE_LIMIT_RPS: intFromEnv(0, 100_000).default(50).describe("requests per second per tenant (token bucket; 0 turns it off); over it is 429 `RATE_LIMITED`"),
  RATE_LIMIT_BURST: intFromEnv(1, 1_000_000).default(200).describe("burst size of that bucket"),
  MAX_ROOMS_PER_TENANT: intFromEnv(1, 10_000_000).default(10_000).describe("rooms a tenant may hold that are not released"),
  MAX_MESSAGE_CHARS: intFromEnv(1, 100_000).default(100_000).describe("longest message `content`, in characters"),
  MAX_ACTIVE_TURNS_PER_TENANT: intFromEnv(1, 100_000).default(32).describe("turns one tenant may run at once"),
  MAX_ACTIVE_TURNS: intFromEnv(1, 1_000_000).default(512).describe("turns the whole server runs at once"),
  MAX_FOLLOWERS_PER_ROOM: intFromEnv(1, 100_000).default(2000).describe("open event streams (and long polls) on one room"),
  MAX_FOLLOWERS_PER_TENANT: intFromEnv(1, 1_000_000).default(5000).describe("open event streams (and long polls) of one tenant"),
  TENANT_DAILY_TOKEN_BUDGET: intFromEnv(0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe("tokens (input + output) a tenant may use per UTC day; 0 means no budget"),

  METRICS_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .describe("`false` records no metrics at all (every recording call is a no-op) and `GET /metrics` answers 404 `METRICS_DISABLED`; `/ready` is unaffected"),
  METRICS_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9\-._~+/]{32,512}$/, "must be 32 to 512 characters of letters, digits and - . _ ~ + / (make one with `openssl rand -hex 32`)")
    .optional()
    .describe("bearer secret that may scrape `GET /metrics` besides an operator token (32 to 512 characters; make one with `openssl rand -hex 32`); unset, only an operator token scrapes"),
  FACTORY_MAX_ISSUES_PER_RUN: intFromEnv(1, 100_000).default(200).describe("issues a factory run may hold; one more is 409 `ISSUE_LIMIT_REACHED`"),
  FACTORY_MAX_ARTIFACT_BYTES: intFromEnv(1024, 16 * 1024 * 1024)
    .default(256 * 1024)
    .describe("largest factory artifact payload, in bytes; larger is 413 `ARTIFACT_TOO_LARGE`"),
  FACTORY_MAX_ACTIVE_RUNS_PER_TENANT: intFromEnv(1, 100_000).default(16).describe("factory runs a tenant may have that are not finished; one more is 429 `ACTIVE_RUN_LIMIT`"),
  FACTORY_MAX_SOURCE_CHARS: intFromEnv(1, 10_000_000).default(200_000).describe("longest factory run `source`, in characters; longer is 413 `SOURCE_TOO_LARGE`"),
  FACTORY_MAX_IN_FLIGHT: intFromEnv(1, 64).default(2).describe("default `max_in_flight` of a factory run: its issues in rooms at once"),
  FACTORY_MAX_ATTEMPTS: intFromEnv(1, 20).default(3).describe("rooms a factory issue gets when its room turn fails (a restart included) before the issue fails"),
  FACTORY_MODEL_ATTEMPTS: intFromEnv(1, 10).default(3).describe("attempts a model planner or judge gets to produce output that validates"),
});

/** One row of the configuration table: the variable, its default (null: unset) and what it does. */
export interface ConfigVariable {
  name: string;
  defaultValue: string | null;
  meaning: string;
}

/** Every variable of the schema, in schema order; throws if one has no description. */
export function configVariables(): ConfigVariable[] {
  return Object.entries(envSchema.shape).map(([name, field]) => {
    const meaning = field.description;
    if (!meaning) throw new Error(`config variable ${name} has no description`);
    const value: unknown = (field as z.ZodType).safeParse(undefined).data;
    return { name, defaultValue: value === undefined ? null : String(value), meaning };
  });
}

export type Env = z.input<typeof envSchema>;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly bodyTimeoutMs: number;
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly clockSkewS: number;
    readonly maxTokenTtlS: number;
    readonly external: {
      readonly jwksUrl: string;
      readonly issuer: string;
      readonly audience: string;
      readonly defaultAccess: "read" | "edit" | "full";
      readonly operatorSubject: string | null;
    } | null;
  };
  readonly storage: {
    readonly idleCloseMs: number;
    readonly busyTimeoutMs: number;
    readonly cacheKib: number;
    readonly cachePerTurnKib: number;
    readonly cacheMaxKib: number;
    readonly walMaxKib: number;
  };
  readonly providers: { readonly file: string | null; readonly echoTokenDelayMs: number; readonly maxRetries: number; readonly retryMaxDelayMs: number };
  readonly events: { readonly coalesceMs: number; readonly commitPaceMs: number; readonly heartbeatMs: number };
  readonly lifecycle: { readonly shutdownGraceMs: number; readonly sweepMs: number };
  readonly metrics: { readonly enabled: boolean; readonly token: string | null };
  readonly factory: {
    readonly maxIssuesPerRun: number;
    readonly maxArtifactBytes: number;
    readonly maxActiveRunsPerTenant: number;
    readonly maxSourceChars: number;
    readonly maxInFlight: number;
    readonly maxAttempts: number;
    readonly modelAttempts: number;
  };
  readonly limits: {
    readonly rateLimitRps: number;
    readonly rateLimitBurst: number;
    readonly maxRoomsPerTenant: number;
    readonly maxMessageChars: number;
    readonly maxActiveTurnsPerTenant: number;
    readonly maxActiveTurnsPerServer: number;
    readonly maxFollowersPerRoom: number;
    readonly maxFollowersPerTenant: number;
    readonly dailyTokenBudget: number;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset", as they do in most shells and compose files.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const externalParts = [e.AUTH_JWKS_URL, e.AUTH_ISSUER, e.AUTH_AUDIENCE];
  if (externalParts.some(Boolean) && !externalParts.every(Boolean)) {
    throw new ConfigError("invalid configuration:\n  AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE must be set together");
  }
  if (e.AUTH_OPERATOR_SUBJECT && !e.AUTH_JWKS_URL) {
    throw new ConfigError("invalid configuration:\n  AUTH_OPERATOR_SUBJECT names a subject of the external issuer: set AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE too (this server's own operator tokens need no setting: `npm run -s token -- --operator`)");
  }
  return deepFreeze<Config>({
    host: e.HOST,
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    bodyTimeoutMs: e.BODY_TIMEOUT_MS,
    auth: {
      issuer: e.TOKEN_ISSUER,
      audience: e.TOKEN_AUDIENCE,
      clockSkewS: e.AUTH_CLOCK_SKEW_S,
      maxTokenTtlS: e.AUTH_MAX_TOKEN_TTL_S,
      external: e.AUTH_JWKS_URL
        ? {
            jwksUrl: e.AUTH_JWKS_URL,
            issuer: e.AUTH_ISSUER!,
            audience: e.AUTH_AUDIENCE!,
            defaultAccess: e.AUTH_EXTERNAL_DEFAULT_ACCESS,
            operatorSubject: e.AUTH_OPERATOR_SUBJECT ?? null,
          }
        : null,
    },
    storage: {
      idleCloseMs: e.TENANT_DB_IDLE_S * 1000,
      busyTimeoutMs: e.SQLITE_BUSY_TIMEOUT_MS,
      cacheKib: e.SQLITE_CACHE_KIB,
      cachePerTurnKib: e.SQLITE_CACHE_KIB_PER_TURN,
      cacheMaxKib: e.SQLITE_CACHE_MAX_KIB,
      walMaxKib: e.SQLITE_WAL_MAX_KIB,
    },
    providers: {
      file: e.PROVIDERS_FILE ?? null,
      echoTokenDelayMs: e.ECHO_TOKEN_DELAY_MS,
      maxRetries: e.PROVIDER_MAX_RETRIES,
      retryMaxDelayMs: e.PROVIDER_RETRY_MAX_DELAY_MS,
    },
    events: { coalesceMs: e.EVENT_COALESCE_MS, commitPaceMs: e.EVENT_COMMIT_PACE_MS, heartbeatMs: e.SSE_HEARTBEAT_MS },
    lifecycle: { shutdownGraceMs: e.SHUTDOWN_GRACE_MS, sweepMs: e.LIFECYCLE_SWEEP_MS },
    metrics: { enabled: e.METRICS_ENABLED === "true", token: e.METRICS_TOKEN ?? null },
    factory: {
      maxIssuesPerRun: e.FACTORY_MAX_ISSUES_PER_RUN,
      maxArtifactBytes: e.FACTORY_MAX_ARTIFACT_BYTES,
      maxActiveRunsPerTenant: e.FACTORY_MAX_ACTIVE_RUNS_PER_TENANT,
      maxSourceChars: e.FACTORY_MAX_SOURCE_CHARS,
      maxInFlight: e.FACTORY_MAX_IN_FLIGHT,
      maxAttempts: e.FACTORY_MAX_ATTEMPTS,
      modelAttempts: e.FACTORY_MODEL_ATTEMPTS,
    },
    limits: {
      rateLimitRps: e.RATE_LIMIT_RPS,
      rateLimitBurst: e.RATE_LIMIT_BURST,
      maxRoomsPerTenant: e.MAX_ROOMS_PER_TENANT,
      maxMessageChars: e.MAX_MESSAGE_CHARS,
      maxActiveTurnsPerTenant: e.MAX_ACTIVE_TURNS_PER_TENANT,
      maxActiveTurnsPerServer: e.MAX_ACTIVE_TURNS,
      maxFollowersPerRoom: e.MAX_FOLLOWERS_PER_ROOM,
      maxFollowersPerTenant: e.MAX_FOLLOWERS_PER_TENANT,
      dailyTokenBudget: e.TENANT_DAILY_TOKEN_BUDGET,
    },
  });
}
