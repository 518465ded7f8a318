/**
 * kill -9 with turns in flight, restart on the same data: nothing that was
 * acknowledged is lost and every turn ends exactly once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.js";
import { callJson as call, runScript, spawnServer } from "../support/process.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("crash recovery", () => {
  it("after kill -9, in-flight turns end failed SERVER_RESTARTED exactly once and nothing acknowledged is lost", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    let s = await spawnServer({ DATA_DIR: dataDir });
    const slow = { agents: [{ agent_id: "a", options: { token_delay_ms: 200, reply: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ") } }] };
    const busy: string[] = [];
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = (await call(s, token, "POST", "/llm/room", slow)).body.data.id;
      busy.push(id);
      const m = await call(s, token, "POST", `/llm/room/${id}/messages`, { content: `go ${i}` });
      expect(m.status).toBe(202);
      acknowledged.push(m.body.data.id);
    }
    const queued = await call(s, token, "POST", `/llm/room/${busy[0]}/messages`, { content: "queued behind" });
    expect(queued.status).toBe(202);
    expect(queued.body.data.status).toBe("queued");
    acknowledged.push(queued.body.data.id);
    const resting = (await call(s, token, "POST", "/llm/room", {})).body.data.id;
    await call(s, token, "POST", `/llm/room/${resting}/messages`, { content: "quick" });
    await eventually(async () => (await call(s, token, "GET", `/llm/room/${resting}`)).body.data.status === "idle", 10_000, "the quick turn to end");
    // Wait until every busy room has streamed something.
    for (const id of busy) {
      await eventually(
        async () => (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data.events.some((e: any) => e.event_type === "pi:message_update"),
        10_000,
        `room ${id} to stream`,
      );
    }

    s.child.kill("SIGKILL");
    await s.exited;
    s = await spawnServer({ DATA_DIR: dataDir });
    try {
      for (const id of busy) {
        const h = (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data;
        h.events.forEach((e: any, i: number) => expect(e.seq).toBe(i + 1));
        const ends = h.events.filter((e: any) => e.event_type === "agent:turn_end");
        expect(ends).toHaveLength(1);
        expect(ends[0].payload.status).toBe("failed");
        const errs = h.events.filter((e: any) => e.event_type === "error");
        expect(errs).toHaveLength(1);
        expect(errs[0].payload.code).toBe("SERVER_RESTARTED");
        expect(h.room.status).toBe("failed");
        expect(h.room.last_error.code).toBe("SERVER_RESTARTED");
        expect(h.room.active_turn).toBeNull();
      }
      const first = (await call(s, token, "GET", `/llm/room/${busy[0]}/history`)).body.data;
      expect(first.room.queued_message_id).toBe(queued.body.data.id);
      expect(first.messages.find((m: any) => m.id === queued.body.data.id).status).toBe("queued");
      const allIds = new Set<string>();
      for (const id of busy) for (const m of (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data.messages) allIds.add(m.id);
      for (const id of acknowledged) expect(allIds.has(id)).toBe(true);
      const rest = (await call(s, token, "GET", `/llm/room/${resting}`)).body.data;
      expect(rest.status).toBe("sleeping");

      // A second restart changes nothing: recovery is idempotent.
      s.child.kill("SIGKILL");
      await s.exited;
      s = await spawnServer({ DATA_DIR: dataDir });
      const again = (await call(s, token, "GET", `/llm/room/${busy[1]}/history`)).body.data;
      expect(again.events.filter((e: any) => e.event_type === "agent:turn_end")).toHaveLength(1);

      // Wake retries the failed turn; the queued message then runs too.
      await call(s, token, "PATCH", `/llm/room/${busy[0]}`, { agents: [{ agent_id: "a", options: { reply: "ok" } }] });
      const woke = await call(s, token, "POST", `/llm/room/${busy[0]}/wake`, {});
      expect(woke.body.data.status).toBe("active");
      await eventually(
        async () => {
          const h = (await call(s, token, "GET", `/llm/room/${busy[0]}/history`)).body.data;
          return h.room.status === "idle" && h.messages.filter((m: any) => m.kind === "output").length === 2;
        },
        10_000,
        "the retried and the queued turn to end",
      );
      const done = (await call(s, token, "GET", `/llm/room/${busy[0]}/history`)).body.data;
      expect(done.room.status).toBe("idle");
      expect(done.messages.filter((m: any) => m.kind === "output").map((m: any) => m.content)).toEqual(["ok", "ok"]);
    } finally {
      s.child.kill("SIGTERM");
      await s.exited;
    }
  }, 120_000);

  it("SIGTERM drains: a running turn past the grace period ends interrupted and the process exits 0", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "roomservice-drain-"));
    try {
      const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dir })).stdout.trim();
      let s = await spawnServer({ DATA_DIR: dir, SHUTDOWN_GRACE_MS: "300" });
      // A minute per token: the turn is still running when the grace runs out, however slow the machine.
      const id = (await call(s, token, "POST", "/llm/room", { agents: [{ agent_id: "a", options: { token_delay_ms: 60_000, reply: "a b c d e f g h i j k l m n o p" } }] })).body.data.id;
      await call(s, token, "POST", `/llm/room/${id}/messages`, { content: "long" });
      s.child.kill("SIGTERM");
      expect(await s.exited).toBe(0);
      s = await spawnServer({ DATA_DIR: dir });
      try {
        const h = (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data;
        const ends = h.events.filter((e: any) => e.event_type === "agent:turn_end");
        expect(ends.map((e: any) => e.payload.status)).toEqual(["interrupted"]);
        expect(h.events.some((e: any) => e.event_type === "error")).toBe(false);
      } finally {
        s.child.kill("SIGTERM");
        await s.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
