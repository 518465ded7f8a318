/** The built-in local/echo model, driven through the real LlmRuntime and agent loop. */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { countEchoTokens, echoTokens } from "../../src/runtime/llm/echo.provider.js";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import type { LlmRuntime } from "../../src/runtime/llm/llm.types.js";
import { deltas, echoActor, memoryLogger, ofType, runTurn, types } from "./runtime.helpers.js";

let runtime: LlmRuntime;
beforeAll(async () => {
  runtime = await createLlmRuntime({ providers: [], echoDefaultTokenDelayMs: 0 });
});

describe("local/echo token count", () => {
  it("counts what echoTokens of the pieces joined with spaces would give, without joining them", () => {
    const cases: string[][] = [
      [],
      [""],
      ["", ""],
      ["", "x"],
      ["x", ""],
      ["one two three"],
      ["  leading spaces", "and\tmore\n"],
      ["a", "b", " c ", ""],
      ["\u00a0nbsp\u2003em\u3000ideo\ufeffbom"],
      ["trailing   ", "   leading"],
      ["emoji 👋🏽 and 中文字符", "tool {\"x\":1}"],
    ];
    // And random ones over an alphabet dense in spaces of every kind.
    const alphabet = ["a", "b", " ", "  ", "\t", "\n", "\u00a0", "\u2028", "é", "👋", ""];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    for (let k = 0; k < 500; k++) cases.push(Array.from({ length: rand(4) }, () => Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join("")));
    for (const pieces of cases) expect(countEchoTokens(pieces), JSON.stringify(pieces)).toBe(echoTokens(pieces.join(" ")).length);
  });
});

describe("local/echo default answer", () => {
  it("streams 'Echo: <prompt>' token by token and completes", async () => {
    const { result, events } = await runTurn(runtime, { prompt: "the quick  brown fox" });
    expect(result).toMatchObject({ status: "completed", text: "Echo: the quick  brown fox" });
    expect(result.error).toBeUndefined();
    expect(deltas(events)).toEqual(["Echo: ", "the ", "quick  ", "brown ", "fox"]);
    expect(deltas(events).join("")).toBe(result.text);
  });

  it("reports usage: output = streamed tokens, input from the context, cost 0", async () => {
    const { result, events } = await runTurn(runtime, { prompt: "one two three", history: [{ role: "user", text: "earlier question" }, { role: "assistant", text: "earlier answer" }] });
    expect(result.usage.output).toBe(echoTokens("Echo: one two three").length);
    // 3 prompt tokens + 4 history tokens
    expect(result.usage.input).toBe(7);
    expect(result.usage.totalTokens).toBe(result.usage.input + result.usage.output);
    expect(result.usage.cost.total).toBe(0);
    const end = ofType(events, "pi:message_end")[0]!;
    expect(end["message"]["usage"]).toEqual(result.usage);
  });

  it("answers the last user prompt, not the history", async () => {
    const { result } = await runTurn(runtime, { prompt: "new one", history: [{ role: "user", text: "old one" }] });
    expect(result.text).toBe("Echo: new one");
  });

  it("emits the contract's events in order with the contract's payload shapes", async () => {
    const { events } = await runTurn(runtime, { prompt: "hi you" });
    expect(types(events)).toEqual([
      "pi:message_start",
      "pi:message_update",
      "pi:message_update",
      "pi:message_update",
      "pi:message_update",
      "pi:message_end",
      "pi:turn_end",
      "pi:agent_end",
    ]);
    expect(events.every((e) => !e.event_type.startsWith("agent:") && !e.event_type.startsWith("room:"))).toBe(true);
    expect(events[0]!.payload).toEqual({ message: { role: "assistant" } });
    expect(events[1]!.payload).toEqual({ update_type: "text_delta", delta: "Echo: ", partial: { role: "assistant", text: "Echo: " } });
    expect(events[4]!.payload).toEqual({ update_type: "text_end", delta: "", partial: { role: "assistant", text: "Echo: hi you" } });
    const message = {
      role: "assistant",
      provider: "local",
      model: "echo",
      stop_reason: "stop",
      text: "Echo: hi you",
      usage: { input: 2, output: 3, totalTokens: 5, cost: { total: 0 } },
    };
    expect(events[5]!.payload).toEqual({ message });
    expect(events[6]!.payload).toEqual({ message, tool_result_count: 0, tool_error_count: 0 });
    expect(events[7]!.payload).toEqual({ terminal_message: message });
    // Plain JSON all the way down.
    expect(JSON.parse(JSON.stringify(events))).toEqual(events);
  });

  it("partial.text grows with each delta and each event keeps its own snapshot", async () => {
    const { events } = await runTurn(runtime, { prompt: "a b c d e f g h" });
    const updates = ofType(events, "pi:message_update").filter((p) => p["update_type"] === "text_delta");
    let expected = "";
    const partials = new Set<unknown>();
    for (const u of updates) {
      expected += u["delta"];
      expect(u["partial"]["text"]).toBe(expected);
      partials.add(u["partial"]);
    }
    expect(partials.size).toBe(updates.length);
    // Mutating one event's payload does not reach another's.
    updates[0]!["partial"]["text"] = "changed";
    expect(updates[1]!["partial"]["text"]).toBe("Echo: a ");
  });
});

