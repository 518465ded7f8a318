/**
 * HTTP for a live room's roster and shared context:
 * /llm/room/:id/actors[/:agent_id[/interrupt]] and /llm/room/:id/context[/:attachment_id].
 * Each handler reads the validated input and calls one verb of
 * `RoomService.roster` or `RoomService.context`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { userActor } from "../auth/actor.js";
import { ROOM_EXAMPLE } from "../docs/docs.examples.js";
import type { AppEnv } from "../http/context.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import { setSuccessStatus } from "../idempotency/idempotency.context.js";
import { parseIfMatch, type RoomCtx, type RoomService } from "./room.service.js";
import { ActorInput, ActorParams, ActorPatchBody, ContextAttachment, ContextBody, ContextParams, IfMatchHeaders, Room, RoomIdParams } from "./room.schemas.js";

const tags = ["rooms"];
const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

const CRITIC = { agent_id: "critic", role: "assistant", adapter: "pi", provider: "local", model: "echo", skills: [], system_prompt: "Find the flaw.", muted: false, options: {} };
const TWO_ACTORS = { ...ROOM_EXAMPLE, actors: [...ROOM_EXAMPLE.actors, CRITIC], version: 2 };
const ATTACHMENT = { id: "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b", room_id: ROOM_EXAMPLE.id, name: "spec", chars: 64, created_at: "2026-01-05T10:00:00.000Z" };

const ROSTER_409 = ["VERSION_CONFLICT", "ROOM_RELEASED", "IDEMPOTENCY_IN_PROGRESS"] as const;

function ctxOf(c: Context<AppEnv>): RoomCtx {
  return { tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) };
}

export function rosterRoutes(rooms: RoomService) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/actors",
      operationId: "addActor",
      tags,
      summary: "Add an actor to a room",
      description:
        "Adds one actor (defaults as when renting) to the live room. Agent ids are unique in a room (409 ACTOR_EXISTS); a room holds at most 16 actors. `version` goes up by one and `room:actor_added` is written. Honours `If-Match` and `Idempotency-Key`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders, body: body(ActorInput) },
      responses: {
        201: json(envelopeSchema(Room), "The room with its new roster.", ok(TWO_ACTORS)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 400: ["VALIDATION_FAILED", "UNKNOWN_MODEL"], 409: ["ACTOR_EXISTS", ...ROSTER_409], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      const room = rooms.roster.add(ctxOf(c), c.req.valid("param").id, c.req.valid("json"), parseIfMatch(c.req.header("if-match")));
      c.header("ETag", `"${room.version}"`);
      return c.json(ok(room), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/llm/room/{id}/actors/{agent_id}",
      operationId: "updateActor",
      tags,
      summary: "Mute, unmute or change an actor",
      description: [
        "Changes one actor: `muted`, `provider`/`model`, `options` (replaced), `system_prompt` (null clears it), `role`, `skills`. `version` goes up by one and `room:actor_updated` lists the changed fields; a PATCH that changes nothing writes nothing.",
        "",
        "Muting an actor whose turn is running stops that turn at the model call (`agent:turn_end` status `interrupted`, reason `muted`) and skips its remaining turns of the running message; the answer comes once that turn has ended, and the next addressed actor's turn runs. A muted actor never answers unless a message names it with `actor`. Other changes apply from the actor's next turn. Needs access `edit`.",
      ].join("\n"),
      security: bearerSecurity,
      request: { params: ActorParams, headers: IfMatchHeaders, body: body(ActorPatchBody) },
      responses: {
        200: json(envelopeSchema(Room), "The room with the changed actor.", ok({ ...TWO_ACTORS, actors: [ROOM_EXAMPLE.actors[0], { ...CRITIC, muted: true }], version: 3 })),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 400: ["VALIDATION_FAILED", "UNKNOWN_MODEL"], 404: ["ROOM_NOT_FOUND", "ACTOR_NOT_FOUND"], 409: [...ROSTER_409], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const { id, agent_id } = c.req.valid("param");
      const room = await rooms.roster.update(ctxOf(c), id, agent_id, c.req.valid("json"), parseIfMatch(c.req.header("if-match")));
      c.header("ETag", `"${room.version}"`);
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/llm/room/{id}/actors/{agent_id}",
      operationId: "removeActor",
      tags,
      summary: "Remove an actor from a room",
      description:
        "Removes one actor; its past messages and events stay. A running turn of it is stopped (`agent:turn_end` `interrupted`, reason `removed`) and its remaining turns of the running message are skipped. `version` goes up by one and `room:actor_removed` is written. Removing the room's last actor is 409 LAST_ACTOR. Honours `If-Match` and `Idempotency-Key`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: ActorParams, headers: IfMatchHeaders },
      responses: {
        200: json(envelopeSchema(Room), "The room without the actor.", ok({ ...ROOM_EXAMPLE, version: 4 })),
        ...errorResponses([400, 403, 404, 409, 422, 503], { 404: ["ROOM_NOT_FOUND", "ACTOR_NOT_FOUND"], 409: ["LAST_ACTOR", ...ROSTER_409], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const { id, agent_id } = c.req.valid("param");
      const room = await rooms.roster.remove(ctxOf(c), id, agent_id, parseIfMatch(c.req.header("if-match")));
      c.header("ETag", `"${room.version}"`);
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/actors/{agent_id}/interrupt",
      operationId: "interruptActor",
      tags,
      summary: "Stop one actor",
      description:
        "Stops this actor's running turn at the model call (`agent:turn_end` `interrupted`, reason `actor_interrupt`) and drops its remaining turns of the running message; the next addressed actor's turn then runs. Answers once the stopped turn has ended. 409 NO_ACTIVE_TURN when the actor has neither a running nor a pending turn. The roster and `version` do not change. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: ActorParams, headers: IfMatchHeaders },
      responses: {
        200: json(envelopeSchema(Room), "The room after the actor's turn ended.", ok(TWO_ACTORS)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 404: ["ROOM_NOT_FOUND", "ACTOR_NOT_FOUND"], 409: ["NO_ACTIVE_TURN", ...ROSTER_409], 503: ["STORAGE_BUSY"] }),
      },
    }),
    async (c) => {
      const { id, agent_id } = c.req.valid("param");
      const room = await rooms.roster.interrupt(ctxOf(c), id, agent_id, parseIfMatch(c.req.header("if-match")));
      return c.json(ok(room), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/context",
      operationId: "attachContext",
      tags,
      summary: "Attach shared context to a room",
      description:
        "Attaches a named text (a spec, notes) that every actor's turn sees from now on, in its system prompt under the text's `name`. At most 100000 characters each, 8 attachments and 200000 characters per room (409 CONTEXT_FULL). Writes `room:context_attached`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IfMatchHeaders.pick({ "idempotency-key": true }), body: body(ContextBody) },
      responses: {
        201: json(envelopeSchema(ContextAttachment), "The attachment (its text is not echoed).", ok(ATTACHMENT)),
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 503], { 409: ["CONTEXT_FULL", "ROOM_RELEASED", "IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      const attached = rooms.context.attach(ctxOf(c), c.req.valid("param").id, c.req.valid("json"));
      return c.json(ok(attached), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}/context",
      operationId: "listContext",
      tags,
      summary: "List a room's shared context",
      description: "The texts attached to the room, oldest first, without their content.",
      security: bearerSecurity,
      request: { params: RoomIdParams },
      responses: {
        200: json(envelopeSchema(z.array(ContextAttachment)), "The attachments.", ok([ATTACHMENT])),
        ...errorResponses([400, 404, 503], { 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => c.json(ok(rooms.context.list(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/llm/room/{id}/context/{attachment_id}",
      operationId: "detachContext",
      tags,
      summary: "Detach shared context",
      description: "Detaches the text: turns that begin from now on no longer see it (a running turn keeps what it was given). Writes `room:context_detached`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: ContextParams, headers: IfMatchHeaders.pick({ "idempotency-key": true }) },
      responses: {
        200: json(envelopeSchema(ContextAttachment), "The detached attachment.", ok(ATTACHMENT)),
        ...errorResponses([400, 403, 404, 409, 422, 503], { 404: ["ROOM_NOT_FOUND", "CONTEXT_NOT_FOUND"], 409: ["ROOM_RELEASED", "IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      const { id, attachment_id } = c.req.valid("param");
      return c.json(ok(rooms.context.detach(ctxOf(c), id, attachment_id)), 200);
    },
  );

  return app;
}
