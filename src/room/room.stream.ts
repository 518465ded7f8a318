/**
 * Rooms as a stream kind of the event log (src/events/event.stream.ts):
 * the vocabulary of ROOMS.md, `room:released` as the terminal event, a
 * finished turn (`agent:turn_end`) as the compaction point, and the room
 * record on the wire, byte for byte as before streams existed:
 * `{id: "<room>:<seq>", seq, room_id, event_type, agent_key, turn_id, payload, created_at}`.
 *
 * Its codec keeps text once. Streamed text is folded from the deltas
 * (events/event.text.ts); an `agent:output` event's text is the output
 * message's content, stored in room_messages, and read back from there.
 */
import { lastSeq, readEventsAfter, readEventsBefore } from "../events/event.store.js";
import type { CodecLog, EventHead, Payload, StreamCodec, StreamKind } from "../events/event.stream.js";
import { advance, fill, foldAt, strip, usesFold } from "../events/event.text.js";
import { ROOM_EVENT_TYPES, ROOM_STREAM, TERMINAL_EVENT, type RoomEvent } from "../events/event.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { messageContent } from "./room.store.js";

/** A room event's public id, derived from its seq, never stored. */
export function eventId(roomId: string, seq: number): string {
  return `${roomId}:${seq}`;
}

const roomText: StreamCodec<string> = {
  rewrites: (type) => usesFold(type) || type === "agent:output",
  carries: usesFold,
  initial: "",
  restarts: (type) => type === "pi:message_start",
  advance,
  stateAt: foldAt,
  store(text, type, payload) {
    if (type !== "agent:output") return strip(text, type, payload);
    // The text is the output message's content, already stored once; readers get it back from there.
    const { text: _text, ...rest } = payload;
    return rest;
  },
  live: (text, type, stored, given) => (type === "agent:output" ? given : fill(text, type, stored)),
  view(text, type, stored, log: CodecLog): Payload {
    if (type !== "agent:output") return fill(text, type, stored);
    if ("text" in stored || typeof stored["message_id"] !== "string") return stored;
    return { ...stored, text: messageContent(log.t, log.streamId, stored["message_id"]) ?? "" };
  },
};

export const roomStream: StreamKind<RoomEvent, string> = {
  name: ROOM_STREAM,
  eventTypes: ROOM_EVENT_TYPES,
  opening: "room:rented",
  terminal: TERMINAL_EVENT,
  compactOn: "agent:turn_end",
  codec: roomText,
  record: (roomId: string, h: EventHead, payload: Payload): RoomEvent => ({
    id: eventId(roomId, h.seq),
    seq: h.seq,
    room_id: roomId,
    event_type: h.event_type,
    agent_key: h.agent_key,
    turn_id: h.turn_id,
    payload,
    created_at: h.created_at,
  }),
};

/** The room's events with seq > afterSeq, ascending, at most `limit`. */
export function readRoomEventsAfter(t: TenantDb, roomId: string, afterSeq: number, limit: number): RoomEvent[] {
  return readEventsAfter(t, roomStream, roomId, afterSeq, limit);
}

/** The room's newest `limit` events with seq < beforeSeq, ascending. */
export function readRoomEventsBefore(t: TenantDb, roomId: string, beforeSeq: number, limit: number): RoomEvent[] {
  return readEventsBefore(t, roomStream, roomId, beforeSeq, limit);
}

/** The room's last event seq. */
export function lastRoomEventSeq(t: TenantDb, roomId: string): number {
  return lastSeq(t, ROOM_STREAM, roomId);
}
