/**
 * The room stream's vocabulary: the event record as ROOMS.md defines it and
 * the names it uses. Rooms are the first stream kind (event.stream.ts); the
 * kind itself is registered from src/room/room.stream.ts.
 */
import type { NewStreamEvent } from "./event.stream.js";

/** The room kind's name in the event log (stored in every row: never rename). */
export const ROOM_STREAM = "room";

export const ROOM_EVENT_TYPES = [
  "room:rented",
  "room:updated",
  "message:created",
  "room:active",
  "agent:turn_start",
  "pi:message_start",
  "pi:message_update",
  "pi:message_end",
  "pi:tool_execution_start",
  "pi:tool_execution_end",
  "pi:turn_end",
  "pi:agent_end",
  "agent:output",
  "agent:turn_end",
  "room:idle",
  "room:sleeping",
  "room:woken",
  "room:releasing",
  "room:released",
  "error",
  "room:budget_blocked",
  "room:summary_updated",
] as const;
export type RoomEventType = (typeof ROOM_EVENT_TYPES)[number];

export interface RoomEvent {
  id: string;
  seq: number;
  room_id: string;
  event_type: string;
  agent_key: string | null;
  turn_id: string | null;
  payload: Record<string, unknown>;
  created_at: string;
}

/** What a room writer hands to the log; seq, id and time are assigned at the durable write. */
export type NewEvent = NewStreamEvent<RoomEventType>;

/** The event after which a room's stream ends. */
export const TERMINAL_EVENT: RoomEventType = "room:released";
