/**
 * When the client is gone. `c.req.raw.signal` aborts when the response gets
 * its 'close' before it finished, but with HTTP/1.1 pipelining a response
 * queued behind another never owns the socket, so it gets no 'close' when the
 * connection drops: a long poll queued that way held its follower slot until
 * its wait ran out (up to 60 s). This signal also aborts when the connection
 * closes. Outside @hono/node-server over HTTP/1 it is the request's own.
 */
import { ServerResponse } from "node:http";
import type { Context } from "hono";
import { onConnectionClose } from "./connection-close.js";
import type { AppEnv } from "./context.js";

export function clientSignal(c: Context<AppEnv>): AbortSignal {
  const signal = c.req.raw.signal;
  const outgoing: unknown = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  const socket = outgoing instanceof ServerResponse ? outgoing.req?.socket : undefined;
  if (!socket || signal.aborted) return signal;
  const gone = new AbortController();
  if (socket.destroyed) {
    gone.abort();
    return gone.signal;
  }
  const abort = (): void => {
    forget();
    gone.abort();
  };
  const unregister = onConnectionClose(socket, abort);
  const forget = (): void => {
    unregister();
    signal.removeEventListener("abort", abort);
  };
  signal.addEventListener("abort", abort, { once: true });
  // Answered: the socket may carry other requests from here.
  (outgoing as ServerResponse).once("finish", forget);
  return gone.signal;
}
