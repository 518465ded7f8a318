/**
 * The built-in tools a room's tool_policy.allowed_tools may name. A turn is
 * given only the allowed ones, so a model cannot reach any other tool even by
 * asking for it by name. A built-in tool the policy leaves out is still known
 * to the turn as a refusal: never offered to the model, but when a model asks
 * for it anyway it is told the room's tool_policy does not allow it, rather
 * than that no such tool exists.
 */
import type { AgentTool } from "@mariozechner/pi-agent-core";
import { Type } from "@mariozechner/pi-ai";
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
  /** A refusal for each built-in tool that `allowed` leaves out; see `isRefusal`. */
  refusals(allowed: readonly string[]): AgentTool<any>[];
}

const refusalTools = new WeakSet<object>();

/** True for a refusal made by `refusals`: the runtime keeps it out of what the model is offered. */
export function isRefusal(tool: object): boolean {
  return refusalTools.has(tool);
}

/** What a model (and the room's event log) is told when it calls a built-in tool the room does not allow. */
export function notAllowedMessage(name: string, allowed: readonly string[]): string {
  const list = allowed.length > 0 ? allowed.join(", ") : "none";
  return `Tool ${name} was not run: this room's tool_policy does not allow it (allowed_tools: ${list}). To allow it, PATCH the room with {"tool_policy":{"allowed_tools":${JSON.stringify([...allowed, name])}}}.`;
}

/** Any arguments: a refusal must get past argument validation to be refused with its own reason. */
const AnyArgs = Type.Object({}, { additionalProperties: true });

function refusal(name: string, allowed: readonly string[]): AgentTool<typeof AnyArgs> {
  const tool: AgentTool<typeof AnyArgs> = {
    name,
    label: name,
    description: "Not allowed in this room.",
    parameters: AnyArgs,
    async execute() {
      throw new Error(notAllowedMessage(name, allowed));
    },
  };
  refusalTools.add(tool);
  return tool;
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
    refusals(allowed) {
      const wanted = new Set(allowed);
      return [...tools.keys()].filter((name) => !wanted.has(name)).map((name) => refusal(name, allowed));
    },
  };
}
