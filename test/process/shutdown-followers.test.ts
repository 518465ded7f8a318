/**
 * SIGTERM with followers attached: the drained turns' last events reach every
 * follower before its stream ends, and the stream ends cleanly (not cut), so
 * a follower has every event that was stored and resumes from there.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readEvents } from "../support/sse-client.js";
import { runScript, spawnServer } from "../support/process.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-sigterm-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("SIGTERM", () => {
  it("flushes every durable event to followers, then ends their streams cleanly", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    const env = { DATA_DIR: dataDir, SHUTDOWN_GRACE_MS: "100", EVENT_COALESCE_MS: "0" };
    let s = await spawnServer(env);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const post = async (url: string, body: unknown) => (await fetch(`${s.base}${url}`, { method: "POST", headers, body: JSON.stringify(body) })).json() as Promise<any>;
    const slow = { agents: [{ agent_id: "a", options: { token_delay_ms: 100, reply: Array.from({ length: 500 }, (_, i) => `w${i}`).join(" ") } }] };
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push((await post("/llm/room", slow)).data.id);
    const followers = await Promise.all(
      rooms.map(async (id) => {
        const res = await fetch(`${s.base}/llm/room/${id}/events?follow=true`, { headers });
        expect(res.status).toBe(200);
        const events: any[] = [];
        let streaming!: () => void;
        const started = new Promise<void>((resolve) => (streaming = resolve));
        const done = readEvents(res.body!, (ev) => {
          events.push(ev);
          if (ev.event_type === "pi:message_update") streaming();
        }).then(
          () => "ended" as const,
          (err) => `failed: ${String(err)}` as const,
        );
        await post(`/llm/room/${id}/messages`, { content: "go" });
        await started;
        return { id, events, done };
      }),
    );

    s.child.kill("SIGTERM");
    expect(await s.exited).toBe(0);
    const stoppedAt = new Date().toISOString();
    for (const f of followers) expect(await f.done, `follower of ${f.id}`).toBe("ended");

    // What was stored, read from the same files by a new server.
    s = await spawnServer(env);
    try {
      for (const f of followers) {
        const h = (await (await fetch(`${s.base}/llm/room/${f.id}/history?partial_text=false`, { headers })).json()) as any;
        // Recovery on the new start may add events (a resting room goes to sleep); those came later.
        const stored = h.data.events.filter((e: any) => e.created_at <= stoppedAt).map((e: any) => e.seq);
        expect(f.events.map((e) => e.seq), `follower of ${f.id}`).toEqual(stored);
        const end = f.events.find((e) => e.event_type === "agent:turn_end");
        expect(end?.payload.status).toBe("interrupted");
      }
    } finally {
      s.child.kill("SIGTERM");
      await s.exited;
    }
  }, 60_000);
});
