/**
 * buildApp(deps): the whole HTTP surface, from dependencies it is handed.
 * No environment, no listening, no signals here (that is main.ts), so a test
 * builds the same app in-process on a temp data dir.
 */
import type { JWK } from "jose";
import type { Logger } from "pino";
import type { TokenVerifier } from "./auth/tokens.js";
import { consoleRoutes } from "./console/console.routes.js";
import { errorBody, errorResponse, toAppError } from "./http/errors.js";
import { authenticate } from "./http/middleware/auth.js";
import { requestBody } from "./http/middleware/body.js";
import { idempotency } from "./http/middleware/idempotency.js";
import { rateLimit } from "./http/middleware/rate-limit.js";
import { operatorRoutes } from "./operator/operator.routes.js";
import { docsRoutes, openApiConfig } from "./docs/docs.routes.js";
import type { Admission } from "./runtime/admission.js";
import { requestContext } from "./http/middleware/request-context.js";
import { createRouter } from "./http/router.js";
import { metaRoutes } from "./meta/meta.routes.js";
import type { MetricsRecorder } from "./metrics/metrics.recorder.js";
import { operationsRoutes, type OperationsDeps } from "./metrics/metrics.routes.js";
import { providerRoutes } from "./providers/providers.routes.js";
import { responsesRoutes } from "./responses/responses.routes.js";
import { ResponsesService } from "./responses/responses.service.js";
import { roomRoutes } from "./room/room.routes.js";
import { summaryRoutes } from "./room/room.summary.routes.js";
import type { SummaryService } from "./room/room.summary.js";
import { usageRoutes } from "./usage/usage.routes.js";
import type { UsageService } from "./usage/usage.service.js";
import { factoryRoutes } from "./factory/factory.routes.js";
import type { FactoryService } from "./factory/factory.service.js";
import { userRoutes } from "./user/user.routes.js";
import type { RoomService } from "./room/room.service.js";
import type { LlmRuntime } from "./runtime/llm/llm.types.js";
import type { SseFollowers } from "./sse/sse.followers.js";
import type { StorageHealth } from "./storage/storage-health.js";
import type { TenantDatabases } from "./storage/tenant-db.js";

export interface AppDeps {
  log: Logger;
  version: string;
  bodyLimitBytes: number;
  /** A request body that has not arrived this long after its headers is 408. */
  bodyTimeoutMs: number;
  verifier: TokenVerifier;
  publicJwk: JWK;
  tenants: TenantDatabases;
  rooms: RoomService;
  /** POST /llm/room/:id/summary. */
  summaries: SummaryService;
  /** GET /llm/room/:id/usage and GET /llm/usage. */
  usage: UsageService;
  factory: FactoryService;
  runtime: LlmRuntime;
  startedAt: number;
  now: () => number;
  isShuttingDown: () => boolean;
  admission: Admission;
  rateLimit: { rps: number; burst: number };
  sse: { heartbeatMs: number; followers?: SseFollowers };
  /** Storage faults seen by requests (disk full, damaged tenant files), and what /health reports of them. */
  storage?: Pick<StorageHealth, "observe" | "status">;
  /** Where requests, refusals, replays and stream ends are counted. */
  recorder: MetricsRecorder;
  /** /metrics and /ready. */
  operations: Omit<OperationsDeps, "verifier">;
  /** The built browser console (dist/console), served at /console. */
  consoleDir: string;
}

export function buildApp(d: AppDeps) {
  const app = createRouter();

  // Middleware is registered only for the methods it acts on (and the rate limit only when it is on): every
  // registered layer costs each request it matches a dispatch and a promise, even when it just calls next().
  app.use("*", requestContext(d.log, d.recorder));
  // The bearer-token API: /llm/* (rooms, providers, operator), /v1/* and /api/* (what the Abbotik clients call).
  // One instance of each middleware, so the rate limit and in-flight idempotency keys are shared across them.
  const bearerPrefixes = ["/llm/*", "/v1/*", "/api/*"];
  const auth = authenticate(d.verifier, d.tenants);
  const limit = d.rateLimit.rps > 0 ? rateLimit({ rps: d.rateLimit.rps, burst: d.rateLimit.burst, now: d.now }) : null;
  const idem = idempotency(d.now, d.recorder);
  for (const prefix of bearerPrefixes) app.use(prefix, auth);
  // After authentication (an anonymous caller cannot make the server wait for or buffer a body) and before
  // anything reads the body (idempotency hashes it): size, time and UTF-8 limits for every route.
  app.on(["POST", "PATCH", "PUT"], "*", requestBody({ maxBytes: d.bodyLimitBytes, timeoutMs: d.bodyTimeoutMs }));
  for (const prefix of bearerPrefixes) {
    if (limit) app.use(prefix, limit);
    app.on(["POST", "PATCH"], prefix, idem);
  }

  app.route("/", metaRoutes({ version: d.version, publicJwk: d.publicJwk, startedAt: d.startedAt, now: d.now, isShuttingDown: d.isShuttingDown, ...(d.storage ? { storage: d.storage } : {}) }));
  app.route("/", providerRoutes(d.runtime));
  app.route("/", roomRoutes(d.rooms, d.sse, d.recorder));
  app.route("/", summaryRoutes(d.summaries));
  app.route("/", usageRoutes(d.usage));
  app.route("/", factoryRoutes(d.factory, d.sse, d.recorder));
  app.route("/", operatorRoutes(d.admission, d.storage));
  app.route("/", responsesRoutes(new ResponsesService(d.rooms)));
  app.route("/", userRoutes());
  app.route("/", operationsRoutes({ ...d.operations, verifier: d.verifier }));
  app.route("/", consoleRoutes({ dir: d.consoleDir }));
  app.route("/", docsRoutes({ openapi: () => app.getOpenAPI31Document(openApiConfig(d.version)) }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A JWT with claims `sub`, `tenant`, `exp` (at most AUTH_MAX_TOKEN_TTL_S away) and optional `access` (read | edit | full | root; none means read); the operator's has `operator: true`. Locally: `npm run -s token -- --tenant acme` with the server's DATA_DIR.",
  });
  app.doc31("/openapi.json", () => openApiConfig(d.version));

  app.notFound((c) => {
    d.recorder.httpError("NOT_FOUND");
    return c.json(errorBody("NOT_FOUND", `no route ${c.req.method} ${new URL(c.req.url).pathname}; see GET / for links and GET /openapi.json for every route`), 404);
  });
  app.onError((err, c) => {
    // A full disk or a damaged tenant file is recorded (and logged) there, then answered 503 like any AppError.
    d.storage?.observe(err, c.get("principal")?.tenant);
    const { appError, unexpected } = toAppError(err);
    d.recorder.httpError(appError.code);
    if (unexpected) {
      const log = c.get("log") ?? d.log;
      log.error({ err, req_id: c.get("requestId") }, "unhandled error");
    }
    return errorResponse(c, appError);
  });
  return app;
}

export type App = ReturnType<typeof buildApp>;
