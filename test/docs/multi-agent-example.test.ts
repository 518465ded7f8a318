/**
 * The "Several agents in one room" curl session of /docs/llm/room runs as
 * printed: taken from the page a spawned server serves (so BASE is that
 * server), run by bash in the repository with the server's DATA_DIR, as a
 * reader of a fresh clone would, and its output is what the page says.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, spawnServer, type Spawned } from "../support/process.js";

let s: Spawned;
const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-multi-doc-"));
beforeAll(async () => {
  s = await spawnServer({ DATA_DIR: dataDir });
}, 90_000);
afterAll(async () => {
  s.child.kill("SIGTERM");
  await s.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

function bash(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", script], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("the multi-agent curl example", () => {
  it("runs on a fresh data dir with the built-in model and prints what the page says", async () => {
    const page = await (await fetch(`${s.base}/docs/llm/room`)).text();
    const section = page.slice(page.indexOf("## Several agents in one room"));
    const script = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    expect(script).toContain(`BASE=${s.base}`);
    const run = await bash(`set -euo pipefail\n${script}`, { DATA_DIR: dataDir });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([
      "done",
      "planner: Echo: Design the cache",
      "critic: Echo: [planner]: Echo: Design the cache",
      "planner: Echo: [critic]: Echo: [planner]: Echo: Design the cache",
      "critic: Echo: [planner]: Echo: [critic]: Echo: [planner]: Echo: Design the cache",
      "agent:turn_end planner",
      "agent:turn_end critic",
      "agent:turn_end planner",
      "agent:turn_end critic",
      "message:completed",
      "version 3: planner, critic (muted), coder",
      "note",
      "coder: Echo: Write it",
    ]);
  }, 120_000);
});
