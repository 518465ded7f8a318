/**
 * Request id, access log and request metrics: every response carries
 * X-Request-Id (the caller's, if it sent a sane one) and every request yields
 * one log line with method, route, status, duration and tenant, and one
 * observation by route template, method and status (never the raw path, so
 * no id reaches a metric label). Tokens are never logged.
 */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Logger } from "pino";
import type { MetricsRecorder } from "../../metrics/metrics.recorder.js";
import type { AppEnv } from "../context.js";
import { hasRequestId } from "../respond.js";

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(log: Logger, metrics: Pick<MetricsRecorder, "httpRequest">): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.req.header("x-request-id");
    const requestId = given && SANE_ID.test(given) ? given : randomUUID();
    c.set("requestId", requestId);
    // The service logger itself, not a child per request: a child costs every request an allocation (and a
    // follow stream its lifetime) for the few lines logged through it, which name req_id themselves.
    c.set("log", log);
    const started = performance.now();
    await next();
    // Set on the final response (an error handler may have built a fresh one), unless jsonResponse put it there already.
    if (!hasRequestId(c.res)) c.res.headers.set("X-Request-Id", requestId);
    const route = routePath(c, -1);
    const durationMs = performance.now() - started;
    metrics.httpRequest(route, c.req.method, c.res.status, durationMs / 1000);
    if (!log.isLevelEnabled("info")) return;
    const principal = c.get("principal");
    log.info(
      {
        req_id: requestId,
        method: c.req.method,
        route,
        status: c.res.status,
        duration_ms: Math.round(durationMs * 100) / 100,
        tenant: principal?.tenant,
      },
      "request",
    );
  };
}
