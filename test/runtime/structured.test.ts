/**
 * completeStructured: one forced tool call through the real runtime, pi-ai's
 * openai-completions provider and the fake OpenAI-compatible server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import type { LlmRuntime, StructuredRequest } from "../../src/runtime/llm/llm.types.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { actorFor, echoActor } from "./runtime.helpers.js";

const KEY = "sk-structured-key-for-tests-0123456789";

let fake: FakeOpenAI;
let runtime: LlmRuntime;
let before = 0;
const mine = () => fake.requests.slice(before);

beforeAll(async () => {
  fake = await startFakeOpenAI();
  runtime = await createLlmRuntime({
    providers: [{ name: "fake", api: "openai-completions", base_url: fake.url, api_key_env: "STRUCT_KEY", models: [{ id: "fake-model", max_tokens: 2000, tools: true }] }],
    retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 50 },
    env: { STRUCT_KEY: KEY },
  });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  before = fake.requests.length;
});

const tool = {
  name: "submit_answer",
  description: "Submit the answer.",
  parameters: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false },
};
const request = (over: Partial<StructuredRequest> = {}): StructuredRequest => ({
  actor: actorFor("fake", "fake-model"),
  system: "Answer through the tool.",
  prompt: "What is 2+2?",
  tool,
  ...over,
});

describe("completeStructured against an OpenAI-compatible provider", () => {
  it("returns the tool call's arguments and usage, and sends the tool as a forced function with its JSON schema", async () => {
    fake.enqueue({ kind: "tool_call", name: "submit_answer", args: { answer: "4" }, usage: { prompt_tokens: 30, completion_tokens: 5 } });
    const result = await runtime.completeStructured(request());
    expect(result).toEqual({ ok: true, arguments: { answer: "4" }, usage: expect.objectContaining({ input: 30, output: 5, totalTokens: 35 }) });
    const [req] = mine();
    expect(req!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req!.body.tools).toEqual([{ type: "function", function: expect.objectContaining({ name: "submit_answer", description: "Submit the answer.", parameters: tool.parameters }) }]);
    expect(req!.body.tool_choice).toEqual({ type: "function", function: { name: "submit_answer" } });
    expect(req!.body.messages).toEqual([
      { role: "system", content: "Answer through the tool." },
      { role: "user", content: "What is 2+2?" },
    ]);
  });

  it("reports NO_TOOL_CALL with the start of the text when the model answers in prose", async () => {
    fake.enqueue({ kind: "text", chunks: ["It is ", "four."] });
    const result = await runtime.completeStructured(request());
    expect(result).toMatchObject({ ok: false, code: "NO_TOOL_CALL", text: "It is four." });
    if (!result.ok) expect(result.message).toContain("submit_answer");
  });

  it("reports NO_TOOL_CALL when the model calls a different tool", async () => {
    fake.enqueue({ kind: "tool_call", name: "something_else", args: { x: 1 } });
    const result = await runtime.completeStructured(request());
    expect(result).toMatchObject({ ok: false, code: "NO_TOOL_CALL" });
  });

  it("retries a 503 before streaming and then succeeds", async () => {
    fake.enqueue({ kind: "status", status: 503 }, { kind: "tool_call", name: "submit_answer", args: { answer: "ok" } });
    const result = await runtime.completeStructured(request());
    expect(result).toMatchObject({ ok: true, arguments: { answer: "ok" } });
    expect(mine()).toHaveLength(2);
  });

  it("reports PROVIDER_ERROR for a 400 without leaking the key", async () => {
    fake.enqueue({ kind: "status", status: 400, body: { error: { message: `bad request for ${KEY}` } } });
    const result = await runtime.completeStructured(request());
    expect(result).toMatchObject({ ok: false, code: "PROVIDER_ERROR" });
    if (!result.ok) expect(result.message).not.toContain(KEY);
    expect(mine()).toHaveLength(1);
  });

  it("reports TIMEOUT and closes the request when the model never answers", async () => {
    fake.enqueue({ kind: "hang" });
    const result = await runtime.completeStructured(request({ timeoutMs: 300 }));
    expect(result).toMatchObject({ ok: false, code: "TIMEOUT" });
    await fake.waitForClose(mine()[0]!.index);
  });

  it("reports ABORTED when the caller aborts, and closes the request", async () => {
    fake.enqueue({ kind: "hang" });
    const controller = new AbortController();
    const pending = runtime.completeStructured(request({ signal: controller.signal }));
    await fake.waitForRequests(before + 1);
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, code: "ABORTED" });
    await fake.waitForClose(mine()[0]!.index);
  });

  it("reports UNKNOWN_MODEL for a model the server does not have, without a request", async () => {
    const result = await runtime.completeStructured(request({ actor: actorFor("fake", "nope") }));
    expect(result).toMatchObject({ ok: false, code: "UNKNOWN_MODEL" });
    expect(mine()).toHaveLength(0);
  });
});

describe("completeStructured on local/echo", () => {
  it("returns the echo actor's scripted tool call when it names the offered tool", async () => {
    const result = await runtime.completeStructured(request({ actor: echoActor({ tool_call: { name: "submit_answer", args: { answer: "echoed" } } }) }));
    expect(result).toMatchObject({ ok: true, arguments: { answer: "echoed" } });
  });

  it("reports NO_TOOL_CALL when echo just echoes", async () => {
    const result = await runtime.completeStructured(request({ actor: echoActor() }));
    expect(result).toMatchObject({ ok: false, code: "NO_TOOL_CALL", text: "Echo: What is 2+2?" });
  });
});
