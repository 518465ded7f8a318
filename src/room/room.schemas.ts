/**
 * Wire schemas of the room routes: they validate requests and generate the
 * OpenAPI document, so the two cannot drift. Request objects are strict:
 * unknown and server-owned fields (id, status, version, tenant, ...) are
 * refused, never silently applied.
 */
import { z } from "@hono/zod-openapi";
import { MAX_FREEFORM_JSON_BYTES, MAX_JSON_DEPTH, jsonDepthExceeds } from "../json-limits.js";
import { ACTOR_EXAMPLE, ACTOR_INPUT_EXAMPLE, EVENT_EXAMPLE, HISTORY_EXAMPLE, MESSAGE_EXAMPLE, MESSAGE_RESULT_EXAMPLE, ROOM_EXAMPLE, USAGE_EXAMPLE } from "../docs/docs.examples.js";

export const ROOM_STATUSES = ["rented", "active", "idle", "sleeping", "releasing", "released", "failed"] as const;
export type RoomStatus = (typeof ROOM_STATUSES)[number];

export const MESSAGE_KINDS = ["message", "task", "note", "output", "partial", "system"] as const;
export const MESSAGE_STATUSES = ["queued", "running", "done", "cancelled", "failed"] as const;

export const freeformObject = (what: string) =>
  z
    .record(z.string().max(200), z.unknown())
    .superRefine((value, ctx) => {
      if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) ctx.addIssue({ code: "custom", message: `${what} is nested deeper than ${MAX_JSON_DEPTH} levels` });
      else if (JSON.stringify(value).length > MAX_FREEFORM_JSON_BYTES) {
        ctx.addIssue({ code: "custom", message: `${what} is larger than ${MAX_FREEFORM_JSON_BYTES} bytes of JSON` });
      }
    });

export const AgentId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, '_', '.', '-'; starting with a letter or digit");

export const ActorInput = z
  .strictObject({
    agent_id: AgentId,
    role: z.string().min(1).max(64).optional().openapi({ description: "Free text; default `assistant`." }),
    adapter: z.string().min(1).max(64).optional().openapi({ description: "Free text label of the client-side adapter; default `pi`." }),
    provider: z.string().min(1).max(64).optional().openapi({ description: "Provider name from `/llm/providers`; default `local`." }),
    model: z.string().min(1).max(200).optional().openapi({ description: "Model id of that provider; default `echo`." }),
    skills: z.array(z.string().min(1).max(200)).max(64).optional(),
    system_prompt: z.string().max(100_000).nullable().optional(),
    muted: z.boolean().optional().openapi({ description: "A muted actor never answers unless named by `actor`." }),
    options: freeformObject("options")
      .optional()
      .openapi({ description: "Per-actor options. For `local/echo`: `token_delay_ms`, `reply`, `fail_after_tokens`, `tool_call: {name, args}`, `stamp_tokens` (each text token is the time it was due, ms since the epoch in base 36, paced on a fixed schedule: for measuring delivery latency)." }),
  })
  .openapi("ActorInput", { example: ACTOR_INPUT_EXAMPLE });

export const Actor = z
  .object({
    agent_id: z.string(),
    role: z.string(),
    adapter: z.string(),
    provider: z.string(),
    model: z.string(),
    skills: z.array(z.string()),
    system_prompt: z.string().nullable(),
    muted: z.boolean(),
    options: z.record(z.string(), z.unknown()),
  })
  .openapi("Actor", { example: ACTOR_EXAMPLE });
export type Actor = z.infer<typeof Actor>;

export const ToolPolicyInput = z
  .strictObject({
    allowed_tools: z.array(z.string().min(1).max(64)).max(64).optional().openapi({ description: "Names from the built-in tool registry (`clock`, `calculator`)." }),
    max_tool_calls: z.number().int().min(0).max(256).optional(),
  })
  .openapi("ToolPolicyInput", { example: { allowed_tools: ["calculator"], max_tool_calls: 4 } });
export const ToolPolicy = z.object({ allowed_tools: z.array(z.string()), max_tool_calls: z.number().int() }).openapi("ToolPolicy", { example: ROOM_EXAMPLE.tool_policy });
export type ToolPolicy = z.infer<typeof ToolPolicy>;

