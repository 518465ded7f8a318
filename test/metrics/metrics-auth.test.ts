/**
 * Who may scrape: METRICS_TOKEN or the operator credential, never a tenant's
 * token (root included); without METRICS_TOKEN only the operator credential.
 * Every refusal is the error envelope with a hint that says what to do.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import { AuthError } from "../../src/auth/tokens.js";
import { loadConfig } from "../../src/config.js";
import { AppError } from "../../src/errors.js";
import { authorizeScrape } from "../../src/metrics/metrics.auth.js";
import { startTestServer, type TestServer } from "../support/harness.js";

const METRICS_TOKEN = "fedcba9876543210".repeat(4);

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const get = (authorization?: string) => t!.json("GET", "/metrics", { headers: authorization ? { authorization } : {} });

describe("GET /metrics with METRICS_TOKEN set", () => {
  it("answers the metrics token and an operator token, and refuses everything else", async () => {
    t = await startTestServer({ env: { METRICS_TOKEN } });
    const ok = await t!.req("GET", "/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("# TYPE roomservice_turns_started_total counter");
    const operator = await t!.req("GET", "/metrics", { token: await t!.token("ops", { sub: "operator", access: "root", operator: true }) });
    expect(operator.status).toBe(200);

    const none = await get();
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, code: "AUTH_REQUIRED" });
    expect(none.body.message).toContain("Authorization: Bearer <METRICS_TOKEN>");
    expect(none.body.message).toContain("npm run -s token -- --operator");
    expect(none.res.headers.get("www-authenticate")).toMatch(/^Bearer /);

    const wrong = await get(`Bearer ${METRICS_TOKEN.slice(1)}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("AUTH_INVALID");

    const notBearer = await get(`Basic ${Buffer.from(`u:${METRICS_TOKEN}`).toString("base64")}`);
    expect(notBearer.status).toBe(401);
    expect(notBearer.body.code).toBe("AUTH_INVALID");
  });

  it("refuses a tenant's token, whatever its access level, with 403", async () => {
    t = await startTestServer({ env: { METRICS_TOKEN } });
    for (const access of ["read", "full", "root"] as const) {
      const res = await get(`Bearer ${await t!.token("acme", { access })}`);
      expect(res.status, access).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
      expect(res.body.message).toContain("tenant's token cannot read /metrics");
      expect(JSON.stringify(res.body)).not.toContain("roomservice_");
    }
    // An operator claim that is a string, not true, is no operator; a token whose signature was tampered with is 401.
    const exp = Math.floor(Date.now() / 1000) + 600;
    const stringClaim = await t!.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp, access: "root", operator: "true" });
    expect((await get(`Bearer ${stringClaim}`)).status).toBe(403);
    const forged = await get(`Bearer ${(await t!.token("acme")).slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
  });
});

describe("GET /metrics without METRICS_TOKEN", () => {
  it("is open to nobody but an operator token, even on a public host, and says how to get in", async () => {
    t = await startTestServer({ env: { HOST: "0.0.0.0" } });
    const none = await get();
    expect(none.status).toBe(401);
    expect(none.body.message).toContain("openssl rand -hex 32");
    expect(none.body.message).toContain("METRICS_TOKEN");
    expect(none.body.message).toContain("npm run -s token -- --operator");
    expect((await get(`Bearer ${METRICS_TOKEN}`)).status).toBe(401);
    expect((await get(`Bearer ${await t!.token("acme", { access: "root" })}`)).status).toBe(403);
    const operator = await t!.req("GET", "/metrics", { token: await t!.token("ops", { sub: "operator", access: "root", operator: true }) });
    expect(operator.status).toBe(200);
    expect(await operator.text()).toContain("roomservice_events_written_total 0");
  });
});

describe("authorizeScrape", () => {
  const principal = (extra: Partial<Principal>): Principal => ({ tenant: "ops", sub: "op", access: "root", exp: 2_000_000_000, operator: false, ...extra });
  const jwt = "aaa.bbb.ccc";

  it("lets the operator credential scrape and refuses a tenant's root token", async () => {
    await expect(authorizeScrape(`Bearer ${jwt}`, { token: null, verify: async () => principal({ operator: true }) })).resolves.toBeUndefined();
    const refused = authorizeScrape(`Bearer ${jwt}`, { token: null, verify: async () => principal({}) });
    await expect(refused).rejects.toBeInstanceOf(AppError);
    await expect(refused).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("passes the verifier's refusal through (401) and never calls it for the metrics token", async () => {
    await expect(authorizeScrape(`Bearer ${jwt}`, { token: null, verify: async () => Promise.reject(new AuthError("AUTH_INVALID", "token has expired")) })).rejects.toMatchObject({
      code: "AUTH_INVALID",
      message: "token has expired",
    });
    let verified = 0;
    await authorizeScrape(`Bearer ${METRICS_TOKEN}`, { token: METRICS_TOKEN, verify: async () => (verified++, principal({})) });
    expect(verified).toBe(0);
  });
});

describe("METRICS_TOKEN", () => {
  it("must be a long token68 secret; a bad one stops the server at start naming the variable", () => {
    expect(loadConfig({ METRICS_TOKEN }).metrics.token).toBe(METRICS_TOKEN);
    expect(loadConfig({}).metrics.token).toBeNull();
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: must be 32 to 512 characters.*openssl rand -hex 32/);
    expect(() => loadConfig({ METRICS_TOKEN: `${"x".repeat(40)} y` })).toThrow(/METRICS_TOKEN/);
  });
});
