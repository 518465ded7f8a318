/**
 * The one replay-then-follow SSE helper. It subscribes to the live feed
 * first, replays durable events after the resume point in bounded pages, then
 * delivers live events, skipping those the replay already sent and filling
 * any gap from the durable log, so a reader sees every seq exactly once.
 *
 * Delivery is pull-driven: the body is a ReadableStream with no internal
 * buffer, frames wait in this follower's own queue until its reader asks for
 * more. Replay pages are read only when the reader pulls, so a long replay is
 * paced by the client. Live events are only queued by the publisher's call
 * (O(1), never awaits); a follower whose queue overflows is cut off and
 * resumes with Last-Event-ID, so it never slows the publisher or the others.
 */
import type { ResumePoint, SseCloseReason, SseOptions, SseSource, SseTimers, StreamEvent } from "./sse.types.js";

export type { ResumePoint, SseCloseReason, SseOptions, SseSource, SseTimers, StreamEvent } from "./sse.types.js";

/** Response headers of every event stream. `no-transform` also keeps compression middleware off. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
});

export const HEARTBEAT_FRAME = ": ping\n\n";

/** Largest accepted resume point; anything longer is not a seq this service issued. */
const MAX_RESUME_DIGITS = 16;

/**
 * `id: <seq>\nevent: <event_type>\ndata: <record JSON>\n\n`. The data is one
 * line because JSON.stringify escapes CR and LF inside strings, so no payload
 * text can forge a field or a frame; CR/LF in `event_type` (never valid) are
 * replaced by spaces for the same reason. Never throws for a JSON-safe record;
 * the publisher calls it once per event and shares the string with all followers.
 */