export const WakePolicyInput = z
  .strictObject({
    mode: z.enum(["on_message", "manual"]).optional(),
    idle_timeout_s: z.number().int().min(1).max(30 * 86_400).optional(),
    release_after_s: z.number().int().min(1).max(365 * 86_400).optional(),
  })
  .openapi("WakePolicyInput", { example: { mode: "manual", idle_timeout_s: 600 } });
export const WakePolicy = z
  .object({ mode: z.enum(["on_message", "manual"]), idle_timeout_s: z.number().int(), release_after_s: z.number().int() })
  .openapi("WakePolicy", { example: ROOM_EXAMPLE.wake_policy });
export type WakePolicy = z.infer<typeof WakePolicy>;

export const DonePolicyInput = z
  .strictObject({
    max_turn_s: z.number().int().min(1).max(3600).optional(),
    max_output_tokens: z.number().int().min(1).max(1_000_000).optional(),
    max_steps: z.number().int().min(1).max(256).optional(),
  })
  .openapi("DonePolicyInput", { example: { max_turn_s: 60, max_output_tokens: 1024 } });
export const DonePolicy = z
  .object({ max_turn_s: z.number().int(), max_output_tokens: z.number().int(), max_steps: z.number().int() })
  .openapi("DonePolicy", { example: ROOM_EXAMPLE.done_policy });
export type DonePolicy = z.infer<typeof DonePolicy>;

export const Usage = z
  .object({ input: z.number(), output: z.number(), totalTokens: z.number(), cost: z.object({ total: z.number() }) })
  .openapi("Usage", { example: USAGE_EXAMPLE });
export type Usage = z.infer<typeof Usage>;

export const BudgetInput = z
  .strictObject({
    max_tokens: z.number().int().min(1).max(1e12).nullable().optional().openapi({ description: "Tokens (input + output, every actor and summary) the room may use; null removes the limit." }),
    max_cost_usd: z.number().positive().max(1e9).nullable().optional().openapi({ description: "US dollars the room may spend at the model catalogue's prices (`local/echo` is free); null removes the limit." }),
  })
  .openapi("BudgetInput", {
    description: "Merged field by field into the room's budget; `budget: null` removes it. Checked when a turn would start: once the room's `usage` has reached a limit, messages are 409 ROOM_BUDGET_EXCEEDED until the limit is raised.",
    example: { max_tokens: 20000 },
  });
export const Budget = z
  .object({ max_tokens: z.number().int().nullable(), max_cost_usd: z.number().nullable() })
  .openapi("Budget", { example: { max_tokens: 20000, max_cost_usd: null } });

const summaryEveryTurns = z
  .number()
  .int()
  .min(1)
  .max(1000)
  .nullable()
  .optional()
  .openapi({ description: "Rewrite `summary_text` after every this many ended turns (as `POST /summary` would); null: only on request." });

export const LastError = z
  .object({ code: z.string(), message: z.string(), at: z.string(), turn_id: z.string().nullable() })
  .openapi("LastError", { example: { code: "PROVIDER_ERROR", message: "the model provider failed: 502 from upstream", at: "2026-01-05T10:00:02.000Z", turn_id: "5d1c9a7e-2b3f-4c8d-9e0a-1f2b3c4d5e6f" } });

export const ActiveTurn = z
  .object({ id: z.string(), message_id: z.string(), agent_id: z.string(), started_at: z.string() })
  .openapi("ActiveTurn", { example: { id: "5d1c9a7e-2b3f-4c8d-9e0a-1f2b3c4d5e6f", message_id: "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7", agent_id: "assistant", started_at: "2026-01-05T10:00:01.000Z" } });

