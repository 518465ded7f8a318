/**
 * HTTP for POST /v1/responses (the Abbotik TUI's room-backed ingress): the
 * same auth, access levels, Idempotency-Key and errors as the room routes,
 * because it is the room verbs underneath.
 */
import { createRoute } from "@hono/zod-openapi";
import { userActor } from "../auth/actor.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import { setSuccessStatus } from "../idempotency/idempotency.context.js";
import { IdempotencyHeaders } from "../room/room.schemas.js";
import { RESPONSE_CREATED_EXAMPLE, ResponseCreated, ResponsesBody } from "./responses.schemas.js";
import type { ResponsesService } from "./responses.service.js";

export function responsesRoutes(responses: ResponsesService) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/responses",
      operationId: "createResponse",
      tags: ["clients"],
      summary: "Send a prompt to a room (room-backed ingress)",
      description: [
        "The Abbotik TUI's way in: one prompt, answered by a room. Without `room_id` it rents a room (one actor `assistant` on `provider`/`model`, default `local/echo`; needs access `full`) and posts `input` to it as a `task`, in one transaction: a refused turn (global stop, quota) rents nothing. With `room_id` it posts `input` to that room (needs access `edit`) and ignores `provider`, `model`, `adapter` and `purpose`.",
        "",
        "Answers 202 with `{room_id, room_created, request_message_id, status, result_url}` once the message is durable; `status` is `running` when its turn started, `queued` when it waits behind the running one. Get the answer with `GET result_url` (a long poll), or follow `GET /llm/room/{room_id}/events?follow=true`. Errors, `Idempotency-Key` and access levels are exactly those of `POST /llm/room` and `POST /llm/room/{id}/messages`.",
      ].join("\n"),
      security: bearerSecurity,
      request: { headers: IdempotencyHeaders, body: { required: true, content: { "application/json": { schema: ResponsesBody } } } },
      responses: {
        202: {
          description: "The prompt, stored: the room it went to and its message.",
          content: { "application/json": { schema: envelopeSchema(ResponseCreated), example: ok(RESPONSE_CREATED_EXAMPLE) } },
        },
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], {
          400: ["VALIDATION_FAILED", "UNKNOWN_MODEL"],
          404: ["ROOM_NOT_FOUND"],
          409: ["ROOM_RELEASED", "ROOM_FAILED", "ROOM_QUEUE_FULL", "IDEMPOTENCY_IN_PROGRESS"],
          429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
          503: ["GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY"],
        }),
      },
    }),
    (c) => {
      setSuccessStatus(202);
      const { created } = responses.create({ tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) }, c.req.valid("json"));
      c.header("Location", created.result_url);
      return c.json(ok(created), 202);
    },
  );
  return app;
}
