/** Trusting an external issuer through its JWKS, served from 127.0.0.1. */
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let jwks: Server;
let t: TestServer;
let jwksUrl: string;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
const ISSUER = "https://login.example.test/";

beforeAll(async () => {
  const pair = await generateKeyPair("RS256");
  privateKey = pair.privateKey;
  const pub = { ...(await exportJWK(pair.publicKey)), kid: "ext-1", alg: "RS256", use: "sig" };
  jwks = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [pub] }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", () => r()));
  const port = (jwks.address() as { port: number }).port;
  jwksUrl = `http://127.0.0.1:${port}/jwks.json`;
  t = await startTestServer({ env: { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: "rooms-api" } });
});
afterAll(async () => {
  await t.close();
  await new Promise((r) => jwks.close(r));
});

const external = (claims: Record<string, unknown>, aud = "rooms-api", sub = "ext-user") =>
  new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "ext-1" }).setIssuer(ISSUER).setAudience(aud).setSubject(sub).setExpirationTime("5m").sign(privateKey);

describe("external issuer", () => {
  it("accepts a token signed by the external issuer's key, scoped to its tenant claim", async () => {
    const token = await external({ tenant: "acme", access: "edit" });
    const res = await t.json("GET", "/llm/room", { token });
    expect(res.status).toBe(200);
    const local = await t.token("acme");
    expect((await t.json("GET", "/llm/room", { token: local })).status).toBe(200);
  });

  it("refuses the external issuer's token with the wrong audience, no tenant, or the local issuer's name", async () => {
    expect((await t.json("GET", "/llm/room", { token: await external({ tenant: "acme" }, "someone-else") })).status).toBe(401);
    expect((await t.json("GET", "/llm/room", { token: await external({}) })).status).toBe(401);
    const confused = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "RS256", kid: "ext-1" })
      .setIssuer("roomservice")
      .setAudience("roomservice")
      .setSubject("x")
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await t.json("GET", "/llm/room", { token: confused })).status).toBe(401);
  });

  it("gives a token without an access claim least privilege (read) by default", async () => {
    const token = await external({ tenant: "acme" });
    expect((await t.json("GET", "/llm/room", { token })).status).toBe(200);
    const rent = await t.json("POST", "/llm/room", { token, body: {} });
    expect(rent.status).toBe(403);
    expect(rent.body.message).toMatch(/this one has read/);
  });

  it("lets the operator choose that default for the external issuer only", async () => {
    const edit = await startTestServer({ env: { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: "rooms-api", AUTH_EXTERNAL_DEFAULT_ACCESS: "full" } });
    try {
      expect((await edit.json("POST", "/llm/room", { token: await external({ tenant: "acme" }), body: {} })).status).toBe(201);
      // The server's own tokens without the claim stay read.
      const own = await edit.signRaw({ sub: "x", tenant: "acme", iss: "roomservice", aud: "roomservice", exp: Math.floor(Date.now() / 1000) + 600 });
      expect((await edit.json("POST", "/llm/room", { token: own, body: {} })).status).toBe(403);
    } finally {
      await edit.close();
    }
  });

  it("never makes an external token an operator unless AUTH_OPERATOR_SUBJECT names exactly its subject", async () => {
    const claimed = await external({ tenant: "acme", access: "root", operator: true }, "rooms-api", "ops-bot");
    expect((await t.json("GET", "/llm/operator/stop", { token: claimed })).status).toBe(403);
    const ops = await startTestServer({ env: { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: "rooms-api", AUTH_OPERATOR_SUBJECT: "ops-bot" } });
    try {
      expect((await ops.json("GET", "/llm/operator/stop", { token: claimed })).status).toBe(200);
      // Another subject with the claim, or the subject without it, is no operator.
      const otherSub = await external({ tenant: "acme", access: "root", operator: true }, "rooms-api", "ops-bot2");
      expect((await ops.json("GET", "/llm/operator/stop", { token: otherSub })).status).toBe(403);
      const noClaim = await external({ tenant: "acme", access: "root" }, "rooms-api", "ops-bot");
      expect((await ops.json("POST", "/llm/operator/stop", { token: noClaim, body: { active: true } })).status).toBe(403);
    } finally {
      await ops.close();
    }
  });
});
