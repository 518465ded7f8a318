/**
 * GET /llm/room/:id on the wire, through @hono/node-server as production
 * serves it: the route answers with a plain header record (http/respond.ts)
 * instead of c.header + c.json, so the bytes a client sees (status, headers,
 * body), the access log line and the error answers are checked here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { serve, type ServerType } from "@hono/node-server";
import { RegExpRouter } from "hono/router/reg-exp-router";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { signToken } from "../../src/auth/tokens.js";
import { loadConfig } from "../../src/config.js";
import { createServer, type Server } from "../../src/server.js";

interface WireAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-read-path-"));
const logLines: Record<string, unknown>[] = [];
let server: Server;
let http: ServerType;
let base: string;
let token: string;
let roomId: string;

function wire(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${url}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  const log = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "info", ECHO_TOKEN_DELAY_MS: "0" });
  server = await createServer(config, { log });
  http = serve({ fetch: server.app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((r) => http.once("listening", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  token = await signToken(server.signingKey, { issuer: config.auth.issuer, audience: config.auth.audience }, { tenant: "acme", sub: "alice", access: "full", ttlS: 3600 });
  const rented = await wire("POST", "/llm/room", { authorization: `Bearer ${token}`, "content-type": "application/json" }, JSON.stringify({ purpose: "read" }));
  roomId = (JSON.parse(rented.body) as { data: { id: string } }).data.id;
});

afterAll(async () => {
  await new Promise((r) => http.close(r));
  await server.shutdown(2000);
  rmSync(dataDir, { recursive: true, force: true });
});

describe("GET /llm/room/:id on the wire", () => {
  it("answers the envelope with content type, length, ETag and the caller's X-Request-Id", async () => {
    const res = await wire("GET", `/llm/room/${roomId}`, { authorization: `Bearer ${token}`, "x-request-id": "read-1" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["etag"]).toBe('"1"');
    expect(res.headers["x-request-id"]).toBe("read-1");
    expect(Number(res.headers["content-length"])).toBe(Buffer.byteLength(res.body));
    const body = JSON.parse(res.body) as { success: boolean; data: { id: string; tenant: string; version: number; purpose: string } };
    expect(body).toMatchObject({ success: true, data: { id: roomId, tenant: "acme", version: 1, purpose: "read" } });
    expect(res.body).toBe(JSON.stringify({ success: true, data: server.rooms.get({ tdb: server.tenants.get("acme"), actor: systemActor("test") }, roomId) }));
  });

  it("makes a request id when the caller sends none, and logs the request with its route and tenant", async () => {
    const res = await wire("GET", `/llm/room/${roomId}`, { authorization: `Bearer ${token}` });
    const id = res.headers["x-request-id"];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = logLines.find((l) => l["req_id"] === id && l["msg"] === "request");
    expect(line).toMatchObject({ method: "GET", route: "/llm/room/:id", status: 200, tenant: "acme" });
  });

  it("follows a PATCH: new version in the ETag and the body", async () => {
    const patched = await wire("PATCH", `/llm/room/${roomId}`, { authorization: `Bearer ${token}`, "content-type": "application/json", "if-match": '"1"' }, JSON.stringify({ purpose: "changed" }));
    expect(patched.status).toBe(200);
    const res = await wire("GET", `/llm/room/${roomId}`, { authorization: `Bearer ${token}` });
    expect(res.headers["etag"]).toBe('"2"');
    expect(JSON.parse(res.body)).toMatchObject({ data: { version: 2, purpose: "changed" } });
  });

  it("HEAD gets the same headers and no body", async () => {
    const res = await wire("HEAD", `/llm/room/${roomId}`, { authorization: `Bearer ${token}`, "x-request-id": "head-1" });
    expect(res.status).toBe(200);
    expect(res.headers["etag"]).toBe('"2"');
    expect(res.headers["x-request-id"]).toBe("head-1");
    expect(res.body).toBe("");
  });

  it("errors keep the envelope and X-Request-Id: no token, another tenant's room, a malformed id", async () => {
    const anon = await wire("GET", `/llm/room/${roomId}`, { "x-request-id": "anon-1" });
    expect(anon.status).toBe(401);
    expect(anon.headers["x-request-id"]).toBe("anon-1");
    expect(anon.headers["www-authenticate"]).toMatch(/^Bearer realm=/);
    expect(JSON.parse(anon.body)).toMatchObject({ success: false, code: "AUTH_REQUIRED" });

    const other = await signToken(server.signingKey, { issuer: server.config.auth.issuer, audience: server.config.auth.audience }, { tenant: "globex", sub: "bob", access: "read", ttlS: 3600 });
    const foreign = await wire("GET", `/llm/room/${roomId}`, { authorization: `Bearer ${other}`, "x-request-id": "foreign-1" });
    expect(foreign.status).toBe(404);
    expect(foreign.headers["x-request-id"]).toBe("foreign-1");
    expect(foreign.headers["etag"]).toBeUndefined();
    expect(JSON.parse(foreign.body)).toMatchObject({ success: false, code: "ROOM_NOT_FOUND" });

    const malformed = await wire("GET", "/llm/room/not-a-uuid", { authorization: `Bearer ${token}` });
    expect(malformed.status).toBe(404);
    expect(malformed.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("routing", () => {
  // hono's SmartRouter uses its RegExpRouter (one precompiled match per method and path) unless a single route of
  // the app does not fit it (a param beside a static segment that has its own children, such as
  // /console/assets/:name with /console/:name); then every request of every route goes through the slower
  // TrieRouter. That cost GET /llm/room/:id about 15% of the app's own CPU per request (socket and HTTP parsing
  // aside) before the console's files became one route.
  it("every route of the app fits hono's RegExpRouter, so the app routes with it", async () => {
    // Each route added to those that fit so far, so the one that does not fit is named.
    const fitting: { method: string; path: string }[] = [];
    const unsupported: string[] = [];
    for (const r of server.app.routes) {
      const probe = new RegExpRouter<number>();
      try {
        for (const x of [...fitting, r]) probe.add(x.method, x.path, 0);
        probe.match("GET", "/");
        fitting.push(r);
      } catch {
        unsupported.push(`${r.method} ${r.path}`);
      }
    }
    expect(unsupported).toEqual([]);
    await wire("GET", `/llm/room/${roomId}`, { authorization: `Bearer ${token}` });
    expect((server.app.router as { name: string }).name).toBe("SmartRouter + RegExpRouter");
  });
});
