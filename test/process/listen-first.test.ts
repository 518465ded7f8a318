/**
 * Start-up on a port that is taken: one line naming PORT and HOST, a non-zero
 * exit, and the data directory untouched (no lock taken, nothing recovered).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnServer } from "../support/process.js";

const parent = mkdtempSync(path.join(tmpdir(), "roomservice-listen-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe("listening comes first", () => {
  it("a port in use fails cleanly with one line naming PORT and HOST, before DATA_DIR is touched", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = path.join(parent, "data");
    try {
      const s = await spawnServer({ DATA_DIR: dataDir, PORT: String(port) }, { waitHealthy: false });
      expect(await s.exited).toBe(4);
      const lines = s.output().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^roomservice: cannot listen on 127\.0\.0\.1:\d+ \(HOST=127\.0\.0\.1, PORT=\d+\): the address is already in use/);
      expect(lines[0]).toContain(`PORT=${port}`);
      expect(s.output()).not.toMatch(/\n\s+at /);
      // No lock file, no key, no tenant directory: nothing was opened or recovered.
      expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
