/**
 * The real server process: /ready turns 200 once it listens and has
 * recovered, and 503 `draining` as soon as SIGTERM arrives, while a running
 * turn keeps the drain going (and /metrics still answers); ending that turn
 * lets the process exit 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.js";
import { runScript, spawnServer } from "../support/process.js";
import { one, parseExposition } from "./exposition.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-ready-drain-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const METRICS_TOKEN = "00112233445566778899aabbccddeeff";

describe("readiness across SIGTERM", () => {
  it("is ready while serving and 503 draining from SIGTERM until the process exits", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    // A grace longer than the test: the drain ends only when the test interrupts the turn.
    const s = await spawnServer({ DATA_DIR: dataDir, METRICS_TOKEN, SHUTDOWN_GRACE_MS: "600000" });
    try {
      const call = async (method: string, url: string, body?: unknown) => {
        const res = await fetch(`${s.base}${url}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const ready = async () => {
        const res = await fetch(`${s.base}/ready`);
        return { status: res.status, body: (await res.json()) as any };
      };

      await eventually(async () => (await ready()).status === 200, 20_000, "ready");
      expect((await ready()).body.data).toEqual({ status: "ready", listening: true, recovered: true });

      // A turn that would run for minutes on its own.
      const slow = { agents: [{ agent_id: "a", options: { token_delay_ms: 1000, reply: Array.from({ length: 500 }, (_, i) => `w${i}`).join(" ") } }] };
      const id = (await call("POST", "/llm/room", slow)).body.data.id as string;
      expect((await call("POST", `/llm/room/${id}/messages`, { content: "go" })).status).toBe(202);
      await eventually(async () => (await call("GET", `/llm/room/${id}/history`)).body.data.events.some((e: any) => e.event_type === "pi:message_update"), 20_000, "streaming");

      s.child.kill("SIGTERM");
      const draining = await eventually(async () => {
        const r = await ready();
        return r.status === 503 ? r : null;
      }, 20_000, "503 from /ready");
      expect(draining.body.data.status).toBe("draining");
      expect((await fetch(`${s.base}/health`)).status).toBe(503);
      // Still scrapeable while draining: the turn is still running.
      const scraped = await fetch(`${s.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(scraped.status).toBe(200);
      expect(one(parseExposition(await scraped.text()), "roomservice_turns_running")).toBe(1);
      expect(s.child.exitCode).toBeNull();

      // Ending the turn ends the drain; the process may close this very connection as it exits, so the answer can be cut.
      const interrupt = await call("POST", `/llm/room/${id}/interrupt`, {}).catch(() => null);
      if (interrupt) expect(interrupt.status).toBe(200);
      expect(await s.exited).toBe(0);
    } finally {
      if (s.child.exitCode === null) s.child.kill("SIGKILL");
    }
  });
});