export const Room = z
  .object({
    id: z.uuid(),
    tenant: z.string(),
    status: z.enum(ROOM_STATUSES),
    purpose: z.string().openapi({ description: "Always a string: `\"\"` when the room was rented without one (or PATCHed to null)." }),
    metadata: z.record(z.string(), z.unknown()),
    actors: z.array(Actor),
    tool_policy: ToolPolicy,
    wake_policy: WakePolicy,
    done_policy: DonePolicy,
    version: z.number().int(),
    rented_at: z.string(),
    updated_at: z.string(),
    last_active_at: z.string().nullable(),
    released_at: z.string().nullable(),
    last_error: LastError.nullable(),
    queued_message_id: z.string().nullable(),
    active_turn: ActiveTurn.nullable(),
    usage: Usage,
    summary_text: z.string().nullable().openapi({ description: "A bounded summary of the transcript, written by `POST /llm/room/{id}/summary` (or every `summary_every_turns` turns); null until then." }),
    summary_updated_at: z.string().nullable(),
    summary_every_turns: z.number().int().nullable(),
    budget: Budget.nullable().openapi({ description: "Null: no budget." }),
    budget_exceeded: z.enum(["max_tokens", "max_cost_usd"]).nullable().openapi({ description: "The budget limit `usage` has reached: the room starts no turn until it is raised. Null while within budget." }),
  })
  .openapi("Room", { example: ROOM_EXAMPLE });
export type Room = z.infer<typeof Room>;

export const RentRoomBody = z
  .strictObject({
    purpose: z.string().max(2000).optional(),
    metadata: freeformObject("metadata").optional().openapi({ description: "Free-form; `metadata.name` is what `?name=` filters on." }),
    agents: z.array(ActorInput).min(1).max(16).optional(),
    actors: z.array(ActorInput).min(1).max(16).optional().openapi({ description: "Alias of `agents`." }),
    tool_policy: ToolPolicyInput.optional(),
    wake_policy: WakePolicyInput.optional(),
    done_policy: DonePolicyInput.optional(),
    budget: BudgetInput.nullable().optional(),
    summary_every_turns: summaryEveryTurns,
  })
  .openapi("RentRoomBody", { example: { purpose: "math scratch", metadata: { name: "math" }, tool_policy: { allowed_tools: ["calculator"] } } });
export type RentRoomBody = z.infer<typeof RentRoomBody>;

export const PatchRoomBody = z
  .strictObject({
    purpose: z.string().max(2000).nullable().optional().openapi({ description: "null (or `\"\"`) clears it; the room then reads `purpose: \"\"`." }),
    metadata: freeformObject("metadata").optional().openapi({ description: "Merged into the stored metadata; a key set to null is removed." }),
    agents: z.array(ActorInput).min(1).max(16).optional(),
    actors: z.array(ActorInput).min(1).max(16).optional().openapi({ description: "Alias of `agents`." }),
    tool_policy: ToolPolicyInput.optional(),
    wake_policy: WakePolicyInput.optional(),
    done_policy: DonePolicyInput.optional(),
    budget: BudgetInput.nullable().optional(),
    summary_every_turns: summaryEveryTurns,
  })
  .openapi("PatchRoomBody", { example: { metadata: { name: "renamed" }, done_policy: { max_turn_s: 60 } } });
export type PatchRoomBody = z.infer<typeof PatchRoomBody>;

export const RoomIdParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11" }),
});

const statusList = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const parts = s.split(",").map((p) => p.trim()).filter(Boolean);
    for (const p of parts) {
      if (!(ROOM_STATUSES as readonly string[]).includes(p)) {
        ctx.addIssue({ code: "custom", message: `unknown status "${p}"; use any of ${ROOM_STATUSES.join(", ")}` });
        return z.NEVER;
      }
    }
    return parts as RoomStatus[];
  });

export const ListRoomsQuery = z.object({
  status: statusList.optional().openapi({ type: "string", description: "Comma-separated statuses. Default: every status but `released`.", example: "active,idle" }),
  name: z.string().max(200).optional().openapi({ description: "Exact match on `metadata.name`.", example: "math" }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ type: "integer", description: "Page size, 1..200 (default 50).", example: 50 }),
  cursor: z.string().max(500).optional().openapi({ description: "`meta.next_cursor` of the previous page.", example: "WyIyMDI2LTAxLTA1VDEwOjAwOjAwLjAwMFoiLCIwYjZmM2MxZS00ZDBhLTRhNTctOWE1Ny0wZTNiNWY3YzJkMTEiXQ" }),
});

