/**
 * The contract between the SSE helper and whatever produces events (a room's
 * log today, a factory run tomorrow). The helper knows nothing else about the
 * source: durable replay by seq, a live feed published after commit, and a
 * rule for when the stream is over.
 */

import type { SseFollowers } from "./sse.followers.js";

/** Anything with a per-stream, strictly increasing `seq` and a type name. */
export interface StreamEvent {
  seq: number;
  event_type: string;
}

export interface SseSource<E extends StreamEvent> {
  /** Durable events with seq > afterSeq, ascending, at most `limit`. Synchronous (SQLite). */
  replay(afterSeq: number, limit: number): E[];
  /**
   * Live events published after durable commit, in seq order. Returns unsubscribe.
   * Called BEFORE replay so nothing is missed at the seam. `frame`, when given,
   * is `formatSseFrame(event)` computed once by the publisher for all followers.
   */
  subscribe(listener: (event: E, frame?: string) => void): () => void;
  /** True when the stream should end after sending this event (e.g. room:released). */
  isTerminal(event: E): boolean;
  /** Optional: true if the source is already finished, so a follow with nothing new closes at once. */
  isClosed?(): boolean;
}

/** Why a stream ended; passed to `onClose`. */
export type SseCloseReason =
  /** replay finished (follow=false) */
  | "end"
  /** a terminal event was sent */
  | "terminal"
  /** the source was already closed and nothing was left to send */
  | "closed"
  /** the client went away: the request's AbortSignal fired or its Node response closed */
  | "aborted"
  /** the Response body stream was cancelled by its reader */
  | "cancelled"
  /** the follower fell too far behind and was cut off; it resumes with Last-Event-ID */
  | "overflow"
  /** the source threw; one `event: error` frame was sent */
  | "error"
  /** the server is stopping: everything durable was sent first (`SseFeed.close`) */
  | "shutdown";

/** The timer functions the helper uses, injectable so tests can count live timers. */
export interface SseTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface SseOptions<E extends StreamEvent = StreamEvent> {
  /** Keep the stream open after the replay and tail live events. */
  follow: boolean;
  /** Resume point: replay events with seq > after. A non-negative safe integer. */
  after: number;
  /**
   * The request's signal (`c.req.raw.signal`); aborting it releases everything at once. `sseReply` sets it
   * for a web stream; over a Node response the response's own 'close' does this, so none is needed.
   */
  signal?: AbortSignal | undefined;
  /** Comment heartbeat period while following. Default 15000. */
  heartbeatMs?: number;
  /** Reconnection delay hint, sent once first as `retry: N`. Default 2000. */
  retryMs?: number;
  /** Replay page size; replay never loads more than this at once. Default 500. */
  replayBatch?: number;
  /** Live frames a follower may have waiting for its reader before it is cut off. Default 1000. */
  maxBufferedFrames?: number;
  /** Same bound in characters of frame text (large frames). Default 8_000_000. */
  maxBufferedChars?: number;
  /** Called exactly once per stream (`sseReply`, `sseResponse`), when it is over for any reason. Must not throw. */
  onClose?: (reason: SseCloseReason) => void;
  /** Called with an error thrown by the source (for logging); the client gets one `event: error` frame. */
  onError?: (error: unknown) => void;
  /** Defaults to the global setInterval/clearInterval. */
  timers?: SseTimers;
  /**
   * Applied to every event before it is sent (replayed and live), e.g. to
   * leave out a field the reader asked not to get. It must return the event
   * itself when it changes nothing, and the same object for the same input,
   * so the frame of a live event is still formatted once for all its readers.
   */
  project?: (event: E) => E;
  /** Followers the server can end gracefully on shutdown (`SseFollowers.closeAll`). */
  followers?: SseFollowers;
  /** Extra response headers (e.g. X-Request-Id); the SSE headers always win. */
  headers?: Record<string, string>;
}

/** Result of reading the resume point from a request. */
export type ResumePoint =
  | { ok: true; after: number; from: "header" | "query" | "none" }
  | { ok: false; field: "Last-Event-ID" | "after"; message: string };
