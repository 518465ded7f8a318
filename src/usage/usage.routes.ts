/** HTTP for GET /llm/room/:id/usage and GET /llm/usage. */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { userActor } from "../auth/actor.js";
import type { AppEnv } from "../http/context.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import type { RoomCtx } from "../room/room.service.js";
import { RoomIdParams } from "../room/room.schemas.js";
import type { UsageService } from "./usage.service.js";
import { MAX_USAGE_DAYS, ROOM_USAGE_EXAMPLE, RoomUsage, TENANT_USAGE_EXAMPLE, TenantUsage, TenantUsageQuery } from "./usage.schemas.js";

const json = <T extends z.ZodType>(schema: T, description: string, example: unknown) => ({
  description,
  content: { "application/json": { schema, example } },
});

function ctxOf(c: Context<AppEnv>): RoomCtx {
  return { tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) };
}

export function usageRoutes(usage: UsageService) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/room/{id}/usage",
      operationId: "roomUsage",
      tags: ["rooms"],
      summary: "A room's tokens and cost, by actor and by model",
      description:
        "Every model call the room paid for (each ended turn, each summary written by a model), summed: `totals` (equal to the room record's `usage`), `by_actor` and `by_model`, each with input, output and total tokens, cost in USD (the model catalogue's prices; `local/echo` is free) and how many turns and summaries. Recorded in the same transaction as each turn's `agent:turn_end`. Also the room's `budget` and which limit, if any, it has reached.",
      security: bearerSecurity,
      request: { params: RoomIdParams },
      responses: { 200: json(envelopeSchema(RoomUsage), "The room's usage.", ok(ROOM_USAGE_EXAMPLE)), ...errorResponses([404, 503], { 503: ["STORAGE_BUSY"] }) },
    }),
    (c) => c.json(ok(usage.roomUsage(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/usage",
      operationId: "tenantUsage",
      tags: ["usage"],
      summary: "Your tenant's tokens and cost by day and model",
      description: `Usage of every room of your tenant (turns and summaries by a model) per UTC day, and within each day per provider and model, over \`from\`..\`to\` (inclusive UTC days, \`YYYY-MM-DD\`; default the last 30 days up to today; at most ${MAX_USAGE_DAYS} days). The same counts the optional daily budget (TENANT_DAILY_TOKEN_BUDGET) checks. A bad or reversed date is 400 VALIDATION_FAILED naming the parameter.`,
      security: bearerSecurity,
      request: { query: TenantUsageQuery },
      responses: { 200: json(envelopeSchema(TenantUsage), "Usage by day and model.", ok(TENANT_USAGE_EXAMPLE)), ...errorResponses([400, 503], { 503: ["STORAGE_BUSY"] }) },
    }),
    (c) => c.json(ok(usage.tenantUsage(ctxOf(c), c.req.valid("query"))), 200),
  );

  return app;
}