const idempotencyKeyHeader = z
  .string()
  .max(255)
  .optional()
  .openapi({ description: "`Idempotency-Key`: 1–255 visible ASCII characters; a retry with the same key and request replays the first answer (`Idempotent-Replayed: true`).", example: "0e4a8f2c-rent-1" });

/** Headers of a write that creates something (no version to match yet). */
export const IdempotencyHeaders = z.object({ "idempotency-key": idempotencyKeyHeader });

export const IfMatchHeaders = z.object({
  "if-match": z
    .string()
    .max(40)
    .optional()
    .openapi({
      description: "`If-Match`: the expected `version` (`3`, `\"3\"` or `W/\"3\"`); a stale one is 409 VERSION_CONFLICT. `*` matches any current version (RFC 9110). Header names are case-insensitive.",
      example: "3",
    }),
  "idempotency-key": idempotencyKeyHeader,
});

export const PostMessageBody = z
  .strictObject({
    kind: z.enum(["message", "task", "note"]).optional().openapi({ description: "`note` is stored without a turn (201)." }),
    content: z.string().min(1).max(100_000),
    metadata: freeformObject("metadata").optional(),
    actor: AgentId.optional().openapi({ description: "agent_id that should answer; default: first mentioned, else first unmuted actor." }),
    mentions: z.array(AgentId).max(16).optional(),
  })
  .openapi("PostMessageBody", { example: { content: "Calculate 42 * 19" } });

export const Message = z
  .object({
    id: z.string(),
    room_id: z.string(),
    seq: z.number().int(),
    kind: z.enum(MESSAGE_KINDS).openapi({
      description:
        "`message`, `task`, `note`: sent by a user. `output`: a completed turn's answer. `partial`: the text an interrupted or failed turn had streamed, never an answer (`metadata.turn_status` says how the turn ended). `system`: written by the service.",
    }),
    author_kind: z.enum(["user", "agent", "system"]),
    author_id: z.string(),
    actor_key: z.string().nullable(),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    status: z.enum(MESSAGE_STATUSES),
    turn_id: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Message", { example: MESSAGE_EXAMPLE });

export const RoomEventSchema = z
  .object({
    id: z.string().openapi({ description: "`<room_id>:<seq>`" }),
    seq: z.number().int().openapi({ description: "Per room, strictly increasing, gap-free; the SSE `id`." }),
    room_id: z.string(),
    event_type: z.string().openapi({ description: "One of the event types in /docs/llm/room." }),
    agent_key: z.string().nullable(),
    turn_id: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .openapi("RoomEvent", { example: EVENT_EXAMPLE });

export const TurnRecord = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    status: z.enum(["running", "completed", "interrupted", "failed", "cancelled"]),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi("Turn", {
    example: { id: "5d1c9a7e-2b3f-4c8d-9e0a-1f2b3c4d5e6f", agent_id: "assistant", status: "completed", started_at: "2026-01-05T10:00:01.000Z", ended_at: "2026-01-05T10:00:02.000Z", error: null },
  });
export type TurnRecord = z.infer<typeof TurnRecord>;

export const MessageResult = z
  .object({
    message: Message.openapi({ description: "The message as stored now." }),
    done: z.boolean().openapi({ description: "Its work has ended (or it has none: a note, an agent's message). False: queued or running, the long poll timed out." }),
    turn: z.union([TurnRecord, z.null()]).openapi({ description: "The turn that ran (or runs) it; null before one started." }),
    output: z.union([Message, z.null()]).openapi({ description: "The answer: the completed turn's `output` message." }),
    partial: z.union([Message, z.null()]).openapi({ description: "What an interrupted or failed turn had written (`kind: partial`); never an answer." }),
    reason: z.string().nullable().openapi({ description: "Why there is no `output` (yet): queued, running, interrupted, failed with its code, cancelled, a note. Null when `output` is set." }),
  })
  .openapi("MessageResult", { example: MESSAGE_RESULT_EXAMPLE });
export type MessageResult = z.infer<typeof MessageResult>;

export const MessageParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11" }),
  message_id: z.string().openapi({ param: { name: "message_id", in: "path" }, example: "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7" }),
});

/** Longest long poll of GET /messages/:message_id, in seconds. */
export const MAX_MESSAGE_WAIT_S = 60;

export const MessageQuery = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_MESSAGE_WAIT_S)
    .default(0)
    .openapi({ type: "integer", description: `Seconds to wait for the message's work to end, 0 to ${MAX_MESSAGE_WAIT_S} (default 0: answer at once).`, example: 30 }),
});

