/**
 * The room stream's text fold (its codec state, src/room/room.stream.ts).
 * Streamed text is stored once. `pi:message_update` rows keep their delta
 * only; `partial.text` (the assistant text so far) and the full `text` of
 * `pi:message_end`, `pi:turn_end` and `pi:agent_end` are rebuilt by folding
 * deltas since the message's `pi:message_start`. Storage then grows linearly
 * with the output, and live delivery and replay both go through `fill`, so
 * what a late reader replays is exactly what a live follower saw.
 *
 * The fold is the text so far, a string: advancing it allocates nothing but
 * the concatenation, and a committed fold can be shared without copying.
 */
import type { CodecLog, Payload } from "./event.stream.js";

/** Event types whose payload depends on the fold. */
export function usesFold(eventType: string): boolean {
  return eventType.startsWith("pi:");
}

/** The fold after one event (same rule for writing and reading). */
export function advance(text: string, eventType: string, payload: Payload): string {
  if (eventType === "pi:message_start") return "";
  if (eventType === "pi:message_update" && payload["update_type"] === "text_delta" && typeof payload["delta"] === "string") return text + payload["delta"];
  return text;
}

/** The fold as it stood right after `seq`: what partial.text was at that point of the message. */
export function foldAt(log: CodecLog, seq: number): string {
  const start = log.lastOf("pi:message_start", seq);
  if (start === 0) return "";
  let text = "";
  for (const p of log.payloadsOf("pi:message_update", start, seq)) text = advance(text, "pi:message_update", p);
  return text;
}

function messageKey(eventType: string): "message" | "terminal_message" | null {
  if (eventType === "pi:message_end" || eventType === "pi:turn_end") return "message";
  if (eventType === "pi:agent_end") return "terminal_message";
  return null;
}

/** A stored delta's `partial` (nearly always an assistant's): one shared, frozen object, as a stored payload is only read. */
const ASSISTANT_PARTIAL: Payload = Object.freeze({ role: "assistant" });

/** The stored form of a payload, given the fold already advanced past it. Only text the fold can rebuild is dropped. */
export function strip(text: string, eventType: string, payload: Payload): Payload {
  if (eventType === "pi:message_update") {
    const role = (payload["partial"] as { role?: unknown } | undefined)?.role ?? "assistant";
    return { ...payload, partial: role === "assistant" ? ASSISTANT_PARTIAL : { role } };
  }
  const key = messageKey(eventType);
  const msg = key ? (payload[key] as Payload | null | undefined) : undefined;
  if (key && msg && typeof msg === "object" && msg["text"] === text && msg["role"] === "assistant") {
    const { text: _text, ...rest } = msg;
    return { ...payload, [key]: rest };
  }
  return payload;
}

/** The payload a reader sees, given the fold already advanced past the event. */
export function fill(text: string, eventType: string, stored: Payload): Payload {
  if (eventType === "pi:message_update") {
    const partial = (stored["partial"] as Payload | undefined) ?? {};
    return { ...stored, partial: { ...partial, text } };
  }
  const key = messageKey(eventType);
  const msg = key ? (stored[key] as Payload | null | undefined) : undefined;
  if (key && msg && typeof msg === "object" && !("text" in msg)) return { ...stored, [key]: { ...msg, text } };
  return stored;
}
