/**
 * The event stream written straight to a Node HTTP/1 response: per follower,
 * one `res.write` per flush (at most one per event-loop turn, sse.feed.ts) of
 * bytes shared with every follower given the same frames, with backpressure
 * from its return value and 'drain'. Going through a web ReadableStream
 * instead (pull, enqueue, the node server's read loop) costs several promise
 * round trips per follower per chunk, which with 1,000 followers of one room
 * was the largest JS share of a publish's fan-out.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { onConnectionClose } from "../http/connection-close.js";
import { SSE_HEADERS, SseFeed, type SseSink } from "./sse.feed.js";
import type { ClosableStream, SseFollowers } from "./sse.followers.js";
import type { SseOptions, SseSource, StreamEvent } from "./sse.types.js";

/**
 * One follower over a Node response: the feed's sink, and what the server's
 * follower registry closes on shutdown. One object with two bound listeners
 * rather than a closure per callback (each follower holds all of them for its
 * lifetime); the headers are dropped once written.
 */
class NodeFollower<E extends StreamEvent> implements SseSink, ClosableStream {
  readonly #res: ServerResponse;
  #headers: OutgoingHttpHeaders | undefined;
  readonly feed: SseFeed<E>;
  #done: () => void = noop;
  #forget: () => void = noop;
  /** 'drain': the socket takes more. */
  readonly ready = (): void => this.feed.ready();
  /** The response closed (finished, or the client left) or its connection did: stop as an abort. */
  readonly left = (): void => {
    this.#forget();
    this.feed.stop("aborted");
    this.#done();
  };

  constructor(res: ServerResponse, source: SseSource<E>, options: SseOptions<E>) {
    this.#res = res;
    this.#headers = { ...options.headers, ...SSE_HEADERS };
    this.feed = new SseFeed(source, options, this);
  }

  /** Registers the ways the follower ends; false (and the feed stopped) when the client is already gone. */
  attach(followers: SseFollowers | undefined): boolean {
    const socket = this.#res.req?.socket;
    if (socket?.destroyed) {
      this.feed.stop("aborted");
      return false;
    }
    if (followers) this.#done = followers.add(this);
    if (socket) this.#forget = onConnectionClose(socket, this.left);
    // 'close' comes after 'finish' (the last bytes handed to the socket) or when the client left.
    this.#res.once("close", this.left);
    return true;
  }

  #head(): void {
    const headers = this.#headers;
    if (headers === undefined) return;
    this.#headers = undefined;
    if (!this.#res.headersSent) this.#res.writeHead(200, headers);
  }

  write(chunk: Uint8Array): boolean {
    this.#head();
    if (this.#res.write(chunk)) return true;
    this.#res.once("drain", this.ready);
    return false;
  }

  end(last?: Uint8Array): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    this.#head();
    res.end(last);
  }

  /** Shutdown: send what is durable, then end. */
  close(): void {
    this.feed.close();
  }

  /** Shutdown, past the grace period: cut the connection. */
  stop(): void {
    this.#res.destroy();
  }
}

const noop = (): void => undefined;

/**
 * Streams `source` to `res` as `sseResponse` would to a Response body, with
 * status 200 and the SSE headers (over `options.headers`). The headers go
 * out with the first byte, so when the source fails before that this throws
 * (after `onClose("error")`) and `res` is untouched. The client leaving
 * (the response's 'close' before the end, or its connection closing while
 * the response still waits its turn behind a pipelined one) stops the
 * follower as an abort.
 */
export function streamToNode<E extends StreamEvent>(res: ServerResponse, source: SseSource<E>, options: SseOptions<E>): void {
  const follower = new NodeFollower(res, source, options);
  follower.feed.start();
  if (follower.attach(options.followers)) follower.feed.ready();
}
