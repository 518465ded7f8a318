/**
 * What a caller is told and granted for the tokens it brings: least privilege
 * without an access claim, a capped lifetime, and 401 messages whose hints
 * work when pasted into a shell.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateSigningKey } from "../../src/auth/keys.js";
import { signToken } from "../../src/auth/tokens.js";
import { startTestServer, type TestServer } from "../support/harness.js";

let t: TestServer;
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp: now() + 600, ...extra });

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

describe("a token without an access claim", () => {
  it("may read but not write (least privilege)", async () => {
    const token = await t.signRaw(claims());
    expect((await t.json("GET", "/llm/room", { token })).status).toBe(200);
    const rent = await t.json("POST", "/llm/room", { token, body: {} });
    expect(rent.status).toBe(403);
    expect(rent.body.message).toContain("needs a token with access full or higher; this one has read");
  });
});

describe("token lifetime", () => {
  it("refuses a token that expires years from now, naming the cap", async () => {
    const token = await t.signRaw(claims({ access: "full", exp: now() + 5 * 365 * 86_400 }));
    const res = await t.json("GET", "/llm/room", { token });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("AUTH_INVALID");
    expect(res.body.message).toContain("AUTH_MAX_TOKEN_TTL_S");
  });

  it("accepts one within the default 30 days, and the cap is configurable", async () => {
    const month = await t.signRaw(claims({ access: "full", exp: now() + 29 * 86_400 }));
    expect((await t.json("GET", "/llm/room", { token: month })).status).toBe(200);
    const short = await startTestServer({ env: { AUTH_MAX_TOKEN_TTL_S: "600" } });
    try {
      expect((await short.json("GET", "/llm/room", { token: await short.token("acme", { ttlS: 590 }) })).status).toBe(200);
      const hour = await short.json("GET", "/llm/room", { token: await short.token("acme", { ttlS: 3600 }) });
      expect(hour.status).toBe(401);
      expect(hour.body.message).toMatch(/within 600 s/);
    } finally {
      await short.close();
    }
  });
});

describe("401 hints", () => {
  it("no token: the hint is the silent token command, which prints only the JWT", async () => {
    const res = await t.json("POST", "/llm/room", { body: {} });
    expect(res.status).toBe(401);
    expect(res.body.message).toContain("npm run -s token -- --tenant acme");
    expect(res.body.message).not.toMatch(/npm run token/);
  });

  it("a token minted with another DATA_DIR says the key is unknown and how to mint one the server accepts", async () => {
    const other = mkdtempSync(path.join(tmpdir(), "roomservice-otherkey-"));
    try {
      const key = await loadOrCreateSigningKey(other);
      const token = await signToken(key, { issuer: "roomservice", audience: "roomservice" }, { tenant: "acme", sub: "alice", access: "full", ttlS: 600 });
      const res = await t.json("GET", "/llm/room", { token });
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/signed by a key this server does not know/);
      expect(res.body.message).toContain("DATA_DIR");
      expect(res.body.message).toContain("npm run -s token -- --tenant acme");
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("an expired token says how to get a new one", async () => {
    const token = await t.signRaw(claims({ exp: now() - 120 }));
    const res = await t.json("GET", "/llm/room", { token });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/^token has expired; get a new one: `npm run -s token -- --tenant acme`/);
  });
});
