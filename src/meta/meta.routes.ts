/** Public, unauthenticated routes: health, service index, JWKS. */
import { createRoute, z } from "@hono/zod-openapi";
import type { JWK } from "jose";
import { SERVICE_NAME } from "../http/constants.js";
import { envelopeSchema, ok } from "../http/envelope.js";
import { createRouter } from "../http/router.js";

export interface MetaDeps {
  version: string;
  publicJwk: JWK;
  startedAt: number;
  now: () => number;
  isShuttingDown: () => boolean;
  /** Storage faults (storage-health.ts); without it /health reports none. */
  storage?: { status(): { full: boolean; degradedTenants: readonly unknown[] } };
}

const HealthStorage = z
  .object({
    full: z.boolean().openapi({ description: "A write found the disk full within the last minute (writes answer 503 STORAGE_FULL; reads work)." }),
    degraded_tenants: z.number().int().openapi({ description: "Tenants refused because their data file is missing or damaged (503 TENANT_DATA_DAMAGED); the operator's log names them." }),
  })
  .openapi("HealthStorage");

const Health = z
  .object({
    status: z.enum(["ok", "degraded", "shutting_down"]).openapi({ description: "`degraded`: serving, but the disk is full or some tenants are refused (see `storage`)." }),
    timestamp: z.string(),
    uptime: z.number().openapi({ description: "Seconds since start." }),
    storage: HealthStorage,
  })
  .openapi("Health", { example: { status: "ok", timestamp: "2026-01-05T10:00:00.000Z", uptime: 12.34, storage: { full: false, degraded_tenants: 0 } } });

export function metaRoutes(d: MetaDeps) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      operationId: "health",
      tags: ["meta"],
      summary: "Liveness",
      description:
        "No auth. 200 while serving: status `ok`, or `degraded` when the disk is full or some tenants' data files are damaged (counted in `storage`, never named here); 503 with status `shutting_down` while draining.",
      responses: {
        200: { description: "Serving.", content: { "application/json": { schema: envelopeSchema(Health), example: ok({ status: "ok", timestamp: "2026-01-05T10:00:00.000Z", uptime: 12.34, storage: { full: false, degraded_tenants: 0 } }) } } },
        503: { description: "Draining.", content: { "application/json": { schema: envelopeSchema(Health), example: ok({ status: "shutting_down", timestamp: "2026-01-05T10:05:00.000Z", uptime: 312.5, storage: { full: false, degraded_tenants: 0 } }) } } },
      },
    }),
    (c) => {
      const down = d.isShuttingDown();
      const s = d.storage?.status();
      const storage = { full: s?.full ?? false, degraded_tenants: s?.degradedTenants.length ?? 0 };
      const status = down ? ("shutting_down" as const) : storage.full || storage.degraded_tenants > 0 ? ("degraded" as const) : ("ok" as const);
      const body = ok({ status, timestamp: new Date(d.now()).toISOString(), uptime: Math.round((d.now() - d.startedAt) / 10) / 100, storage });
      return down ? c.json(body, 503) : c.json(body, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "serviceIndex",
      tags: ["meta"],
      summary: "Service name, version and links",
      description: "No auth. Where to go next: docs, OpenAPI, llms.txt, JWKS.",
      responses: {
        200: {
          description: "Index.",
          content: {
            "application/json": {
              schema: envelopeSchema(z.object({ name: z.string(), version: z.string(), links: z.record(z.string(), z.string()) })),
              example: ok({ name: "roomservice", version: "0.1.0", links: { docs: "/docs", room_docs: "/docs/llm/room", openapi: "/openapi.json", llms_txt: "/llms.txt", health: "/health" } }),
            },
          },
        },
      },
    }),
    (c) =>
      c.json(
        ok({
          name: SERVICE_NAME,
          version: d.version,
          links: { docs: "/docs", room_docs: "/docs/llm/room", factory_docs: "/docs/llm/factory", openapi: "/openapi.json", reference: "/reference", llms_txt: "/llms.txt", jwks: "/.well-known/jwks.json", health: "/health" },
        }),
        200,
      ),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/.well-known/jwks.json",
      operationId: "jwks",
      tags: ["meta"],
      summary: "Public signing keys",
      description: "No auth. The public key that verifies this service's own tokens (RFC 7517 JWK Set).",
      responses: {
        200: {
          description: "JWK Set.",
          content: {
            "application/json": {
              schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
              example: { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", alg: "EdDSA", use: "sig" }] },
            },
          },
        },
      },
    }),
    (c) => {
      c.header("Cache-Control", "public, max-age=300");
      return c.json({ keys: [d.publicJwk as Record<string, unknown>] }, 200);
    },
  );
  return app;
}
