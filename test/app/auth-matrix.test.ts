/**
 * One auth and tenancy matrix over every protected route, taken from the
 * OpenAPI document so a new route is covered the moment it is added.
 */
import { generateKeyPairSync, createHmac } from "node:crypto";
import { SignJWT, base64url } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let acmeRoom: string;
let otherRoom: string;
let acmeRun: string;
let otherRun: string;
let routes: Array<{ method: string; path: string }>;

/** A route with real ids: a room of `tenant` for room routes, a factory run of `tenant` for factory routes. */
function concrete(p: string, roomId: string, runId = roomId === otherRoom ? otherRun : acmeRun): string {
  const id = p.startsWith("/llm/factory/") ? runId : roomId;
  return p.replace("{id}", id).replace(/\{[a-z_]+\}/g, "00000000-0000-4000-8000-000000000000");
}

const notFoundCode = (p: string) => (p.startsWith("/llm/factory/") ? "RUN_NOT_FOUND" : "ROOM_NOT_FOUND");

beforeAll(async () => {
  t = await startTestServer();
  const acme = await t.token("acme");
  const globex = await t.token("globex");
  acmeRoom = (await t.json("POST", "/llm/room", { token: acme, body: {} })).body.data.id;
  otherRoom = (await t.json("POST", "/llm/room", { token: globex, body: {} })).body.data.id;
  const source = { kind: "prompt", format: "text", content: "Say hello" };
  acmeRun = (await t.json("POST", "/llm/factory/runs", { token: acme, body: { source } })).body.data.id;
  otherRun = (await t.json("POST", "/llm/factory/runs", { token: globex, body: { source } })).body.data.id;
  const doc = (await t.json("GET", "/openapi.json")).body;
  routes = [];
  for (const [p, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      if (op.security && op.security.length > 0) routes.push({ method: method.toUpperCase(), path: p });
    }
  }
});
afterAll(() => t.close());

async function expect401(token: string | null, raw?: string) {
  for (const r of routes) {
    const headers: Record<string, string> = {};
    if (raw !== undefined) headers["authorization"] = raw;
    const res = await t.req(r.method, concrete(r.path, acmeRoom), { ...(token ? { token } : {}), headers, ...(r.method === "GET" ? {} : { body: {} }) });
    expect(res.status, `${r.method} ${r.path}`).toBe(401);
    const body = (await res.json()) as { success: boolean; code: string };
    expect(body.success).toBe(false);
    expect(["AUTH_REQUIRED", "AUTH_INVALID"]).toContain(body.code);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    if (token || raw) expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  }
}

