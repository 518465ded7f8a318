import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("has embedded defaults for every setting", () => {
    const c = loadConfig({});
    expect(c.host).toBe("127.0.0.1");
    expect(c.port).toBe(8787);
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.auth.external).toBeNull();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.auth)).toBe(true);
  });

  it("names every bad variable", () => {
    try {
      loadConfig({ PORT: "x", BODY_LIMIT_BYTES: "-1" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/BODY_LIMIT_BYTES/);
    }
  });

  it("bounds the SQLite page cache per open file", () => {
    expect(loadConfig({}).storage.cacheKib).toBe(2048);
    expect(loadConfig({ SQLITE_CACHE_KIB: "512" }).storage.cacheKib).toBe(512);
    expect(() => loadConfig({ SQLITE_CACHE_KIB: "8" })).toThrow(/SQLITE_CACHE_KIB/);
  });

  it("requires the external issuer settings together", () => {
    expect(() => loadConfig({ AUTH_JWKS_URL: "https://issuer.example/jwks" })).toThrow(/together/);
    const c = loadConfig({ AUTH_JWKS_URL: "https://issuer.example/jwks", AUTH_ISSUER: "https://issuer.example/", AUTH_AUDIENCE: "rooms" });
    expect(c.auth.external).toEqual({ jwksUrl: "https://issuer.example/jwks", issuer: "https://issuer.example/", audience: "rooms", defaultAccess: "read", operatorSubject: null });
  });

  it("caps token lifetimes at 30 days by default, configurably", () => {
    expect(loadConfig({}).auth.maxTokenTtlS).toBe(30 * 86_400);
    expect(loadConfig({ AUTH_MAX_TOKEN_TTL_S: "3600" }).auth.maxTokenTtlS).toBe(3600);
    expect(() => loadConfig({ AUTH_MAX_TOKEN_TTL_S: "0" })).toThrow(/AUTH_MAX_TOKEN_TTL_S/);
  });

  it("takes the external issuer's default access and operator subject, and refuses an operator subject without an external issuer", () => {
    const ext = { AUTH_JWKS_URL: "https://issuer.example/jwks", AUTH_ISSUER: "https://issuer.example/", AUTH_AUDIENCE: "rooms" };
    const c = loadConfig({ ...ext, AUTH_EXTERNAL_DEFAULT_ACCESS: "edit", AUTH_OPERATOR_SUBJECT: "ops-bot" });
    expect(c.auth.external).toMatchObject({ defaultAccess: "edit", operatorSubject: "ops-bot" });
    expect(() => loadConfig({ ...ext, AUTH_EXTERNAL_DEFAULT_ACCESS: "root" })).toThrow(/AUTH_EXTERNAL_DEFAULT_ACCESS/);
    expect(() => loadConfig({ AUTH_OPERATOR_SUBJECT: "ops-bot" })).toThrow(/AUTH_OPERATOR_SUBJECT.*AUTH_JWKS_URL/s);
  });
});
