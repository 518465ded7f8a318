/**
 * The room event catalogue: for every event type, when it is written, the
 * shape of its payload (a zod schema, so the OpenAPI document and the docs
 * page come from the same definition) and an example. Payload objects are
 * open: the contract lets the server add fields, so clients must ignore
 * fields they do not know.
 */
import { z } from "@hono/zod-openapi";
import { ROOM_EVENT_TYPES, type RoomEventType } from "../events/event.types.js";

const ROOM = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
const TURN = "5d1c9a7e-2b3f-4c8d-9e0a-1f2b3c4d5e6f";
const TRIGGER = "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7";
const OUTPUT = "9c4e6a8b-0d2f-4b6c-8e0a-2c4e6a8b0d2f";
const AT = "2026-01-05T10:00:02.000Z";

const usage = z
  .looseObject({ input: z.number(), output: z.number(), totalTokens: z.number(), cost: z.looseObject({ total: z.number() }) })
  .openapi({ description: "Token usage in the provider's count; `cost.total` in USD." });
const usageExample = { input: 13, output: 9, totalTokens: 22, cost: { total: 0 } };
const stepUsage = { input: 9, output: 5, totalTokens: 14, cost: { total: 0 } };
const finalMessage = { role: "assistant", provider: "local", model: "echo", stop_reason: "stop", usage: stepUsage, text: "42 * 19 = 798" };

const reason = (known: string) => z.looseObject({ reason: z.string().openapi({ description: known }) });

interface EventDoc {
  /** When the server writes it. */
  when: string;
  payload: z.ZodType;
  example: Record<string, unknown>;
  agentKey?: string;
  turnScoped?: boolean;
}

