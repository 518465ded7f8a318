/**
 * Boot recovery does not hold up start-up: a background pass opens and
 * recovers every tenant on disk, and a request that reaches a tenant first
 * recovers it itself, so no caller ever sees a tenant in its pre-crash state.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, startTestServer } from "../support/harness.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-boot-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const TENANTS = Array.from({ length: 60 }, (_, i) => `tenant_${String(i).padStart(2, "0")}`);

function sleepingEvents(file: string, roomId: string): Array<{ payload: string }> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[string], { payload: string }>("SELECT payload FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) WHERE kind = 'room' AND stream_id = ? AND event_type = 'room:sleeping'").all(roomId);
  } finally {
    db.close();
  }
}

describe("boot recovery across many tenants", () => {
  it("recovers every tenant exactly once, in the background or on first use, and leaves their files closed", async () => {
    const rooms = new Map<string, string>();
    const a = await startTestServer({ dataDir });
    for (const tenant of TENANTS) {
      const token = await a.token(tenant);
      const id = (await a.json("POST", "/llm/room", { token, body: {} })).body.data.id as string;
      await a.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "hello" } });
      rooms.set(tenant, id);
    }
    for (const tenant of TENANTS) {
      const token = await a.token(tenant);
      await eventually(async () => (await a.json("GET", `/llm/room/${rooms.get(tenant)}`, { token })).body.data.status === "idle", 5000, `${tenant} idle`);
    }
    await a.close();

    // The files now hold idle rooms, as after a crash: the next server must put them to sleep.
    const b = await startTestServer({ dataDir });
    try {
      // Asked for at once, every tenant answers recovered, whether or not the pass has reached it yet.
      const asked = [TENANTS[0]!, TENANTS[TENANTS.length - 1]!, TENANTS[30]!];
      for (const tenant of asked) {
        const token = await b.token(tenant);
        const room = (await b.json("GET", `/llm/room/${rooms.get(tenant)}`, { token })).body.data;
        expect(room.status, tenant).toBe("sleeping");
      }
      await b.server.recovery.done;
      for (const tenant of TENANTS) {
        const evs = sleepingEvents(path.join(dataDir, "tenants", `${tenant}.db`), rooms.get(tenant)!);
        expect(evs, tenant).toHaveLength(1);
        expect(JSON.parse(evs[0]!.payload)).toEqual({ reason: "server_restarted" });
      }
      // The pass closes what it opened; only the tenants that were asked for stay open (until idle).
      const open = b.server.tenants.openTenants();
      expect(open.every((t) => asked.includes(t))).toBe(true);
    } finally {
      await b.close();
    }
  });
});
