/**
 * The read-path baseline: a bare Hono app on @hono/node-server with one JSON
 * route and no middleware, started as its own process by bench/run.ts. It
 * answers GET /room with the same JSON object the real server returned for
 * GET /llm/room/:id (read from BARE_BODY_FILE), serialised per request as the
 * real route does, so both sides send the same bytes. POST /echo is the
 * round-trip baseline for the latency figures.
 */
import { readFileSync } from "node:fs";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const file = process.env["BARE_BODY_FILE"];
const body: unknown = file ? JSON.parse(readFileSync(file, "utf8")) : { success: true, data: { ok: true } };

const app = new Hono();
app.get("/health", (c) => c.json({ success: true, data: { status: "ok" } }));
app.get("/room", (c) => c.json(body as object));
app.post("/echo", async (c) => c.json({ success: true, data: await c.req.json() }, 202));

const server = serve({ fetch: app.fetch, hostname: process.env["HOST"] ?? "127.0.0.1", port: Number(process.env["PORT"] ?? 0) });
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
