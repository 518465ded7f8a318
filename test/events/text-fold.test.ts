/**
 * The room's text fold as stored and as read (events/event.text.ts): a
 * stored delta keeps everything but the text the fold rebuilds, byte for
 * byte in the key order readers have always seen, and filling one stored
 * payload never changes another (stored deltas share their `partial`).
 */
import { describe, expect, it } from "vitest";
import { advance, fill, strip } from "../../src/events/event.text.js";

const delta = (d: string, partial: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => ({
  update_type: "text_delta",
  delta: d,
  ...(partial === undefined ? {} : { partial }),
  ...extra,
});

describe("stored deltas", () => {
  it("keep the payload's keys in order with only the partial's text dropped, whatever the role", () => {
    expect(JSON.stringify(strip("Hello", "pi:message_update", delta("lo", { role: "assistant", text: "Hello" })))).toBe(
      '{"update_type":"text_delta","delta":"lo","partial":{"role":"assistant"}}',
    );
    expect(JSON.stringify(strip("x", "pi:message_update", delta("x", { role: "tool", text: "x" })))).toBe('{"update_type":"text_delta","delta":"x","partial":{"role":"tool"}}');
    // No partial at all: it is added last, as an assistant's.
    expect(JSON.stringify(strip("x", "pi:message_update", delta("x", undefined)))).toBe('{"update_type":"text_delta","delta":"x","partial":{"role":"assistant"}}');
    // A tool call's delta keeps its other keys where they were.
    expect(JSON.stringify(strip("", "pi:message_update", { update_type: "toolcall_end", delta: "", partial: { role: "assistant", text: "" }, tool_call: { id: "c1" } }))).toBe(
      '{"update_type":"toolcall_end","delta":"","partial":{"role":"assistant"},"tool_call":{"id":"c1"}}',
    );
  });

  it("are filled back to what the writer gave, each with its own text, leaving every stored payload as it was", () => {
    let text = "";
    const given = ["Hel", "lo", " world"].map((d) => {
      text = advance(text, "pi:message_update", delta(d, undefined));
      return { text, payload: delta(d, { role: "assistant", text }) };
    });
    const stored = given.map((g) => strip(g.text, "pi:message_update", g.payload));
    const filled = stored.map((s, i) => fill(given[i]!.text, "pi:message_update", s));
    expect(filled.map((f) => JSON.stringify(f))).toEqual(given.map((g) => JSON.stringify(g.payload)));
    expect(stored.map((s) => JSON.stringify(s.partial))).toEqual(['{"role":"assistant"}', '{"role":"assistant"}', '{"role":"assistant"}']);
  });
});