/** Every event type the server writes, in the order a room usually sees them. */
export const EVENT_CATALOGUE: Record<RoomEventType, EventDoc> = {
  "room:rented": {
    when: "The room was rented (always seq 1).",
    payload: z.looseObject({ actors: z.array(z.record(z.string(), z.unknown())).openapi({ description: "The room's actors, as in the room record." }) }),
    example: {
      actors: [{ agent_id: "assistant", role: "assistant", adapter: "pi", provider: "local", model: "echo", skills: [], system_prompt: null, muted: false, options: {} }],
    },
  },
  "room:updated": {
    when: "A PATCH changed the room.",
    payload: z.looseObject({ changes: z.array(z.string()).openapi({ description: "Names of the changed fields." }), version: z.number().int() }),
    example: { changes: ["metadata"], version: 2 },
  },
  "message:created": {
    when: "A message was stored: a caller's message, task or note, an agent's output, or the partial text of an interrupted or failed turn.",
    payload: z.looseObject({
      message_id: z.string(),
      seq: z.number().int().openapi({ description: "The message's own per-room seq (not the event's)." }),
      kind: z.string().openapi({ description: "message | task | note | output | partial | system" }),
      author_kind: z.string().openapi({ description: "user | agent | system" }),
    }),
    example: { message_id: TRIGGER, seq: 1, kind: "message", author_kind: "user" },
  },
  "room:active": {
    when: "A turn started; the room is `active`.",
    payload: z.looseObject({ trigger_message_id: z.string(), turn_id: z.string() }),
    example: { trigger_message_id: TRIGGER, turn_id: TURN },
    agentKey: "assistant",
    turnScoped: true,
  },
  "agent:turn_start": {
    when: "The actor's turn began running.",
    payload: z.looseObject({ turn_id: z.string(), message_id: z.string(), status: z.literal("running") }),
    example: { turn_id: TURN, message_id: TRIGGER, status: "running" },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:message_start": {
    when: "The model began a message (assistant answer or tool result).",
    payload: z.looseObject({ message: z.looseObject({ role: z.string() }) }),
    example: { message: { role: "assistant" } },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:message_update": {
    when: "The model streamed more of its message. Text deltas are coalesced (by default one event per 50 ms); the stored events are exactly the ones followers saw.",
    payload: z.looseObject({
      update_type: z.string().openapi({ description: "text_delta | text_end | toolcall_delta | ..." }),
      delta: z.string().optional().openapi({ description: "The new text since the previous update." }),
      partial: z.looseObject({ role: z.string(), text: z.string().openapi({ description: "The assistant text so far." }) }).optional(),
      tool_call: z
        .looseObject({ id: z.string(), name: z.string(), args: z.unknown() })
        .optional()
        .openapi({ description: "On `toolcall_end`: the complete tool call the model asked for." }),
    }),
    example: { update_type: "text_delta", delta: " = 798", partial: { role: "assistant", text: "42 * 19 = 798" } },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:message_end": {
    when: "The model finished a message.",
    payload: z.looseObject({
      message: z.looseObject({
        role: z.string(),
        provider: z.string().optional(),
        model: z.string().optional(),
        stop_reason: z.string().optional(),
        text: z.string().optional(),
        error_message: z.string().optional(),
        usage: usage.optional(),
      }),
    }),
    example: { message: finalMessage },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:tool_execution_start": {
    when: "A tool call began (only tools the room's tool_policy allows run).",
    payload: z.looseObject({ tool_call_id: z.string(), tool_name: z.string(), args: z.unknown() }),
    example: { tool_call_id: "echo_call_1", tool_name: "calculator", args: { expression: "42 * 19" } },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:tool_execution_end": {
    when: "A tool call ended.",
    payload: z.looseObject({ tool_call_id: z.string(), tool_name: z.string(), result: z.unknown(), is_error: z.boolean() }),
    example: { tool_call_id: "echo_call_1", tool_name: "calculator", result: "798", is_error: false },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:turn_end": {
    when: "One model step (an answer plus its tool calls) ended.",
    payload: z.looseObject({ message: z.unknown(), tool_result_count: z.number().int(), tool_error_count: z.number().int() }),
    example: { message: finalMessage, tool_result_count: 0, tool_error_count: 0 },
    agentKey: "assistant",
    turnScoped: true,
  },
  "pi:agent_end": {
    when: "The agent loop of the turn ended.",
    payload: z.looseObject({ terminal_message: z.unknown() }),
    example: { terminal_message: finalMessage },
    agentKey: "assistant",
    turnScoped: true,
  },
  "agent:output": {
    when: "A completed turn's answer was stored as a message (`author_kind: agent`, `kind: output`). An interrupted or failed turn has none: its text, if any, is a `kind: partial` message (its `message:created` only).",
    payload: z.looseObject({ message_id: z.string(), text: z.string().openapi({ description: "The full answer text." }) }),
    example: { message_id: OUTPUT, text: "42 * 19 = 798" },
    agentKey: "assistant",
    turnScoped: true,
  },
  "agent:turn_end": {
    when: "The turn ended.",
    payload: z.looseObject({
      turn_id: z.string(),
      message_id: z.string(),
      status: z.enum(["completed", "interrupted", "failed", "cancelled"]),
      usage: usage.optional(),
    }),
    example: { turn_id: TURN, message_id: TRIGGER, status: "completed", usage: usageExample },
    agentKey: "assistant",
    turnScoped: true,
  },
  "room:idle": {
    when: "No turn runs and nothing is queued.",
    payload: z.looseObject({ reason: z.enum(["turn_completed", "interrupted", "woken"]) }),
    example: { reason: "turn_completed" },
  },
  "room:sleeping": {
    when: "The room was idle for `wake_policy.idle_timeout_s`, or the server restarted; its worker is freed, its state stays durable.",
    payload: reason("`idle_timeout` or `server_restarted`."),
    example: { reason: "idle_timeout" },
  },
  "room:woken": {
    when: "A caller woke the room (POST /wake).",
    payload: reason("The caller's `reason`, or a default."),
    example: { reason: "manual" },
  },
  "room:releasing": {
    when: "Release began: a running turn is aborted, the queued message cancelled.",
    payload: reason("The caller's `reason`, or why the server released it (for example `release_after_s` without activity)."),
    example: { reason: "released by caller" },
  },
  "room:released": {
    when: "The room is released. Always the last event: a follow stream ends after it.",
    payload: reason("Same as `room:releasing`."),
    example: { reason: "released by caller" },
  },
  error: {
    when: "A turn failed (provider error, timeout, tool crash, server restart); the room is `failed` and `last_error` is set.",
    payload: z.looseObject({ code: z.string().openapi({ description: "PROVIDER_ERROR, TURN_TIMEOUT, TOOL_ERROR, SERVER_RESTARTED, TURN_NOT_RECORDED, ..." }), message: z.string(), turn_id: z.string().nullable() }),
    example: { code: "PROVIDER_ERROR", message: "the model provider failed: 502 from upstream", turn_id: TURN },
    agentKey: "assistant",
    turnScoped: true,
  },
  "room:budget_blocked": {
    when: "The room's summed usage reached its `budget`: written with the `agent:turn_end` of the turn (or with the summary, or the PATCH lowering the budget) that reached it. From then on messages, wakes that would run one and summaries by a model are 409 ROOM_BUDGET_EXCEEDED, and a queued message waits, until a PATCH raises the limit.",
    payload: z.looseObject({
      limit: z.enum(["max_tokens", "max_cost_usd"]).openapi({ description: "The limit reached (tokens first when both are)." }),
      max: z.number().openapi({ description: "That limit's value." }),
      used: z.looseObject({ total_tokens: z.number(), cost_usd: z.number() }).openapi({ description: "The room's usage when it was reached." }),
      budget: z.looseObject({ max_tokens: z.number().nullable(), max_cost_usd: z.number().nullable() }),
      turn_id: z.string().nullable().openapi({ description: "The turn whose end reached it; null for a summary or a PATCH." }),
    }),
    example: { limit: "max_tokens", max: 1000, used: { total_tokens: 1043, cost_usd: 0 }, budget: { max_tokens: 1000, max_cost_usd: null }, turn_id: TURN },
    turnScoped: true,
  },
  "room:summary_updated": {
    when: "`summary_text` was written: by `POST /llm/room/{id}/summary`, or after `summary_every_turns` turns.",
    payload: z.looseObject({
      chars: z.number().int().openapi({ description: "Length of the new `summary_text`." }),
      through_seq: z.number().int().openapi({ description: "The newest message seq the summary covers." }),
      messages: z.number().int().openapi({ description: "How many messages it was made from (the newest ones, bounded)." }),
      trigger: z.enum(["request", "every_turns"]),
      method: z.enum(["digest", "model"]).openapi({ description: "`digest`: the deterministic digest (`local/echo`); `model`: written by the summarizer's model." }),
      agent_id: z.string().openapi({ description: "The summarizer: the first actor with role `summarizer`, else the first actor." }),
      provider: z.string(),
      model: z.string(),
      usage,
    }),
    example: { chars: 212, through_seq: 8, messages: 8, trigger: "request", method: "digest", agent_id: "assistant", provider: "local", model: "echo", usage: { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } } },
    agentKey: "assistant",
  },
};

