/**
 * A real full disk: DATA_DIR on a small tmpfs (needs root, as the service's
 * test machines run; skipped where mounting is not allowed). Writes are
 * refused with 503 STORAGE_FULL while it is full, nothing acknowledged is
 * lost, and the same process writes again once space is freed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runScript, spawnServer, type Spawned } from "../support/process.js";

const mountPoint = mkdtempSync(path.join(tmpdir(), "roomservice-tmpfs-"));
let mounted = false;
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", mountPoint], { stdio: "ignore" });
  mounted = true;
} catch {
  // not allowed here: the in-process test (test/app/storage-faults.test.ts) still covers SQLITE_FULL
}

let s: Spawned | undefined;
afterAll(async () => {
  if (s && s.child.exitCode === null) {
    s.child.kill("SIGKILL");
    await s.exited;
  }
  if (mounted) execFileSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

describe.skipIf(!mounted)("a full disk under DATA_DIR", () => {
  it("503 STORAGE_FULL while full, every acknowledged write kept, writes again once space is freed", async () => {
    const dataDir = path.join(mountPoint, "data");
    const token = (await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir })).stdout.trim();
    s = await spawnServer({ DATA_DIR: dataDir });
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await fetch(`${s!.base}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    };
    const room = (await call("POST", "/llm/room", {})).body.data.id;
    // Most of the space goes to a file the operator can delete later.
    writeFileSync(path.join(mountPoint, "filler"), Buffer.alloc(4 * 1024 * 1024));
    const acknowledged: string[] = [];
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 400 && !refused; i++) {
      const r = await call("POST", `/llm/room/${room}/messages`, { kind: "note", content: `${i} ${"n".repeat(30_000)}` });
      if (r.status === 201) acknowledged.push(r.body.data.id);
      else refused = r;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body.code).toBe("STORAGE_FULL");
    expect(refused?.headers.get("retry-after")).not.toBeNull();
    expect((await call("GET", `/llm/room/${room}`)).status).toBe(200);
    expect((await call("GET", "/health")).body.data.storage.full).toBe(true);

    rmSync(path.join(mountPoint, "filler"));
    const after = await call("POST", `/llm/room/${room}/messages`, { kind: "note", content: "space again" });
    expect(after.status).toBe(201);

    // Killed without a clean shutdown, restarted: every acknowledged note is there.
    s.child.kill("SIGKILL");
    await s.exited;
    s = await spawnServer({ DATA_DIR: dataDir });
    const ids: string[] = [];
    let before = "";
    for (let guard = 0; guard < 100; guard++) {
      const page = (await call("GET", `/llm/room/${room}/history?partial_text=false${before}`)).body;
      ids.push(...page.data.messages.map((m: any) => m.id));
      if (!page.meta.messages.has_more) break;
      before = `&messages_before_seq=${page.meta.messages.next_before_seq}`;
    }
    for (const id of [...acknowledged, after.body.data.id]) expect(ids).toContain(id);
    s.child.kill("SIGTERM");
    await s.exited;
  }, 120_000);
});
