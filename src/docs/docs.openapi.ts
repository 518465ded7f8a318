/**
 * The OpenAPI document's top level (info, tags, servers) and the access each
 * protected operation needs. Deterministic by design: no timestamps and a
 * relative server, so the committed openapi/openapi.json only changes when
 * the code does.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Access } from "../auth/principal.js";
import { SERVICE_NAME } from "../http/constants.js";
import { SERVICE_SUMMARY } from "./docs.content.js";

export type OpenApiConfig = Parameters<OpenAPIHono["getOpenAPI31Document"]>[0];
export type OpenApiDocument = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

export const TAGS = [
  { name: "rooms", description: "Rent rooms, send messages, follow events, interrupt, release." },
  { name: "factory", description: "Durable factory runs: plan a brief, dispatch its issues to rooms, verify, gate, review." },
  { name: "providers", description: "The models the operator enabled." },
  { name: "usage", description: "Your tenant's tokens and cost by day and model (a room's own: `GET /llm/room/{id}/usage`)." },
  { name: "clients", description: "What the public Abbotik CLI and TUI call besides /llm/*: the room-backed ingress and the caller's principal." },
  { name: "operator", description: "Operator controls; an operator token (`npm run -s token -- --operator`), never a tenant's." },
  { name: "meta", description: "Health, index and keys; no auth." },
  { name: "operations", description: "Prometheus metrics (METRICS_TOKEN or an operator token) and readiness (no auth)." },
  { name: "docs", description: "These documents; no auth." },
];

export function openApiConfig(version: string): OpenApiConfig {
  return {
    openapi: "3.1.0",
    info: {
      title: SERVICE_NAME,
      version,
      description: [
        SERVICE_SUMMARY,
        "",
        "Guides: `GET /docs` (overview), `GET /docs/llm/room` (rooms: lifecycle, events, errors, limits, a curl session), `GET /docs/llm/factory` (factory runs: statuses, events, planner syntax, verification rules, gates), `GET /llms.txt`. Browsable: `GET /reference`.",
        "",
        "Access levels of the bearer token (`access` claim): `read` (also a token without the claim) may only GET; `edit` may also patch, send messages, wake and interrupt, and write factory records (stages, issues, artifacts, checkpoints, dispatch, advance, verify, gates); `full` may also rent and release rooms and create, start and cancel factory runs; `root` is `full` kept for older tokens. `/llm/operator/*` needs an operator token (claim `operator: true`, minted by `npm run -s token -- --operator`), which no tenant access level gives.",
      ].join("\n"),
      license: { name: "MIT" },
    },
    servers: [{ url: "/", description: "This server." }],
    tags: TAGS,
    externalDocs: { description: "Rooms guide (markdown)", url: "/docs/llm/room" },
  };
}

/**
 * The access level each protected operation needs, by operationId. Docs
 * render it; test/docs checks it against the running app, so a route whose
 * guard changes fails the test until this table (and so the docs) follow.
 */
export const REQUIRED_ACCESS: Record<string, Access | "operator"> = {
  listProviders: "read",
  listModels: "read",
  listRooms: "read",
  rentRoom: "full",
  getRoom: "read",
  updateRoom: "edit",
  postMessage: "edit",
  wakeRoom: "edit",
  interruptRoom: "edit",
  releaseRoom: "full",
  roomHistory: "read",
  roomEvents: "read",
  roomUsage: "read",
  tenantUsage: "read",
  summarizeRoom: "edit",
  listFactoryRuns: "read",
  createFactoryRun: "full",
  getFactoryRun: "read",
  startFactoryRun: "full",
  cancelFactoryRun: "full",
  getFactoryRunStatus: "read",
  getFactoryRunReview: "read",
  listFactoryStages: "read",
  createFactoryStage: "edit",
  updateFactoryStage: "edit",
  listFactoryIssues: "read",
  createFactoryIssue: "edit",
  updateFactoryIssue: "edit",
  dispatchFactoryIssue: "edit",
  listFactoryArtifacts: "read",
  createFactoryArtifact: "edit",
  listFactoryCheckpoints: "read",
  createFactoryCheckpoint: "edit",
  advanceFactoryRun: "edit",
  verifyFactoryRun: "edit",
  checkFactoryRunGates: "edit",
  recordFactoryGate: "edit",
  factoryRunEvents: "read",
  createResponse: "edit",
  introspect: "read",
  getMessage: "read",
  getGlobalStop: "operator",
  setGlobalStop: "operator",
  getStorageState: "operator",
};

/** Paths of the bearer-token API: rooms and the rest under /llm/, and what the Abbotik clients call (/v1/, /api/). */
export function isApiPath(path: string): boolean {
  return path.startsWith("/llm/") || path.startsWith("/v1/") || path.startsWith("/api/");
}

export interface Operation {
  method: string;
  path: string;
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  secured: boolean;
  access: Access | "operator" | null;
  raw: Record<string, unknown>;
}

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"] as const;

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = (item as Record<string, unknown>)[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const operationId = String(op["operationId"] ?? `${method} ${path}`);
      const secured = Array.isArray(op["security"]) && (op["security"] as unknown[]).length > 0;
      out.push({
        method: method.toUpperCase(),
        path,
        operationId,
        summary: String(op["summary"] ?? ""),
        description: String(op["description"] ?? ""),
        tags: (op["tags"] as string[] | undefined) ?? [],
        secured,
        access: secured ? (REQUIRED_ACCESS[operationId] ?? null) : null,
        raw: op,
      });
    }
  }
  return out;
}
