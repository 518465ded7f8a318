/**
 * Streamed text is stored once. `pi:message_update` rows keep their delta
 * only; `partial.text` (the assistant text so far) and the full `text` of
 * `pi:message_end`, `pi:turn_end` and `pi:agent_end` are rebuilt by folding
 * deltas since the message's `pi:message_start`. Storage then grows linearly
 * with the output, and live delivery and replay both go through `fill`, so
 * what a late reader replays is exactly what a live follower saw.
 */
export interface TextFold {
  text: string;
}

type Payload = Record<string, unknown>;

/** Moves the fold past one event (same rule for writing and reading). */
export function advance(fold: TextFold, eventType: string, payload: Payload): void {
  if (eventType === "pi:message_start") fold.text = "";
  else if (eventType === "pi:message_update" && payload["update_type"] === "text_delta" && typeof payload["delta"] === "string") fold.text += payload["delta"];
}

function messageKey(eventType: string): "message" | "terminal_message" | null {
  if (eventType === "pi:message_end" || eventType === "pi:turn_end") return "message";
  if (eventType === "pi:agent_end") return "terminal_message";
  return null;
}

/** The stored form of a payload, given the fold already advanced past it. Only text the fold can rebuild is dropped. */
export function strip(fold: TextFold, eventType: string, payload: Payload): Payload {
  if (eventType === "pi:message_update") {
    const partial = payload["partial"] as { role?: unknown } | undefined;
    return { ...payload, partial: { role: partial?.role ?? "assistant" } };
  }
  const key = messageKey(eventType);
  const msg = key ? (payload[key] as Payload | null | undefined) : undefined;
  if (key && msg && typeof msg === "object" && msg["text"] === fold.text && msg["role"] === "assistant") {
    const { text: _text, ...rest } = msg;
    return { ...payload, [key]: rest };
  }
  return payload;
}

/** The payload a reader sees, given the fold already advanced past the event. */
export function fill(fold: TextFold, eventType: string, stored: Payload): Payload {
  if (eventType === "pi:message_update") {
    const partial = (stored["partial"] as Payload | undefined) ?? {};
    return { ...stored, partial: { ...partial, text: fold.text } };
  }
  const key = messageKey(eventType);
  const msg = key ? (stored[key] as Payload | null | undefined) : undefined;
  if (key && msg && typeof msg === "object" && !("text" in msg)) return { ...stored, [key]: { ...msg, text: fold.text } };
  return stored;
}

/** Event types whose payload depends on the fold. */
export function usesFold(eventType: string): boolean {
  return eventType.startsWith("pi:");
}
