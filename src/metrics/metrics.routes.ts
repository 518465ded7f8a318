/**
 * Operations routes: `GET /metrics` (Prometheus text; METRICS_TOKEN or the
 * operator credential, never a tenant's token) and `GET /ready` (readiness
 * for a load balancer; no auth, like `/health`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { TokenVerifier } from "../auth/tokens.js";
import { AppError } from "../errors.js";
import { envelopeSchema, ErrorSchema, ok } from "../http/envelope.js";
import { createRouter } from "../http/router.js";
import { authorizeScrape } from "./metrics.auth.js";
import type { Readiness } from "./metrics.readiness.js";
import type { MetricsRegistry } from "./metrics.registry.js";

export interface OperationsDeps {
  /** null when the server was started with METRICS_ENABLED=false: /metrics answers 404 METRICS_DISABLED. */
  metrics: MetricsRegistry | null;
  readiness: Readiness;
  verifier: TokenVerifier;
  /** METRICS_TOKEN; null when unset. */
  metricsToken: string | null;
}

const ReadyState = z
  .object({
    status: z.enum(["ready", "starting", "draining"]).openapi({ description: "`starting`: not listening yet, or the boot-time recovery of tenant files has not finished. `draining`: shutting down." }),
    listening: z.boolean(),
    recovered: z.boolean().openapi({ description: "The boot-time recovery pass has run over every tenant file on disk." }),
  })
  .openapi("Readiness", { example: { status: "ready", listening: true, recovered: true } });

const errorContent = { "application/json": { schema: ErrorSchema } };

const SCRAPE_EXAMPLE = `# HELP roomservice_turns_ended_total Turns ended, by provider, model and end status (completed, interrupted, failed, cancelled).
# TYPE roomservice_turns_ended_total counter
roomservice_turns_ended_total{provider="local",model="echo",status="completed"} 12
`;

export function operationsRoutes(d: OperationsDeps) {
  const app = createRouter();
  app.openAPIRegistry.registerComponent("securitySchemes", "metricsAuth", {
    type: "http",
    scheme: "bearer",
    description: "The METRICS_TOKEN the server was started with, or an operator token (`npm run -s token -- --operator`). A tenant's token is refused (403).",
  });
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      operationId: "metrics",
      tags: ["operations"],
      summary: "Prometheus metrics",
      description:
        "The Prometheus text exposition format: HTTP requests, turns, model tokens and cost, durable events and commit latency, group commits, event-stream followers, idempotent replays, refusals, open tenant files, rooms by status and process metrics. No label carries a tenant or room id. Needs `Authorization: Bearer <METRICS_TOKEN>` or an operator token (`npm run -s token -- --operator`); a tenant's token is 403 whatever its access level. Without METRICS_TOKEN only an operator token scrapes. A server started with `METRICS_ENABLED=false` records nothing and answers 404 `METRICS_DISABLED`.",
      security: [{ metricsAuth: [] }],
      responses: {
        200: { description: "The metrics.", content: { "text/plain": { schema: z.string().openapi({ example: SCRAPE_EXAMPLE }) } } },
        401: { description: "No credential, or not a valid one (AUTH_REQUIRED, AUTH_INVALID).", content: errorContent },
        403: { description: "A tenant's token (FORBIDDEN).", content: errorContent },
        404: { description: "The server was started with `METRICS_ENABLED=false` and records nothing (METRICS_DISABLED); asked only once the credential is accepted.", content: errorContent },
        500: { description: "Unexpected error (INTERNAL); logged with the request id.", content: errorContent },
      },
    }),
    async (c) => {
      await authorizeScrape(c.req.header("authorization"), { token: d.metricsToken, verify: d.verifier });
      if (!d.metrics) throw new AppError("METRICS_DISABLED", "this server was started with METRICS_ENABLED=false and records no metrics; restart it with METRICS_ENABLED=true (the default) to scrape /metrics");
      const text = await d.metrics.scrape();
      return c.body(text, 200, { "Content-Type": d.metrics.contentType, "Cache-Control": "no-store" }) as never;
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/ready",
      operationId: "readiness",
      tags: ["operations"],
      summary: "Readiness",
      description:
        "No auth. 200 once the listener is up and the boot-time recovery of tenant files has run; 503 before that (`starting`) and from the moment shutdown begins (`draining`), so a load balancer stops sending work while turns drain. Liveness is `GET /health`.",
      responses: {
        200: { description: "Ready.", content: { "application/json": { schema: envelopeSchema(ReadyState), example: ok({ status: "ready", listening: true, recovered: true }) } } },
        503: {
          description: "Starting or draining.",
          content: { "application/json": { schema: envelopeSchema(ReadyState), example: ok({ status: "draining", listening: true, recovered: true }) } },
        },
      },
    }),
    (c) => {
      const status = d.readiness.state;
      const body = ok({ status, ...d.readiness.detail });
      c.header("Cache-Control", "no-store");
      return status === "ready" ? c.json(body, 200) : c.json(body, 503);
    },
  );
  return app;
}
