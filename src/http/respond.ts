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

/** A JSON answer already encoded (a history page, built from each item's bytes), with X-Request-Id. */
export function jsonBytesResponse(c: Context<AppEnv>, body: Uint8Array, status: ContentfulStatusCode): Response {
  const res = new Response(body, { status, headers: { "content-type": "application/json", "x-request-id": c.get("requestId") } });
  stamped.add(res);
  return res;
}