/** `pi:message_update` → `PiMessageUpdateEvent`, a valid component name. */
function componentName(type: string): string {
  return `${type
    .split(/[:_]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("")}Event`;
}

/** An example event record of this type, with the envelope fields filled in. */
export function exampleEvent(type: RoomEventType, seq: number): Record<string, unknown> {
  const doc = EVENT_CATALOGUE[type];
  return {
    id: `${ROOM}:${seq}`,
    seq,
    room_id: ROOM,
    event_type: type,
    agent_key: doc.agentKey ?? null,
    turn_id: doc.turnScoped ? TURN : null,
    payload: doc.example,
    created_at: AT,
  };
}

function eventVariant(type: RoomEventType) {
  const doc = EVENT_CATALOGUE[type];
  return z
    .object({
      id: z.string().openapi({ description: "`<room_id>:<seq>`" }),
      seq: z.number().int().openapi({ description: "Per room, strictly increasing, gap-free; also the SSE `id`." }),
      room_id: z.string(),
      event_type: z.literal(type),
      agent_key: z.string().nullable().openapi({ description: "agent_id of the actor the event belongs to, if any." }),
      turn_id: z.string().nullable(),
      payload: doc.payload,
      created_at: z.string().openapi({ description: "ISO-8601" }),
    })
    .openapi(componentName(type), { description: `\`${type}\`: ${doc.when}`, example: exampleEvent(type, 4) });
}

const variants = ROOM_EVENT_TYPES.map(eventVariant);

/** One room event, discriminated by `event_type`: what each SSE frame's `data` and each history event holds. */
export const RoomEventUnion = z
  .discriminatedUnion("event_type", variants as unknown as [ReturnType<typeof eventVariant>, ...ReturnType<typeof eventVariant>[]])
  .openapi("RoomEventUnion", {
    description: "A room event record. `event_type` says which payload it carries; payloads may gain fields, so ignore unknown ones.",
  });

const SSE_FRAME_EXAMPLE = exampleEvent("agent:output", 9);

/**
 * One SSE frame, as a JSON-schema-minded client sees it: `id` and `event`
 * lines, and `data` holding one event record as JSON on a single line.
 */
export const RoomEventFrame = z
  .object({
    id: z.string().openapi({ description: "The event's `seq`, in decimal. Send it back as `Last-Event-ID` to resume." }),
    event: z.enum(ROOM_EVENT_TYPES).openapi({ description: "The event's `event_type`." }),
    data: RoomEventUnion,
  })
  .openapi("RoomEventFrame", {
    description:
      "One server-sent event: `id: <seq>`, `event: <event_type>`, `data: <event record JSON>`, then a blank line. Lines starting with `:` (`: ping`) are heartbeats; a `retry:` line is a reconnect hint.",
    example: { id: "9", event: "agent:output", data: SSE_FRAME_EXAMPLE },
  });

/** The same frame as raw text on the wire. */
export const SSE_WIRE_EXAMPLE = `id: 9\nevent: agent:output\ndata: ${JSON.stringify(SSE_FRAME_EXAMPLE)}\n\n`;

/** The frames a short session produces, in order: what a follower of a fresh room sees for one message. */
export const EXAMPLE_SESSION_TYPES: RoomEventType[] = [
  "room:rented",
  "message:created",
  "room:active",
  "agent:turn_start",
  "pi:message_start",
  "pi:message_update",
  "pi:message_end",
  "pi:turn_end",
  "pi:agent_end",
  "message:created",
  "agent:output",
  "agent:turn_end",
  "room:idle",
];
