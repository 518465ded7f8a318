/**
 * HTTP for /llm/room: schemas, status codes, headers. Every handler reads the
 * validated input, calls one RoomService verb with the request's tenant-bound
 * handle and principal, and wraps the result in the envelope.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { envelopeSchema, listEnvelopeSchema, ok, okList } from "../http/envelope.js";
import { jsonBytesResponse, jsonResponse } from "../http/respond.js";
import { clientSignal } from "../http/client-signal.js";
import type { AppEnv } from "../http/context.js";
import { requireAccess } from "../http/middleware/auth.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import { AppError } from "../errors.js";
import { replyWithEvents } from "../sse/sse.stream.js";
import type { MetricsRecorder } from "../metrics/metrics.recorder.js";
import type { SseFollowers } from "../sse/sse.followers.js";
import { withoutPartialText } from "./room.event-view.js";
import { setSuccessStatus } from "../idempotency/idempotency.context.js";
import { parseIfMatch, type RoomCtx, type RoomService } from "./room.service.js";
import { userActor } from "../auth/actor.js";
import { HISTORY_EXAMPLE, MESSAGE_EXAMPLE, MESSAGE_RESULT_EXAMPLE, ROOM_EXAMPLE } from "../docs/docs.examples.js";
import { RoomEventFrame, SSE_WIRE_EXAMPLE } from "../docs/docs.events.js";
import { ROOM_EVENT_TYPES } from "../events/event.types.js";
import {
  History,
  HistoryMeta,
  HistoryQuery,
  IdempotencyHeaders,
  IfMatchHeaders,
  InterruptBody,
  ListRoomsQuery,
  EventsQuery,
  MAX_MESSAGE_WAIT_S,
  Message,
  MessageParams,
  MessageQuery,
  MessageResult,
  PatchRoomBody,
  PostMessageBody,
  ReasonBody,
  RentRoomBody,
  Room,
  RoomIdParams,
} from "./room.schemas.js";

const tags = ["rooms"];
const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});
const optionalBody = <T extends z.ZodType>(schema: T) => ({ required: false, content: { "application/json": { schema } } });

const COMMA = Buffer.from(",");

/** `items` with a "," between each two. */
function commaSeparated(items: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out.push(COMMA);
    out.push(items[i]!);
  }
  return out;
}

function ctxOf(c: Context<AppEnv>): RoomCtx {
  return { tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) };
}

function withVersion(c: Context<AppEnv>, room: { version: number }) {
  c.header("ETag", `"${room.version}"`);
}

