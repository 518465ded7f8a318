/**
 * The built-in tools a room's tool_policy.allowed_tools may name. A turn is
 * given only the allowed ones, so a model cannot reach any other tool even by
 * asking for it by name.
 */
import type { AgentTool } from "@mariozechner/pi-agent-core";
import { calculatorTool } from "./calculator.tool.js";
import { clockTool } from "./clock.tool.js";

export interface ToolRegistryOptions {
  /** Clock for the `clock` tool; tests pin it. */
  now?: () => number;
}

export interface ToolRegistry {
  names(): string[];
  /** The allowed tools that exist, in registry order, each once; unknown names are ignored. */
  select(allowed: readonly string[]): AgentTool<any>[];
}

/** Builds a fresh registry; tools hold no state between calls. */
export function createToolRegistry(options: ToolRegistryOptions = {}): ToolRegistry {
  const tools = new Map<string, AgentTool<any>>();
  for (const tool of [calculatorTool(), clockTool(options.now)] as AgentTool<any>[]) tools.set(tool.name, tool);
  return {
    names: () => [...tools.keys()],
    select(allowed) {
      const wanted = new Set(allowed);
      return [...tools.values()].filter((t) => wanted.has(t.name));
    },
  };
}
