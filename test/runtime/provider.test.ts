/**
 * The provider path: the real LlmRuntime, pi-ai's openai-completions provider
 * and a fake OpenAI-compatible server on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLlmRuntime, type LlmRuntimeOptions } from "../../src/runtime/llm/llm.runtime.js";
import type { LlmRuntime } from "../../src/runtime/llm/llm.types.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { actorFor, deltas, memoryLogger, ofType, runTurn, types } from "./runtime.helpers.js";

const KEY = "sk-configured-key-for-tests-0123456789";
const KEY_ENV = "ROOMS_TEST_FAKE_PROVIDER_KEY";

let fake: FakeOpenAI;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  fake = await startFakeOpenAI();
  for (const name of [KEY_ENV, "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"]) saved[name] = process.env[name];
  process.env[KEY_ENV] = KEY;
  // The server's own variables must never reach the configured provider.
  process.env["OPENAI_API_KEY"] = "sk-server-environment-key-must-not-be-sent";
  process.env["OPENAI_ORG_ID"] = "org-server-environment";
  process.env["OPENAI_PROJECT_ID"] = "proj-server-environment";
});

afterAll(async () => {
  await fake.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

let requestsBefore = 0;
beforeEach(() => {
  requestsBefore = fake.requests.length;
});
/** Requests made by the current test. */
const mine = () => fake.requests.slice(requestsBefore);

async function runtimeFor(overrides: Partial<LlmRuntimeOptions> = {}, keyEnv: string | null = KEY_ENV): Promise<LlmRuntime> {
  return createLlmRuntime({
    providers: [
      {
        name: "fake",
        api: "openai-completions",
        base_url: fake.url,
        ...(keyEnv ? { api_key_env: keyEnv } : {}),
        models: [{ id: "fake-model", max_tokens: 2000, tools: true }],
      },
    ],
    retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 2_000 },
    env: process.env,
    ...overrides,
  });
}

const actor = actorFor("fake", "fake-model");

describe("streaming through a configured provider", () => {
  let runtime: LlmRuntime;
  beforeAll(async () => {
    runtime = await runtimeFor();
  });

  it("streams the provider's text as text_delta events and completes with its usage", async () => {
    fake.enqueue({ kind: "text", chunks: ["Hel", "lo ", "world"], usage: { prompt_tokens: 21, completion_tokens: 3 } });
    const { result, events } = await runTurn(runtime, { actor, prompt: "say hello" });
    expect(result).toMatchObject({ status: "completed", text: "Hello world" });
    expect(result.usage).toMatchObject({ input: 21, output: 3, totalTokens: 24 });
    expect(deltas(events)).toEqual(["Hel", "lo ", "world"]);
    expect(ofType(events, "pi:message_update").map((u) => u["partial"]["text"])).toEqual(["Hel", "Hello ", "Hello world", "Hello world"]);
    expect(types(events)[0]).toBe("pi:message_start");
    expect(types(events).slice(-3)).toEqual(["pi:message_end", "pi:turn_end", "pi:agent_end"]);
    expect(ofType(events, "pi:message_end")[0]!["message"]).toMatchObject({ provider: "fake", model: "fake-model", stop_reason: "stop", text: "Hello world" });
    const [req] = mine();
    expect(req!.body.model).toBe("fake-model");
    expect(req!.body.messages).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "say hello" },
    ]);
  });

  it("reasoning streams as thinking_delta events and stays out of the answer text", async () => {
    fake.enqueue({ kind: "text", reasoning: ["Let me ", "think."], chunks: ["Answer."] });
    const { result, events } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "completed", text: "Answer." });
    const updates = ofType(events, "pi:message_update");
    expect(updates.filter((u) => u["update_type"] === "thinking_delta").map((u) => [u["delta"], u["partial"]["text"]])).toEqual([
      ["Let me ", ""],
      ["think.", ""],
    ]);
    expect(ofType(events, "pi:message_end")[0]!["message"]["text"]).toBe("Answer.");
  });

  it("sends exactly the configured key, and none of the server's own OpenAI variables", async () => {
    await runTurn(runtime, { actor });
    const [req] = mine();
    expect(req!.headers["authorization"]).toBe(`Bearer ${KEY}`);
    expect(req!.headers["openai-organization"]).toBeUndefined();
    expect(req!.headers["openai-project"]).toBeUndefined();
  });

  it("sends a placeholder, not the server's OPENAI_API_KEY, to a keyless provider", async () => {
    const keyless = await runtimeFor({}, null);
    const { result } = await runTurn(keyless, { actor });
    expect(result.status).toBe("completed");
    expect(mine()[0]!.headers["authorization"]).toBe("Bearer no-key");
  });

  it("passes the history and the output-token bound to the model", async () => {
    await runTurn(runtime, {
      actor,
      prompt: "and now?",
      history: [
        { role: "user", text: "first" },
        { role: "assistant", text: "first answer" },
      ],
      limits: { maxOutputTokens: 123 },
    });
    const body = mine()[0]!.body;
    expect(body.messages.map((m: { role: string; content: unknown }) => [m.role, m.content])).toEqual([
      ["system", "You are terse."],
      ["user", "first"],
      ["assistant", "first answer"],
      ["user", "and now?"],
    ]);
    expect(body.max_completion_tokens ?? body.max_tokens).toBe(123);
  });

  it("caps the output bound at the model's max_tokens", async () => {
    await runTurn(runtime, { actor, limits: { maxOutputTokens: 100_000 } });
    const body = mine()[0]!.body;
    expect(body.max_completion_tokens ?? body.max_tokens).toBe(2000);
  });
});

