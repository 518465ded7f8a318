/**
 * GET /api/user/introspect: who the caller is, as the server sees its token
 * (the Abbotik CLI's `doctor` probes it). Read from the verified principal
 * only; nothing is stored.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ACCESS_LEVELS } from "../auth/principal.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";

const PRINCIPAL_EXAMPLE = { tenant: "acme", sub: "alice", access: "full" as const, operator: false, expires_at: "2026-01-05T11:00:00.000Z" };

const PrincipalRecord = z
  .object({
    tenant: z.string().openapi({ description: "The tenant every room you reach belongs to (from the token's `tenant` claim)." }),
    sub: z.string().openapi({ description: "The caller (the token's `sub`)." }),
    access: z.enum(ACCESS_LEVELS).openapi({ description: "The access level in effect: the token's `access` claim, or `read` when it has none." }),
    operator: z.boolean().openapi({ description: "Whether the token is the operator credential (operator routes)." }),
    expires_at: z.string().openapi({ description: "When the token expires (its `exp`), ISO-8601." }),
  })
  .openapi("Principal", { example: PRINCIPAL_EXAMPLE });

export function userRoutes() {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/user/introspect",
      operationId: "introspect",
      tags: ["clients"],
      summary: "Who am I",
      description: "The caller's principal as this server sees the bearer token: `tenant`, `sub`, `access`, `operator`, `expires_at`. A bad or expired token is 401 like anywhere else, so this is also a token check (the Abbotik CLI's `doctor`).",
      security: bearerSecurity,
      responses: {
        200: { description: "The principal.", content: { "application/json": { schema: envelopeSchema(PrincipalRecord), example: ok(PRINCIPAL_EXAMPLE) } } },
        ...errorResponses([]),
      },
    }),
    (c) => {
      const p = c.get("principal");
      c.header("Cache-Control", "no-store");
      return c.json(ok({ tenant: p.tenant, sub: p.sub, access: p.access, operator: p.operator, expires_at: new Date(p.exp * 1000).toISOString() }), 200);
    },
  );
  return app;
}
