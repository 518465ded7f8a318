/** A turn's bounds (done_policy, tool_policy) and its failure modes, on the built-in model. */
import type { AgentTool } from "@mariozechner/pi-agent-core";
import { Type } from "@mariozechner/pi-ai";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import type { LlmRuntime } from "../../src/runtime/llm/llm.types.js";
import type { ToolRegistry } from "../../src/runtime/tools/tools.registry.js";
import { actorFor, deltas, echoActor, memoryLogger, ofType, runTurn, types } from "./runtime.helpers.js";

let runtime: LlmRuntime;
beforeAll(async () => {
  runtime = await createLlmRuntime({ providers: [], echoDefaultTokenDelayMs: 0 });
});

function registryOf(...tools: AgentTool<any>[]): ToolRegistry {
  return {
    names: () => tools.map((t) => t.name),
    select: (allowed) => tools.filter((t) => allowed.includes(t.name)),
    refusals: () => [],
  };
}

const NoParams = Type.Object({});

describe("max_output_tokens", () => {
  it("stops the answer after that many tokens, stop_reason length, still completed", async () => {
    const { result, events } = await runTurn(runtime, { actor: echoActor({ reply: "one two three four five six" }), limits: { maxOutputTokens: 3 } });
    expect(result).toMatchObject({ status: "completed", text: "one two three " });
    expect(result.usage.output).toBe(3);
    expect(deltas(events)).toHaveLength(3);
    expect(ofType(events, "pi:message_end")[0]!["message"]["stop_reason"]).toBe("length");
  });

  it("counts over the whole turn: a step that used the budget up is the last", async () => {
    // The tool call costs 4 output tokens ("calculator" + 3 JSON tokens), exactly the budget.
    const { result, events } = await runTurn(runtime, { prompt: "Calculate 1 + 2", limits: { allowedTools: ["calculator"], maxOutputTokens: 4 } });
    expect(ofType(events, "pi:tool_execution_end")).toHaveLength(1);
    expect(ofType(events, "pi:turn_end")).toHaveLength(1);
    expect(result).toMatchObject({ status: "completed", text: "" });
  });
});

describe("max_steps", () => {
  it("1 step: the tool the model asks for is refused and no second model call is made", async () => {
    const { result, events } = await runTurn(runtime, {
      actor: echoActor({ tool_call: { name: "calculator", args: { expression: "1+1" } } }),
      limits: { allowedTools: ["calculator"], maxSteps: 1 },
    });
    expect(result.status).toBe("completed");
    expect(ofType(events, "pi:message_end")).toHaveLength(1);
    const end = ofType(events, "pi:tool_execution_end")[0]!;
    expect(end).toMatchObject({ is_error: true });
    expect(end["result"]).toContain("max_steps=1");
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });

  it("2 steps: enough for tool call plus answer", async () => {
    const { result } = await runTurn(runtime, {
      actor: echoActor({ tool_call: { name: "calculator", args: { expression: "1+1" } } }),
      limits: { allowedTools: ["calculator"], maxSteps: 2 },
    });
    expect(result).toMatchObject({ status: "completed", text: "1+1 = 2" });
  });
});

describe("max_tool_calls and allowed_tools", () => {
  it("max_tool_calls 0: the call is refused with the reason, and the model answers with it", async () => {
    const { result, events } = await runTurn(runtime, {
      actor: echoActor({ tool_call: { name: "clock", args: {} } }),
      limits: { allowedTools: ["clock"], maxToolCalls: 0 },
    });
    expect(result.status).toBe("completed");
    const end = ofType(events, "pi:tool_execution_end")[0]!;
    expect(end).toMatchObject({ tool_name: "clock", is_error: true });
    expect(end["result"]).toContain("max_tool_calls=0");
    expect(result.text).toContain("Tool clock failed:");
  });

  it("a tool that is not allowed cannot run, even when the model names it", async () => {
    let ran = false;
    const spy: AgentTool<typeof NoParams> = {
      name: "clock",
      label: "spy",
      description: "spy",
      parameters: NoParams,
      execute: async () => {
        ran = true;
        return { content: [{ type: "text", text: "ran" }], details: {} };
      },
    };
    const rt = await createLlmRuntime({ providers: [], tools: registryOf(spy) });
    const { events } = await runTurn(rt, { actor: echoActor({ tool_call: { name: "clock", args: {} } }), limits: { allowedTools: ["calculator"] } });
    expect(ran).toBe(false);
    expect(ofType(events, "pi:tool_execution_end")[0]).toMatchObject({ tool_name: "clock", is_error: true, result: "Tool clock not found" });
  });

  it("a tool that throws becomes an error result for the model; the turn goes on", async () => {
    const boom: AgentTool<typeof NoParams> = {
      name: "boom",
      label: "boom",
      description: "always fails",
      parameters: NoParams,
      execute: async () => {
        throw new Error("tool exploded");
      },
    };
    const rt = await createLlmRuntime({ providers: [], tools: registryOf(boom) });
    const { result, events } = await runTurn(rt, { actor: echoActor({ tool_call: { name: "boom", args: {} } }), limits: { allowedTools: ["boom"] } });
    expect(result).toMatchObject({ status: "completed", text: "Tool boom failed: tool exploded" });
    expect(ofType(events, "pi:tool_execution_end")[0]).toMatchObject({ is_error: true, result: "tool exploded" });
  });

  it("a broken tool that leaves the loop unable to continue fails the turn with TOOL_ERROR", async () => {
    const broken = {
      name: "broken",
      label: "broken",
      description: "returns no result object",
      parameters: NoParams,
      execute: async () => undefined,
    } as unknown as AgentTool<typeof NoParams>;
    const logger = memoryLogger();
    const rt = await createLlmRuntime({ providers: [], tools: registryOf(broken), logger });
    const { result, events } = await runTurn(rt, { actor: echoActor({ tool_call: { name: "broken", args: {} } }), limits: { allowedTools: ["broken"] } });
    expect(result).toMatchObject({ status: "failed", error: { code: "TOOL_ERROR", message: "the tool broken could not be run" } });
    expect(types(events).at(-1)).toBe("pi:agent_end");
    expect(logger.lines.some((l) => l.level === "error")).toBe(true);
  });
});

