/**
 * When the client is gone. `c.req.raw.signal` aborts when the response gets
 * its 'close' before it finished, but with HTTP/1.1 pipelining a response
 * queued behind another never owns the socket, so it gets no 'close' when the
 * connection drops: a long poll queued that way held its follower slot until
 * its wait ran out (up to 60 s). This signal also aborts when the connection
 * closes. Outside @hono/node-server over HTTP/1 it is the request's own.
 */
import { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Context } from "hono";
import type { AppEnv } from "./context.js";

/** What to abort per connection: one 'close' listener per socket, however many requests are queued on it. */
const bySocket = new WeakMap<Socket, Set<() => void>>();

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
  let aborts = bySocket.get(socket);
  if (!aborts) {
    const set = (aborts = new Set());
    bySocket.set(socket, set);
    socket.once("close", () => {
      bySocket.delete(socket);
      for (const abort of set) abort();
    });
  }
  const abort = (): void => {
    forget();
    gone.abort();
  };
  const forget = (): void => {
    bySocket.get(socket)?.delete(abort);
    signal.removeEventListener("abort", abort);
  };
  aborts.add(abort);
  signal.addEventListener("abort", abort, { once: true });
  // Answered: the socket may carry other requests from here.
  (outgoing as ServerResponse).once("finish", forget);
  return gone.signal;
}
