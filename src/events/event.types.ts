/** The event record as the contract defines it, and the names it uses. */
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

/** What a writer hands to the log; seq, id and time are assigned at the durable write. */
export interface NewEvent {
  event_type: RoomEventType;
  payload: Record<string, unknown>;
  agent_key?: string | null;
  turn_id?: string | null;
}

/** The event after which a room's stream ends. */
export const TERMINAL_EVENT: RoomEventType = "room:released";
