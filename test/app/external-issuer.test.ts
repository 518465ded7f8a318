/** Trusting an external issuer through its JWKS, served from 127.0.0.1. */
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

let jwks: Server;
let t: TestServer;
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
  t = await startTestServer({ env: { AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: "rooms-api" } });
});
afterAll(async () => {
  await t.close();
  await new Promise((r) => jwks.close(r));
});

const external = (claims: Record<string, unknown>, aud = "rooms-api") =>
  new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "ext-1" }).setIssuer(ISSUER).setAudience(aud).setSubject("ext-user").setExpirationTime("5m").sign(privateKey);

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
});