describe("tools through a provider", () => {
  let runtime: LlmRuntime;
  beforeAll(async () => {
    runtime = await runtimeFor();
  });

  it("round trip: the model asks for calculator, the next request carries the result", async () => {
    fake.enqueue({ kind: "tool_call", name: "calculator", args: { expression: "6 * 7" }, id: "call_abc" }, { kind: "text", chunks: ["It is ", "42."] });
    const { result, events } = await runTurn(runtime, { actor, prompt: "6 times 7?", limits: { allowedTools: ["calculator"] } });
    expect(result).toMatchObject({ status: "completed", text: "It is 42." });
    const reqs = mine();
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["calculator"]);
    const toolMessage = reqs[1]!.body.messages.find((m: { role: string }) => m.role === "tool");
    expect(toolMessage).toMatchObject({ tool_call_id: "call_abc", content: "42" });
    expect(ofType(events, "pi:tool_execution_start")).toEqual([{ tool_call_id: "call_abc", tool_name: "calculator", args: { expression: "6 * 7" } }]);
    expect(ofType(events, "pi:tool_execution_end")).toEqual([{ tool_call_id: "call_abc", tool_name: "calculator", result: "42", is_error: false }]);
    expect(ofType(events, "pi:message_update").some((u) => u["update_type"] === "toolcall_delta")).toBe(true);
    // Usage adds up over both requests.
    expect(result.usage.input).toBe(12 + 10);
  });

  it("offers only the allowed tools; a tool outside the policy is refused", async () => {
    fake.enqueue({ kind: "tool_call", name: "clock", args: {} }, { kind: "text", chunks: ["ok"] });
    const { result, events } = await runTurn(runtime, { actor, limits: { allowedTools: ["calculator"] } });
    expect(result.status).toBe("completed");
    const reqs = mine();
    expect(reqs[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["calculator"]);
    const end = ofType(events, "pi:tool_execution_end")[0]!;
    expect(end).toMatchObject({ tool_name: "clock", is_error: true });
    // The model (and the log) is told why: the room's policy, and how to allow it; not "Tool clock not found".
    const why = 'Tool clock was not run: this room\'s tool_policy does not allow it (allowed_tools: calculator). To allow it, PATCH the room with {"tool_policy":{"allowed_tools":["calculator","clock"]}}.';
    expect(end["result"]).toBe(why);
    const toolMessage = reqs[1]!.body.messages.find((m: { role: string }) => m.role === "tool");
    expect(toolMessage.content).toBe(why);
    // Refused, so it did not count as a tool call.
    expect(reqs[1]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["calculator"]);
  });

  it("a tool that does not exist at all is still reported as not found", async () => {
    fake.enqueue({ kind: "tool_call", name: "teleport", args: {} }, { kind: "text", chunks: ["ok"] });
    const { events } = await runTurn(runtime, { actor, limits: { allowedTools: [] } });
    expect(ofType(events, "pi:tool_execution_end")[0]!["result"]).toBe("Tool teleport not found");
    expect(mine()[0]!.body.tools ?? []).toEqual([]);
  });

  it("sends no tools when none are allowed", async () => {
    await runTurn(runtime, { actor, limits: { allowedTools: [] } });
    const tools = mine()[0]!.body.tools;
    expect(tools === undefined || tools.length === 0).toBe(true);
  });

  it("max_tool_calls: calls beyond the limit are refused with a clear reason", async () => {
    fake.enqueue(
      { kind: "tool_call", name: "calculator", args: { expression: "1+1" } },
      { kind: "tool_call", name: "calculator", args: { expression: "2+2" } },
      { kind: "text", chunks: ["done"] },
    );
    const { result, events } = await runTurn(runtime, { actor, limits: { allowedTools: ["calculator"], maxToolCalls: 1 } });
    expect(result).toMatchObject({ status: "completed", text: "done" });
    const ends = ofType(events, "pi:tool_execution_end");
    expect(ends.map((e) => e["is_error"])).toEqual([false, true]);
    expect(ends[1]!["result"]).toContain("max_tool_calls=1");
    expect(mine()).toHaveLength(3);
  });

  it("max_steps: no model call beyond the limit", async () => {
    fake.enqueue(
      { kind: "tool_call", name: "calculator", args: { expression: "1+1" } },
      { kind: "tool_call", name: "calculator", args: { expression: "2+2" } },
      { kind: "text", chunks: ["never requested"] },
    );
    const { result, events } = await runTurn(runtime, { actor, limits: { allowedTools: ["calculator"], maxSteps: 2 } });
    expect(mine()).toHaveLength(2);
    expect(result.status).toBe("completed");
    expect(ofType(events, "pi:turn_end")).toHaveLength(2);
    const ends = ofType(events, "pi:tool_execution_end");
    expect(ends.map((e) => e["is_error"])).toEqual([false, true]);
    expect(ends[1]!["result"]).toContain("max_steps=2");
    // Drain the scenario this test queued but never used.
    await runTurn(runtime, { actor });
  });

  it("max_output_tokens bounds the whole turn: later requests get what is left", async () => {
    fake.enqueue({ kind: "tool_call", name: "calculator", args: { expression: "1+1" } }, { kind: "text", chunks: ["two"] });
    await runTurn(runtime, { actor, limits: { allowedTools: ["calculator"], maxOutputTokens: 50 } });
    const reqs = mine();
    expect(reqs).toHaveLength(2);
    const cap = (b: { max_completion_tokens?: number; max_tokens?: number }) => b.max_completion_tokens ?? b.max_tokens;
    expect(cap(reqs[0]!.body)).toBe(50);
    expect(cap(reqs[1]!.body)).toBe(50 - 7); // the fake reports 7 output tokens for a tool call
  });
});

