/**
 * What the rest of the server knows of the built-in model `local/echo`
 * without loading pi-ai: its ids, its model record and how an actor's
 * options set its behaviour. The provider itself (the stream) is in
 * echo.provider.ts, loaded with the agent loop on the first turn.
 */
import type { Model } from "@mariozechner/pi-ai";

export const ECHO_API = "local-echo";
export const ECHO_PROVIDER = "local";
export const ECHO_MODEL_ID = "echo";

/** Per-call behaviour of the echo model, resolved from an actor's `options`. */
export interface EchoSettings {
  tokenDelayMs: number;
  reply?: string;
  failAfterTokens?: number;
  toolCall?: { name: string; args: Record<string, unknown> };
  /**
   * Each text token is replaced by the time it was due (ms since the epoch,
   * base 36, then a space), and tokens are paced on a fixed schedule from
   * the start of the answer (token k due at start + k × tokenDelayMs) rather
   * than one delay after the other: a reader can tell how late each token
   * reached it, event-loop lag included, as with a remote model whose tokens
   * arrive on their own clock. Same token count as the answer it replaces.
   */
  stampTokens?: boolean;
}

const MAX_TOKEN_DELAY_MS = 60_000;

/**
 * Reads the echo options of an actor. Values of the wrong type or out of
 * range are ignored (the default applies) rather than failing the turn.
 */
export function echoSettingsFrom(options: Record<string, unknown>, defaultTokenDelayMs: number): EchoSettings {
  const settings: EchoSettings = { tokenDelayMs: defaultTokenDelayMs };
  const delay = options["token_delay_ms"];
  if (typeof delay === "number" && Number.isFinite(delay) && delay >= 0) settings.tokenDelayMs = Math.min(delay, MAX_TOKEN_DELAY_MS);
  const reply = options["reply"];
  if (typeof reply === "string") settings.reply = reply;
  const fail = options["fail_after_tokens"];
  if (typeof fail === "number" && Number.isInteger(fail) && fail >= 0) settings.failAfterTokens = fail;
  if (options["stamp_tokens"] === true) settings.stampTokens = true;
  const call = options["tool_call"];
  if (call && typeof call === "object" && !Array.isArray(call)) {
    const { name, args } = call as { name?: unknown; args?: unknown };
    if (typeof name === "string" && name.length > 0) {
      const plainArgs = args && typeof args === "object" && !Array.isArray(args) ? (JSON.parse(JSON.stringify(args)) as Record<string, unknown>) : {};
      settings.toolCall = { name, args: plainArgs };
    }
  }
  return settings;
}

/** The model record of `local/echo`; free, so usage cost is always 0. */
export function echoModel(): Model<typeof ECHO_API> {
  return {
    id: ECHO_MODEL_ID,
    name: "Echo (built-in, deterministic)",
    api: ECHO_API,
    provider: ECHO_PROVIDER,
    baseUrl: "",
    reasoning: false,
    input: ["text"],
    cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    contextWindow: 1_000_000,
    maxTokens: 1_000_000,
  };
}
