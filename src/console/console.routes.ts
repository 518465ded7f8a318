/**
 * The browser console at /console: the static files that `npm run build`
 * writes to dist/console (Vite, from console/), served by this app so the
 * console needs no CDN and no second server. Public, no auth: the page holds
 * no data; every API call it makes carries the token the user pasted.
 *
 * Only plain file names are served (no sub-paths, so no traversal), read
 * from disk per request: a rebuild while the server runs is picked up on
 * the next reload. Hashed assets are cached for a year; index.html never.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AppError } from "../errors.js";
import { ErrorSchema } from "../http/envelope.js";
import type { AppEnv } from "../http/context.js";
import { createRouter } from "../http/router.js";

export interface ConsoleDeps {
  /** The folder holding the built console (index.html, assets/). */
  dir: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
};

/** A file name the console may serve: one path segment, no dot files, a known type. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * The page loads only its own scripts and styles and talks only to this
 * origin: a script injected through some rendered text could not send the
 * token in session storage anywhere else.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS = {
  "Content-Type": TYPES[".html"]!,
  "Cache-Control": "no-cache",
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

const PAGE_EXAMPLE = '<!doctype html>\n<html lang="en">\n<head><title>roomservice console</title>...</head>\n<body><div id="app"></div>...</body>\n</html>\n';

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "EISDIR") return null;
    throw err;
  }
}

export function consoleRoutes(d: ConsoleDeps) {
  const app = createRouter();

  const page = async (c: Context<AppEnv>) => {
    const html = await readOrNull(path.join(d.dir, "index.html"));
    if (!html) {
      throw new AppError("NOT_FOUND", "the console is not built in this installation: run `npm run build` (`npm start` runs it), then reload /console");
    }
    return c.body(html as Uint8Array<ArrayBuffer>, 200, PAGE_HEADERS);
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/console",
      operationId: "console",
      tags: ["console"],
      summary: "Browser console",
      description:
        "No auth. The live console (HTML; its scripts and styles are served from this server under /console/assets/, no CDN): sign in by pasting a token, which stays in the tab's session storage; list, rent and watch rooms with their live token stream, send, interrupt, wake and release; factory runs where the server has them. Every API call the page makes carries that token; the page itself holds no data.",
      responses: {
        200: { description: "The console page.", content: { "text/html": { schema: z.string().openapi({ example: PAGE_EXAMPLE }) } } },
        404: {
          description: "The console was not built in this installation (NOT_FOUND): run `npm run build`.",
          content: { "application/json": { schema: ErrorSchema, example: { success: false, error: "the console is not built in this installation: run `npm run build` (`npm start` runs it), then reload /console", code: "NOT_FOUND", message: "the console is not built in this installation: run `npm run build` (`npm start` runs it), then reload /console" } } },
        },
        500: { description: "Unexpected error (INTERNAL).", content: { "application/json": { schema: ErrorSchema } } },
      },
    }),
    page,
  );

  // The page's own files (`<name>` and `assets/<name>`): not API, so not in the OpenAPI document. Unknown names fall
  // through to the app's 404. One route, not `/console/assets/:name` beside `/console/:name`: hono's RegExpRouter
  // cannot hold that pair, and one route it cannot hold makes the whole app fall back to its TrieRouter, which
  // cost every request (GET /llm/room/:id: about 2.6 µs, 15% of the app's own CPU per request, socket and HTTP
  // parsing aside; measured in-process).
  app.get("/console/:path{.+}", async (c) => {
    // The raw path (c.req.path leaves %2F encoded, so "a%2Fb" stays one segment and fails SAFE_NAME).
    const rest = c.req.path.slice("/console/".length).replace(/\/$/, "");
    const slash = rest.indexOf("/");
    const sub = slash < 0 ? "" : rest.slice(0, slash);
    const name = slash < 0 ? rest : rest.slice(slash + 1);
    const type = TYPES[path.extname(name)];
    if ((sub !== "" && sub !== "assets") || !SAFE_NAME.test(name) || !type || name === "index.html") return c.notFound();
    const body = await readOrNull(path.join(d.dir, sub, name));
    if (!body) return c.notFound();
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": type,
      "Cache-Control": sub === "assets" ? "public, max-age=31536000, immutable" : "no-cache",
      "X-Content-Type-Options": "nosniff",
    });
  });

  return app;
}
