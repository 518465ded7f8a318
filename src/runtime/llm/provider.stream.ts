/**
 * The stream function every turn hands to the agent loop. It wraps pi-ai's
 * `streamSimple` to add what the loop lacks:
 *
 * - the operator's key is always passed explicitly, so the provider SDKs
 *   never fall back to the server's own OPENAI_API_KEY / ANTHROPIC_API_KEY;
 * - SDK-level retries are off (their waits cannot be aborted); instead a
 *   429, 408, 5xx or connection failure that happens before any content was
 *   streamed is retried here with backoff, honouring Retry-After, capped by
 *   maxDelayMs and by the time the turn has left. Nothing is retried once
 *   content has been streamed, and an abort ends a pending wait at once.
 *
 * The HTTP status and Retry-After of each attempt are observed through
 * undici's diagnostics channels (read-only; the request is not touched),
 * tied to the attempt by AsyncLocalStorage.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import diagnostics from "node:diagnostics_channel";
import type { StreamFn } from "@mariozechner/pi-agent-core";
import {
  createAssistantMessageEventStream,
  streamSimple,
  type Api,
  type AssistantMessage,
  type AssistantMessageEvent,
  type AssistantMessageEventStream,
  type Context,
  type Model,
  type SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import { abortableSleep } from "./abortable-sleep.js";
import { emptyAssistantMessage } from "./assistant-message.js";

export interface RetryPolicy {
  /** Extra attempts after the first; 0 disables retries. */
  maxRetries: number;
  /** First backoff when the provider names no Retry-After; doubles per attempt. */
  baseDelayMs: number;
  /** Upper bound of any single wait, Retry-After included. */
  maxDelayMs: number;
}

export interface AttemptInfo {
  attempt: number;
  status: number | null;
  delayMs: number;
  error: string;
}

export interface GuardedStreamOptions {
  retry: RetryPolicy;
  /** The turn's signal: aborting it cancels the request or a pending retry wait. */
  signal: AbortSignal;
  /** Epoch ms at which the turn times out; no retry wait reaches past it. */
  deadline: number;
  /** Always sent, never undefined: the configured key, or a placeholder for keyless endpoints. */
  apiKey: string;
  /** Header overrides; `null` removes a header the SDK would add from the server's environment. */
  headers?: Record<string, string | null>;
  /** Output-token cap of the next request, or undefined for none. */
  maxTokens: () => number | undefined;
  /** Extra stream options for the provider (e.g. the echo model's settings). */
  extra?: Record<string, unknown>;
  onRetry?: (info: AttemptInfo) => void;
  /**
   * False for a provider that makes no HTTP request (local/echo): its attempts
   * are not probed, so they never enter the AsyncLocalStorage, which once
   * entered tags every promise in the process. Default true.
   */
  http?: boolean;
  now?: () => number;
  random?: () => number;
}

interface AttemptProbe {
  status: number | null;
  retryAfterMs: number | null;
}

const attemptProbe = new AsyncLocalStorage<AttemptProbe>();
const probeByRequest = new WeakMap<object, AttemptProbe>();
let observing = false;

function headerValue(raw: unknown, name: string): string | null {
  if (!Array.isArray(raw)) return null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === name) return String(raw[i + 1]);
  }
  return null;
}

/** Retry-After as milliseconds (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(retryAfterMs: string | null, retryAfter: string | null, now: number): number | null {
  if (retryAfterMs !== null) {
    const ms = Number(retryAfterMs);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  if (retryAfter !== null) {
    const trimmed = retryAfter.trim();
    if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
    // An HTTP-date always names a day or month; this keeps "-1" and the like from parsing as a year.
    const at = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : NaN;
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  return null;
}

function observeHttp(): void {
  if (observing) return;
  observing = true;
  diagnostics.subscribe("undici:request:create", (message) => {
    const probe = attemptProbe.getStore();
    const request = (message as { request?: object }).request;
    if (probe && request) probeByRequest.set(request, probe);
  });
  diagnostics.subscribe("undici:request:headers", (message) => {
    const { request, response } = message as { request?: object; response?: { statusCode?: number; headers?: unknown } };
    const probe = request ? probeByRequest.get(request) : undefined;
    if (!probe || !response) return;
    probe.status = typeof response.statusCode === "number" ? response.statusCode : null;
    probe.retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after-ms"), headerValue(response.headers, "retry-after"), Date.now());
  });
}

const CONNECTION_ERROR = /connection error|terminated|other side closed|socket|econnreset|econnrefused|epipe|etimedout|fetch failed|network|timed out/i;

function isRetryable(status: number | null, message: string): boolean {
  if (status !== null && (status === 408 || status === 429 || status >= 500)) return true;
  // No status (never connected) or a 2xx whose body broke off before any content: a connection problem.
  if (status === null || (status >= 200 && status < 300)) return CONNECTION_ERROR.test(message);
  return false;
}

function failure(model: Model<Api>, reason: "aborted" | "error", message: string): AssistantMessage {
  return { ...emptyAssistantMessage(model, reason), errorMessage: message };
}

/**
 * Builds the agent loop's stream function for one turn. Like pi-ai's own
 * providers, the returned stream never throws: every failure ends it with an
 * `error` event whose message has stopReason "error" or "aborted".
 */
