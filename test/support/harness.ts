/**
 * Builds the real server in-process on a fresh temp DATA_DIR, with real
 * tokens signed by the server's own key. Every test gets its own data dir.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino, { type Logger } from "pino";
import { SignJWT } from "jose";
import type { Access } from "../../src/auth/principal.js";
import { signToken } from "../../src/auth/tokens.js";
import { loadConfig } from "../../src/config.js";
import { createServer, type Server, type ServerOptions, type ServiceLimits } from "../../src/server.js";

export interface TestServer {
  server: Server;
  dataDir: string;
  token(tenant: string, opts?: { sub?: string; access?: Access; ttlS?: number; operator?: boolean }): Promise<string>;
  /** Signs arbitrary claims with the server's real key (for forging tests). */
  signRaw(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  req(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string }): Promise<Response>;
  json<T = any>(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: T; res: Response }>;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: { env?: Record<string, string>; limits?: Partial<ServiceLimits>; dataDir?: string; keepDataDir?: boolean; server?: Omit<ServerOptions, "log" | "limits">; log?: Logger } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), "roomservice-test-"));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent", ECHO_TOKEN_DELAY_MS: "0", ...opts.env });
  const server = await createServer(config, { ...opts.server, log: opts.log ?? pino({ level: "silent" }), ...(opts.limits ? { limits: opts.limits } : {}) });
  const settings = { issuer: config.auth.issuer, audience: config.auth.audience };
  const t: TestServer = {
    server,
    dataDir,
    token: (tenant, o = {}) =>
      signToken(server.signingKey, settings, { tenant, sub: o.sub ?? "tester", access: o.access ?? "full", ttlS: o.ttlS ?? 3600, ...(o.operator ? { operator: true } : {}) }),
    signRaw: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: server.signingKey.kid, ...header }).sign(server.signingKey.privateKey),
    async req(method, url, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers["authorization"] = `Bearer ${o.token}`;
      let body: string | undefined = o.rawBody;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] ??= "application/json";
      }
      return server.app.request(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    },
    async json(method, url, o = {}) {
      const res = await t.req(method, url, o);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, res };
    },
    async close() {
      await server.shutdown(2000);
      if (!opts.keepDataDir && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Resolves when `check` returns a truthy value, polling the durable state (tests only). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
