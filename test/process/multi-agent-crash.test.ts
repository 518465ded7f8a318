/**
 * kill -9 in the middle of a multi-actor, multi-round message, then restart
 * on the same data. The chosen rule: the running turn ends `failed`
 * SERVER_RESTARTED (as any turn cut off by a crash) and the message's
 * remaining turns are *cancelled* (one `message:cancelled`, reason
 * SERVER_RESTARTED), never run later and never run twice; a wake runs what
 * was queued behind it, not the rest of the cancelled message.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.js";
import { callJson as call, runScript, spawnServer } from "../support/process.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-multi-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("kill -9 mid-sequence", () => {
  it("the running turn ends failed once, the remaining turns are cancelled once and never run, the queued message still runs", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    let s = await spawnServer({ DATA_DIR: dataDir });
    try {
      const slow = { token_delay_ms: 200, reply: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ") };
      const id = (await call(s, token, "POST", "/llm/room", { agents: [{ agent_id: "a", options: { reply: "a is quick" } }, { agent_id: "b", options: slow }] })).body.data.id;
      const m = await call(s, token, "POST", `/llm/room/${id}/messages`, { content: "discuss", mentions: ["a", "b"], rounds: 1 });
      expect(m.status).toBe(202);
      const queued = await call(s, token, "POST", `/llm/room/${id}/messages`, { content: "behind", actor: "a" });
      expect(queued.body.data.status).toBe("queued");
      // Cut off while b's first turn streams: step 2 of 4.
      await eventually(
        async () => (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data.events.some((e: any) => e.event_type === "pi:message_update" && e.agent_key === "b"),
        20_000,
        "b to stream",
      );
      s.child.kill("SIGKILL");
      await s.exited;

      s = await spawnServer({ DATA_DIR: dataDir });
      const h = (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data;
      h.events.forEach((e: any, i: number) => expect(e.seq).toBe(i + 1));
      const starts = h.events.filter((e: any) => e.event_type === "agent:turn_start");
      const ends = h.events.filter((e: any) => e.event_type === "agent:turn_end");
      expect(starts.map((e: any) => e.agent_key)).toEqual(["a", "b"]);
      expect(ends.map((e: any) => [e.agent_key, e.payload.status])).toEqual([
        ["a", "completed"],
        ["b", "failed"],
      ]);
      expect(ends.map((e: any) => e.turn_id)).toEqual(starts.map((e: any) => e.turn_id));
      const cancelled = h.events.filter((e: any) => e.event_type === "message:cancelled");
      expect(cancelled.map((e: any) => e.payload)).toEqual([{ message_id: m.body.data.id, reason: "SERVER_RESTARTED", turns_run: 2 }]);
      expect(h.events.some((e: any) => e.event_type === "message:completed")).toBe(false);
      expect(h.room.status).toBe("failed");
      expect(h.room.queued_message_id).toBe(queued.body.data.id);
      expect(h.messages.find((x: any) => x.id === m.body.data.id).status).toBe("failed");

      // A second crash and restart changes nothing.
      s.child.kill("SIGKILL");
      await s.exited;
      s = await spawnServer({ DATA_DIR: dataDir });
      expect((await call(s, token, "GET", `/llm/room/${id}/history`)).body.data.events).toHaveLength(h.events.length);

      // Wake runs the queued message, not the cancelled rest of the sequence.
      const woke = await call(s, token, "POST", `/llm/room/${id}/wake`, {});
      expect(woke.status).toBe(200);
      const done = await call(s, token, "GET", `/llm/room/${id}/messages/${queued.body.data.id}?wait=30`);
      expect(done.body.data.done).toBe(true);
      expect(done.body.data.output.content).toBe("a is quick");
      const after = (await call(s, token, "GET", `/llm/room/${id}/history`)).body.data;
      const startsAfter = after.events.filter((e: any) => e.event_type === "agent:turn_start");
      expect(startsAfter.filter((e: any) => e.payload.message_id === m.body.data.id)).toHaveLength(2);
      expect(startsAfter).toHaveLength(3);
      expect(after.room.status).toBe("idle");
    } finally {
      s.child.kill("SIGTERM");
      await s.exited;
    }
  }, 120_000);
});
