/**
 * A crash anywhere between a request's effect and its response must not
 * make a retry with the same Idempotency-Key do the work twice or lose it.
 * The server is killed with SIGKILL at several moments right after a keyed
 * POST was sent (before, during or after its commit); after a restart, the
 * retry must answer 2xx and the room must hold that message exactly once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runScript, spawnServer, type Spawned } from "../support/process.js";

const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-idem-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function send(s: Spawned, token: string, method: string, url: string, body?: unknown, key?: string) {
  return fetch(`${s.base}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(key ? { "idempotency-key": key } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

describe("idempotency across a crash", () => {
  it("a retry after kill -9 at any point of a keyed POST yields exactly one message", async () => {
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    let s = await spawnServer({ DATA_DIR: dataDir });
    const roomId = ((await (await send(s, token, "POST", "/llm/room", { wake_policy: { mode: "manual" } })).json()) as any).data.id as string;
    const outcomes: string[] = [];
    try {
      for (const [i, delayMs] of [0, 1, 2, 4, 8].entries()) {
        const key = `crash-${i}`;
        const content = `note ${i}`;
        const inFlight = send(s, token, "POST", `/llm/room/${roomId}/messages`, { content, kind: "note" }, key).then(
          (r) => r.status,
          () => "no answer",
        );
        await new Promise((r) => setTimeout(r, delayMs));
        s.child.kill("SIGKILL");
        await s.exited;
        const first = await inFlight;
        s = await spawnServer({ DATA_DIR: dataDir });
        const retry = await send(s, token, "POST", `/llm/room/${roomId}/messages`, { content, kind: "note" }, key);
        expect(retry.status, `retry ${i}`).toBeLessThan(300);
        outcomes.push(`${first} → ${retry.status}${retry.headers.get("idempotent-replayed") === "true" ? " replayed" : ""}`);
        const history = ((await (await send(s, token, "GET", `/llm/room/${roomId}/history`)).json()) as any).data;
        expect(history.messages.filter((m: any) => m.content === content), `message ${i} (${outcomes.at(-1)})`).toHaveLength(1);
        // The replayed answer names the same message the room holds.
        const answered = ((await retry.json()) as any).data;
        expect(history.messages.find((m: any) => m.content === content).id).toBe(answered.id);
      }
    } finally {
      s.child.kill("SIGTERM");
      await s.exited;
    }
  }, 240_000); // ten spawned servers through tsx: slow on a loaded two-core machine
});
