/**
 * The service's configuration: the environment, parsed once by zod into a
 * frozen object. `main.ts` is the only caller of `loadConfig(process.env)`;
 * everything else receives the resulting `Config` as an argument.
 */
import path from "node:path";
import { z } from "zod";

const boolFromEnv = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"])
  .transform((v) => v === "true" || v === "1" || v === "yes" || v === "on");

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const envSchema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: intFromEnv(0, 65535).default(8787),
  DATA_DIR: z.string().min(1).default("./data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Largest accepted request body, in bytes. */
  BODY_LIMIT_BYTES: intFromEnv(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /** A request body not received this long after the request started is 408 (Node's own limit is 300 s). */
  BODY_TIMEOUT_MS: intFromEnv(100, 300_000).default(30_000),
  /** Public base URL used in links (docs, llms.txt); defaults to http://HOST:PORT. */
  PUBLIC_URL: z.url().optional(),

  /** Issuer and audience of the tokens this service signs itself (`npm run token`). */
  TOKEN_ISSUER: z.string().min(1).default("roomservice"),
  TOKEN_AUDIENCE: z.string().min(1).default("roomservice"),
  /** Optional external issuer trusted through its JWKS. All three go together. */
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** Clock skew tolerated on exp/nbf/iat, in seconds. */
  AUTH_CLOCK_SKEW_S: intFromEnv(0, 300).default(30),

  /** Idle tenant database handles are closed after this many seconds. */
  TENANT_DB_IDLE_S: intFromEnv(1, 86_400).default(300),
  /** SQLite busy timeout, in milliseconds. */
  SQLITE_BUSY_TIMEOUT_MS: intFromEnv(0, 60_000).default(5000),
  /** Page cache of each open SQLite file, in KiB (SQLite's own default; better-sqlite3 would give every file 16 MB). */
  SQLITE_CACHE_KIB: intFromEnv(64, 1_048_576).default(2048),

  /** Operator's model providers: a JSON or YAML file. */
  PROVIDERS_FILE: z.string().min(1).optional(),
  /** Pace of the built-in local/echo model when an actor sets none, in ms per token. */
  ECHO_TOKEN_DELAY_MS: intFromEnv(0, 10_000).default(1),
  /** Provider retries before any token streamed (429, 5xx, connection errors). */
  PROVIDER_MAX_RETRIES: intFromEnv(0, 10).default(2),
  PROVIDER_RETRY_MAX_DELAY_MS: intFromEnv(0, 120_000).default(10_000),

  /** Coalescing window for streamed text deltas, in ms (0 stores every delta). */
  EVENT_COALESCE_MS: intFromEnv(0, 5000).default(50),
  /** SSE comment heartbeat interval, in ms. */
  SSE_HEARTBEAT_MS: intFromEnv(100, 60_000).default(15_000),
  /** On SIGTERM, turns get this long to finish before they are interrupted. */
  SHUTDOWN_GRACE_MS: intFromEnv(0, 600_000).default(10_000),
  /** How often the lifecycle timers (idle → sleeping, auto release) are checked, in ms. */
  LIFECYCLE_SWEEP_MS: intFromEnv(50, 600_000).default(1000),

  /** Per-tenant request rate: a token bucket refilled at RATE_LIMIT_RPS with room for RATE_LIMIT_BURST. 0 turns it off. */
  RATE_LIMIT_RPS: intFromEnv(0, 100_000).default(50),
  RATE_LIMIT_BURST: intFromEnv(1, 1_000_000).default(200),
  MAX_ROOMS_PER_TENANT: intFromEnv(1, 10_000_000).default(10_000),
  MAX_MESSAGE_CHARS: intFromEnv(1, 100_000).default(100_000),
  MAX_ACTIVE_TURNS_PER_TENANT: intFromEnv(1, 100_000).default(32),
  MAX_ACTIVE_TURNS: intFromEnv(1, 1_000_000).default(512),
  MAX_FOLLOWERS_PER_ROOM: intFromEnv(1, 100_000).default(2000),
  MAX_FOLLOWERS_PER_TENANT: intFromEnv(1, 1_000_000).default(5000),
  /** Tokens (input + output) a tenant may use per UTC day; 0 means no budget. */
  TENANT_DAILY_TOKEN_BUDGET: intFromEnv(0, Number.MAX_SAFE_INTEGER).default(0),

  PRETTY_LOGS: boolFromEnv.default(false),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly bodyTimeoutMs: number;
  readonly publicUrl: string;
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly clockSkewS: number;
    readonly external: { readonly jwksUrl: string; readonly issuer: string; readonly audience: string } | null;
  };
  readonly storage: { readonly idleCloseMs: number; readonly busyTimeoutMs: number; readonly cacheKib: number };
  readonly providers: { readonly file: string | null; readonly echoTokenDelayMs: number; readonly maxRetries: number; readonly retryMaxDelayMs: number };
  readonly events: { readonly coalesceMs: number; readonly heartbeatMs: number };
  readonly lifecycle: { readonly shutdownGraceMs: number; readonly sweepMs: number };
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
  const displayHost = e.HOST.includes(":") ? `[${e.HOST}]` : e.HOST;
  return deepFreeze<Config>({
    host: e.HOST,
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    bodyTimeoutMs: e.BODY_TIMEOUT_MS,
    publicUrl: (e.PUBLIC_URL ?? `http://${displayHost}:${e.PORT}`).replace(/\/+$/, ""),
    auth: {
      issuer: e.TOKEN_ISSUER,
      audience: e.TOKEN_AUDIENCE,
      clockSkewS: e.AUTH_CLOCK_SKEW_S,
      external: e.AUTH_JWKS_URL ? { jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER!, audience: e.AUTH_AUDIENCE! } : null,
    },
    storage: { idleCloseMs: e.TENANT_DB_IDLE_S * 1000, busyTimeoutMs: e.SQLITE_BUSY_TIMEOUT_MS, cacheKib: e.SQLITE_CACHE_KIB },
    providers: {
      file: e.PROVIDERS_FILE ?? null,
      echoTokenDelayMs: e.ECHO_TOKEN_DELAY_MS,
      maxRetries: e.PROVIDER_MAX_RETRIES,
      retryMaxDelayMs: e.PROVIDER_RETRY_MAX_DELAY_MS,
    },
    events: { coalesceMs: e.EVENT_COALESCE_MS, heartbeatMs: e.SSE_HEARTBEAT_MS },
    lifecycle: { shutdownGraceMs: e.SHUTDOWN_GRACE_MS, sweepMs: e.LIFECYCLE_SWEEP_MS },
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
