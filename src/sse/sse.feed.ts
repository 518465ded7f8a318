/**
 * One follower of an event source, whatever carries its bytes. It subscribes
 * to the live feed first, replays durable events after the resume point in
 * bounded pages, then delivers live events, skipping those the replay already
 * sent and filling any gap from the durable log, so a reader sees every seq
 * exactly once.
 *
 * Delivery is paced by the sink (sse.stream.ts: a web ReadableStream pulled
 * by its reader; sse.node.ts: a Node response and its 'drain'): frames wait in
 * this follower's own queue until the sink can take more, and replay pages
 * are read only then, so a long replay is paced by the client. Live events
 * are only queued by the publisher's call (O(1), never awaits); a follower
 * whose queue overflows is cut off and resumes with Last-Event-ID, so it never
 * slows the publisher or the others. While following, a comment heartbeat
 * keeps proxies from timing the stream out. `onClose` runs exactly once, for
 * every way the stream can end, and ending releases the subscription, the
 * heartbeat and the abort listener at once.
 *
 * No write is larger than about CHUNK_CHARS (one frame can be larger): a
 * replay of long frames is formatted a chunk at a time as the sink takes it,
 * so neither one follower's replay nor its memory grows with the whole log.
 */
import type { SseCloseReason, SseOptions, SseSource, SseTimers, StreamEvent } from "./sse.types.js";

/** Response headers of every event stream. `no-transform` also keeps compression middleware off. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
});

export const HEARTBEAT_FRAME = ": ping\n\n";

/** A comment, so clients that only look at events see nothing but the end of the stream. */
export const OVERFLOW_FRAME = ": overflow: this reader fell behind; reconnect with Last-Event-ID to resume\n\n";

const ERROR_FRAME = `event: error\ndata: ${JSON.stringify({
  code: "INTERNAL",
  message: "The event stream failed. Reconnect with Last-Event-ID to resume where you stopped.",
})}\n\n`;

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
 * UTF-8 bytes of a chunk. One-entry cache: followers flushing the same text
 * in a row (one publish, or one event-loop turn of publishes, fanned out)
 * share one encoding, so the chunk is shared too and must stay read-only
 * (neither a default web stream nor a socket write transfers or detaches it).
 * `Buffer.from`, not a TextEncoder: a chunk under 4 KB is a slice of Node's
 * shared pool rather than an ArrayBuffer of its own, which measured about
 * 2 µs less per 1.7 KB frame (4.4 against 6.4 µs with the formatting).
 */
let lastText = "";
let lastBytes: Uint8Array = Buffer.alloc(0);
function encode(text: string): Uint8Array {
  if (text !== lastText) {
    lastBytes = Buffer.from(text, "utf8");
    lastText = text;
  }
  return lastBytes;
}

/** Where a follower's bytes go. */
export interface SseSink {
  /**
   * Sends one chunk. True: the sink can take more at once. False: it will call
   * `SseFeed.ready()` when it can (its reader pulled, its socket drained).
   */
  write(chunk: Uint8Array): boolean;
  /** Ends the body cleanly after what was written, `last` being its final chunk. Called at most once, never after `stop()`. */
  end(last?: Uint8Array): void;
}

