/** Operator provider files, and what the runtime lists from them (never a key). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import { loadProviderConfigFile, parseProviderConfig, ProviderConfigError } from "../../src/runtime/llm/provider-config.js";
import { memoryLogger } from "./runtime.helpers.js";

const YAML = `
providers:
  - name: openrouter            # provider name used in actors' provider
    api: openai-completions
    base_url: https://openrouter.ai/api/v1
    api_key_env: OPENROUTER_API_KEY
    models:
      - id: openai/gpt-4o-mini
      - id: my/custom-model
        name: Custom
        context_window: 32000
        max_tokens: 4000
        cost: {input: 1, output: 2}
        tools: false
  - name: ollama
    api: openai-completions
    base_url: http://127.0.0.1:11434/v1
    models:
      - id: llama3.2
`;

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderConfigError);
    return (err as ProviderConfigError).issues;
  }
  throw new Error("expected a ProviderConfigError");
}

describe("parseProviderConfig", () => {
  it("parses YAML with defaults filled in", () => {
    const providers = parseProviderConfig(YAML, "yaml");
    expect(providers).toHaveLength(2);
    expect(providers[0]).toMatchObject({ name: "openrouter", api: "openai-completions", base_url: "https://openrouter.ai/api/v1", api_key_env: "OPENROUTER_API_KEY" });
    expect(providers[0]!.models[0]).toEqual({ id: "openai/gpt-4o-mini", tools: true });
    expect(providers[0]!.models[1]).toEqual({
      id: "my/custom-model",
      name: "Custom",
      context_window: 32000,
      max_tokens: 4000,
      cost: { input: 1, output: 2, cache_read: 0, cache_write: 0 },
      tools: false,
    });
    expect(providers[1]!.api_key_env).toBeUndefined();
  });

  it("parses the same file as JSON", () => {
    const json = JSON.stringify({
      providers: [{ name: "anth", api: "anthropic-messages", api_key_env: "ANTHROPIC_KEY_FOR_ROOMS", models: [{ id: "claude-sonnet-4-5" }] }],
    });
    expect(parseProviderConfig(json, "json")).toEqual([
      { name: "anth", api: "anthropic-messages", api_key_env: "ANTHROPIC_KEY_FOR_ROOMS", models: [{ id: "claude-sonnet-4-5", tools: true }] },
    ]);
  });

  it("treats an empty document as no providers", () => {
    expect(parseProviderConfig("", "yaml")).toEqual([]);
    expect(parseProviderConfig('{"providers": []}', "json")).toEqual([]);
  });

  it("names the path of every problem", () => {
    const bad = `
providers:
  - name: Bad Name
    api: grpc
    base_url: ftp://example.com
    api_key: sk-literal-key-in-the-file
    models:
      - id: ""
        cost: {input: -1, output: 0}
      - id: x
        max_tokens: 1.5
`;
    const issues = issuesOf(() => parseProviderConfig(bad, "yaml"));
    const joined = issues.join("\n");
    expect(joined).toMatch(/^providers\[0\]\.name: /m);
    expect(joined).toMatch(/^providers\[0\]\.api: /m);
    expect(joined).toMatch(/^providers\[0\]\.base_url: must be an http\(s\) URL/m);
    expect(joined).toMatch(/^providers\[0\]: .*api_key/m);
    expect(joined).toMatch(/^providers\[0\]\.models\[0\]\.id: /m);
    expect(joined).toMatch(/^providers\[0\]\.models\[0\]\.cost\.input: /m);
    expect(joined).toMatch(/^providers\[0\]\.models\[1\]\.max_tokens: /m);
    // The literal key the operator mistakenly pasted is not repeated back.
    expect(joined).not.toContain("sk-literal-key-in-the-file");
  });

  it("rejects duplicates, the reserved name and empty model lists", () => {
    const dup = {
      providers: [
        { name: "a", api: "openai-completions", models: [{ id: "m" }, { id: "m" }] },
        { name: "a", api: "openai-completions", models: [{ id: "m" }] },
        { name: "local", api: "openai-completions", models: [{ id: "echo" }] },
        { name: "b", api: "openai-completions", models: [] },
      ],
    };
    const joined = issuesOf(() => parseProviderConfig(JSON.stringify(dup), "json")).join("\n");
    expect(joined).toContain('providers[0].models[1].id: duplicate model id "m"');
    expect(joined).toContain('providers[1].name: duplicate provider name "a"');
    expect(joined).toContain("providers[2].name: ");
    expect(joined).toContain("built-in provider");
    expect(joined).toContain("providers[3].models: list at least one model");
  });

  it("reports unparseable text clearly", () => {
    expect(() => parseProviderConfig("{nope", "json")).toThrow(/not valid JSON/);
    expect(() => parseProviderConfig("providers: [\n  - : :", "yaml")).toThrow(/not valid YAML/);
    expect(issuesOf(() => parseProviderConfig("[1, 2]", "json")).join()).toContain("(root)");
  });
});

describe("loadProviderConfigFile", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "provider-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads YAML and JSON files by extension", () => {
    const y = path.join(dir, "providers.yaml");
    writeFileSync(y, YAML);
    expect(loadProviderConfigFile(y).map((p) => p.name)).toEqual(["openrouter", "ollama"]);
    const j = path.join(dir, "providers.json");
    writeFileSync(j, JSON.stringify({ providers: [{ name: "x", api: "openai-completions", models: [{ id: "m" }] }] }));
    expect(loadProviderConfigFile(j).map((p) => p.name)).toEqual(["x"]);
  });

  it("names the file in its errors", () => {
    const missing = path.join(dir, "absent.yaml");
    expect(() => loadProviderConfigFile(missing)).toThrow(`cannot read provider config ${missing}: ENOENT`);
    const bad = path.join(dir, "bad.yml");
    writeFileSync(bad, "providers:\n  - name: x\n");
    expect(() => loadProviderConfigFile(bad)).toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid provider config`));
  });
});

describe("runtime catalogue", () => {
  const secret = "sk-or-v1-this-is-the-secret-key-0123456789";

  it("lists local/echo and the configured providers, with key presence but never the key", async () => {
    const logger = memoryLogger();
    const runtime = await createLlmRuntime({
      providers: parseProviderConfig(YAML, "yaml"),
      env: { OPENROUTER_API_KEY: secret, OPENAI_API_KEY: "sk-server-own-key-should-not-matter" },
      logger,
    });
    const providers = runtime.listProviders();
    expect(providers.map((p) => [p.name, p.api, p.base_url, p.key_configured])).toEqual([
      ["local", "local-echo", null, false],
      ["openrouter", "openai-completions", "https://openrouter.ai/api/v1", true],
      ["ollama", "openai-completions", "http://127.0.0.1:11434/v1", false],
    ]);
    expect(providers[0]!.models).toEqual([
      { provider: "local", model: "echo", name: expect.any(String), api: "local-echo", context_window: null, max_tokens: null, cost: { input: 0, output: 0, cache_read: 0, cache_write: 0 }, tools: true },
    ]);
    const text = JSON.stringify({ providers, models: runtime.listModels() });
    expect(text).not.toContain(secret);
    expect(text).not.toContain("OPENROUTER_API_KEY");
    expect(logger.lines).toEqual([]);
  });

  it("fills prices and limits from pi-ai's registry for known ids, else zero/null", async () => {
    const runtime = await createLlmRuntime({ providers: parseProviderConfig(YAML, "yaml"), env: {} });
    const models = runtime.listModels();
    expect(models.map((m) => `${m.provider}/${m.model}`)).toEqual(["local/echo", "openrouter/openai/gpt-4o-mini", "openrouter/my/custom-model", "ollama/llama3.2"]);
    const known = models[1]!;
    expect(known.cost.input).toBe(0.15);
    expect(known.cost.output).toBe(0.6);
    expect(known.context_window).toBe(128000);
    expect(known.tools).toBe(true);
    expect(models[2]).toMatchObject({ name: "Custom", context_window: 32000, max_tokens: 4000, cost: { input: 1, output: 2, cache_read: 0, cache_write: 0 }, tools: false });
    expect(models[3]).toMatchObject({ name: "llama3.2", context_window: null, max_tokens: null, cost: { input: 0, output: 0, cache_read: 0, cache_write: 0 } });
  });

  it("warns (without the key) when a named key variable is empty", async () => {
    const logger = memoryLogger();
    const runtime = await createLlmRuntime({ providers: parseProviderConfig(YAML, "yaml"), env: { OPENROUTER_API_KEY: "  " }, logger });
    expect(runtime.listProviders()[1]!.key_configured).toBe(false);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: "warn", obj: { provider: "openrouter", env: "OPENROUTER_API_KEY" } });
  });

  it("hasModel is an exact match; toolNames lists the built-in tools", async () => {
    const runtime = await createLlmRuntime({ providers: parseProviderConfig(YAML, "yaml"), env: {} });
    expect(runtime.hasModel("local", "echo")).toBe(true);
    expect(runtime.hasModel("openrouter", "openai/gpt-4o-mini")).toBe(true);
    expect(runtime.hasModel("openrouter", "openai/GPT-4o-mini")).toBe(false);
    expect(runtime.hasModel("Local", "echo")).toBe(false);
    expect(runtime.hasModel("ollama", "echo")).toBe(false);
    expect(runtime.hasModel("local", "")).toBe(false);
    expect(runtime.toolNames().sort()).toEqual(["calculator", "clock"]);
  });

  it("returns copies: a caller cannot change the catalogue", async () => {
    const runtime = await createLlmRuntime({ providers: [], env: {} });
    runtime.listProviders()[0]!.models[0]!.name = "mutated";
    runtime.listModels()[0]!.cost.input = 99;
    expect(runtime.listModels()[0]).toMatchObject({ name: expect.not.stringMatching("mutated"), cost: { input: 0 } });
  });
});