export function guardedStreamFn(g: GuardedStreamOptions): StreamFn {
  const http = g.http ?? true;
  if (http) observeHttp();
  const now = g.now ?? Date.now;
  const random = g.random ?? Math.random;

  const delayFor = (attempt: number, probe: AttemptProbe): number | null => {
    const backoff = Math.min(g.retry.baseDelayMs * 2 ** attempt, g.retry.maxDelayMs) * (0.8 + 0.2 * random());
    const wanted = Math.min(probe.retryAfterMs ?? backoff, g.retry.maxDelayMs);
    // Waiting past the turn's deadline would only turn a provider error into a timeout.
    return now() + wanted < g.deadline ? Math.round(wanted) : null;
  };

  async function pump(model: Model<Api>, context: Context, out: AssistantMessageEventStream): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const probe: AttemptProbe = { status: null, retryAfterMs: null };
      const maxTokens = g.maxTokens();
      const callOptions = {
        ...g.extra,
        apiKey: g.apiKey,
        signal: g.signal,
        maxRetries: 0,
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(g.headers ? { headers: g.headers as Record<string, string> } : {}),
      } as SimpleStreamOptions;
      let inner: AssistantMessageEventStream;
      try {
        inner = http ? attemptProbe.run(probe, () => streamSimple(model, context, callOptions)) : streamSimple(model, context, callOptions);
      } catch (err) {
        const message = failure(model, "error", err instanceof Error ? err.message : "the model request could not start");
        out.push({ type: "error", reason: "error", error: message });
        out.end();
        return;
      }

      let held: AssistantMessageEvent | null = null;
      let forwarded = false;
      let terminal: Extract<AssistantMessageEvent, { type: "error" }> | null = null;
      for await (const event of inner) {
        if (event.type === "start") {
          // Held back until content arrives, so a failure before any content can still be retried unseen.
          held = event;
          continue;
        }
        if (event.type === "error") {
          terminal = event;
          break;
        }
        if (!forwarded) {
          forwarded = true;
          if (held) out.push(held);
        }
        out.push(event);
        if (event.type === "done") {
          out.end();
          return;
        }
      }
      terminal ??= { type: "error", reason: "error", error: failure(model, "error", "the model stream ended without a result") };

      const errorText = terminal.error.errorMessage ?? "";
      let note = attempt > 0 ? ` (after ${attempt + 1} attempts)` : "";
      if (!forwarded && terminal.reason === "error" && !g.signal.aborted && attempt < g.retry.maxRetries && isRetryable(probe.status, errorText)) {
        const delayMs = delayFor(attempt, probe);
        if (delayMs !== null) {
          g.onRetry?.({ attempt: attempt + 1, status: probe.status, delayMs, error: errorText });
          if (!(await abortableSleep(delayMs, g.signal))) continue;
          terminal = { type: "error", reason: "aborted", error: failure(model, "aborted", "Request was aborted") };
        } else {
          note += " (not retried: the wait would outlast the turn's time limit)";
        }
      }
      if (note && terminal.reason === "error") {
        terminal = { ...terminal, error: { ...terminal.error, errorMessage: `${errorText}${note}` } };
      }
      out.push(terminal);
      out.end();
      return;
    }
  }

  // The loop's own options are the turn's AgentLoopConfig (model, hooks, key, signal), which sets no stream
  // option: every call option comes from `g`, and the loop's copy of the config is not kept for the whole call.
  return (model, context) => {
    const out = createAssistantMessageEventStream();
    pump(model, context, out).catch(() => {
      const message = failure(model, "error", "the model request failed unexpectedly");
      out.push({ type: "error", reason: "error", error: message });
      out.end();
    });
    return out;
  };
}