describe("provider failures", () => {
  it("500 on every attempt: failed PROVIDER_ERROR after the retries", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "status", status: 500 }, { kind: "status", status: 500 }, { kind: "status", status: 500 });
    const { result, events } = await runTurn(runtime, { actor });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("PROVIDER_ERROR");
    expect(result.error?.message).toContain("500");
    expect(result.error?.message).toContain("after 3 attempts");
    expect(mine()).toHaveLength(3);
    expect(ofType(events, "pi:message_end")[0]!["message"]).toMatchObject({ stop_reason: "error" });
    expect(deltas(events)).toEqual([]);
  });

  it("400 is not retried", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "status", status: 400, body: { error: { message: "bad request" } } });
    const { result } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" } });
    expect(mine()).toHaveLength(1);
  });

  it("429 with Retry-After: waits as told, retries, then succeeds", async () => {
    const logger = memoryLogger();
    const runtime = await runtimeFor({ logger });
    fake.enqueue({ kind: "status", status: 429, retryAfter: 1 }, { kind: "text", chunks: ["after ", "waiting"] });
    const { result } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "completed", text: "after waiting" });
    const reqs = mine();
    expect(reqs).toHaveLength(2);
    expect(reqs[1]!.receivedAt - reqs[0]!.receivedAt).toBeGreaterThanOrEqual(950);
    expect(logger.lines.find((l) => l.level === "warn")?.obj).toMatchObject({ status: 429, attempt: 1, delay_ms: 1000 });
  });

  it("Retry-After is capped by maxDelayMs", async () => {
    const logger = memoryLogger();
    const runtime = await runtimeFor({ logger, retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 100 } });
    fake.enqueue({ kind: "status", status: 429, retryAfter: 30 }, { kind: "text", chunks: ["ok"] });
    const { result } = await runTurn(runtime, { actor });
    expect(result.status).toBe("completed");
    expect(mine()).toHaveLength(2);
    // Told 30 s, it waited the cap.
    expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.obj)).toEqual([expect.objectContaining({ status: 429, attempt: 1, delay_ms: 100 })]);
  });

  it("a wait longer than the turn has left is not started: the error comes back at once", async () => {
    const logger = memoryLogger();
    const runtime = await runtimeFor({ logger, retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 120_000 } });
    fake.enqueue({ kind: "status", status: 429, retryAfter: 60 });
    const { result } = await runTurn(runtime, { actor, limits: { maxTurnMs: 5_000 } });
    // Had it waited, the turn would have ended TURN_TIMEOUT at its 5 s bound, not with the provider's error.
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" } });
    expect(logger.lines.filter((l) => l.level === "warn")).toEqual([]);
    expect(result.error?.message).toContain("429");
    expect(result.error?.message).toContain("not retried");
    expect(mine()).toHaveLength(1);
  });

  it("an abort cancels a pending retry wait at once", async () => {
    let waiting!: () => void;
    const retryWaitStarts = new Promise<void>((r) => (waiting = r));
    const logger = { warn: () => waiting(), error: () => {} };
    const runtime = await runtimeFor({ logger, retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 120_000 } });
    fake.enqueue({ kind: "status", status: 429, retryAfter: 60 });
    const controller = new AbortController();
    const run = runTurn(runtime, { actor, controller, limits: { maxTurnMs: 120_000 } });
    // The retry is announced just before its 60 s wait; the turn can end within the test's timeout only if the abort cuts it.
    await retryWaitStarts;
    controller.abort("interrupt");
    const { result } = await run;
    expect(result.status).toBe("interrupted");
    expect(mine()).toHaveLength(1);
  });

  it("a connection dropped before any content is retried", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "drop", afterChunks: 0 }, { kind: "text", chunks: ["second ", "try"] });
    const { result } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "completed", text: "second try" });
    expect(mine()).toHaveLength(2);
  });

  it("a connection dropped after content: failed, never retried, partial text kept", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "drop", afterChunks: 2 });
    const { result, events } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" }, text: "part0 part1 " });
    expect(deltas(events)).toEqual(["part0 ", "part1 "]);
    expect(mine()).toHaveLength(1);
  });

  it("a malformed chunk: failed PROVIDER_ERROR, not retried", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "malformed" });
    const { result } = await runTurn(runtime, { actor });
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" } });
    expect(mine()).toHaveLength(1);
  });

  it("a connection refused: failed PROVIDER_ERROR after the retries", async () => {
    const runtime = await createLlmRuntime({
      providers: [{ name: "down", api: "openai-completions", base_url: "http://127.0.0.1:9/v1", models: [{ id: "m", tools: true }] }],
      retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 50 },
    });
    const { result } = await runTurn(runtime, { actor: actorFor("down", "m") });
    expect(result).toMatchObject({ status: "failed", error: { code: "PROVIDER_ERROR" } });
    expect(result.error?.message).toContain("after 2 attempts");
  });

  it("error messages never carry the key", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "status", status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}. Bearer ${KEY}` } } });
    const { result, events } = await runTurn(runtime, { actor });
    expect(result.error?.code).toBe("PROVIDER_ERROR");
    expect(result.error?.message).toContain("401");
    expect(JSON.stringify({ result, events })).not.toContain(KEY);
    expect(JSON.stringify({ result, events })).not.toContain(KEY.slice(3, 20));
  });
});

describe("interrupts and timeouts on the provider path", () => {
  it("hang, then abort: interrupted, and the server sees the socket close within 1 s", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "hang" });
    const controller = new AbortController();
    const run = runTurn(runtime, { actor, controller });
    await fake.waitForRequests(requestsBefore + 1);
    const abortedAt = Date.now();
    controller.abort("interrupt");
    const { result, events } = await run;
    expect(result.status).toBe("interrupted");
    expect(result.error).toBeUndefined();
    // The fake never ends a hanging request itself: the socket closes because the abort closed it.
    expect(await fake.waitForClose(requestsBefore, 5_000)).toBeGreaterThanOrEqual(abortedAt);
    expect(ofType(events, "pi:message_end")[0]!["message"]["stop_reason"]).toBe("aborted");
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });

  it("hang before headers, then abort: the same", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "hang_before_headers" });
    const controller = new AbortController();
    const run = runTurn(runtime, { actor, controller });
    await fake.waitForRequests(requestsBefore + 1);
    const abortedAt = Date.now();
    controller.abort("interrupt");
    const { result } = await run;
    expect(result.status).toBe("interrupted");
    expect(await fake.waitForClose(requestsBefore, 5_000)).toBeGreaterThanOrEqual(abortedAt);
    expect(mine()).toHaveLength(1);
  });

  it("an abort mid-stream keeps the text streamed so far", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "text", chunks: ["one ", "two ", "three ", "four"], delayMs: 400 });
    const controller = new AbortController();
    const { result } = await runTurn(runtime, {
      actor,
      controller,
      onEvent: (e) => {
        if (e.event_type === "pi:message_update" && (e.payload as { delta?: string }).delta === "two ") controller.abort("interrupt");
      },
    });
    expect(result).toMatchObject({ status: "interrupted", text: "one two " });
  });

  it("hang past maxTurnMs: failed TURN_TIMEOUT and the request is closed", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "hang" });
    const started = Date.now();
    const { result } = await runTurn(runtime, { actor, limits: { maxTurnMs: 500 } });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("TURN_TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    // The hanging request is closed by the timeout (the fake never ends it).
    expect(await fake.waitForClose(requestsBefore, 5_000)).toBeGreaterThanOrEqual(started + 450);
  });

  it("hang before headers past maxTurnMs: TURN_TIMEOUT, not retried", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "hang_before_headers" });
    const { result } = await runTurn(runtime, { actor, limits: { maxTurnMs: 300 } });
    expect(result).toMatchObject({ status: "failed", error: { code: "TURN_TIMEOUT" } });
    expect(mine()).toHaveLength(1);
  });

  it("a throwing listener does not break a provider turn", async () => {
    const runtime = await runtimeFor();
    fake.enqueue({ kind: "text", chunks: ["still ", "fine"] });
    const result = await runtime.runTurn({
      actor,
      history: [],
      prompt: "x",
      limits: { maxTurnMs: 10_000, maxOutputTokens: 100, maxSteps: 2, maxToolCalls: 2, allowedTools: [] },
      controller: new AbortController(),
      emit: () => {
        throw new Error("listener down");
      },
    });
    expect(result).toMatchObject({ status: "completed", text: "still fine" });
  });
});
