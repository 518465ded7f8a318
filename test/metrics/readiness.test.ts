/**
 * GET /ready in-process: 503 `starting` until the listener is up and the
 * boot-time recovery pass has run over every tenant file, 200 `ready` then,
 * 503 `draining` from the moment shutdown begins; /health stays a liveness
 * answer throughout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Readiness } from "../../src/metrics/metrics.readiness.js";
import { startTestServer } from "../support/harness.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-ready-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("Readiness", () => {
  it("is ready only when listening and recovered, and draining wins over both", () => {
    let draining = false;
    const r = new Readiness(() => draining);
    expect(r.state).toBe("starting");
    r.listening();
    expect(r.state).toBe("starting");
    r.recovered();
    expect(r.state).toBe("ready");
    draining = true;
    expect(r.state).toBe("draining");
    const other = new Readiness(() => false);
    other.recovered();
    expect(other.state).toBe("starting");
  });
});

describe("GET /ready", () => {
  it("waits for the listener and the recovery pass, then turns 503 when shutdown begins", async () => {
    // More tenant files than the recovery pass opens in one tick (25), so it is still running right after start.
    const seed = await startTestServer({ dataDir });
    for (let i = 0; i < 30; i++) {
      const token = await seed.token(`tenant_${i}`);
      expect((await seed.json("POST", "/llm/room", { token, body: {} })).status).toBe(201);
    }
    await seed.server.shutdown(2000);

    const t = await startTestServer({ dataDir });
    try {
      const early = await t.json("GET", "/ready");
      expect(early.status).toBe(503);
      expect(early.body).toEqual({ success: true, data: { status: "starting", listening: false, recovered: false } });
      expect((await t.json("GET", "/health")).status).toBe(200);

      await t.server.recovery.done;
      const notListening = await t.json("GET", "/ready");
      expect(notListening.status).toBe(503);
      expect(notListening.body.data).toEqual({ status: "starting", listening: false, recovered: true });

      t.server.readiness.listening(); // what main.ts does from serve()'s callback
      const ready = await t.json("GET", "/ready");
      expect(ready.status).toBe(200);
      expect(ready.body.data).toEqual({ status: "ready", listening: true, recovered: true });
      expect(ready.res.headers.get("cache-control")).toBe("no-store");

      const draining = t.server.shutdown(2000);
      const during = await t.json("GET", "/ready");
      expect(during.status).toBe(503);
      expect(during.body.data.status).toBe("draining");
      await draining;
    } finally {
      await t.close();
    }
  });

  it("needs no credential and is listed in the OpenAPI document next to /health", async () => {
    const t = await startTestServer();
    try {
      await t.server.recovery.done;
      t.server.readiness.listening();
      expect((await t.json("GET", "/ready")).status).toBe(200);
      const doc = (await t.json("GET", "/openapi.json")).body;
      expect(doc.paths["/ready"].get.operationId).toBe("readiness");
      expect(doc.paths["/ready"].get.security).toBeUndefined();
      expect(doc.paths["/metrics"].get.security).toEqual([{ metricsAuth: [] }]);
      expect(doc.components.securitySchemes.metricsAuth).toMatchObject({ type: "http", scheme: "bearer" });
    } finally {
      await t.close();
    }
  });
});