export function formatSseFrame(event: StreamEvent): string {
  const type = /[\r\n]/.test(event.event_type) ? event.event_type.replace(/[\r\n]+/g, " ") : event.event_type;
  return `id: ${event.seq}\nevent: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The seq to resume after. `Last-Event-ID` wins over `?after=` when both are
 * present: a browser EventSource reconnects to the same URL (keeping its
 * original `?after=`) and adds the header with the last id it saw, so the
 * header is always the fresher position. Absent or empty values mean "not
 * given"; neither given resumes after 0 (from the start). Anything that is not
 * a plain decimal safe integer >= 0 is `{ok: false}` (the route answers 400
 * VALIDATION_FAILED); this function never throws.
 */
export function parseLastEventId(headerValue: string | null | undefined, afterQuery: string | null | undefined): ResumePoint {
  const header = headerValue?.trim();
  if (header) return parseSeq(header, "Last-Event-ID", "header");
  const query = afterQuery?.trim();
  if (query) return parseSeq(query, "after", "query");
  return { ok: true, after: 0, from: "none" };
}

function parseSeq(value: string, field: "Last-Event-ID" | "after", from: "header" | "query"): ResumePoint {
  const n = /^\d+$/.test(value) && value.length <= MAX_RESUME_DIGITS ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) {
    return { ok: false, field, message: `${field} must be a non-negative integer event seq (the id of the last event received), got ${JSON.stringify(value.slice(0, 40))}` };
  }
  return { ok: true, after: n, from };
}

const encoder = new TextEncoder();
/**
 * One-entry cache: followers flushing the same text in a row (one publish fanned
 * out) share one encoding, so the chunk is shared too and must stay read-only
 * (a default stream never transfers or detaches it).
 */
let lastText = "";
let lastBytes = new Uint8Array(0);
function encode(text: string): Uint8Array {
  if (text !== lastText) {
    lastBytes = encoder.encode(text);
    lastText = text;
  }
  return lastBytes;
}

const ERROR_FRAME = `event: error\ndata: ${JSON.stringify({
  code: "INTERNAL",
  message: "The event stream failed. Reconnect with Last-Event-ID to resume where you stopped.",
})}\n\n`;

/** A comment, so clients that only look at events see nothing but the end of the stream. */
export const OVERFLOW_FRAME = ": overflow: this reader fell behind; reconnect with Last-Event-ID to resume\n\n";

const defaultTimers: SseTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`sseResponse: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * A `text/event-stream` Response replaying `source` after `options.after` and,
 * with `follow`, tailing it until a terminal event, the client leaving
 * (`signal` abort or body cancel), or overflow of this follower's bounded
 * queue. Every event is sent at most once and in seq order, with no gap the
 * durable log can fill. `onClose` runs exactly once, also when this function
 * throws (a source failing on subscribe or on the first replay page throws
 * here, before any byte is sent, so the route can still answer an error
 * status). Later source failures end the stream with one `event: error` frame.
 */
export function sseResponse<E extends StreamEvent>(source: SseSource<E>, options: SseOptions): Response {
  const follow = options.follow;
  if (!Number.isSafeInteger(options.after) || options.after < 0) throw new RangeError(`sseResponse: after must be a non-negative integer, got ${options.after}`);
  const heartbeatMs = positiveInt("heartbeatMs", options.heartbeatMs, 15_000);
  const retryMs = positiveInt("retryMs", options.retryMs, 2_000, 0);
  const replayBatch = positiveInt("replayBatch", options.replayBatch, 500);
  const maxFrames = positiveInt("maxBufferedFrames", options.maxBufferedFrames, 1_000);
  const maxChars = positiveInt("maxBufferedChars", options.maxBufferedChars, 8_000_000);
  const timers = options.timers ?? defaultTimers;
  const signal = options.signal;

  type Item = { event: E; frame: string | undefined };
  /** Frames (or events still to format) waiting for the reader. */
  let out: (string | E)[] = [`retry: ${retryMs}\n\n`];
  /** Live frames in `out` since the last flush, for the overflow bound. */
  let outLive = 0;
  let outLiveChars = 0;
  /** Live events received while replaying; merged once the replay has caught up. */
  let pending: Item[] = [];
  let pendingChars = 0;
  /** Highest seq queued for the reader: the dedupe and gap reference. */
  let lastSeq = options.after;
  let phase: "replay" | "live" = "replay";
  /** Set when no more input is wanted: flush what is queued, then close with this reason. */
  let ending: SseCloseReason | undefined;
  let closed = false;
  /** A read is pending on the body and nothing was there to give it. */
  let readerWaiting = false;
  let flushScheduled = false;
  let unsubscribe: (() => void) | undefined;
  let heartbeat: unknown;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const stopInput = (): void => {
    const unsub = unsubscribe;
    unsubscribe = undefined;
    if (heartbeat !== undefined) {
      timers.clearInterval(heartbeat);
      heartbeat = undefined;
    }
    unsub?.();
  };

  const finish = (reason: SseCloseReason): void => {
    if (closed) return;
    closed = true;
    ending ??= reason;
    stopInput();
    out = [];
    pending = [];
    signal.removeEventListener("abort", onAbort);
    try {
      options.onClose?.(reason);
    } catch (error) {
      options.onError?.(error);
    }
  };

  const startEnding = (reason: SseCloseReason): void => {
    if (ending !== undefined) return;
    ending = reason;
    stopInput();
  };

  const fail = (error: unknown): void => {
    if (ending !== undefined && ending !== "error") return;
    out.push(ERROR_FRAME);
    startEnding("error");
    options.onError?.(error);
  };

  const overflowed = (): boolean => pending.length + outLive > maxFrames || pendingChars + outLiveChars > maxChars;

  const cutOff = (): void => {
    // finish() drops every frame the reader never took; what it already got is a gap-free
    // prefix. A clean end (not controller.error, which the node server logs and answers with
    // a raw error line) lets EventSource-style clients reconnect with Last-Event-ID.
    finish("overflow");
    controller.enqueue(encode(OVERFLOW_FRAME));
    controller.close();
  };

  /** Queues a live event for the reader. With `allowGap` false a gap switches back to replay to fill it first. */
  const acceptLive = (event: E, frame: string | undefined, allowGap: boolean): void => {
    if (event.seq <= lastSeq) return;
    if (event.seq > lastSeq + 1 && !allowGap) {
      phase = "replay";
      pending.push({ event, frame });
      pendingChars += frame?.length ?? 0;
      return;
    }
    out.push(frame ?? event);
    outLive++;
    outLiveChars += frame?.length ?? 0;
    lastSeq = event.seq;
    if (follow && source.isTerminal(event)) startEnding("terminal");
  };

  /** Reads one replay page after lastSeq; on catching up switches to live. Returns false when it made no progress. */
  const replayPage = (): boolean => {
    const before = lastSeq;
    const batch = source.replay(lastSeq, replayBatch);
    for (const event of batch) {
      if (event.seq <= lastSeq) continue;
      out.push(event);
      lastSeq = event.seq;
      if (follow && source.isTerminal(event)) {
        startEnding("terminal");
        return true;
      }
    }
    if (batch.length >= replayBatch && lastSeq > before) return true;
    // Caught up with the durable log.
    if (!follow) {
      startEnding("end");
      return true;
    }
    phase = "live";
    const live = pending;
    pending = [];
    pendingChars = 0;
    // The log was just read to its end after all of these were published, so a seq still
    // missing here is not durable anywhere: deliver what we have rather than wait forever.
    for (const item of live) {
      if (ending !== undefined) break;
      acceptLive(item.event, item.frame, true);
    }
    if (ending === undefined && source.isClosed?.()) startEnding("closed");
    return lastSeq > before;
  };

  /** Fills `out` from the replay until it holds something new, the replay caught up, or input ended. */
  const fill = (): void => {
    const had = out.length;
    while (phase === "replay" && ending === undefined && out.length === had) {
      if (!replayPage() && phase === "replay") break;
    }
  };

  const toText = (item: string | E): string => (typeof item === "string" ? item : formatSseFrame(item));

  /** Answers a pending read: sends everything queued, or waits for the next event. */
  const pump = (): void => {
    if (closed) return;
    if (out.length === 0 && phase === "replay" && ending === undefined) {
      try {
        fill();
      } catch (error) {
        fail(error);
      }
    }
    if (out.length > 0) {
      const items = out;
      out = [];
      outLive = 0;
      outLiveChars = 0;
      let text: string;
      try {
        text = items.length === 1 ? toText(items[0]!) : items.map(toText).join("");
      } catch (error) {
        fail(error);
        text = ERROR_FRAME;
        out = [];
      }
      controller.enqueue(encode(text));
      if (ending === undefined) return;
    }
    if (ending !== undefined) {
      const reason = ending;
      finish(reason);
      controller.close();
      return;
    }
    readerWaiting = true;
  };

  /** Wakes a waiting reader once per burst (a microtask, so the publisher's call stays O(1)). */
  const schedule = (): void => {
    if (!readerWaiting || flushScheduled || closed) return;
    flushScheduled = true;
    queueMicrotask(() => {
      flushScheduled = false;
      if (closed || !readerWaiting) return;
      readerWaiting = false;
      pump();
    });
  };

  const listener = (event: E, frame?: string): void => {
    if (closed || ending !== undefined) return;
    try {
      if (phase === "replay") {
        pending.push({ event, frame });
        pendingChars += frame?.length ?? 0;
      } else {
        acceptLive(event, frame, false);
      }
    } catch (error) {
      fail(error);
    }
    if (overflowed()) cutOff();
    else schedule();
  };

  const onAbort = (): void => {
    if (closed) return;
    finish("aborted");
    try {
      controller.close();
    } catch {
      // already closed or errored
    }
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        readerWaiting = false;
        pump();
      },
      cancel() {
        finish("cancelled");
      },
    },
    { highWaterMark: 0 },
  );
  const headers = { ...options.headers, ...SSE_HEADERS };
  const response = (): Response => new Response(body, { status: 200, headers });

  if (signal.aborted) {
    finish("aborted");
    controller.close();
    return response();
  }
  try {
    if (follow) unsubscribe = source.subscribe(listener);
    // The first page is read now so a broken source fails the request before a 200 is sent.
    fill();
  } catch (error) {
    finish("error");
    throw error;
  }
  if (follow && ending === undefined) {
    heartbeat = timers.setInterval(() => {
      if (closed || ending !== undefined) return;
      if (out.length === 0) out.push(HEARTBEAT_FRAME);
      schedule();
    }, heartbeatMs);
    (heartbeat as { unref?: () => void } | null)?.unref?.();
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return response();
}
