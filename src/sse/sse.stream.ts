/**
 * The event stream over HTTP: the response headers, the resume point, and
 * `sseResponse`, a Response whose body is a pull-driven web ReadableStream
 * fed by one follower (sse.feed.ts): replay then follow with no gap and no
 * duplicate, a bounded per-follower queue with an overflow cut-off,
 * heartbeat, `onClose` exactly once, everything released when the client
 * leaves, an error frame on a later source failure.
 */
import { SSE_HEADERS, SseFeed } from "./sse.feed.js";
import type { ResumePoint, SseOptions, SseSource, StreamEvent } from "./sse.types.js";

export { formatSseFrame, HEARTBEAT_FRAME, OVERFLOW_FRAME, SSE_HEADERS } from "./sse.feed.js";
export type { ResumePoint, SseCloseReason, SseOptions, SseSource, SseTimers, StreamEvent } from "./sse.types.js";

/** Largest accepted resume point; anything longer is not a seq this service issued. */
const MAX_RESUME_DIGITS = 16;

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

/**
 * A `text/event-stream` Response whose body is a web ReadableStream with no
 * internal buffer: the follower writes one chunk per pull, so frames wait in
 * its own bounded queue until the reader asks. The stream ends on a terminal
 * event, the client leaving (`signal` abort or body cancel), or overflow.
 */
export function sseResponse<E extends StreamEvent>(source: SseSource<E>, options: SseOptions): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const feed = new SseFeed(source, options, {
    write: (chunk) => {
      controller.enqueue(chunk);
      return false; // highWaterMark 0: the next pull asks for more
    },
    end: (last) => {
      try {
        if (last) controller.enqueue(last);
        controller.close();
      } catch {
        // already closed or errored by its reader
      }
    },
  });
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        feed.ready();
      },
      cancel() {
        feed.stop("cancelled");
      },
    },
    { highWaterMark: 0 },
  );
  feed.start();
  return new Response(body, { status: 200, headers: { ...options.headers, ...SSE_HEADERS } });
}
