/** Pieces of the provider path: Retry-After parsing, error-message safety, and the Anthropic SDK's environment. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import { parseRetryAfter } from "../../src/runtime/llm/provider.stream.js";
import { safeErrorMessage } from "../../src/runtime/llm/turn.events.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { actorFor, runTurn } from "./runtime.helpers.js";

describe("parseRetryAfter", () => {
  const now = Date.UTC(2030, 0, 1, 0, 0, 0);
  it.each([
    [null, "2", 2000],
    [null, "0.5", 500],
    [null, " 10 ", 10_000],
    ["1500", null, 1500],
    ["250", "9", 250],
    [null, new Date(now + 3000).toUTCString(), 3000],
    [null, new Date(now - 3000).toUTCString(), 0],
    [null, "soon", null],
    [null, "-1", null],
    ["x", null, null],
    [null, null, null],
  ])("retry-after-ms %s, retry-after %s -> %s", (ms, seconds, want) => {
    expect(parseRetryAfter(ms, seconds, now)).toBe(want);
  });
});

describe("safeErrorMessage", () => {
  it("masks configured secrets and key-shaped strings, drops stack lines, bounds length", () => {
    const secret = "my-very-secret-value";
    const raw = `401 bad key ${secret} (Bearer abc.def.ghi) sk-proj-ABCDEFGHIJKLMNOP\n    at fetch (node:internal/deps/undici:1:1)\n    at async x`;
    const safe = safeErrorMessage(raw, [secret]);
    expect(safe).toBe("401 bad key [redacted] (Bearer [redacted]) [redacted]");
    expect(safeErrorMessage("x".repeat(5000), []).length).toBeLessThanOrEqual(501);
    expect(safeErrorMessage(undefined, [])).toBe("the model request failed");
  });
});

describe("anthropic-messages provider", () => {
  let fake: FakeOpenAI;
  const saved: Record<string, string | undefined> = {};
  const names = ["ROOMS_TEST_ANTHROPIC_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"];
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    for (const n of names) saved[n] = process.env[n];
    process.env["ROOMS_TEST_ANTHROPIC_KEY"] = "configured-anthropic-key-123";
    process.env["ANTHROPIC_API_KEY"] = "server-env-anthropic-key";
    process.env["ANTHROPIC_AUTH_TOKEN"] = "server-env-anthropic-token";
  });
  afterAll(async () => {
    await fake.close();
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });

  it("sends only the configured key (x-api-key), never the server's Anthropic variables", async () => {
    const runtime = await createLlmRuntime({
      providers: [{ name: "anth", api: "anthropic-messages", base_url: fake.url.replace(/\/v1$/, ""), api_key_env: "ROOMS_TEST_ANTHROPIC_KEY", models: [{ id: "claude-test", tools: true }] }],
      retry: { maxRetries: 0, baseDelayMs: 10, maxDelayMs: 10 },
      env: process.env,
    });
    // The fake speaks only OpenAI's protocol: the request is recorded, then answered 404.
    const { result } = await runTurn(runtime, { actor: actorFor("anth", "claude-test") });
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" } });
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe("/v1/messages");
    expect(req.headers["x-api-key"]).toBe("configured-anthropic-key-123");
    expect(req.headers["authorization"]).toBeUndefined();
    expect(JSON.stringify(req.headers)).not.toContain("server-env-anthropic");
    expect(req.body.model).toBe("claude-test");
  });
});