describe("auth matrix over every protected route", () => {
  it("covers the room and factory routes", () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const want of ["GET /llm/room", "POST /llm/room", "GET /llm/room/{id}", "PATCH /llm/room/{id}", "POST /llm/room/{id}/messages", "POST /llm/room/{id}/release"]) {
      expect(names).toContain(want);
    }
    for (const want of [
      "GET /llm/factory/runs",
      "POST /llm/factory/runs",
      "GET /llm/factory/runs/{id}",
      "POST /llm/factory/runs/{id}/start",
      "POST /llm/factory/runs/{id}/cancel",
      "GET /llm/factory/runs/{id}/status",
      "GET /llm/factory/runs/{id}/stages",
      "POST /llm/factory/runs/{id}/stages",
      "PATCH /llm/factory/runs/{id}/stages/{stage_id}",
      "GET /llm/factory/runs/{id}/issues",
      "POST /llm/factory/runs/{id}/issues",
      "PATCH /llm/factory/runs/{id}/issues/{issue_id}",
      "POST /llm/factory/runs/{id}/issues/{issue_id}/dispatch",
      "GET /llm/factory/runs/{id}/artifacts",
      "POST /llm/factory/runs/{id}/artifacts",
      "GET /llm/factory/runs/{id}/checkpoints",
      "POST /llm/factory/runs/{id}/checkpoints",
      "POST /llm/factory/runs/{id}/advance",
      "POST /llm/factory/runs/{id}/verify",
      "POST /llm/factory/runs/{id}/gate-check",
      "POST /llm/factory/runs/{id}/gates",
      "GET /llm/factory/runs/{id}/review",
      "GET /llm/factory/runs/{id}/events",
    ]) {
      expect(names).toContain(want);
    }
  });

  it("no token is 401 AUTH_REQUIRED", () => expect401(null));
  it("a garbage token is 401", () => expect401("not-a-jwt"));
  it("a non-Bearer scheme is 401", () => expect401(null, "Basic YWxhZGRpbjpvcGVuc2VzYW1l"));

  it("alg none is 401", async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const payload = base64url.encode(JSON.stringify({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 }));
    await expect401(`${header}.${payload}.`);
  });

  it("HS256 signed with the public key (algorithm confusion) is 401", async () => {
    const pub = JSON.stringify(t.server.signingKey.publicJwk);
    const header = base64url.encode(JSON.stringify({ alg: "HS256", typ: "JWT", kid: t.server.signingKey.kid }));
    const payload = base64url.encode(JSON.stringify({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 }));
    const sig = createHmac("sha256", pub).update(`${header}.${payload}`).digest("base64url");
    await expect401(`${header}.${payload}.${sig}`);
  });

  it("a token signed by another RSA key with our kid is 401", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forged = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "RS256", kid: t.server.signingKey.kid })
      .setSubject("x")
      .setIssuer("roomservice")
      .setAudience("roomservice")
      .setExpirationTime("10m")
      .sign(privateKey);
    await expect401(forged);
  });

  it("an expired token is 401", async () => {
    const exp = Math.floor(Date.now() / 1000) - 120; // beyond the 30 s skew
    await expect401(await t.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp }));
  });

  it("a token without exp is 401", async () => {
    await expect401(await t.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice" }));
  });

  it("a token without sub is 401", async () => {
    await expect401(await t.signRaw({ tenant: "acme", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 }));
  });

  it("a wrong issuer or audience is 401", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    await expect401(await t.signRaw({ sub: "x", tenant: "acme", iss: "evil", aud: "roomservice", exp }));
    await expect401(await t.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "other", exp }));
  });

  it("a bad tenant claim is 401", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    await expect401(await t.signRaw({ sub: "x", tenant: "../etc", iss: "roomservice", aud: "roomservice", exp }));
    await expect401(await t.signRaw({ sub: "x", tenant: "ACME", iss: "roomservice", aud: "roomservice", exp }));
  });

  it("a tampered payload is 401", async () => {
    const good = await t.token("acme");
    const [h, , s] = good.split(".");
    const evil = base64url.encode(JSON.stringify({ sub: "x", tenant: "globex", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 }));
    await expect401(`${h}.${evil}.${s}`);
  });

  it("a token within the clock skew still works", async () => {
    const exp = Math.floor(Date.now() / 1000) - 5;
    const token = await t.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp });
    expect((await t.json("GET", "/llm/room", { token })).status).toBe(200);
  });

  it("read access on every mutating route is 403", async () => {
    const token = await t.token("acme", { access: "read" });
    for (const r of routes.filter((x) => x.method !== "GET")) {
      const res = await t.json(r.method, concrete(r.path, acmeRoom), { token, body: {} });
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
    }
    // Operator routes need an operator token; /metrics refuses every tenant token too (its own matrix: test/metrics/metrics-auth.test.ts).
    const operatorOnly = (p: string) => p.startsWith("/llm/operator/") || p === "/metrics";
    for (const r of routes.filter((x) => x.method === "GET" && !x.path.endsWith("/events"))) {
      const res = await t.req("GET", concrete(r.path, acmeRoom), { token });
      // A read token reads: every GET answers as it would for any token (the message route's placeholder id is 404).
      expect(res.status, `${r.method} ${r.path}`).toBe(operatorOnly(r.path) ? 403 : r.path.includes("{message_id}") ? 404 : 200);
    }
  });

  it("operator routes need an operator token: any tenant token, root included, is 403; the operator token is allowed", async () => {
    const operatorRoutes = routes.filter((x) => x.path.startsWith("/llm/operator/"));
    expect(operatorRoutes.length).toBeGreaterThan(0);
    for (const access of ["full", "root"] as const) {
      const token = await t.token("acme", { access });
      for (const r of operatorRoutes) {
        const denied = await t.json(r.method, r.path, { token, ...(r.method === "GET" ? {} : { body: { active: true, reason: "tenant tries" } }) });
        expect(denied.status, `${r.method} ${r.path} with ${access}`).toBe(403);
        expect(denied.body.code).toBe("FORBIDDEN");
        expect(denied.body.message).toContain("npm run -s token -- --operator");
      }
    }
    // A root token that merely claims `operator` as a string, or signed for the claim by another key, is no operator.
    const exp = Math.floor(Date.now() / 1000) + 600;
    const stringClaim = await t.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp, access: "root", operator: "true" });
    expect((await t.json("POST", "/llm/operator/stop", { token: stringClaim, body: { active: true } })).status).toBe(403);
    expect((await t.json("GET", "/llm/operator/stop", { token: await t.token("acme") })).body.data).toBeUndefined();

    const operator = await t.token("ops", { sub: "operator", access: "root", operator: true });
    expect((await t.json("GET", "/llm/operator/stop", { token: operator })).body.data).toEqual({ active: false, reason: null, since: null });
    const on = await t.json("POST", "/llm/operator/stop", { token: operator, body: { active: true, reason: "drill" } });
    expect(on.status).toBe(200);
    expect(on.body.data.active).toBe(true);
    const off = await t.json("POST", "/llm/operator/stop", { token: operator, body: { active: false } });
    expect(off.body.data.active).toBe(false);
  });

  it("another tenant's room or run is 404 on every route that names one, and unchanged", async () => {
    const token = await t.token("acme");
    const validBody = (p: string): Record<string, unknown> => {
      if (p.endsWith("/messages")) return { content: "hi" };
      if (p.endsWith("/stages")) return { stage_name: "s" };
      if (p.endsWith("/issues")) return { stage_id: "00000000-0000-4000-8000-000000000000", title: "t" };
      if (p.endsWith("/artifacts")) return { artifact_type: "note", payload: {} };
      if (p.endsWith("/checkpoints")) return { status: "ok" };
      if (p.endsWith("/gates")) return { gate_name: "human_review", verdict: "pass" };
      if (p.endsWith("/actors")) return { agent_id: "intruder" };
      if (p.endsWith("/context")) return { name: "n", content: "c" };
      return {};
    };
    for (const r of routes.filter((x) => x.path.includes("{id}"))) {
      const res = await t.json(r.method, concrete(r.path, otherRoom), { token, ...(r.method === "GET" ? {} : { body: validBody(r.path) }) });
      expect(res.status, `${r.method} ${r.path}`).toBe(404);
      expect(res.body.code, `${r.method} ${r.path}`).toBe(notFoundCode(r.path));
    }
    const globex = await t.token("globex");
    const still = await t.json("GET", `/llm/room/${otherRoom}`, { token: globex });
    expect(still.body.data.status).toBe("rented");
    expect(still.body.data.version).toBe(1);
    const run = await t.json("GET", `/llm/factory/runs/${otherRun}`, { token: globex });
    expect(run.body.data.status).toBe("pending");
    expect(run.body.data.version).toBe(1);
    const events = await t.req("GET", `/llm/factory/runs/${otherRun}/events`, { token: globex });
    expect((await events.text()).match(/^event: /gm)).toHaveLength(1);
  });
});
