/**
 * Public documentation routes (no auth): /docs, /docs/llm/room,
 * /docs/llm/factory, /llms.txt and the browsable /reference. The markdown is
 * rendered from the app's own OpenAPI document plus src/docs prose, so the
 * pages cannot describe routes the app does not have.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ErrorSchema } from "../http/envelope.js";
import { createRouter } from "../http/router.js";
import { DEFAULT_BASE_URL } from "./docs.content.js";
import type { OpenApiDocument } from "./docs.openapi.js";
import { renderDocsIndex, renderFactoryPage, renderLlmsTxt, renderRoomPage } from "./docs.pages.js";
import { REFERENCE_HTML, REFERENCE_UNAVAILABLE_HTML, referenceAssets } from "./docs.reference.js";

export { openApiConfig } from "./docs.openapi.js";

export interface DocsDeps {
  /** The app's OpenAPI document; called once, on the first docs request, after every route is registered. */
  openapi: () => OpenApiDocument;
}

const MARKDOWN = "text/markdown; charset=utf-8";
const tags = ["docs"];

const internalError = { 500: { description: "Unexpected error (INTERNAL).", content: { "application/json": { schema: ErrorSchema } } } };

const markdown = (description: string, example: string) => ({
  200: { description, content: { "text/markdown": { schema: z.string().openapi({ example }) } } },
  ...internalError,
});

/** Absolute origin for links, from the request; falls back to the default address for anything odd. */
function baseOf(c: Context): string {
  const origin = new URL(c.req.url).origin;
  return /^https?:\/\/[A-Za-z0-9.\-:[\]]+$/.test(origin) ? origin : DEFAULT_BASE_URL;
}

export function docsRoutes(d: DocsDeps) {
  const app = createRouter();
  let doc: OpenApiDocument | null = null;
  const openapi = () => (doc ??= d.openapi());
  const assets = referenceAssets();

  app.openapi(
    createRoute({
      method: "get",
      path: "/docs",
      operationId: "docsIndex",
      tags,
      summary: "Docs: overview",
      description: "No auth. Markdown: what the service is, every endpoint with the access it needs, auth, and a first curl session, with links to the room guide, the OpenAPI document and the reference.",
      responses: markdown("The overview, as markdown.", "# roomservice 0.1.0\n\n> roomservice rents tenant-scoped, bounded, live LLM rooms over HTTP ...\n"),
    }),
    (c) => c.body(renderDocsIndex(openapi(), baseOf(c)), 200, { "Content-Type": MARKDOWN }),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/docs/llm/room",
      operationId: "docsRooms",
      tags,
      summary: "Docs: rooms guide",
      description:
        "No auth. Markdown: what a room is, auth and access levels, every room endpoint, the lifecycle table, the event catalogue with payloads, error codes and what to do about each, limits, idempotency, and a complete curl session.",
      responses: markdown("The rooms guide, as markdown.", "# Rooms\n\n## What a room is\n\nA **room** is a rented, tenant-scoped execution context for LLM work. ...\n"),
    }),
    (c) => c.body(renderRoomPage(openapi(), baseOf(c)), 200, { "Content-Type": MARKDOWN }),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/docs/llm/factory",
      operationId: "docsFactory",
      tags,
      summary: "Docs: factory guide",
      description:
        "No auth. Markdown: what a factory run is, an offline curl session, statuses, the planner syntax, the verification rules, the gates, the run event catalogue, every factory endpoint, its errors and limits.",
      responses: markdown("The factory guide, as markdown.", "# Factory\n\n> Durable runs over rooms: a brief becomes stages and issues, each issue runs in a room the run rents, ...\n"),
    }),
    (c) => c.body(renderFactoryPage(openapi(), baseOf(c)), 200, { "Content-Type": MARKDOWN }),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/llms.txt",
      operationId: "llmsTxt",
      tags,
      summary: "llms.txt",
      description: "No auth. The llmstxt.org index for agents: a summary, then links to the docs pages, the OpenAPI document and every operation.",
      responses: {
        200: {
          description: "llms.txt (markdown, served as text/plain).",
          content: { "text/plain": { schema: z.string().openapi({ example: "# roomservice\n\n> roomservice rents tenant-scoped, bounded, live LLM rooms over HTTP ...\n\n## Docs\n\n- [Rooms guide](http://127.0.0.1:8787/docs/llm/room): ...\n" }) } },
        },
        ...internalError,
      },
    }),
    (c) => c.text(renderLlmsTxt(openapi(), baseOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/reference",
      operationId: "apiReference",
      tags,
      summary: "Browsable API reference",
      description: "No auth. An HTML page (Swagger UI, served from this server, no CDN) that renders /openapi.json. Needs JavaScript; /docs/llm/room has the same content as markdown.",
      responses: {
        200: { description: "The reference page.", content: { "text/html": { schema: z.string().openapi({ example: "<!doctype html>\n<html lang=\"en\">...</html>\n" }) } } },
        ...internalError,
      },
    }),
    (c) => c.html(assets.available ? REFERENCE_HTML : REFERENCE_UNAVAILABLE_HTML, 200),
  );

  // The reference's static files: not API, so not in the OpenAPI document.
  app.get("/reference/assets/:name", (c) => {
    const asset = assets.get(c.req.param("name"));
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { "Content-Type": asset.contentType, "Cache-Control": "public, max-age=86400" });
  });

  return app;
}
