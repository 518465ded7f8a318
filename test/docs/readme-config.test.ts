/** The README's configuration table is the config schema, every variable the server reads, with its real default. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configVariables, envSchema, loadConfig } from "../../src/config.js";
import { renderConfigTable, withConfigTable } from "../../src/docs/docs.config.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");

describe("README configuration table", () => {
  it("is the table rendered from the config schema (run `npm run openapi` after changing src/config.ts)", () => {
    expect(readme).toContain(renderConfigTable());
    expect(withConfigTable(readme)).toBe(readme);
  });

  it("has a row for every variable src/config.ts reads, including the limits and budget", () => {
    const source = readFileSync(path.join(ROOT, "src/config.ts"), "utf8");
    const read = new Set([...source.matchAll(/\be\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(30);
    for (const name of [...read, ...Object.keys(envSchema.shape)]) expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` \\|`, "m"));
    for (const name of ["RATE_LIMIT_RPS", "RATE_LIMIT_BURST", "MAX_ROOMS_PER_TENANT", "MAX_MESSAGE_CHARS", "MAX_ACTIVE_TURNS", "MAX_FOLLOWERS_PER_ROOM", "TENANT_DAILY_TOKEN_BUDGET"]) {
      expect(read.has(name), name).toBe(true);
    }
  });

  it("shows the defaults the server really runs with", () => {
    const config = loadConfig({});
    const byName = Object.fromEntries(configVariables().map((v) => [v.name, v.defaultValue]));
    expect(byName["PORT"]).toBe(String(config.port));
    expect(byName["BODY_LIMIT_BYTES"]).toBe(String(config.bodyLimitBytes));
    expect(byName["AUTH_MAX_TOKEN_TTL_S"]).toBe(String(config.auth.maxTokenTtlS));
    expect(byName["MAX_ACTIVE_TURNS"]).toBe(String(config.limits.maxActiveTurnsPerServer));
    expect(byName["AUTH_JWKS_URL"]).toBeNull();
  });
});
