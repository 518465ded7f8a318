/**
 * Translates pi-agent-core's AgentEvents into the contract's `pi:*` events.
 * Every payload is built fresh from plain values at the moment the event
 * arrives: pi keeps mutating the streamed message afterwards, and the caller
 * may keep what it was given.
 */
import type { AgentEvent } from "@mariozechner/pi-agent-core";
import type { AssistantMessage, ToolResultMessage } from "@mariozechner/pi-ai";
import type { TurnEvent, Usage } from "./llm.types.js";

export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const MAX_ERROR_CHARS = 500;

/** The visible answer of a message: its text blocks joined (thinking and tool calls left out). */
export function assistantText(message: AssistantMessage): string {
  let text = "";
  for (const block of message.content) if (block.type === "text") text += block.text;
  return text;
}

/**
 * A provider error message made safe to store and show: configured secrets
 * and anything shaped like a bearer token or API key are masked, stack lines
 * dropped, length bounded.
 */
export function safeErrorMessage(raw: string | undefined, secrets: readonly string[]): string {
  let text = (raw ?? "").trim() || "the model request failed";
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join("[redacted]");
  text = text
    .split("\n")
    .filter((line) => !/^\s*at\s/.test(line))
    .join("\n")
    .replace(/(bearer\s+)[^\s"',)\]}]+/gi, "$1[redacted]")
    .replace(/\b(sk|rk|pk|xai|gsk|key)[-_][A-Za-z0-9_-]{8,}/g, "[redacted]");
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

function usageOf(message: AssistantMessage): Usage {
  const u = message.usage;
  return { input: u.input, output: u.output, totalTokens: u.totalTokens, cost: { total: u.cost.total } };
}

/** The contract's message shape (`pi:message_end`, `pi:turn_end`, `pi:agent_end`); its error_message is always masked. */
function messageSnapshot(message: AssistantMessage, secrets: readonly string[]): Record<string, unknown> {
  return {
    role: "assistant",
    provider: message.provider,
    model: message.model,
    stop_reason: message.stopReason,
    text: assistantText(message),
    ...(message.errorMessage !== undefined ? { error_message: safeErrorMessage(message.errorMessage, secrets) } : {}),
    usage: usageOf(message),
  };
}

/** A JSON-safe deep copy; anything that cannot be serialised becomes null. */
function plainJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return null;
  }
}

/** A tool result as a plain JSON value: its text content (images are summarised). */
function toolResultValue(result: unknown): unknown {
  const content = (result as { content?: unknown } | null)?.content;
  if (!Array.isArray(content)) return plainJson(result);
  return content
    .map((block: { type?: string; text?: unknown; mimeType?: unknown }) =>
      block?.type === "text" && typeof block.text === "string" ? block.text : block?.type === "image" ? `[image ${String(block.mimeType)}]` : "",
    )
    .join("");
}

function isAssistant(message: unknown): message is AssistantMessage {
  return (message as { role?: string } | null)?.role === "assistant";
}

/**
 * Maps one turn's AgentEvents to TurnEvents. `emit` is called synchronously
 * and in order; the caller guarantees it does not throw.
 */
export class TurnEventMapper {
  /** Tools currently executing, by call id; made on the first tool call, as most turns never call one. */
  #running: Map<string, string> | null = null;
  lastEventType: AgentEvent["type"] | null = null;
  lastToolName: string | null = null;
  agentEnded = false;
  lastAssistant: AssistantMessage | null = null;
  #text = "";

  constructor(
    private readonly emit: (event: TurnEvent) => void,
    private readonly secrets: readonly string[],
  ) {}

  handle(event: AgentEvent): void {
    this.lastEventType = event.type;
    if (event.type === "tool_execution_start" || event.type === "tool_execution_end") this.lastToolName = event.toolName;
    switch (event.type) {
      case "message_start":
        if (isAssistant(event.message)) {
          this.#text = "";
          this.#out("pi:message_start", { message: { role: "assistant" } });
        }
        return;
      case "message_update": {
        const e = event.assistantMessageEvent;
        if (e.type === "start" || e.type === "done" || e.type === "error") return;
        if (e.type === "text_start" || e.type === "thinking_start" || e.type === "toolcall_start") return;
        // The text so far is rebuilt from the deltas (immutable strings), not read from e.partial: a provider
        // that runs ahead of this consumer has already mutated e.partial past this event.
        if (e.type === "text_delta") this.#text += e.delta;
        const payload: Record<string, unknown> = {
          update_type: e.type,
          delta: e.type === "text_delta" || e.type === "thinking_delta" || e.type === "toolcall_delta" ? e.delta : "",
          partial: { role: "assistant", text: this.#text },
        };
        if (e.type === "toolcall_end") payload["tool_call"] = { id: e.toolCall.id, name: e.toolCall.name, args: plainJson(e.toolCall.arguments) };
        this.#out("pi:message_update", payload);
        return;
      }
      case "message_end":
        if (isAssistant(event.message)) {
          this.lastAssistant = event.message;
          this.#out("pi:message_end", { message: messageSnapshot(event.message, this.secrets) });
        }
        return;
      case "tool_execution_start":
        (this.#running ??= new Map()).set(event.toolCallId, event.toolName);
        this.#out("pi:tool_execution_start", { tool_call_id: event.toolCallId, tool_name: event.toolName, args: plainJson(event.args) });
        return;
      case "tool_execution_end":
        this.#running?.delete(event.toolCallId);
        this.#out("pi:tool_execution_end", {
          tool_call_id: event.toolCallId,
          tool_name: event.toolName,
          result: toolResultValue(event.result),
          is_error: event.isError,
        });
        return;
      case "turn_end": {
        const results: ToolResultMessage[] = event.toolResults;
        this.#out("pi:turn_end", {
          message: isAssistant(event.message) ? messageSnapshot(event.message, this.secrets) : null,
          tool_result_count: results.length,
          tool_error_count: results.filter((r) => r.isError).length,
        });
        return;
      }
      case "agent_end":
        this.endAgent();
        return;
      default:
        return;
    }
  }

  /** The first tool still executing, if any; with lastEventType and lastToolName, tells a broken tool from a broken loop. */
  runningTool(): string | null {
    if (!this.#running) return null;
    for (const name of this.#running.values()) return name;
    return null;
  }

  /** Emits `pi:agent_end` once, with the last assistant message seen (or null). */
  endAgent(): void {
    if (this.agentEnded) return;
    this.agentEnded = true;
    this.#out("pi:agent_end", { terminal_message: this.lastAssistant ? messageSnapshot(this.lastAssistant, this.secrets) : null });
  }

  #out(event_type: string, payload: Record<string, unknown>): void {
    this.emit({ event_type, payload });
  }
}