export function roomRoutes(rooms: RoomService, sse: { heartbeatMs: number; followers?: SseFollowers }, metrics: Pick<MetricsRecorder, "streamClosed">) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room",
      operationId: "listRooms",
      tags,
      summary: "List your rooms",
      description: "Newest first. By default `released` rooms are hidden; `?status=` picks statuses explicitly. Page with `limit` and `cursor`.",
      security: bearerSecurity,
      request: { query: ListRoomsQuery },
      responses: { 200: json(listEnvelopeSchema(Room), "A page of rooms.", okList([ROOM_EXAMPLE], { next_cursor: null })), ...errorResponses([400, 503], { 503: ["STORAGE_BUSY"] }) },
    }),
    (c) => {
      const q = c.req.valid("query");
      const res = rooms.list(ctxOf(c), q);
      return c.json(okList(res.rooms, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room",
      operationId: "rentRoom",
      tags,
      summary: "Rent a room",
      description:
        "Creates a room in status `rented` and emits `room:rented`. Every policy has a default; with no `agents` the room gets one actor on the built-in `local/echo` model. Needs access `full`.",
      security: bearerSecurity,
      middleware: [requireAccess("full")] as const,
      request: { headers: IdempotencyHeaders, body: optionalBody(RentRoomBody) },
      responses: {
        201: json(envelopeSchema(Room), "The new room.", ok({ ...ROOM_EXAMPLE, status: "rented", last_active_at: null, usage: { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } } })),
        ...errorResponses([400, 403, 409, 413, 415, 422, 503], { 400: ["VALIDATION_FAILED", "UNKNOWN_MODEL", "UNKNOWN_TOOL"], 409: ["IDEMPOTENCY_IN_PROGRESS"], 429: ["RATE_LIMITED", "QUOTA_EXCEEDED"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      const room = rooms.rent(ctxOf(c), c.req.valid("json") ?? {});
      withVersion(c, room);
      c.header("Location", `/llm/room/${room.id}`);
      return c.json(ok(room), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}",
      operationId: "getRoom",
      tags,
      summary: "Read a room",
      description: "The room record, including `status`, `active_turn`, `queued_message_id`, `last_error` and summed `usage`.",
      security: bearerSecurity,
      request: { params: RoomIdParams },
      responses: { 200: json(envelopeSchema(Room), "The room.", ok(ROOM_EXAMPLE)), ...errorResponses([404, 503], { 503: ["STORAGE_BUSY"] }) },
    }),
    (c) => {
      const room = rooms.get(ctxOf(c), c.req.valid("param").id);
      // The hottest read: a plain header record instead of c.header + c.json (see http/respond.ts).
      return jsonResponse(c, ok(room), 200, { etag: `"${room.version}"` });
    },
  );

  // Rooms are released, not deleted: point a DELETE at the verb that exists (not an operation, so not in OpenAPI).
  app.delete("/llm/room/:id", (c) => {
    const id = encodeURIComponent(c.req.param("id"));
    throw new AppError("METHOD_NOT_ALLOWED", `rooms are not deleted; release this one with POST /llm/room/${id}/release (its history stays readable)`, {
      headers: { Allow: "GET, PATCH" },
    });
  });

  app.openapi(
    createRoute({
      method: "patch",
      path: "/llm/room/{id}",
      operationId: "updateRoom",
      tags,
      summary: "Change a room",
      description:
        "Any of `purpose`, `metadata` (merged; null removes a key), `agents` (replaces the roster), `tool_policy`, `wake_policy`, `done_policy` (merged field by field). `version` goes up by one and `room:updated` lists the changed fields. Send `If-Match: <version>` to refuse a stale write with 409 VERSION_CONFLICT. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: { required: true, content: { "application/json": { schema: PatchRoomBody } } } },
      responses: {
        200: json(envelopeSchema(Room), "The changed room.", ok({ ...ROOM_EXAMPLE, metadata: { name: "renamed" }, version: 2 })),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 409: ["VERSION_CONFLICT", "ROOM_RELEASED", "IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      const room = rooms.patch(ctxOf(c), c.req.valid("param").id, c.req.valid("json"), parseIfMatch(c.req.header("if-match")));
      withVersion(c, room);
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/messages",
      operationId: "postMessage",
      tags,
      summary: "Send a message",
      description:
        "Stores the message durably before answering. With wake policy `on_message` a `message`/`task` starts a turn at once (202, status `running`) or, while a turn runs, waits as the one queued message (202, status `queued`); a second queued message is 409 ROOM_QUEUE_FULL with Retry-After and nothing is stored. A `note` is stored without a turn (201). Who answers: the actor named by `actor`, else each mentioned unmuted actor in mention order, else the room's `addressing` (`first_unmuted`, or `mentioned_only`: nobody, and the message is stored as a note, 201); `rounds` has them answer again (see /docs/llm/room, \"Several agents in one room\"). Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: { required: true, content: { "application/json": { schema: PostMessageBody } } } },
      responses: {
        201: json(envelopeSchema(Message), "A note, stored.", ok({ ...MESSAGE_EXAMPLE, kind: "note", content: "remember: answers in metric", status: "done", turn_id: null })),
        202: json(envelopeSchema(Message), "The message as stored: `running` if its turn started, else `queued`.", ok(MESSAGE_EXAMPLE)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], {
          409: ["ROOM_RELEASED", "ROOM_FAILED", "ROOM_QUEUE_FULL", "VERSION_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"],
          429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
          503: ["GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY"],
        }),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      setSuccessStatus(body.kind === "note" ? 201 : 202);
      const { message } = await rooms.postMessage(ctxOf(c), c.req.valid("param").id, body, parseIfMatch(c.req.header("if-match")));
      return c.json(ok(message), message.kind === "note" ? 201 : 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}/messages/{message_id}",
      operationId: "getMessage",
      tags,
      summary: "Read a message and its answer (long poll)",
      description: [
        `The message, whether its work has ended (\`done\`), the turn that ran it, and the agent's answer (\`output\`) or the reason there is none (\`reason\`: queued, running, interrupted with the \`partial\` text, failed with its code, cancelled, a note).`,
        "",
        `With \`?wait=<s>\` (at most ${MAX_MESSAGE_WAIT_S}) and the work not ended yet, the answer waits until it has, then comes at once; after \`wait\` seconds it comes with the current state (\`done: false\`). Waiting is free: no polling and no worker, it wakes on the room's own events. A wait counts as an event follower (429 QUOTA_EXCEEDED past MAX_FOLLOWERS_PER_ROOM/_TENANT) and ends when the client leaves. To get an answer without polling: post, then \`GET\` this with \`wait=30\` until \`done\`.`,
      ].join("\n"),
      security: bearerSecurity,
      request: { params: MessageParams, query: MessageQuery },
      responses: {
        200: json(envelopeSchema(MessageResult), "The message and what became of it.", ok(MESSAGE_RESULT_EXAMPLE)),
        ...errorResponses([400, 404, 503], { 404: ["ROOM_NOT_FOUND", "MESSAGE_NOT_FOUND"], 429: ["RATE_LIMITED", "QUOTA_EXCEEDED"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const { id, message_id } = c.req.valid("param");
      const result = await rooms.message(ctxOf(c), id, message_id, c.req.valid("query").wait * 1000, clientSignal(c));
      c.header("Cache-Control", "no-store");
      return c.json(ok(result), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/wake",
      operationId: "wakeRoom",
      tags,
      summary: "Wake a room",
      description:
        "For wake policy `manual`, or after a failure. A waiting message starts its turn (`active`); a `failed` room retries its failed message; otherwise the room goes `idle`. Waking an `active` room changes nothing. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: optionalBody(ReasonBody) },
      responses: {
        200: json(envelopeSchema(Room), "The room after waking.", ok(ROOM_EXAMPLE)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], {
          409: ["ROOM_RELEASED", "VERSION_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"],
          429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
          503: ["GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY"],
        }),
      },
    }),
    (c) => {
      const room = rooms.wake(ctxOf(c), c.req.valid("param").id, c.req.valid("json")?.reason, parseIfMatch(c.req.header("if-match")));
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/interrupt",
      operationId: "interruptRoom",
      tags,
      summary: "Interrupt the running turn",
      description:
        "Aborts the running turn at the model call (the upstream HTTP request is closed) and answers once the turn has ended `interrupted`. The running message's next turn (when several actors or rounds answer it), else the queued message, then runs unless `drop_queued` is true. With `scope: \"all\"` the running message's remaining turns are dropped and the queued message is cancelled too (`message:cancelled`). 409 NO_ACTIVE_TURN when no turn runs (with `scope: \"all\"`: and nothing is queued). Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: optionalBody(InterruptBody) },
      responses: {
        200: json(envelopeSchema(Room), "The room after the turn ended.", ok(ROOM_EXAMPLE)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 409: ["NO_ACTIVE_TURN", "ROOM_RELEASED", "VERSION_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const room = await rooms.interrupt(ctxOf(c), c.req.valid("param").id, c.req.valid("json") ?? {}, parseIfMatch(c.req.header("if-match")));
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/release",
      operationId: "releaseRoom",
      tags,
      summary: "Release a room",
      description:
        "Aborts any running turn, cancels the queued message, and ends the room `released` (`room:releasing`, then `room:released`, the stream's last event). Releasing a released room answers 200 again. This is how a room ends: there is no DELETE (`DELETE /llm/room/{id}` answers 405 METHOD_NOT_ALLOWED pointing here), and a released room's history stays readable. Needs access `full`.",
      security: bearerSecurity,
      middleware: [requireAccess("full")] as const,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: optionalBody(ReasonBody) },
      responses: {
        200: json(envelopeSchema(Room), "The released room.", ok({ ...ROOM_EXAMPLE, status: "released", released_at: "2026-01-05T11:00:00.000Z" })),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 409: ["VERSION_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const room = await rooms.release(ctxOf(c), c.req.valid("param").id, c.req.valid("json")?.reason, parseIfMatch(c.req.header("if-match")));
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}/history",
      operationId: "roomHistory",
      tags,
      summary: "Read a room's messages and events",
      description: [
        "The newest `limit` messages and `limit` events (default 500 each), both ascending by `seq`. Each list also stops at about 512 KB of JSON (always at least one item), so a page stays small however long the replies are.",
        "",
        "Messages and events are numbered separately, so each list pages on its own: `meta.messages` and `meta.events` each say `has_more` and give `next_before_seq`, to pass back as `messages_before_seq` / `events_before_seq` for the next older page. `meta.has_more` is true when either list has more; `meta.last_seq` is the room's newest event seq. Event payloads are exactly what the SSE stream carries; with `partial_text=false` (recommended for long outputs) `pi:message_update` leaves out the cumulative text.",
      ].join("\n"),
      security: bearerSecurity,
      request: { params: RoomIdParams, query: HistoryQuery },
      responses: {
        200: json(z.object({ success: z.literal(true), data: History, meta: HistoryMeta }), "Room, messages, events.", {
          success: true,
          data: HISTORY_EXAMPLE,
          meta: { has_more: false, last_seq: 4, messages: { has_more: false, next_before_seq: null }, events: { has_more: false, next_before_seq: null } },
        }),
        ...errorResponses([400, 404, 503], { 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const h = await rooms.history(ctxOf(c), c.req.valid("param").id, c.req.valid("query"));
      const meta = {
        has_more: h.messages.hasMore || h.events.hasMore,
        last_seq: h.lastSeq,
        messages: { has_more: h.messages.hasMore, next_before_seq: h.messages.nextBeforeSeq },
        events: { has_more: h.events.hasMore, next_before_seq: h.events.nextBeforeSeq },
      };
      // The lists arrive as each item's JSON bytes (serialised a slice at a time by the service) and are
      // copied once into the body. The bytes are the 200 schema's JSON, which the typed handler cannot see.
      const body = Buffer.concat([
        Buffer.from(`{"success":true,"data":{"room":${JSON.stringify(h.room)},"messages":[`),
        ...commaSeparated(h.messages.items),
        Buffer.from(`],"events":[`),
        ...commaSeparated(h.events.items),
        Buffer.from(`]},"meta":${JSON.stringify(meta)}}`),
      ]);
      return jsonBytesResponse(c, body, 200) as never;
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}/events",
      operationId: "roomEvents",
      tags,
      summary: "Stream a room's events (SSE)",
      description: [
        "Server-sent events. First replays the durable events after `Last-Event-ID` (or `?after=`; the header wins), then, with `follow=true`, tails live events with no gap and no duplicate at the seam. Without `follow` the stream ends after the replay.",
        "",
        "Framing: `id: <seq>`, `event: <event_type>`, `data: <event record JSON>`, blank line; a `retry:` hint first and a `: ping` comment at least every 15 s while following. A follow stream stays open across turns and sleeps and ends after `room:released`. A `Last-Event-ID` beyond the last event just waits for new ones (and still ends after `room:released`); one that is neither a seq nor this room's `<room_id>:<seq>` is 400.",
        "",
        "Reconnect with the last `id` you saw as `Last-Event-ID` and you receive exactly the events after it. A follower that falls too far behind is closed; it resumes the same way. Too many followers: 429 QUOTA_EXCEEDED. When the server stops it first sends every event already stored, then ends the stream; reconnect the same way.",
        "",
        "With `partial_text=false` (recommended for long outputs) each `pi:message_update` carries its `delta` without the cumulative `partial.text`.",
        "",
        `Event types: ${ROOM_EVENT_TYPES.map((t) => `\`${t}\``).join(", ")}. Each \`data\` is a RoomEventUnion record (one schema per \`event_type\`); /docs/llm/room has the catalogue with payloads.`,
      ].join("\n"),
      security: bearerSecurity,
      request: {
        params: RoomIdParams,
        query: EventsQuery,
        headers: z.object({
          "last-event-id": z
            .string()
            .max(80)
            .optional()
            .openapi({ description: "`Last-Event-ID`: resume after this event: its seq (the frame's `id`) or the record's own `id`, `<room_id>:<seq>`. Wins over `?after=`.", example: "42" }),
        }),
      },
      responses: {
        200: {
          description: `\`text/event-stream\`: a sequence of RoomEventFrame frames (\`id\`, \`event\`, \`data\`), \`: ping\` heartbeats between them. On the wire:\n\n\`\`\`\n${SSE_WIRE_EXAMPLE}\`\`\``,
          content: { "text/event-stream": { schema: RoomEventFrame } },
        },
        ...errorResponses([400, 404, 503], { 429: ["RATE_LIMITED", "QUOTA_EXCEEDED"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const q = c.req.valid("query");
      return replyWithEvents(
        c,
        {
          streamId: id,
          follow: q.follow,
          after: q.after,
          heartbeatMs: sse.heartbeatMs,
          followers: sse.followers,
          project: q.partial_text === false ? withoutPartialText : undefined,
          onClose: (reason) => metrics.streamClosed(reason),
          logFields: { room_id: id },
        },
        rooms.openEventStream.bind(rooms, ctxOf(c), id),
      ) as never;
    },
  );

  return app;
}