describe("max_turn_ms and aborts", () => {
  it("a slow answer past maxTurnMs fails with TURN_TIMEOUT", async () => {
    // A minute per token: only the 300 ms bound can end this turn within the test's timeout.
    const { result, events } = await runTurn(runtime, { actor: echoActor({ token_delay_ms: 60_000 }), prompt: "a b c d e f g h i j", limits: { maxTurnMs: 300 } });
    expect(result.status).toBe("failed");
    expect(result.error).toEqual({ code: "TURN_TIMEOUT", message: "the turn exceeded its time limit of 300 ms" });
    expect(deltas(events).length).toBeLessThan(11);
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });

  it("a tool that ignores the abort cannot hold the turn past its bound", async () => {
    const stuck: AgentTool<typeof NoParams> = {
      name: "stuck",
      label: "stuck",
      description: "never returns",
      parameters: NoParams,
      execute: () => new Promise(() => {}),
    };
    const rt = await createLlmRuntime({ providers: [], tools: registryOf(stuck), abortGraceMs: 100 });
    // The tool never returns: the turn ends only because the bound and the abort grace end it.
    const { result, events } = await runTurn(rt, { actor: echoActor({ tool_call: { name: "stuck", args: {} } }), limits: { allowedTools: ["stuck"], maxTurnMs: 300 } });
    expect(result).toMatchObject({ status: "failed", error: { code: "TURN_TIMEOUT" } });
    expect(ofType(events, "pi:tool_execution_start")).toHaveLength(1);
    expect(types(events).at(-1)).toBe("pi:agent_end");
  });

  it("a signal aborted before the turn: interrupted, no events", async () => {
    const controller = new AbortController();
    controller.abort("gone");
    const { result, events } = await runTurn(runtime, { controller });
    expect(result).toEqual({ status: "interrupted", text: "", usage: { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } } });
    expect(events).toEqual([]);
  });

  it("events stop at the end of the turn: no timer of the turn is left to emit one later", async () => {
    // Fake timers make "later" exhaustive: after the turn has ended, every timer anything left behind is run.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    try {
      const controller = new AbortController();
      let countAtEnd = -1;
      const run = runTurn(runtime, {
        actor: echoActor({ token_delay_ms: 50 }),
        prompt: "a b c d e f",
        controller,
        onEvent: (e) => {
          if (e.event_type === "pi:message_update") controller.abort("interrupt");
        },
      }).then((r) => ((countAtEnd = r.events.length), r));
      await vi.runAllTimersAsync();
      const { result, events } = await run;
      expect(result.status).toBe("interrupted");
      expect(countAtEnd).toBeGreaterThan(0);
      await vi.runAllTimersAsync();
      expect(vi.getTimerCount()).toBe(0);
      expect(events.length).toBe(countAtEnd);
      expect(types(events).at(-1)).toBe("pi:agent_end");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("unknown models", () => {
  it("a provider/model this server does not have fails with UNKNOWN_MODEL", async () => {
    const { result, events } = await runTurn(runtime, { actor: actorFor("nope", "nothing") });
    expect(result).toMatchObject({ status: "failed", error: { code: "UNKNOWN_MODEL" } });
    expect(events).toEqual([]);
  });
});
