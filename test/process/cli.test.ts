import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { runScript, spawnServer } from "../support/process.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "roomservice-proc-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("npm run token", () => {
  it("prints only a JWT, creates the key with mode 0600, and the server accepts it", async () => {
    const dataDir = tmp();
    const out = await runScript("scripts/token.ts", ["--tenant", "acme", "--sub", "alice", "--access", "edit", "--ttl", "600"], { DATA_DIR: dataDir });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const claims = decodeJwt(out.stdout.trim());
    expect(claims).toMatchObject({ tenant: "acme", sub: "alice", access: "edit", iss: "roomservice", aud: "roomservice" });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(statSync(path.join(dataDir, "keys", "signing-key.jwk.json")).mode & 0o777).toBe(0o600);

    const server = await spawnServer({ DATA_DIR: dataDir });
    try {
      const res = await fetch(`${server.base}/llm/room`, { headers: { authorization: `Bearer ${out.stdout.trim()}` } });
      expect(res.status).toBe(200);
      // Minted while the server runs, too.
      const again = await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir });
      const res2 = await fetch(`${server.base}/llm/room`, { headers: { authorization: `Bearer ${again.stdout.trim()}` } });
      expect(res2.status).toBe(200);
      // A second server on the same DATA_DIR refuses to start, with a clear message.
      const second = await spawnServer({ DATA_DIR: dataDir }, { waitHealthy: false });
      expect(await second.exited).toBe(3);
      expect(second.output()).toMatch(/another server is already running on DATA_DIR/);
    } finally {
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    }
  }, 120_000); // two token runs and two spawned servers: slow on a loaded two-core machine

  it("--operator mints the operator claim; a new key is announced on stderr, never on stdout", async () => {
    const dataDir = tmp();
    const first = await runScript("scripts/token.ts", ["--operator"], { DATA_DIR: dataDir });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    expect(first.stderr).toMatch(/made a new signing key at .*signing-key\.jwk\.json.*different DATA_DIR/s);
    expect(decodeJwt(first.stdout.trim())).toMatchObject({ operator: true, tenant: "operator", sub: "operator", access: "root" });
    const plain = await runScript("scripts/token.ts", ["--tenant", "acme"], { DATA_DIR: dataDir });
    expect(plain.stderr).toBe("");
    expect(decodeJwt(plain.stdout.trim())["operator"]).toBeUndefined();
  });

  it("refuses a --ttl over AUTH_MAX_TOKEN_TTL_S", async () => {
    const dataDir = tmp();
    const out = await runScript("scripts/token.ts", ["--tenant", "acme", "--ttl", "7200"], { DATA_DIR: dataDir, AUTH_MAX_TOKEN_TTL_S: "3600" });
    expect(out.code).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/between 1 and 3600 \(AUTH_MAX_TOKEN_TTL_S\)/);
  });

  it("refuses bad arguments on stderr with a non-zero exit", async () => {
    const dataDir = tmp();
    for (const args of [[], ["--tenant", "Bad Tenant"], ["--tenant", "acme", "--access", "god"], ["--tenant", "acme", "--ttl", "-5"]]) {
      const out = await runScript("scripts/token.ts", args, { DATA_DIR: dataDir });
      expect(out.code, args.join(" ")).toBe(2);
      expect(out.stdout).toBe("");
      expect(out.stderr).toMatch(/usage/);
    }
  }, 120_000); // four runs of the script
});

describe("configuration", () => {
  it("a bad value stops the process at start naming the variable", async () => {
    const s = await spawnServer({ DATA_DIR: tmp(), PORT: "80000" }, { waitHealthy: false });
    expect(await s.exited).toBe(2);
    expect(s.output()).toMatch(/PORT/);
    const s2 = await spawnServer({ DATA_DIR: tmp(), LOG_LEVEL: "loud" }, { waitHealthy: false });
    expect(await s2.exited).toBe(2);
    expect(s2.output()).toMatch(/LOG_LEVEL/);
  });
});
