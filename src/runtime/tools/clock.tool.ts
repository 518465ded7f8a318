/** The `clock` tool: the current time, optionally in an IANA time zone. */
import type { AgentTool } from "@mariozechner/pi-agent-core";
import { Type } from "@mariozechner/pi-ai";

const ClockParams = Type.Object({
  timezone: Type.Optional(Type.String({ description: 'IANA time zone such as "Europe/Paris" or "America/New_York"; default "UTC".' })),
});

export interface ClockDetails {
  /** UTC, ISO-8601 with milliseconds. */
  iso: string;
  unix_ms: number;
  timezone: string;
  /** Wall-clock time in `timezone`, ISO-8601 with its UTC offset. */
  local: string;
}

const TZ_SHAPE = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

/** Throws for a malformed or unknown time zone, which becomes an error result for the model. */
export function resolveTimeZone(input: string | undefined): string {
  const tz = (input ?? "UTC").trim() || "UTC";
  if (!TZ_SHAPE.test(tz)) throw new Error(`unknown time zone ${JSON.stringify(tz.slice(0, 64))}`);
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw new Error(`unknown time zone ${JSON.stringify(tz)}`);
  }
}

/** Wall-clock time of `ms` in `timeZone` as "YYYY-MM-DDTHH:mm:ss±HH:MM"; `timeZone` must already be valid (see resolveTimeZone). */
export function localIso(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZoneName: "longOffset",
  }).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const name = get("timeZoneName"); // "GMT+05:30", or "GMT" for UTC itself
  const offset = name === "GMT" || name === "" ? "+00:00" : name.replace(/^GMT/, "");
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}${offset}`;
}

/** Reads the clock only when executed; an invalid time zone throws, which becomes an error result for the model. */
export function clockTool(now: () => number = Date.now): AgentTool<typeof ClockParams, ClockDetails> {
  return {
    name: "clock",
    label: "Clock",
    description: "Returns the current date and time: UTC ISO-8601, unix milliseconds, and the local time in an optional IANA time zone.",
    parameters: ClockParams,
    async execute(_id, params) {
      const timezone = resolveTimeZone(params.timezone);
      const ms = now();
      const details: ClockDetails = { iso: new Date(ms).toISOString(), unix_ms: ms, timezone, local: localIso(ms, timezone) };
      return { content: [{ type: "text", text: JSON.stringify(details) }], details };
    },
  };
}
