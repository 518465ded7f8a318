/**
 * The event stream over HTTP: the response headers, the resume point, and
 * the two ways a follower's bytes leave the process. `sseReply` is what a
 * route calls; on @hono/node-server over HTTP/1 it writes straight to the
 * Node response (sse.node.ts), anywhere else it returns `sseResponse`, a
 * Response with a pull-driven web ReadableStream body. Both run the same
 * follower (sse.feed.ts) with the same guarantees: replay then follow with no
 * gap and no duplicate, a bounded per-follower queue with an overflow
 * cut-off, heartbeat, `onClose` exactly once, everything released when the
 * client leaves, an error frame on a later source failure.
 */
import { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import { SSE_HEADERS, SseFeed } from "./sse.feed.js";
import { streamToNode } from "./sse.node.js";
import { AppError } from "../errors.js";
import type { AppEnv } from "../http/context.js";
import type { SseFollowers } from "./sse.followers.js";
import type { ResumePoint, SseCloseReason, SseOptions, SseSource, StreamEvent } from "./sse.types.js";

export { formatSseFrame, HEARTBEAT_FRAME, OVERFLOW_FRAME, SSE_HEADERS } from "./sse.feed.js";
export type { ResumePoint, SseCloseReason, SseOptions, SseSource, SseTimers, StreamEvent } from "./sse.types.js";

/** Largest accepted resume point; anything longer is not a seq this service issued. */
const MAX_RESUME_DIGITS = 16;

/**
 * The seq to resume after. `Last-Event-ID` wins over `?after=` when both are
 * present: a browser EventSource reconnects to the same URL (keeping its
 * original `?after=`) and adds the header with the last id it saw, so the
 * header is always the fresher position. Absent or empty values mean "not
 * given"; neither given resumes after 0 (from the start). A value is the
 * frame's `id` (a plain decimal seq) or, when `streamId` is given, the event
 * record's own `id`, `"<streamId>:<seq>"`, which is what a client that kept
 * the parsed record rather than the frame has at hand. Anything else (another
 * stream's id included) is `{ok: false}` (the route answers 400
 * VALIDATION_FAILED); this function never throws.
 */
export function parseLastEventId(headerValue: string | null | undefined, afterQuery: string | null | undefined, streamId?: string): ResumePoint {
  const header = headerValue?.trim();
  if (header) return parseSeq(header, "Last-Event-ID", "header", streamId);
  const query = afterQuery?.trim();
  if (query) return parseSeq(query, "after", "query", streamId);
  return { ok: true, after: 0, from: "none" };
}

function parseSeq(value: string, field: "Last-Event-ID" | "after", from: "header" | "query", streamId: string | undefined): ResumePoint {
  let digits = value;
  const colon = value.lastIndexOf(":");
  if (colon >= 0 && streamId !== undefined) {
    if (value.slice(0, colon) !== streamId) {
      return { ok: false, field, message: `${field} is an event id of another stream; send the seq (or the event's own id, "<stream id>:<seq>") of the last event received from this one` };
    }
    digits = value.slice(colon + 1);
  }
  const n = /^\d+$/.test(digits) && digits.length <= MAX_RESUME_DIGITS ? Number(digits) : NaN;
  if (!Number.isSafeInteger(n)) {
    const form = streamId === undefined ? "" : ` or the event's own id ("<stream id>:<seq>")`;
    return { ok: false, field, message: `${field} must be the seq of the last event received (a non-negative integer)${form}, got ${JSON.stringify(value.slice(0, 40))}` };
  }
  return { ok: true, after: n, from };
}

/**
 * Answers a hono request with the event stream replaying `source` after
 * `options.after` and, with `follow`, tailing it. A GET served by
 * @hono/node-server over HTTP/1 (`c.env.outgoing` is the Node response) has
 * the frames written straight to that response and returns the node server's
 * "already sent" marker, so a flush costs a follower one socket write rather
 * than a web stream's promise round trips; elsewhere (in-process
 * `app.request`, HTTP/2, another runtime) it returns `sseResponse`, and a HEAD
 * gets that Response's status and headers with the follower already released.
 * Throws, after `onClose("error")`, when the source fails before the first
 * byte, so the route can answer an error status.
 *
 * The marker is a body-less Response built when @hono/node-server/utils/response
 * is first imported, before the server replaces the global Response; that is
 * why it is imported statically here. Middleware must not read `c.res` before
 * `next()`: hono would then copy the marker into a new Response, which the node
 * server would try to send a second time.
 */
export function sseReply<E extends StreamEvent>(c: Context, source: SseSource<E>, options: SseOptions<E>): Response {
  // A web stream ends when the request's signal aborts. A Node response needs no signal (its own 'close' and
  // its connection's say the client left), and reading `c.req.raw.signal` makes @hono/node-server build an
  // AbortController that, with the feed's listener on it, every follower would hold for its lifetime.
  const web = (): SseOptions<E> => (options.signal ? options : { ...options, signal: c.req.raw.signal });
  if (c.req.method === "HEAD") {
    // hono answers HEAD through the GET handler and keeps only the status and headers; a
    // stream nobody will read would hold its follower until the connection closes.
    const res = sseResponse(source, web());
    void res.body?.cancel();
    return res;
  }
  const outgoing: unknown = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  if (!(outgoing instanceof ServerResponse)) return sseResponse(source, web());
  streamToNode(outgoing, source, options);
  return RESPONSE_ALREADY_SENT;
}

/**
 * A `text/event-stream` Response whose body is a web ReadableStream with no
 * internal buffer: the follower writes one chunk per pull, so frames wait in
 * its own bounded queue until the reader asks. The stream ends on a terminal
 * event, the client leaving (`signal` abort or body cancel), or overflow.
 */
export function sseResponse<E extends StreamEvent>(source: SseSource<E>, options: SseOptions<E>): Response {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let done: () => void = () => undefined;
  const onClose = options.onClose;
  const tracked: SseOptions<E> = options.followers
    ? {
        ...options,
        onClose: (reason) => {
          done();
          onClose?.(reason);
        },
      }
    : options;
  const feed = new SseFeed(source, tracked, {
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
  if (options.followers) done = options.followers.add({ close: () => feed.close(), stop: () => feed.stop("cancelled") });
  feed.start();
  return new Response(body, { status: 200, headers: { ...options.headers, ...SSE_HEADERS } });
}

/** What a `GET .../events` route of any stream kind hands to `replyWithEvents`. */
export interface EventsRouteInput<E extends StreamEvent> {
  /** The stream's id, so `Last-Event-ID` may also be the record's own `"<id>:<seq>"`. */
  streamId: string;
  follow: string | undefined;
  after: string | undefined;
  heartbeatMs: number;
  followers?: SseFollowers | undefined;
  project?: ((event: E) => E) | undefined;
  onClose?: ((reason: SseCloseReason) => void) | undefined;
  /** What identifies the stream in the log line of a failed stream, e.g. `{ room_id }`. */
  logFields: Record<string, string>;
}

/**
 * The one `GET .../events` handler body, for rooms and factory runs alike:
 * the resume point is checked before the feed is opened (a bad one holds no
 * follower slot), and the feed's `close` runs exactly once however the reply
 * ends, including when building it throws.
 *
 * Every callback handed to the feed lives as long as the follower, and V8
 * keeps one context for all closures of a scope: so no closure here or in
 * the calling route may capture `c`, or the whole request (about 4 KB) stays
 * alive with each follower. Routes pass `open` bound to values, not as an
 * arrow over `c`.
 */
export function replyWithEvents<E extends StreamEvent>(c: Context<AppEnv>, input: EventsRouteInput<E>, open: () => { source: SseSource<E>; close: () => void }): Response {
  const log = c.get("log");
  const requestId = String(c.get("requestId"));
  const resume = parseLastEventId(c.req.header("last-event-id"), input.after, input.streamId);
  if (!resume.ok) throw new AppError("VALIDATION_FAILED", `${resume.field}: ${resume.message}`, { details: [{ path: resume.field, message: resume.message }] });
  // What the follower's callbacks need, not `input` itself: they live as long as the follower.
  const { onClose, logFields } = input;
  const { source, close } = open();
  try {
    return sseReply(c, source, {
      follow: input.follow === "true" || input.follow === "1",
      after: resume.after,
      heartbeatMs: input.heartbeatMs,
      headers: { "X-Request-Id": requestId },
      ...(input.project ? { project: input.project } : {}),
      ...(input.followers ? { followers: input.followers } : {}),
      onClose: (reason) => {
        close();
        onClose?.(reason);
      },
      onError: (err) => log.error({ err, req_id: requestId, ...logFields }, "event stream failed"),
    });
  } catch (err) {
    close();
    throw err;
  }
}
