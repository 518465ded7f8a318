/** HTTP for POST /llm/room/:id/summary (src/room/room.summary.ts). */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { userActor } from "../auth/actor.js";
import { ROOM_EXAMPLE } from "../docs/docs.examples.js";
import type { AppEnv } from "../http/context.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import type { RoomCtx } from "./room.service.js";
import { IdempotencyHeaders, Room, RoomIdParams } from "./room.schemas.js";
import { SUMMARY_DEFAULT_CHARS, SUMMARY_MAX_CHARS, SUMMARY_MIN_CHARS, type SummaryService } from "./room.summary.js";

export const SummaryBody = z
  .strictObject({
    max_chars: z
      .number()
      .int()
      .min(SUMMARY_MIN_CHARS)
      .max(SUMMARY_MAX_CHARS)
      .optional()
      .openapi({ description: `Longest summary, in characters (${SUMMARY_MIN_CHARS}..${SUMMARY_MAX_CHARS}, default ${SUMMARY_DEFAULT_CHARS}).` }),
  })
  .openapi("SummaryBody", { example: { max_chars: 1200 } });

const SUMMARY_EXAMPLE =
  "4 messages (seq 1–4): 2 from people, 2 from agents (planner ×1, critic ×1).\n- alice: Plan a two-day trip to Lisbon\n- planner: Day 1: Alfama and the castle; day 2: Belém.\n- alice: Add a food stop\n- critic: Add Time Out Market on day 1.";

function ctxOf(c: Context<AppEnv>): RoomCtx {
  return { tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) };
}

export function summaryRoutes(summaries: SummaryService) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/room/{id}/summary",
      operationId: "summarizeRoom",
      tags: ["rooms"],
      summary: "Write the room's summary",
      description: [
        "Writes a bounded summary of the transcript (the newest 200 messages, notes and completed answers) to the room's `summary_text`, emits `room:summary_updated`, and answers with the room once it is written.",
        "",
        "The summarizer is the first actor with role `summarizer`, else the first actor. On `local/echo` the summary is a deterministic digest (who wrote how much, then the newest messages one line each); on a real model it is that model's answer, bounded by `max_chars`, the room's `done_policy.max_turn_s` and its output-token limit, and its tokens count in the room's usage (`by_actor` of the summarizer) and budget.",
        "",
        "A model summary does not wait for, or hold up, the room's turns: it reads the transcript as committed when it starts (`through_seq` in the event). One runs per room at a time (another is 409 SUMMARY_IN_PROGRESS); it is refused like a turn during an operator stop or shutdown, past the room's budget (409 ROOM_BUDGET_EXCEEDED) or the tenant's quotas (429), and it is aborted, writing nothing, when the room is released, the server stops, or the caller closes the request. A room with `summary_every_turns` gets the same summary written after every that many ended turns. Needs access `edit`.",
      ].join("\n"),
      security: bearerSecurity,
      request: { params: RoomIdParams, headers: IdempotencyHeaders, body: { required: false, content: { "application/json": { schema: SummaryBody } } } },
      responses: {
        200: { description: "The room, with its new `summary_text`.", content: { "application/json": { schema: envelopeSchema(Room), example: ok({ ...ROOM_EXAMPLE, summary_text: SUMMARY_EXAMPLE, summary_updated_at: "2026-01-05T10:05:00.000Z" }) } } },
        ...errorResponses([400, 403, 404, 409, 413, 415, 422, 502, 503], {
          409: ["ROOM_RELEASED", "SUMMARY_IN_PROGRESS", "ROOM_BUDGET_EXCEEDED", "IDEMPOTENCY_IN_PROGRESS"],
          429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
          502: ["SUMMARY_FAILED"],
          503: ["GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY"],
        }),
      },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const room = await summaries.summarize(ctxOf(c), c.req.valid("param").id, { maxChars: body.max_chars, signal: c.req.raw.signal });
      return c.json(ok(room), 200);
    },
  );
  return app;
}
