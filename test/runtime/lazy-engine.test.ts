/**
 * The turn engine (pi-agent-core, pi-ai, TypeBox) is loaded on first use, not
 * at start-up: what requests need before any turn (models, tools) is answered
 * without it, the first turn loads it once and runs like any other, and a
 * configured remote provider still has it loaded before the runtime is ready.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { LlmRuntime } from "../../src/runtime/llm/llm.types.js";
import { BUILTIN_TOOL_NAMES } from "../../src/runtime/tools/tools.names.js";
import { createToolRegistry } from "../../src/runtime/tools/tools.registry.js";
import { deltas, echoActor, memoryLogger, runTurn, types } from "./runtime.helpers.js";

const ENGINE = "../../src/runtime/llm/llm.engine.js";

/** A fresh llm.runtime module whose engine imports are counted (and can be made to fail). */
async function countedRuntime(failFirst = false) {
  vi.resetModules();
  const counter = { loads: 0, fail: failFirst };
  vi.doMock(ENGINE, async (importOriginal) => {
    counter.loads++;
    if (counter.fail) {
      counter.fail = false;
      throw new Error("simulated import failure");
    }
    return importOriginal();
  });
  const { createLlmRuntime } = await import("../../src/runtime/llm/llm.runtime.js");
  return { counter, createLlmRuntime };
}

describe("the turn engine loads on first use", () => {
  beforeEach(() => {
    vi.doUnmock(ENGINE);
  });

  it("answers models and tools without loading the engine", async () => {
    const { counter, createLlmRuntime } = await countedRuntime();
    const runtime = await createLlmRuntime({ providers: [] });
    expect(runtime.hasModel("local", "echo")).toBe(true);
    expect(runtime.hasModel("local", "nope")).toBe(false);
    expect(runtime.listModels().map((m) => `${m.provider}/${m.model}`)).toEqual(["local/echo"]);
    expect(runtime.toolNames().sort()).toEqual(["calculator", "clock"]);
    expect(counter.loads).toBe(0);
  });

  it("the first turns load it once and run like any turn", async () => {
    const { counter, createLlmRuntime } = await countedRuntime();
    const runtime: LlmRuntime = await createLlmRuntime({ providers: [] });
    // Two first turns at once: one import, both complete with the echo answer and the full event sequence.
    const [a, b] = await Promise.all([
      runTurn(runtime, { actor: echoActor({ reply: "one two three" }) }),
      runTurn(runtime, { prompt: "Calculate 6 * 7", limits: { allowedTools: ["calculator"] } }),
    ]);
    expect(counter.loads).toBe(1);
    expect(a.result).toMatchObject({ status: "completed", text: "one two three" });
    expect(deltas(a.events).join("")).toBe("one two three");
    expect(b.result.status).toBe("completed");
    expect(b.result.text).toContain("6 * 7 = 42");
    expect(types(b.events)).toContain("pi:tool_execution_end");
    // The same turns once the engine is loaded emit the same events.
    const again = await runTurn(runtime, { actor: echoActor({ reply: "one two three" }) });
    const againB = await runTurn(runtime, { prompt: "Calculate 6 * 7", limits: { allowedTools: ["calculator"] } });
    expect(types(a.events)).toEqual(types(again.events));
    expect(types(b.events)).toEqual(types(againB.events));
    expect(types(a.events).at(-1)).toBe("pi:agent_end");
    expect(counter.loads).toBe(1);
  });

  it("warm() loads it ahead of the first turn, once", async () => {
    const { counter, createLlmRuntime } = await countedRuntime();
    const runtime = await createLlmRuntime({ providers: [] });
    await Promise.all([runtime.warm(), runtime.warm()]);
    expect(counter.loads).toBe(1);
    const { result } = await runTurn(runtime, { actor: echoActor({ reply: "warm" }) });
    expect(result).toMatchObject({ status: "completed", text: "warm" });
    expect(counter.loads).toBe(1);
  });

  it("an aborted first turn is interrupted without running", async () => {
    const { createLlmRuntime } = await countedRuntime();
    const runtime = await createLlmRuntime({ providers: [] });
    const controller = new AbortController();
    controller.abort("user");
    const { result, events } = await runTurn(runtime, { controller });
    expect(result.status).toBe("interrupted");
    expect(events).toEqual([]);
  });

  it("a failed load fails that turn (INTERNAL, logged) and the next turn loads again", async () => {
    const { counter, createLlmRuntime } = await countedRuntime(true);
    const logger = memoryLogger();
    const runtime = await createLlmRuntime({ providers: [], logger });
    const first = await runTurn(runtime);
    expect(first.result).toMatchObject({ status: "failed", error: { code: "INTERNAL" } });
    expect(logger.lines.map((l) => l.msg)).toContain("a turn failed inside the model runtime");
    const second = await runTurn(runtime, { actor: echoActor({ reply: "back" }) });
    expect(second.result).toMatchObject({ status: "completed", text: "back" });
    expect(counter.loads).toBe(2);
  });

  it("with a remote provider configured, the engine is loaded before the runtime resolves", async () => {
    const { counter, createLlmRuntime } = await countedRuntime();
    const runtime = await createLlmRuntime({
      providers: [{ name: "fake", api: "openai-completions", base_url: "http://127.0.0.1:9/v1", models: [{ id: "m1", tools: true }] }],
    });
    expect(counter.loads).toBe(1);
    expect(runtime.hasModel("fake", "m1")).toBe(true);
  });

  it("the built-in tool names are exactly the tools the registry builds", () => {
    expect([...BUILTIN_TOOL_NAMES].sort()).toEqual(createToolRegistry().names().sort());
  });
});
