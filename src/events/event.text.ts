/**
 * `pi:message_update` events are stored with their delta only; the
 * `partial.text` a reader sees (the assistant text so far) is rebuilt by
 * folding deltas since the message's `pi:message_start`. Storage then grows
 * linearly with the output, and live delivery and replay use this same fold,
 * so they cannot disagree.
 */
export interface TextFold {
  text: string;
}

/** Strips what is rebuilt on read; the stored payload keeps role and delta only. */
export function storedPayload(eventType: string, payload: Record<string, unknown>): Record<string, unknown> {
  if (eventType !== "pi:message_update") return payload;
  const partial = payload["partial"] as { role?: unknown } | undefined;
  return { ...payload, partial: { role: partial?.role ?? "assistant" } };
}

/** Advances the fold over one event and returns the payload a reader sees. */
export function hydratePayload(fold: TextFold, eventType: string, stored: Record<string, unknown>): Record<string, unknown> {
  if (eventType === "pi:message_start") {
    fold.text = "";
    return stored;
  }
  if (eventType !== "pi:message_update") return stored;
  if (stored["update_type"] === "text_delta" && typeof stored["delta"] === "string") fold.text += stored["delta"];
  const partial = (stored["partial"] as Record<string, unknown> | undefined) ?? {};
  return { ...stored, partial: { ...partial, text: fold.text } };
}