const defaultTimers: SseTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`sse: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * Followers with something for a waiting sink, written once per event-loop
 * turn (setImmediate runs after that turn's I/O callbacks). Every request
 * handled in the turn has published by then, so a follower gets all of the
 * turn's events in one write: when publishes come faster than the sockets
 * take them, the writes per follower stay at one per turn instead of one per
 * event, which is what keeps a busy fan-out at the publish rate.
 */
let due: (() => void)[] = [];
function flushDue(): void {
  const wakes = due;
  due = [];
  for (const wake of wakes) wake();
}

type Pending<E> = { event: E; frame: string | undefined };

/**
 * Characters of frame text per write, beyond which the rest waits for the
 * next one. Formatting costs about a millisecond per few hundred KB, so a
 * replay of megabytes of frames (a long reply's cumulative `partial.text`)
 * never holds the event loop for long, and a write this size is always past
 * a socket's high-water mark, so the next waits for 'drain'.
 */
export const CHUNK_CHARS = 64 * 1024;

/** Frames of projected events, shared by every follower with the same projection (which must return one object per input). */
const projectedFrames = new WeakMap<StreamEvent, string>();
function projectedFrame(event: StreamEvent): string {
  let frame = projectedFrames.get(event);
  if (frame === undefined) projectedFrames.set(event, (frame = formatSseFrame(event)));
  return frame;
}

export class SseFeed<E extends StreamEvent> {
  readonly #source: SseSource<E>;
  readonly #sink: SseSink;
  readonly #follow: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #timers: SseTimers;
  readonly #heartbeatMs: number;
  readonly #replayBatch: number;
  readonly #maxFrames: number;
  readonly #maxChars: number;
  readonly #onClose: SseOptions["onClose"];
  readonly #onError: SseOptions["onError"];
  readonly #project: ((event: E) => E) | undefined;
  /** The server is stopping: end once what is durable now has been sent. */
  #closeWhenCaughtUp = false;

  /** Frames (or events still to format) waiting for the sink. */
  #out: (string | E)[];
  /** Live frames in `#out` since the last write, for the overflow bound. */
  #outLive = 0;
  #outLiveChars = 0;
  /** Live events received while replaying; merged once the replay has caught up. */
  #pending: Pending<E>[] = [];
  #pendingChars = 0;
  /** Highest seq queued for the sink: the dedupe and gap reference. */
  #lastSeq: number;
  #phase: "replay" | "live" = "replay";
  /** Set when no more input is wanted: send what is queued, then close with this reason. */
  #ending: SseCloseReason | undefined;
  #closed = false;
  /** The sink can take more and nothing was there to give it. */
  #waiting = false;
  /** In the due list of the next flush. */
  #due = false;
  #unsubscribe: (() => void) | undefined;
  #heartbeat: unknown;

  /** Validates the options; nothing is subscribed or read until `start()`. */
  constructor(source: SseSource<E>, options: SseOptions<E>, sink: SseSink) {
    if (!Number.isSafeInteger(options.after) || options.after < 0) throw new RangeError(`sse: after must be a non-negative integer, got ${options.after}`);
    this.#heartbeatMs = positiveInt("heartbeatMs", options.heartbeatMs, 15_000);
    const retryMs = positiveInt("retryMs", options.retryMs, 2_000, 0);
    this.#replayBatch = positiveInt("replayBatch", options.replayBatch, 500);
    this.#maxFrames = positiveInt("maxBufferedFrames", options.maxBufferedFrames, 1_000);
    this.#maxChars = positiveInt("maxBufferedChars", options.maxBufferedChars, 8_000_000);
    this.#source = source;
    this.#sink = sink;
    this.#follow = options.follow;
    this.#signal = options.signal;
    this.#timers = options.timers ?? defaultTimers;
    this.#onClose = options.onClose;
    this.#onError = options.onError;
    this.#project = options.project;
    this.#lastSeq = options.after;
    this.#out = [`retry: ${retryMs}\n\n`];
  }

  /**
   * Subscribes (when following) and reads the first replay page, so a source
   * failing there throws from here, after `onClose("error")` and before the
   * sink got a byte: the route can still answer an error status.
   */
  start(): void {
    if (this.#signal?.aborted) {
      this.#finish("aborted");
      this.#sink.end();
      return;
    }
    try {
      if (this.#follow) this.#unsubscribe = this.#source.subscribe(this.#listener);
      this.#fill();
    } catch (error) {
      this.#finish("error");
      throw error;
    }
    if (this.#closed) return; // cut off by events published during the first page
    if (this.#follow && this.#ending === undefined) {
      this.#heartbeat = this.#timers.setInterval(() => {
        if (this.#ending !== undefined) return;
        if (this.#out.length === 0) this.#out.push(HEARTBEAT_FRAME);
        this.#schedule();
      }, this.#heartbeatMs);
      (this.#heartbeat as { unref?: () => void } | null)?.unref?.();
    }
    if (this.#signal) {
      this.#onAbort = () => this.#aborted();
      this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The sink can take more: sends what is queued (reading replay pages as needed) or waits for the next event. */
  ready(): void {
    this.#waiting = false;
    this.#pump();
  }

  /** The sink went away on its own (reader cancelled, socket closed): release everything, send nothing more. */
  stop(reason: "aborted" | "cancelled"): void {
    this.#finish(reason);
  }

  /**
   * The server is stopping: send what is queued and what the durable log
   * holds now (replaying to its end if the follower is behind), then end the
   * body cleanly with reason "shutdown", so the follower has every event that
   * was committed and resumes from there with Last-Event-ID.
   */
  close(): void {
    if (this.#closed || this.#ending !== undefined) return;
    if (this.#phase === "live") this.#startEnding("shutdown");
    else this.#closeWhenCaughtUp = true;
    if (this.#waiting) this.ready();
  }

  #pump(): void {
    while (!this.#closed) {
      if (this.#out.length === 0 && this.#phase === "replay" && this.#ending === undefined) {
        try {
          this.#fill();
        } catch (error) {
          this.#fail(error);
        }
      }
      const wrote = this.#out.length > 0;
      const more = wrote && this.#sink.write(this.#take());
      if (this.#ending !== undefined && this.#out.length === 0) {
        this.#finish(this.#ending);
        this.#sink.end();
        return;
      }
      if (!wrote) {
        this.#waiting = true;
        return;
      }
      if (!more) return;
    }
  }

  /** What is queued, as one chunk of at most about CHUNK_CHARS (at least one frame); the rest stays queued. */
  #take(): Uint8Array {
    const items = this.#out;
    try {
      if (items.length === 1) {
        this.#out = [];
        this.#outLive = 0;
        this.#outLiveChars = 0;
        return encode(toText(items[0]!));
      }
      const parts: string[] = [];
      let chars = 0;
      let n = 0;
      while (n < items.length && chars < CHUNK_CHARS) {
        const text = toText(items[n++]!);
        parts.push(text);
        chars += text.length;
      }
      if (n === items.length) {
        this.#out = [];
        this.#outLive = 0;
        this.#outLiveChars = 0;
      } else {
        items.splice(0, n);
        // Live frames are queued after replayed ones, so what is left holds at most this many.
        this.#outLive = Math.min(this.#outLive, items.length);
        this.#outLiveChars = Math.max(0, this.#outLiveChars - chars);
      }
      return encode(parts.join(""));
    } catch (error) {
      this.#fail(error);
      this.#out = [];
      return encode(ERROR_FRAME);
    }
  }

  /** Wakes a waiting sink at the next flush (never now, so the publisher's call stays O(1)). */
  #schedule(): void {
    if (!this.#waiting || this.#due) return;
    this.#due = true;
    if (due.length === 0) setImmediate(flushDue);
    due.push(this.#wake);
  }

  readonly #wake = (): void => {
    this.#due = false;
    if (this.#waiting) this.ready();
  };

  readonly #listener = (event: E, frame?: string): void => {
    if (this.#ending !== undefined) return;
    if (this.#project) {
      const projected = this.#project(event);
      if (projected !== event) {
        event = projected;
        frame = projectedFrame(projected);
      }
    }
    try {
      if (this.#phase === "replay") {
        this.#pending.push({ event, frame });
        this.#pendingChars += frame?.length ?? 0;
      } else {
        this.#acceptLive(event, frame, false);
      }
    } catch (error) {
      this.#fail(error);
    }
    if (this.#pending.length + this.#outLive > this.#maxFrames || this.#pendingChars + this.#outLiveChars > this.#maxChars) this.#cutOff();
    else this.#schedule();
  };

  /** The listener on `#signal`, made only when there is one. */
  #onAbort: (() => void) | undefined;

  #aborted(): void {
    if (this.#closed) return;
    this.#finish("aborted");
    this.#sink.end();
  }

  /**
   * finish() drops every frame the sink never took; what it already got is a
   * gap-free prefix. A clean end (not an error, which a server logs and answers
   * with a raw error line) lets EventSource-style clients reconnect with Last-Event-ID.
   */
  #cutOff(): void {
    this.#finish("overflow");
    this.#sink.end(encode(OVERFLOW_FRAME));
  }

  /** Queues a live event for the sink. With `allowGap` false a gap switches back to replay to fill it first. */
  #acceptLive(event: E, frame: string | undefined, allowGap: boolean): void {
    if (event.seq <= this.#lastSeq) {
      // Already sent, or the reader resumed past it (a Last-Event-ID beyond the log): not sent again,
      // but a terminal event still ends the stream, or a follower ahead of the log would never end.
      if (this.#follow && this.#source.isTerminal(event)) this.#startEnding("terminal");
      return;
    }
    if (event.seq > this.#lastSeq + 1 && !allowGap) {
      this.#phase = "replay";
      this.#pending.push({ event, frame });
      this.#pendingChars += frame?.length ?? 0;
      return;
    }
    this.#out.push(frame ?? event);
    this.#outLive++;
    this.#outLiveChars += frame?.length ?? 0;
    this.#lastSeq = event.seq;
    if (this.#follow && this.#source.isTerminal(event)) this.#startEnding("terminal");
  }

  /** Fills `#out` from the replay until it holds something new, the replay caught up, or input ended. */
  #fill(): void {
    const had = this.#out.length;
    while (this.#phase === "replay" && this.#ending === undefined && this.#out.length === had) {
      if (!this.#replayPage() && this.#phase === "replay") break;
    }
  }

  /** Reads one replay page after lastSeq; on catching up switches to live. Returns false when it made no progress. */
  #replayPage(): boolean {
    const before = this.#lastSeq;
    const batch = this.#source.replay(this.#lastSeq, this.#replayBatch);
    for (const event of batch) {
      if (event.seq <= this.#lastSeq) continue;
      this.#out.push(this.#project ? this.#project(event) : event);
      this.#lastSeq = event.seq;
      if (this.#follow && this.#source.isTerminal(event)) {
        this.#startEnding("terminal");
        return true;
      }
    }
    if (batch.length >= this.#replayBatch && this.#lastSeq > before) return true;
    // Caught up with the durable log.
    if (!this.#follow) {
      this.#startEnding("end");
      return true;
    }
    this.#phase = "live";
    const live = this.#pending;
    this.#pending = [];
    this.#pendingChars = 0;
    // The log was just read to its end after all of these were published, so a seq still
    // missing here is not durable anywhere: deliver what we have rather than wait forever.
    for (const item of live) {
      if (this.#ending !== undefined) break;
      this.#acceptLive(item.event, item.frame, true);
    }
    if (this.#ending === undefined && this.#source.isClosed?.()) this.#startEnding("closed");
    if (this.#ending === undefined && this.#closeWhenCaughtUp) this.#startEnding("shutdown");
    return this.#lastSeq > before;
  }

  #fail(error: unknown): void {
    if (this.#ending !== undefined && this.#ending !== "error") return;
    this.#out.push(ERROR_FRAME);
    this.#startEnding("error");
    this.#onError?.(error);
  }

  #startEnding(reason: SseCloseReason): void {
    if (this.#ending !== undefined) return;
    this.#ending = reason;
    this.#stopInput();
  }

  #stopInput(): void {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    if (this.#heartbeat !== undefined) {
      this.#timers.clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
    unsubscribe?.();
  }

  #finish(reason: SseCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending ??= reason;
    this.#stopInput();
    this.#out = [];
    this.#pending = [];
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.#onClose?.(reason);
    } catch (error) {
      this.#onError?.(error);
    }
  }
}

function toText(item: string | StreamEvent): string {
  return typeof item === "string" ? item : formatSseFrame(item);
}
