/**
 * JSON answers for hot routes, built without undici `Headers`. Hono's
 * `c.json` turns the headers into a `Headers` object as soon as there is
 * more than one (here content type, ETag and X-Request-Id), and
 * @hono/node-server then iterates that object to write them; a plain header
 * record is written as it is. On `GET /llm/room/:id` the Headers round trip
 * was a visible share of the request's CPU. Responses made here already
 * carry X-Request-Id, so the request-context middleware leaves them alone.
 */
import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "./context.js";

const stamped = new WeakSet<Response>();

/** Whether `res` was made by `jsonResponse` and so carries X-Request-Id already. */
export function hasRequestId(res: Response): boolean {
  return stamped.has(res);
}

/** `c.json(body, status)` plus `headers` and X-Request-Id, header names lower-case as Hono wrote them. */
export function jsonResponse<T, S extends ContentfulStatusCode>(
  c: Context<AppEnv>,
  body: T,
  status: S,
  headers: Record<string, string>,
): Response & TypedResponse<JSONParsed<T>, S, "json"> {
  const res = new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers, "x-request-id": c.get("requestId") },
  });
  stamped.add(res);
  return res as Response & TypedResponse<JSONParsed<T>, S, "json">;
}

/** Characters of JSON text per chunk of a streamed body: past a socket's high-water mark, so each chunk waits for 'drain'. */
const STREAM_CHUNK_CHARS = 64 * 1024;

/**
 * A JSON answer whose text is `pieces` joined, sent as a stream of chunks of
 * about STREAM_CHUNK_CHARS, each encoded only when the previous one has been
 * taken: a large body (a history page of long replies) is neither joined into
 * one string nor encoded in one go, so sending it never holds the event loop
 * for long, and it holds at most one chunk of bytes beyond its pieces.
 */
export function jsonPiecesResponse(c: Context<AppEnv>, pieces: readonly string[], status: ContentfulStatusCode): Response {
  const encoder = new TextEncoder();
  let next = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const batch: string[] = [];
        let chars = 0;
        while (next < pieces.length && chars < STREAM_CHUNK_CHARS) {
          const piece = pieces[next++]!;
          batch.push(piece);
          chars += piece.length;
        }
        if (batch.length > 0) controller.enqueue(encoder.encode(batch.length === 1 ? batch[0]! : batch.join("")));
        if (next >= pieces.length) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  const res = new Response(body, { status, headers: { "content-type": "application/json", "x-request-id": c.get("requestId") } });
  stamped.add(res);
  return res;
}
