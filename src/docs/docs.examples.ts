/**
 * Example records for the OpenAPI document and the docs pages: one small,
 * consistent session (a room rented, asked "Calculate 42 * 19", answered).
 * test/docs validates every example against its schema.
 */
import { DEFAULT_ACTOR, DEFAULT_DONE_POLICY, DEFAULT_WAKE_POLICY } from "../room/room.defaults.js";
import { exampleEvent } from "./docs.events.js";

const ROOM_ID = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
const TURN_ID = "5d1c9a7e-2b3f-4c8d-9e0a-1f2b3c4d5e6f";

export const ACTOR_EXAMPLE = DEFAULT_ACTOR;

export const ACTOR_INPUT_EXAMPLE = { agent_id: "math-agent", provider: "local", model: "echo", system_prompt: "You do arithmetic.", options: { token_delay_ms: 5 } };

export const USAGE_EXAMPLE = { input: 13, output: 9, totalTokens: 22, cost: { total: 0 } };

export const ROOM_EXAMPLE = {
  id: ROOM_ID,
  tenant: "acme",
  status: "idle",
  purpose: "math scratch",
  metadata: { name: "math" },
  actors: [ACTOR_EXAMPLE],
  tool_policy: { allowed_tools: ["calculator"], max_tool_calls: 8 },
  wake_policy: DEFAULT_WAKE_POLICY,
  done_policy: DEFAULT_DONE_POLICY,
  version: 1,
  rented_at: "2026-01-05T10:00:00.000Z",
  updated_at: "2026-01-05T10:00:02.000Z",
  last_active_at: "2026-01-05T10:00:02.000Z",
  released_at: null,
  last_error: null,
  queued_message_id: null,
  active_turn: null,
  usage: USAGE_EXAMPLE,
  summary_text: null,
  summary_updated_at: null,
  summary_every_turns: null,
  budget: null,
  budget_exceeded: null,
};

export const MESSAGE_EXAMPLE = {
  id: "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7",
  room_id: ROOM_ID,
  seq: 1,
  kind: "message",
  author_kind: "user",
  author_id: "alice",
  actor_key: "assistant",
  content: "Calculate 42 * 19",
  metadata: {},
  status: "running",
  turn_id: TURN_ID,
  created_at: "2026-01-05T10:00:01.000Z",
};

export const OUTPUT_MESSAGE_EXAMPLE = {
  ...MESSAGE_EXAMPLE,
  id: "9c4e6a8b-0d2f-4b6c-8e0a-2c4e6a8b0d2f",
  seq: 2,
  kind: "output",
  author_kind: "agent",
  author_id: "assistant",
  content: "42 * 19 = 798",
  status: "done",
  created_at: "2026-01-05T10:00:02.000Z",
};

export const EVENT_EXAMPLE = exampleEvent("message:created", 2);

export const HISTORY_EXAMPLE = {
  room: ROOM_EXAMPLE,
  messages: [{ ...MESSAGE_EXAMPLE, status: "done" }, OUTPUT_MESSAGE_EXAMPLE],
  events: [exampleEvent("room:rented", 1), exampleEvent("message:created", 2), exampleEvent("agent:output", 3), exampleEvent("room:idle", 4)],
};

export const MESSAGE_RESULT_EXAMPLE = {
  message: { ...MESSAGE_EXAMPLE, status: "done" },
  done: true,
  turn: { id: TURN_ID, agent_id: "assistant", status: "completed", started_at: "2026-01-05T10:00:01.000Z", ended_at: "2026-01-05T10:00:02.000Z", error: null },
  output: OUTPUT_MESSAGE_EXAMPLE,
  partial: null,
  reason: null,
};
