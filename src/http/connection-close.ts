/**
 * Who to tell when a client connection closes. A response only gets a
 * 'close' of its own once it owns the socket: with HTTP/1.1 pipelining, a
 * response queued behind another (a follow stream that never ends, a long
 * poll) never does, so work waiting on it (a follower slot, a wait) would be
 * held until it ended by itself. One 'close' listener per socket, however
 * many requests are queued on it; each caller gets its own forget.
 */
import type { Socket } from "node:net";

const bySocket = new WeakMap<Socket, Set<() => void>>();

/** Calls `fn` once when `socket` closes; returns a function that unregisters it. */
export function onConnectionClose(socket: Socket, fn: () => void): () => void {
  let set = bySocket.get(socket);
  if (!set) {
    const fns = (set = new Set());
    bySocket.set(socket, fns);
    socket.once("close", () => {
      bySocket.delete(socket);
      for (const f of fns) f();
    });
  }
  set.add(fn);
  return () => void bySocket.get(socket)?.delete(fn);
}