describe("local/echo options", () => {
  it("reply: answers the fixed text instead", async () => {
    const { result, events } = await runTurn(runtime, { actor: echoActor({ reply: "Fixed answer here." }), prompt: "ignored" });
    expect(result).toMatchObject({ status: "completed", text: "Fixed answer here." });
    expect(deltas(events)).toEqual(["Fixed ", "answer ", "here."]);
  });

  it("fail_after_tokens: streams N tokens, then the turn fails with PROVIDER_ERROR", async () => {
    const { result, events } = await runTurn(runtime, { actor: echoActor({ fail_after_tokens: 2 }), prompt: "one two three four" });
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("PROVIDER_ERROR");
    expect(result.error?.message).toContain("simulated provider failure");
    expect(result.text).toBe("Echo: one ");
    expect(deltas(events)).toEqual(["Echo: ", "one "]);
    // As on the OpenAI-compatible path, a stream that broke off reports no usage.
    expect(result.usage).toEqual({ input: 0, output: 0, totalTokens: 0, cost: { total: 0 } });
    const end = ofType(events, "pi:message_end")[0]!;
    expect(end["message"]).toMatchObject({ stop_reason: "error", text: "Echo: one " });
    expect(end["message"]["error_message"]).toContain("simulated provider failure");
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });

  it("fail_after_tokens: 0 fails before any text", async () => {
    const { result, events } = await runTurn(runtime, { actor: echoActor({ fail_after_tokens: 0 }) });
    expect(result).toMatchObject({ status: "failed", text: "", error: { code: "PROVIDER_ERROR" } });
    expect(deltas(events)).toEqual([]);
  });

  it("tool_call: asks for the tool once, then answers with its result", async () => {
    const fixed = Date.UTC(2030, 0, 2, 3, 4, 5);
    const { createToolRegistry } = await import("../../src/runtime/tools/tools.registry.js");
    const rt = await createLlmRuntime({ providers: [], tools: createToolRegistry({ now: () => fixed }) });
    const { result, events } = await runTurn(rt, {
      actor: echoActor({ tool_call: { name: "clock", args: { timezone: "UTC" } } }),
      limits: { allowedTools: ["clock"] },
    });
    expect(result.status).toBe("completed");
    const start = ofType(events, "pi:tool_execution_start");
    const end = ofType(events, "pi:tool_execution_end");
    expect(start).toEqual([{ tool_call_id: "echo_call_1", tool_name: "clock", args: { timezone: "UTC" } }]);
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ tool_call_id: "echo_call_1", tool_name: "clock", is_error: false });
    expect(JSON.parse(end[0]!["result"])).toMatchObject({ iso: "2030-01-02T03:04:05.000Z", unix_ms: fixed, timezone: "UTC" });
    expect(result.text).toContain("Tool clock returned:");
    expect(result.text).toContain("2030-01-02T03:04:05.000Z");
    const turnEnds = ofType(events, "pi:turn_end");
    expect(turnEnds.map((t) => [t["message"]["stop_reason"], t["tool_result_count"], t["tool_error_count"]])).toEqual([
      ["toolUse", 1, 0],
      ["stop", 0, 0],
    ]);
    expect(types(events).filter((t) => t === "pi:message_start")).toHaveLength(2);
    const toolEnd = ofType(events, "pi:message_update").find((u) => u["update_type"] === "toolcall_end");
    expect(toolEnd?.["tool_call"]).toEqual({ id: "echo_call_1", name: "clock", args: { timezone: "UTC" } });
  });

  it("tool_call with reply: the reply carries the tool's result", async () => {
    const { result } = await runTurn(runtime, {
      actor: echoActor({ reply: "Done.", tool_call: { name: "calculator", args: { expression: "2+2" } } }),
      limits: { allowedTools: ["calculator"] },
    });
    expect(result.text).toBe("Done. (2+2 = 4)");
  });

  it("token_delay_ms paces the stream", async () => {
    const started = Date.now();
    const { result, times } = await runTurn(runtime, { actor: echoActor({ token_delay_ms: 40 }), prompt: "a b c d" });
    expect(result.status).toBe("completed");
    // 5 tokens, each after a 40 ms wait: at least 4 gaps between first and last delta.
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 40 - 10);
    expect(times.length).toBeGreaterThan(0);
  });

  it("stamp_tokens: each token is the time it was due, on a fixed schedule from the answer's start", async () => {
    const start = Date.UTC(2030, 0, 2, 3, 4, 5);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: start });
    let run: ReturnType<typeof runTurn>;
    let done = false;
    try {
      run = runTurn(runtime, { actor: echoActor({ token_delay_ms: 50, stamp_tokens: true, reply: "one two three four" }), prompt: "ignored" });
      void run.then(() => (done = true));
      for (let i = 0; i < 100 && !done; i++) await vi.advanceTimersByTimeAsync(10);
    } finally {
      vi.useRealTimers();
    }
    const { result, events } = await run;
    expect(result.status).toBe("completed");
    // Four tokens as in the reply, token k due at start + k × 50 ms, in base 36 with a space.
    const due = [1, 2, 3, 4].map((k) => `${(start + k * 50).toString(36)} `);
    expect(deltas(events)).toEqual(due);
    expect(result.text).toBe(due.join(""));
    expect(result.usage.output).toBe(4);
    expect(due.map((d) => parseInt(d, 36) - start)).toEqual([50, 100, 150, 200]);
  });

  it("the runtime's default token delay applies when the actor sets none", async () => {
    const rt = await createLlmRuntime({ providers: [], echoDefaultTokenDelayMs: 30 });
    const started = Date.now();
    const actor = { agent_id: "a", provider: "local", model: "echo", system_prompt: null, options: {} };
    await runTurn(rt, { actor, prompt: "a b c d" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 30 - 10);
  });

  it("ignores option values of the wrong type", async () => {
    const { result } = await runTurn(runtime, { actor: echoActor({ reply: 42, fail_after_tokens: "x", token_delay_ms: -5, tool_call: "clock" }), prompt: "ok" });
    expect(result).toMatchObject({ status: "completed", text: "Echo: ok" });
  });

  it("an abort during token_delay_ms ends the turn interrupted at once, keeping the partial text", async () => {
    // Fake timers: the clock moves only until the first token; after the abort it stands still, so the
    // turn can end only if the abort cuts the 1500 ms wait for the next token short.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let run: ReturnType<typeof runTurn>;
    try {
      const controller = new AbortController();
      let seen = 0;
      run = runTurn(runtime, {
        actor: echoActor({ token_delay_ms: 1500 }),
        prompt: "a slow story to tell",
        controller,
        onEvent: (e) => {
          if (e.event_type === "pi:message_update" && ++seen === 1) controller.abort("interrupt");
        },
      });
      while (seen === 0) await vi.advanceTimersByTimeAsync(100);
    } finally {
      vi.useRealTimers();
    }
    const { result, events } = await run;
    expect(result.status).toBe("interrupted");
    expect(result.error).toBeUndefined();
    expect(result.text).toBe("Echo: ");
    expect(result.usage.totalTokens).toBe(0);
    const end = ofType(events, "pi:message_end")[0]!;
    expect(end["message"]).toMatchObject({ stop_reason: "aborted", text: "Echo: " });
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });
});