export const ReasonBody = z.strictObject({ reason: z.string().max(2000).optional() }).openapi("ReasonBody", { example: { reason: "done for today" } });
export const InterruptBody = z
  .strictObject({ reason: z.string().max(2000).optional(), drop_queued: z.boolean().optional().openapi({ description: "Also cancel the queued message." }) })
  .openapi("InterruptBody", { example: { reason: "enough", drop_queued: false } });

const seqCursor = (description: string) => z.coerce.number().int().min(1).optional().openapi({ type: "integer", description, example: 120 });

const queryFlag = z
  .enum(["true", "false", "1", "0"])
  .optional()
  .transform((v) => (v === undefined ? undefined : v === "true" || v === "1"));

/** `partial_text=false`: the cumulative text left out of `pi:message_update` (room.event-view.ts). */
export const PARTIAL_TEXT_DESCRIPTION =
  "`false` leaves the cumulative `payload.partial.text` out of every `pi:message_update` (its `delta` and `partial.role` stay; `pi:message_end` still carries the whole text). Rebuild the text by appending the `delta`s since `pi:message_start`. Recommended for long outputs: each update otherwise repeats the whole text so far, so a reply's events grow with the square of its length. Default `true`.";

export const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(500).openapi({ type: "integer", description: "Newest N messages and N events (default 500); each list also stops at about 512 KB of JSON.", example: 100 }),
  before_seq: seqCursor("Both lists: only items with seq below this (messages and events are numbered separately; prefer the two cursors below)."),
  messages_before_seq: seqCursor("Messages with `seq` below this: `meta.messages.next_before_seq` of the previous page. Wins over `before_seq`."),
  events_before_seq: seqCursor("Events with `seq` below this: `meta.events.next_before_seq` of the previous page. Wins over `before_seq`."),
  partial_text: queryFlag.openapi({ type: "string", enum: ["true", "false", "1", "0"], description: PARTIAL_TEXT_DESCRIPTION, example: "false" }),
});

const HistoryListMeta = z
  .object({
    has_more: z.boolean().openapi({ description: "Older items exist before the first one of this page." }),
    next_before_seq: z.number().int().nullable().openapi({ description: "Pass as this list's `*_before_seq` to get the next (older) page; null when there is none." }),
  })
  .openapi("HistoryListMeta");

export const HistoryMeta = z
  .object({
    has_more: z.boolean().openapi({ description: "`messages.has_more || events.has_more`." }),
    last_seq: z.number().int().openapi({ description: "The room's newest event seq: follow on from here with `GET /events?follow=true` and `Last-Event-ID: <last_seq>`." }),
    messages: HistoryListMeta,
    events: HistoryListMeta,
  })
  .openapi("HistoryMeta", { example: { has_more: false, last_seq: 4, messages: { has_more: false, next_before_seq: null }, events: { has_more: false, next_before_seq: null } } });

export const History = z
  .object({ room: Room, messages: z.array(Message), events: z.array(RoomEventSchema) })
  .openapi("History", { example: HISTORY_EXAMPLE });

export const EventsQuery = z.object({
  partial_text: queryFlag.openapi({ type: "string", enum: ["true", "false", "1", "0"], description: PARTIAL_TEXT_DESCRIPTION, example: "false" }),
  follow: z.enum(["true", "false", "1", "0"]).optional().openapi({ description: "Keep the stream open and tail live events (default false)." }),
  after: z.string().max(80).optional().openapi({ description: "Replay events with seq greater than this (a seq, or an event's `id` `<room_id>:<seq>`). `Last-Event-ID` wins when both are sent.", example: "42" }),
});
