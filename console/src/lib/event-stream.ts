/**
 * Follows a server-sent event feed with fetch and a ReadableStream, because
 * EventSource cannot send an Authorization header. On a dropped connection
 * it says so ("reconnecting"), waits (the server's `retry:` hint, doubling
 * per failed attempt up to 30 s), and resumes with `Last-Event-ID` set to the
 * last id it delivered, so the consumer sees each event once and none
 * missing. A feed that sends nothing, not even a `: ping`, for
 * `stallMs` is treated as dropped (a half-open connection never errors).
 */
import { errorFrom, type Api } from "./api.js";
import { SseParser, type SseFrame } from "./sse-parse.js";

export type FeedState =
  | { phase: "connecting" }
  | { phase: "live" }
  | { phase: "reconnecting"; attempt: number; inMs: number; reason: string }
  | { phase: "ended"; reason: string }
  | { phase: "failed"; message: string };

export interface FollowOptions {
  /** The feed's URL, including `follow=true`. */
  url: string;
  api: Api;
  /** Resume after this id (the last seq the consumer already has); null replays from the start. */
  after: number | null;
  onFrames(frames: SseFrame[]): void;
  onState(state: FeedState): void;
  /** Asked when the server ends the stream: true when the subject is finished (released room, ended run), so no reconnect. */
  finished(): boolean;
  stallMs?: number;
}

export interface Feed {
  close(): void;
  /** Skips the wait of a pending reconnect. */
  reconnectNow(): void;
}

const MAX_DELAY_MS = 30_000;

export function follow(o: FollowOptions): Feed {
  let closed = false;
  let ctrl: AbortController | null = null;
  let wake: (() => void) | null = null;
  let lastId = o.after;
  let baseDelay = 2000;
  const stallMs = o.stallMs ?? 45_000;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  async function run(): Promise<void> {
    let attempt = 0;
    o.onState({ phase: "connecting" });
    while (!closed) {
      ctrl = new AbortController();
      let reason = "the connection dropped";
      let retryAfterMs = 0;
      let stalled = false;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          stalled = true;
          ctrl?.abort();
        }, stallMs);
      };
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream", Authorization: o.api.authorization() };
        if (lastId !== null) headers["Last-Event-ID"] = String(lastId);
        arm();
        const res = await fetch(o.url, { headers, signal: ctrl.signal, cache: "no-store" });
        if (!res.ok) {
          const err = await errorFrom(res);
          if (res.status === 401) o.api.unauthorized(err.message);
          if (res.status === 400 || res.status === 401 || res.status === 403 || res.status === 404) {
            o.onState({ phase: "failed", message: err.message });
            return;
          }
          reason = err.message;
          retryAfterMs = (err.retryAfterS ?? 0) * 1000;
          throw err;
        }
        if (!res.body) throw new Error("the server sent no stream body");
        attempt = 0;
        o.onState({ phase: "live" });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm();
          const frames = parser.push(value);
          if (parser.retryMs !== null) baseDelay = Math.max(250, parser.retryMs);
          if (frames.length === 0) continue;
          for (const f of frames) if (f.id !== null && /^\d+$/.test(f.id)) lastId = Number(f.id);
          o.onFrames(frames);
        }
        if (o.finished()) {
          o.onState({ phase: "ended", reason: "the feed ended" });
          return;
        }
        reason = "the server closed the stream";
      } catch (err) {
        if (closed) return;
        if (stalled) reason = `no data or heartbeat for ${Math.round(stallMs / 1000)} s`;
        else if (err instanceof Error && err.name !== "AbortError" && reason === "the connection dropped") reason = `the connection dropped (${err.message})`;
      } finally {
        clearTimeout(watchdog);
      }
      if (closed) return;
      attempt++;
      const delay = Math.max(retryAfterMs, Math.min(MAX_DELAY_MS, baseDelay * 2 ** (attempt - 1)));
      o.onState({ phase: "reconnecting", attempt, inMs: delay, reason });
      await sleep(delay);
    }
  }

  void run();
  return {
    close() {
      closed = true;
      ctrl?.abort();
      wake?.();
    },
    reconnectNow() {
      wake?.();
    },
  };
}
