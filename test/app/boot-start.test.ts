/**
 * Start-up does not wait for any tenant on disk: createServer returns before
 * the boot recovery pass has opened a single tenant file, requests are
 * answered while the pass runs, and the pass still recovers every tenant.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, startTestServer } from "../support/harness.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-boot-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const TENANTS = Array.from({ length: 8 }, (_, i) => `boot_${i}`);

function sleepingCount(tenant: string): number {
  const db = new Database(path.join(dataDir, "tenants", `${tenant}.db`), { readonly: true });
  try {
    return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = 'room' AND event_type = 'room:sleeping'").get()!.n;
  } finally {
    db.close();
  }
}

describe("start-up with tenants on disk", () => {
  it("returns before recovering any tenant, answers during the pass, and the pass recovers them all", async () => {
    const a = await startTestServer({ dataDir });
    for (const tenant of TENANTS) {
      const token = await a.token(tenant);
      const id = (await a.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
      await a.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } });
      await eventually(async () => (await a.json("GET", `/llm/room/${id}`, { token })).body.data.status === "idle", 5000, `${tenant} idle`);
    }
    await a.close();
    // Idle rooms on disk, as after a crash: recovery puts each to sleep with one room:sleeping event.
    for (const tenant of TENANTS) expect(sleepingCount(tenant), tenant).toBe(0);

    const b = await startTestServer({ dataDir });
    try {
      let recovered = false;
      void b.server.recovery.done.then(() => (recovered = true));
      // Nothing was recovered inside createServer: the pass starts after it returned.
      for (const tenant of TENANTS) expect(sleepingCount(tenant), tenant).toBe(0);
      const health = await b.json("GET", "/health");
      expect(health.status).toBe(200);
      expect(recovered).toBe(false);

      await b.server.recovery.done;
      for (const tenant of TENANTS) expect(sleepingCount(tenant), tenant).toBe(1);
      expect(b.server.tenants.openTenants()).toEqual([]);
    } finally {
      await b.close();
    }
  });
});
