/**
 * What a hostile or careless caller sends: random bodies, headers, ids and
 * tokens over every route must never produce a 5xx or another tenant's data.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
let acme: string;
let globexRoom: string;
let acmeRoom: string;
let acmeRun: string;
let acmeStage: string;
let acmeIssue: string;
let globexRun: string;
let routes: Array<{ method: string; path: string }>;

beforeAll(async () => {
  t = await startTestServer({ env: { RATE_LIMIT_RPS: "0" } });
  // As a listening server is: /ready answers 503 only before that (or while draining), which is its job, not a failure.
  await t.server.recovery.done;
  t.server.readiness.listening();
  acme = await t.token("acme");
  const globex = await t.token("globex");
  acmeRoom = (await t.json("POST", "/llm/room", { token: acme, body: {} })).body.data.id;
  globexRoom = (await t.json("POST", "/llm/room", { token: globex, body: { purpose: "GLOBEX-SECRET-PURPOSE", metadata: { name: "globex-private" } } })).body.data.id;
  await t.json("POST", `/llm/room/${globexRoom}/messages`, { token: globex, body: { kind: "note", content: "GLOBEX-SECRET-NOTE" } });
  acmeRun = (await t.json("POST", "/llm/factory/runs", { token: acme, body: { source: { kind: "prompt", format: "markdown", content: "# A\n\n- do a\n- do b (depends on: do a)\n" } } })).body.data.id;
  await t.json("POST", `/llm/factory/runs/${acmeRun}/advance`, { token: acme, body: {} });
  await t.json("POST", `/llm/factory/runs/${acmeRun}/advance`, { token: acme, body: {} });
  acmeStage = (await t.json("GET", `/llm/factory/runs/${acmeRun}/stages`, { token: acme })).body.data[0].id;
  acmeIssue = (await t.json("GET", `/llm/factory/runs/${acmeRun}/issues`, { token: acme })).body.data[1].id;
  globexRun = (
    await t.json("POST", "/llm/factory/runs", { token: globex, body: { title: "GLOBEX-SECRET-RUN", source: { kind: "prompt", format: "text", content: "GLOBEX-SECRET-BRIEF" } } })
  ).body.data.id;
  const doc = (await t.json("GET", "/openapi.json")).body;
  routes = [];
  for (const [p, ops] of Object.entries<any>(doc.paths)) for (const m of Object.keys(ops)) routes.push({ method: m.toUpperCase(), path: p });
});
afterAll(() => t.close());

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const idArb = fc.oneof(
  fc.constant("ROOM"),
  fc.constant("GLOBEX"),
  fc.constant("GLOBEXRUN"),
  fc.uuid(),
  fc.string({ maxLength: 80 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom("..%2F..%2Fetc%2Fpasswd", "%00", "' OR 1=1 --", "0", "-1", "99999999999999999999"),
);
const tokenArb = fc.oneof(
  fc.constant("GOOD"),
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Bearer " + "A".repeat(9000)),
);
const headerArb = fc.dictionary(
  fc.constantFrom("if-match", "idempotency-key", "last-event-id", "content-type", "x-request-id"),
  fc.string({ maxLength: 300 }).filter((s) => !/[\r\n\0]/.test(s) && /^[\x20-\x7e]*$/.test(s)),
  { maxKeys: 3 },
);

describe("hostile input fuzz", () => {
  it("no route answers 5xx or leaks another tenant's data", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), idArb, tokenArb, headerArb, fc.oneof(jsonValue, fc.string({ maxLength: 500 })), async (ri, idSel, tokSel, hdrs, body) => {
        const r = routes[ri % routes.length]!;
        const factory = r.path.startsWith("/llm/factory/");
        const id = idSel === "ROOM" ? (factory ? acmeRun : acmeRoom) : idSel === "GLOBEX" ? globexRoom : idSel === "GLOBEXRUN" ? globexRun : idSel;
        const url = r.path.replace("{id}", id).replace("{stage_id}", idSel === "ROOM" ? acmeStage : id).replace("{issue_id}", idSel === "ROOM" ? acmeIssue : id);
        const headers: Record<string, string> = { ...hdrs };
        if (tokSel === "GOOD") headers["authorization"] = `Bearer ${acme}`;
        else if (tokSel !== undefined) headers["authorization"] = tokSel;
        const init: RequestInit = { method: r.method, headers };
        if (r.method !== "GET") {
          init.body = typeof body === "string" ? body : JSON.stringify(body);
          headers["content-type"] ??= "application/json";
        }
        const ac = new AbortController();
        const res = await t.server.app.request(url, { ...init, signal: ac.signal });
        expect(res.status, `${r.method} ${url}`).toBeLessThan(500);
        const ct = res.headers.get("content-type") ?? "";
        if (ct.includes("event-stream")) {
          ac.abort();
          return;
        }
        const text = await res.text();
        expect(text).not.toContain("GLOBEX-SECRET");
        expect(text).not.toContain(globexRoom);
        expect(text).not.toContain(globexRun);
        // Stack traces would show up in JSON error bodies; the docs pages are prose.
        if (ct.includes("json")) expect(text).not.toMatch(/SqliteError|at Object\.|node_modules\//);
        if (res.status >= 400 && ct.includes("json")) {
          const j = JSON.parse(text);
          expect(j.success).toBe(false);
          expect(typeof j.code).toBe("string");
        }
      }),
      { numRuns: 400, seed: 20261124 },
    );
  }, 120_000);

  it("50 concurrent PATCHes with the same If-Match: exactly one wins", async () => {
    const id = (await t.json("POST", "/llm/room", { token: acme, body: {} })).body.data.id;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.json("PATCH", `/llm/room/${id}`, { token: acme, body: { purpose: `p${i}` }, headers: { "if-match": "1" } })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.body.code === "VERSION_CONFLICT")).toHaveLength(49);
    const room = (await t.json("GET", `/llm/room/${id}`, { token: acme })).body.data;
    expect(room.version).toBe(2);
    expect(room.purpose).toBe(ok[0]!.body.data.purpose);
  });

  it("ids that are not UUIDs are 404", async () => {
    for (const id of ["x", "1", "00000000-0000-0000-0000-00000000000Z", "%2e%2e"]) {
      const res = await t.json("GET", `/llm/room/${id}`, { token: acme });
      expect(res.status).toBe(404);
    }
  });

  it("a huge JSON body does not stall the process (413) and a deep one is 400", async () => {
    const big = `{"purpose": "${"x".repeat(2_000_000)}"}`;
    const res = await t.req("POST", "/llm/room", { token: acme, rawBody: big, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    const deep = `{"metadata": ${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`;
    const res2 = await t.req("POST", "/llm/room", { token: acme, rawBody: deep, headers: { "content-type": "application/json" } });
    expect([400, 413]).toContain(res2.status);
  });
});
