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
import { SSE_HEADERS, SseFeed } from "./sse.feed.js";
import type { SseOptions, SseSource, StreamEvent } from "./sse.types.js";

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
  const headers: OutgoingHttpHeaders = { ...options.headers, ...SSE_HEADERS };
  const head = (): void => {
    if (!res.headersSent) res.writeHead(200, headers);
  };
  const ready = (): void => feed.ready();
  const feed = new SseFeed(source, options, {
    write: (chunk) => {
      head();
      if (res.write(chunk)) return true;
      res.once("drain", ready);
      return false;
    },
    end: (last) => {
      if (res.destroyed || res.writableEnded) return;
      head();
      res.end(last);
    },
  });
  feed.start();
  const socket = res.req?.socket;
  if (socket?.destroyed) {
    feed.stop("aborted");
    return;
  }
  const done = options.followers?.add({ close: () => feed.close(), stop: () => res.destroy() }) ?? (() => undefined);
  const stop = (): void => {
    forget();
    feed.stop("aborted");
    done();
  };
  const forget = socket ? onConnectionClose(socket, stop) : () => undefined;
  // 'close' comes after 'finish' (the last bytes handed to the socket) or when the client left.
  res.once("close", stop);
  feed.ready();
}
