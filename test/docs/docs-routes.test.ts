/**
 * The public docs: served without auth with the right media types, complete
 * (every endpoint, event type, error code, limit and access level), linked
 * correctly (llms.txt), and true (the access table, the limits and the event
 * union are checked against the running server, and the factory page does
 * not claim routes that do not exist).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_LEVELS, type Access } from "../../src/auth/principal.js";
import { loadConfig } from "../../src/config.js";
import { CONFIGURABLE_LIMITS } from "../../src/docs/docs.content.js";
import { errorRows } from "../../src/docs/docs.errors.js";
import { isApiPath, REQUIRED_ACCESS } from "../../src/docs/docs.openapi.js";
import { ERROR_CODES } from "../../src/errors.js";
import { RUN_EVENT_TYPES } from "../../src/factory/factory.events.js";
import { ROOM_EVENT_TYPES } from "../../src/events/event.types.js";
import { STATUS_BY_CODE } from "../../src/http/errors.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { operations, schemaTool } from "./openapi-support.js";

let t: TestServer;
let doc: Record<string, any>;
beforeAll(async () => {
  t = await startTestServer();
  doc = (await (await t.req("GET", "/openapi.json")).json()) as Record<string, any>;
});
afterAll(() => t.close());

async function page(url: string) {
  const res = await t.req("GET", url);
  return { res, text: await res.text() };
}

describe("markdown pages", () => {
  it.each(["/docs", "/docs/llm/room", "/docs/llm/factory"])("GET %s is public markdown in utf-8", async (url) => {
    const { res, text } = await page(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(text).toMatch(/^# \S/);
  });

  it("the room guide covers what a room is, lifecycle, events, errors, limits, auth, idempotency and a curl session", async () => {
    const { text } = await page("/docs/llm/room");
    for (const heading of [
      "## What a room is",
      "## Auth, tokens and access levels",
      "## Lifecycle",
      "## Events",
      "### Event catalogue",
      "## Idempotency and If-Match",
      "## Errors",
      "## Limits",
      "## A complete session with curl",
    ]) {
      expect(text).toContain(heading);
    }
    for (const row of ["| `active` | interrupt |", "| `idle` | `idle_timeout_s` passes | `sleeping`", "| `failed` | wake |", "| `released` | message, wake, PATCH, interrupt | 409 `ROOM_RELEASED` |"]) {
      expect(text).toContain(row);
    }
    for (const type of ROOM_EVENT_TYPES) expect(text, type).toContain(`| \`${type}\` |`);
    for (const level of ACCESS_LEVELS) expect(text, level).toContain(`| \`${level}\` |`);
    for (const cmd of ["npm run -s token -- --tenant acme", "curl -N", "/llm/room/$ROOM/messages", "/llm/room/$ROOM/interrupt", "/llm/room/$ROOM/release", "Last-Event-ID", "Idempotency-Key"]) {
      expect(text, cmd).toContain(cmd);
    }
  });

  it("lists every API operation of the OpenAPI document with its access level, on the room or the factory page", async () => {
    const room = (await page("/docs/llm/room")).text;
    const factory = (await page("/docs/llm/factory")).text;
    for (const { method, path: p, op } of operations(doc).filter((o) => isApiPath(o.path))) {
      const text = p.startsWith("/llm/factory/") ? factory : room;
      expect(text, `${method} ${p}`).toContain(`### ${method.toUpperCase()} \`${p}\`: ${op["summary"]}`);
      expect(text).toContain(`| ${method.toUpperCase()} | \`${p}\` | ${op["summary"]} | \`${REQUIRED_ACCESS[op["operationId"]]}\` |`);
    }
  });

  it("has one error row per error code, with the status the server really uses", async () => {
    const { text } = await page("/docs/llm/room");
    expect(errorRows().map((r) => r.code).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(text, code).toContain(`| ${STATUS_BY_CODE[code]} | \`${code}\` |`);
  });

  it("documents each configurable limit with the default the server really runs with", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "roomservice-docs-"));
    try {
      const config = loadConfig({ DATA_DIR: dir });
      for (const l of CONFIGURABLE_LIMITS) expect(l.fromConfig(config), l.env).toBe(l.defaultValue);
      // And the variable really is the one that sets it.
      const other = (v: number) => (v > 1024 ? v - 1 : v + 1);
      const changed = loadConfig({ DATA_DIR: dir, ...Object.fromEntries(CONFIGURABLE_LIMITS.map((l) => [l.env, String(other(l.defaultValue))])) });
      for (const l of CONFIGURABLE_LIMITS) expect(l.fromConfig(changed), l.env).toBe(other(l.defaultValue));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { text } = await page("/docs/llm/room");
    for (const l of CONFIGURABLE_LIMITS) expect(text).toContain(`| \`${l.env}\` | ${l.defaultValue} |`);
  });

  it("the factory guide covers the built feature: statuses, events, planner syntax, verification rules, gates, errors, limits and a curl session", async () => {
    const { text } = await page("/docs/llm/factory");
    expect(text).not.toMatch(/not implemented|\(planned|planned:/i);
    for (const heading of ["## What a run is", "## An offline run with curl", "## Statuses", "## Planner syntax", "## Verification rules", "## Gates", "## Events", "### Run event catalogue", "## Endpoints", "## Errors", "## Limits"]) {
      expect(text, heading).toContain(heading);
    }
    for (const type of RUN_EVENT_TYPES) expect(text, type).toContain(`| \`${type}\` |`);
    for (const status of ["pending", "planning", "running", "gated", "completed", "failed", "cancelled"]) expect(text, status).toContain(`\`${status}\``);
    for (const gate of ["all_issues_passed", "verification_passed", "token_budget", "human_review"]) expect(text, gate).toContain(gate);
    for (const cmd of ["npm run -s token -- --tenant acme", "/llm/factory/runs/$RUN/start", "/llm/factory/runs/$RUN/events?follow=true", "/llm/factory/runs/$RUN/review", "Idempotency-Key"]) expect(text, cmd).toContain(cmd);
    // The routes it documents exist.
    const token = await t.token("acme");
    const res = await t.json("GET", "/llm/factory/runs", { token });
    expect(res.status).toBe(200);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/llm/factory")).length).toBeGreaterThanOrEqual(15);
  });

  it("links use the request's own origin", async () => {
    const res = await t.server.app.request("http://docs.example:9999/docs");
    expect(await res.text()).toContain("(http://docs.example:9999/docs/llm/room)");
  });
});

describe("llms.txt", () => {
  it("is served as utf-8 text in the llmstxt.org shape: title, summary, sections of links", async () => {
    const { res, text } = await page("/llms.txt");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; charset=utf-8$/i);
    const lines = text.split("\n");
    expect(lines[0]).toBe("# roomservice");
    expect(lines[1]).toBe("");
    expect(lines[2]).toMatch(/^> \S.{40,}/);
    const sections = lines.filter((l) => l.startsWith("## "));
    expect(sections).toEqual(["## Docs", "## API", "## Optional"]);
    // Only H1 and H2 headings, per the format.
    expect(lines.filter((l) => /^#{3,} /.test(l))).toEqual([]);
  });

  it("links to the docs pages, the OpenAPI document and every operation, and every link works", async () => {
    const { text } = await page("/llms.txt");
    const links = [...text.matchAll(/\[([^\]]+)\]\(([^)\s]+)\)/g)].map((m) => m[2]!);
    for (const p of ["/docs/llm/room", "/docs", "/docs/llm/factory", "/openapi.json", "/reference"]) expect(links).toContain(`http://localhost${p}`);
    const guides = { room: (await page("/docs/llm/room")).text, factory: (await page("/docs/llm/factory")).text };
    for (const { path: p, op } of operations(doc).filter((o) => isApiPath(o.path))) {
      const id = op["operationId"] as string;
      const which = p.startsWith("/llm/factory/") ? "factory" : "room";
      expect(links, id).toContain(`http://localhost/docs/llm/${which}#${id}`);
      expect(guides[which], `anchor ${id}`).toContain(`<a id="${id}"></a>`);
    }
    for (const l of links) {
      const u = new URL(l);
      expect(u.origin).toBe("http://localhost");
      const res = await t.req("GET", u.pathname);
      expect(res.status, l).toBe(200);
      await res.body?.cancel();
    }
  });
});

describe("access levels", () => {
  const below: Record<Access | "operator", Access | null> = { read: null, edit: "read", full: "edit", root: "full", operator: "root" };

  it("each protected operation refuses the level below the documented one and admits the documented one", async () => {
    const tokens = Object.fromEntries(await Promise.all(ACCESS_LEVELS.map(async (a) => [a, await t.token("docs_access", { access: a })] as const))) as Record<Access | "operator", string>;
    tokens.operator = await t.token("docs_access", { access: "read", operator: true });
    const fresh = async () => (await t.json("POST", "/llm/room", { token: tokens.full, body: { purpose: "access check" } })).body.data.id as string;
    const bodies = (room: string): Record<string, unknown> => ({
      createResponse: { input: "hi", room_id: room },
      rentRoom: {},
      updateRoom: { purpose: "patched" },
      postMessage: { kind: "note", content: "a note" },
      wakeRoom: {},
      interruptRoom: {},
      releaseRoom: {},
      setGlobalStop: { active: false },
    });
    const ops = operations(doc).filter((o) => isApiPath(o.path));
    expect(ops.map((o) => o.op["operationId"]).sort()).toEqual(Object.keys(REQUIRED_ACCESS).sort());
    for (const { method, path: p, op } of ops) {
      const id = op["operationId"] as string;
      const need = REQUIRED_ACCESS[id]!;
      const room = await fresh();
      const note = (await t.json("POST", `/llm/room/${room}/messages`, { token: tokens.full, body: { kind: "note", content: "n" } })).body.data.id as string;
      const url = p.replace("{id}", room).replace("{message_id}", note);
      const send = async (level: Access | "operator") => {
        const res = await t.req(method.toUpperCase(), url, { token: tokens[level], ...(method === "get" ? {} : { body: bodies(room)[id] ?? {} }) });
        const json = (res.headers.get("content-type") ?? "").includes("application/json");
        const body = json ? ((await res.json()) as { code?: string; message?: string }) : (await res.body?.cancel(), {} as { code?: string; message?: string });
        return { status: res.status, body };
      };
      const lower = below[need];
      if (lower) {
        const refused = await send(lower);
        expect(refused.status, `${id} with ${lower}`).toBe(403);
        expect(refused.body.code).toBe("FORBIDDEN");
        // The refusal names the level this route needs, not a generic one.
        expect(refused.body.message, `${id} refusal names ${need}`).toMatch(need === "operator" ? /operator token/ : new RegExp(`needs a token with access ${need} or higher`));
      }
      const admitted = await send(need);
      expect([401, 403], `${id} with ${need}: ${admitted.status} ${JSON.stringify(admitted.body)}`).not.toContain(admitted.status);
    }
  });
});

describe("the event union matches what the server writes", () => {
  it("every event of real sessions (tool call, failure, interrupt, release) validates against its documented schema", async () => {
    const token = await t.token("docs_events");
    const tool = schemaTool(doc);
    const rent = async (body: unknown) => (await t.json("POST", "/llm/room", { token, body })).body.data.id as string;
    const status = async (id: string) => (await t.json("GET", `/llm/room/${id}`, { token })).body.data.status as string;

    // 1. A turn with a tool call, then a PATCH, then a release.
    const a = await rent({ purpose: "math", tool_policy: { allowed_tools: ["calculator"] } });
    expect((await t.json("POST", `/llm/room/${a}/messages`, { token, body: { content: "Calculate 42 * 19" } })).status).toBe(202);
    await eventually(async () => (await status(a)) === "idle", 10_000, "tool turn to end");
    expect((await t.json("PATCH", `/llm/room/${a}`, { token, body: { metadata: { name: "x" } } })).status).toBe(200);
    expect((await t.json("POST", `/llm/room/${a}/wake`, { token, body: {} })).status).toBe(200);
    // A budget lowered below what was used (room:budget_blocked), and a summary (room:summary_updated).
    expect((await t.json("PATCH", `/llm/room/${a}`, { token, body: { budget: { max_tokens: 1 } } })).status).toBe(200);
    expect((await t.json("POST", `/llm/room/${a}/summary`, { token, body: {} })).status).toBe(200);

    // 2. A failing turn.
    const b = await rent({ agents: [{ agent_id: "flaky", options: { fail_after_tokens: 1 } }] });
    await t.json("POST", `/llm/room/${b}/messages`, { token, body: { content: "hello there" } });
    await eventually(async () => (await status(b)) === "failed", 10_000, "turn to fail");

    // 3. An interrupted slow turn.
    const c = await rent({ agents: [{ agent_id: "slow", options: { token_delay_ms: 200 } }] });
    await t.json("POST", `/llm/room/${c}/messages`, { token, body: { content: "tell me a long story about rooms" } });
    await eventually(async () => (await status(c)) === "active", 5000, "slow turn to start");
    expect((await t.json("POST", `/llm/room/${c}/interrupt`, { token, body: { reason: "enough" } })).status).toBe(200);

    const seen = new Set<string>();
    const failures: string[] = [];
    for (const id of [a, b, c]) {
      expect((await t.json("POST", `/llm/room/${id}/release`, { token, body: { reason: "done" } })).status).toBe(200);
      const events = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.events as Array<{ event_type: string; seq: number }>;
      for (const e of events) {
        seen.add(e.event_type);
        for (const msg of tool.check("/components/schemas/RoomEventUnion", e)) failures.push(`${e.event_type}#${e.seq}: ${msg}`);
        for (const msg of tool.check("/components/schemas/RoomEvent", e)) failures.push(`${e.event_type}#${e.seq} (generic): ${msg}`);
      }
    }
    expect(failures).toEqual([]);
    // Every documented type but `room:sleeping` (needs the idle timer) occurred, so the check covered them.
    expect([...ROOM_EVENT_TYPES].filter((x) => !seen.has(x))).toEqual(["room:sleeping"]);
  });
});

describe("/reference", () => {
  it("is an HTML page that loads only assets this server serves", async () => {
    const { res, text } = await page("/reference");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const refs = [...text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => /^(https?:)?\/\//.test(r))).toEqual([]);
    const assets = refs.filter((r) => r.startsWith("/reference/assets/"));
    expect(assets).toEqual(expect.arrayContaining(["/reference/assets/swagger-ui.css", "/reference/assets/swagger-ui-bundle.js", "/reference/assets/init.js"]));
    for (const a of assets) {
      const r = await t.req("GET", a);
      expect(r.status, a).toBe(200);
      const type = r.headers.get("content-type") ?? "";
      if (a.endsWith(".js")) expect(type).toMatch(/^text\/javascript/);
      if (a.endsWith(".css")) expect(type).toMatch(/^text\/css/);
      const body = await r.text();
      if (a.endsWith("swagger-ui-bundle.js")) expect(body.length).toBeGreaterThan(100_000);
      if (a.endsWith("init.js")) expect(body).toContain('url: "/openapi.json"');
    }
  });

  it("serves nothing but its own asset list", async () => {
    for (const bad of ["/reference/assets/package.json", "/reference/assets/..%2Fpackage.json", "/reference/assets/swagger-initializer.js", "/reference/assets/index.html"]) {
      const res = await t.req("GET", bad);
      expect(res.status, bad).toBe(404);
    }
  });
});
