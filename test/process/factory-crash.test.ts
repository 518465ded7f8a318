/**
 * kill -9 with a factory run in flight, restart on the same data: the run
 * resumes where its rows say it stood and completes, with exactly one room
 * task message per issue attempt (the dispatch and its message are one
 * transaction, so a crash can neither repeat nor lose a dispatch).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callJson as call, runScript, spawnServer, type Spawned } from "../support/process.js";
import { readEvents } from "../support/sse-client.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-factory-crash-"));
let server: Spawned | null = null;
afterAll(() => {
  server?.child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls the durable state over HTTP until `check` holds, with a deadline. */
async function until<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("factory crash recovery", () => {
  it("after kill -9 mid-run the restarted server completes the run with one task message per issue attempt", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    server = await spawnServer({ DATA_DIR: dataDir });
    const slow = { agent_id: "a", options: { token_delay_ms: 30, reply: Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ") } };
    const source = "# Crash\n\n- first part\n- second part\n- third part (depends on: first part)\n";
    const created = await call(server, token, "POST", "/llm/factory/runs", { source: { kind: "prompt", format: "markdown", content: source }, agents: [slow] });
    expect(created.status).toBe(201);
    const runId = created.body.data.id;
    expect((await call(server, token, "POST", `/llm/factory/runs/${runId}/start`, {})).status).toBe(200);

    // Wait until the two first issues run in rooms that are streaming.
    await until(async () => {
      const issues = (await call(server!, token, "GET", `/llm/factory/runs/${runId}/issues`)).body.data;
      const running = issues.filter((i: any) => i.status === "running");
      if (running.length < 2) return false;
      for (const i of running) {
        const h = (await call(server!, token, "GET", `/llm/room/${i.assigned_room_id}/history`)).body.data;
        if (!h.events.some((e: any) => e.event_type === "pi:message_update")) return false;
      }
      return true;
    }, "two issues streaming");

    server.child.kill("SIGKILL");
    await server.exited;
    server = await spawnServer({ DATA_DIR: dataDir });

    // Follow the run to its end on the restarted server (the stream ends after run:finished).
    const res = await fetch(`${server.base}/llm/factory/runs/${runId}/events?follow=true`, { headers: { authorization: `Bearer ${token}` } });
    const events: any[] = [];
    await readEvents(res.body!, (ev) => void events.push(ev));
    events.forEach((e, i) => expect(e.seq).toBe(i + 1));
    expect(events[events.length - 1]).toMatchObject({ event_type: "run:finished", payload: { status: "completed" } });

    const issues = (await call(server, token, "GET", `/llm/factory/runs/${runId}/issues`)).body.data;
    expect(issues.map((i: any) => i.status)).toEqual(["passed", "passed", "passed"]);
    // The two issues cut off by the crash took a second attempt; the third ran once.
    expect(issues.map((i: any) => i.attempts)).toEqual([2, 2, 1]);

    const rooms = (await call(server, token, "GET", "/llm/room?status=rented,active,idle,sleeping,releasing,released,failed&limit=200")).body.data.filter((r: any) => r.metadata.run_id === runId);
    const dispatched = events.filter((e) => e.event_type === "issue:dispatched");
    expect(rooms).toHaveLength(dispatched.length);
    expect(dispatched).toHaveLength(issues.reduce((n: number, i: any) => n + i.attempts, 0));
    for (const room of rooms) {
      expect(room.status).toBe("released");
      const h = (await call(server, token, "GET", `/llm/room/${room.id}/history`)).body.data;
      expect(h.messages.filter((m: any) => m.kind === "task")).toHaveLength(1);
    }
    const interrupted = rooms.filter((r: any) => r.last_error?.code === "SERVER_RESTARTED");
    expect(interrupted).toHaveLength(2);
    const run = (await call(server, token, "GET", `/llm/factory/runs/${runId}`)).body.data;
    expect(run.active_room_ids).toEqual([]);
    server.child.kill("SIGTERM");
    await server.exited;
    server = null;
  }, 120_000);
});