describe("calculator demo", () => {
  it("'Calculate 42 * 19' with calculator allowed: calls the tool, answers 42 * 19 = 798", async () => {
    const { result, events } = await runTurn(runtime, { prompt: "Calculate 42 * 19", limits: { allowedTools: ["calculator"] } });
    expect(result).toMatchObject({ status: "completed", text: "42 * 19 = 798" });
    expect(ofType(events, "pi:tool_execution_start")).toEqual([{ tool_call_id: "echo_call_1", tool_name: "calculator", args: { expression: "42 * 19" } }]);
    expect(ofType(events, "pi:tool_execution_end")).toEqual([{ tool_call_id: "echo_call_1", tool_name: "calculator", result: "798", is_error: false }]);
  });

  it("without calculator allowed it just echoes", async () => {
    const { result, events } = await runTurn(runtime, { prompt: "Calculate 42 * 19", limits: { allowedTools: ["clock"] } });
    expect(result.text).toBe("Echo: Calculate 42 * 19");
    expect(ofType(events, "pi:tool_execution_start")).toEqual([]);
  });

  it("a tool error (division by zero) goes back to the model as an error result", async () => {
    const { result, events } = await runTurn(runtime, { prompt: "what is 1 / 0 ?", limits: { allowedTools: ["calculator"] } });
    expect(result.status).toBe("completed");
    const end = ofType(events, "pi:tool_execution_end")[0]!;
    expect(end).toMatchObject({ tool_name: "calculator", is_error: true });
    expect(end["result"]).toContain("division by zero");
    expect(result.text).toBe("I could not calculate 1 / 0: division by zero");
    expect(ofType(events, "pi:turn_end")[0]).toMatchObject({ tool_result_count: 1, tool_error_count: 1 });
  });
});

describe("listeners", () => {
  it("a throwing emit does not break the turn, and is logged once", async () => {
    const logger = memoryLogger();
    const rt = await createLlmRuntime({ providers: [], echoDefaultTokenDelayMs: 0, logger });
    let calls = 0;
    const result = await rt.runTurn({
      actor: echoActor(),
      history: [],
      prompt: "still works",
      limits: { maxTurnMs: 10_000, maxOutputTokens: 100, maxSteps: 4, maxToolCalls: 4, allowedTools: ["calculator"] },
      controller: new AbortController(),
      emit: () => {
        calls++;
        throw new Error("listener exploded");
      },
    });
    expect(result).toMatchObject({ status: "completed", text: "Echo: still works" });
    expect(calls).toBeGreaterThan(3);
    expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(1);
  });
});
