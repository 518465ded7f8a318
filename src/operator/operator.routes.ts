/**
 * Operator controls (an operator token, not a tenant's access level): the global stop. While on, no new turn
 * starts anywhere (503 GLOBAL_STOP_ACTIVE), running turns can still be
 * interrupted, and reads keep working. The switch is durable.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { envelopeSchema, ok } from "../http/envelope.js";
import { requireOperator } from "../http/middleware/auth.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import type { Admission } from "../runtime/admission.js";

const StopState = z
  .object({ active: z.boolean(), reason: z.string().nullable(), since: z.string().nullable() })
  .openapi("GlobalStop", { example: { active: true, reason: "provider incident", since: "2026-11-24T10:00:00.000Z" } });

const StopBody = z
  .strictObject({ active: z.boolean(), reason: z.string().max(500).optional() })
  .openapi("GlobalStopBody", { example: { active: true, reason: "provider incident" } });

const StorageState = z
  .object({
    full: z.boolean().openapi({ description: "A write found the disk full within the last minute." }),
    degraded_tenants: z
      .array(z.object({ tenant: z.string(), reason: z.string(), since: z.string() }))
      .openapi({ description: "Tenants refused with 503 TENANT_DATA_DAMAGED: their file is missing, empty or corrupt. Restore it from a backup; the next request tries it again once the file has changed." }),
  })
  .openapi("StorageState", {
    example: { full: false, degraded_tenants: [{ tenant: "acme", reason: "the file is empty (truncated)", since: "2026-11-24T10:00:00.000Z" }] },
  });

export function operatorRoutes(admission: Admission, storage?: { status(): { full: boolean; degradedTenants: { tenant: string; reason: string; since: string }[] } }) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/operator/storage",
      operationId: "getStorageState",
      tags: ["operator"],
      summary: "Read storage faults",
      description:
        "Needs the operator's token. Whether the disk was found full, and which tenants are refused because their data file is missing or damaged, with the reason: what `/health` only counts.",
      security: bearerSecurity,
      middleware: [requireOperator()] as const,
      responses: {
        200: { description: "Storage faults.", content: { "application/json": { schema: envelopeSchema(StorageState), example: ok({ full: false, degraded_tenants: [] }) } } },
        ...errorResponses([403]),
      },
    }),
    (c) => {
      const s = storage?.status() ?? { full: false, degradedTenants: [] };
      return c.json(ok({ full: s.full, degraded_tenants: s.degradedTenants }), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/operator/stop",
      operationId: "getGlobalStop",
      tags: ["operator"],
      summary: "Read the global stop",
      description: "Needs an operator token (`npm run -s token -- --operator`; a tenant's `root` token is refused). Whether the operator's global stop is on, why, and since when. While it is on, no new turn starts in any tenant.",
      security: bearerSecurity,
      middleware: [requireOperator()] as const,
      responses: {
        200: { description: "The switch.", content: { "application/json": { schema: envelopeSchema(StopState), example: ok({ active: false, reason: null, since: null }) } } },
        ...errorResponses([403]),
      },
    }),
    (c) => c.json(ok(admission.stop), 200),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/llm/operator/stop",
      operationId: "setGlobalStop",
      tags: ["operator"],
      summary: "Switch the global stop on or off",
      description:
        "Needs an operator token (`npm run -s token -- --operator`; a tenant's `root` token is refused). While on, no new turn starts in any tenant (503 GLOBAL_STOP_ACTIVE with Retry-After) and queued messages wait; running turns go on and can be interrupted; reads keep working. Survives restarts.",
      security: bearerSecurity,
      middleware: [requireOperator()] as const,
      request: { body: { required: true, content: { "application/json": { schema: StopBody } } } },
      responses: {
        200: { description: "The switch, as now stored.", content: { "application/json": { schema: envelopeSchema(StopState), example: ok({ active: true, reason: "provider incident", since: "2026-11-24T10:00:00.000Z" }) } } },
        ...errorResponses([400, 403, 409, 413, 415, 422, 503], { 409: ["IDEMPOTENCY_IN_PROGRESS"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      const body = c.req.valid("json");
      c.get("log").warn({ req_id: c.get("requestId"), active: body.active, reason: body.reason, by: c.get("principal").sub }, "global stop switched");
      return c.json(ok(admission.setStop(body.active, body.reason ?? null)), 200);
    },
  );
  return app;
}
