/**
 * The OpenAPI document is what agents and generated clients rely on: it must
 * be a valid OpenAPI 3.1 document, describe every route completely (ids,
 * prose, security, errors, examples that match their schemas), stay
 * deterministic, and equal the committed openapi/openapi.json.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOM_EVENT_TYPES } from "../../src/events/event.types.js";
import { ARTIFACT_PATHS, renderArtifacts } from "../../src/docs/docs.artifacts.js";
import { isApiPath, REQUIRED_ACCESS } from "../../src/docs/docs.openapi.js";
import { startTestServer, type TestServer } from "../support/harness.js";
import { deref, findExamples, operations, pointer, schemaTool } from "./openapi-support.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

let t: TestServer;
let doc: Record<string, any>;
beforeAll(async () => {
  t = await startTestServer();
  const res = await t.req("GET", "/openapi.json");
  expect(res.status).toBe(200);
  doc = (await res.json()) as Record<string, any>;
});
afterAll(() => t.close());

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document (checked by @seriousme/openapi-schema-validator)", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("gives every operation a unique operationId, a summary, a description and a tag", () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(20);
    const ids = ops.map((o) => o.op["operationId"]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path: p, op } of ops) {
      const where = `${method.toUpperCase()} ${p}`;
      expect(op["operationId"], where).toMatch(/^[a-zA-Z][a-zA-Z0-9]+$/);
      expect(String(op["summary"] ?? "").length, `${where} summary`).toBeGreaterThan(3);
      expect(String(op["description"] ?? "").length, `${where} description`).toBeGreaterThan(20);
      expect((op["tags"] as string[]).length, `${where} tags`).toBeGreaterThan(0);
    }
  });

  it("secures every /llm/* operation with the bearerAuth scheme and no public one", () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    for (const { method, path: p, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${p}`;
      if (isApiPath(p)) {
        expect(op["security"], where).toEqual([{ bearerAuth: [] }]);
        expect(REQUIRED_ACCESS[op["operationId"] as string], `${where} has a documented access level`).toBeDefined();
      } else if (p === "/metrics") {
        expect(op["security"], where).toEqual([{ metricsAuth: [] }]);
      } else {
        expect(op["security"], where).toBeUndefined();
      }
    }
  });

  it("documents the errors every protected operation can return, each as the Error envelope", () => {
    for (const { method, path: p, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${p}`;
      const statuses = Object.keys(op["responses"]);
      if (isApiPath(p)) {
        // authenticate and rate-limit run before every /llm/* handler.
        for (const s of ["401", "429", "500"]) expect(statuses, `${where} documents ${s}`).toContain(s);
        if (method !== "get") {
          // read tokens are refused, bodies are size- and type-checked (DELETE takes none), Idempotency-Key is honoured.
          const expected = method === "delete" ? ["400", "403", "409", "422"] : ["400", "403", "409", "413", "415", "422"];
          for (const s of expected) expect(statuses, `${where} documents ${s}`).toContain(s);
        }
        if (p.includes("{id}")) expect(statuses, `${where} documents 404`).toContain("404");
      }
      // /health and /ready answer 503 with their own body while draining; every other status >= 400 is the error envelope.
      for (const s of statuses.filter((x) => Number(x) >= 400 && !((op["operationId"] === "health" || op["operationId"] === "readiness") && x === "503"))) {
        const content = op["responses"][s].content["application/json"];
        expect(content?.schema, `${where} ${s}`).toEqual({ $ref: "#/components/schemas/Error" });
      }
    }
  });

  it("has an example on every request body, every parameter and every response body", () => {
    for (const { method, path: p, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${p}`;
      for (const param of (op["parameters"] ?? []) as Array<Record<string, any>>) {
        const hasExample = param["example"] !== undefined || param["schema"]?.example !== undefined || param["schema"]?.default !== undefined || Array.isArray(param["schema"]?.enum);
        expect(hasExample, `${where} parameter ${param["name"]}`).toBe(true);
      }
      const body = op["requestBody"]?.content?.["application/json"];
      if (body) expect(body.example ?? deref(doc, body.schema)?.["example"], `${where} request body`).toBeDefined();
      for (const [status, r] of Object.entries(op["responses"] as Record<string, any>)) {
        for (const [type, media] of Object.entries((r.content ?? {}) as Record<string, any>)) {
          expect(media.example ?? deref(doc, media.schema)?.["example"], `${where} ${status} ${type}`).toBeDefined();
        }
      }
    }
  });

  it("has examples that match their schemas (compiled with ajv, JSON Schema 2020-12)", () => {
    const tool = schemaTool(doc);
    const examples = findExamples(doc);
    expect(examples.length).toBeGreaterThan(50);
    const failures = examples.flatMap((e) => tool.check(e.schema, e.value).map((msg) => `${e.where}: ${msg}`));
    expect(failures).toEqual([]);
  });

  it("rejects a wrong example (the example check can fail)", () => {
    const tool = schemaTool(doc);
    const room = doc.components.schemas.Room.example;
    expect(tool.check("/components/schemas/Room", { ...room, status: "on fire" })).not.toEqual([]);
    expect(tool.check("/components/schemas/Room", { ...room, version: "3" })).not.toEqual([]);
  });

  it("documents the SSE route as text/event-stream carrying the event union, one schema per event type", () => {
    const op = doc.paths["/llm/room/{id}/events"].get;
    const media = op.responses["200"].content["text/event-stream"];
    expect(media.schema).toEqual({ $ref: "#/components/schemas/RoomEventFrame" });
    const frame = doc.components.schemas.RoomEventFrame;
    expect(frame.properties.data).toEqual({ $ref: "#/components/schemas/RoomEventUnion" });
    expect(frame.properties.event.enum).toEqual([...ROOM_EVENT_TYPES]);
    const union = doc.components.schemas.RoomEventUnion;
    expect(union.discriminator.propertyName).toBe("event_type");
    expect(Object.keys(union.discriminator.mapping).sort()).toEqual([...ROOM_EVENT_TYPES].sort());
    expect(union.oneOf).toHaveLength(ROOM_EVENT_TYPES.length);
    for (const name of ["last-event-id"]) expect(op.parameters.map((p: { name: string }) => p.name)).toContain(name);
    expect(op.description).toContain("Last-Event-ID");
  });

  it("is deterministic: no timestamps, a relative server, the same bytes every time", async () => {
    const again = await (await t.req("GET", "/openapi.json")).text();
    expect(again).toBe(JSON.stringify(doc));
    expect(doc.servers).toEqual([{ url: "/", description: "This server." }]);
    expect(again).not.toContain("localhost");
    expect(again).not.toContain(t.dataDir);
    // A second, independent server (other data dir, other key) produces the same document.
    const other = await startTestServer();
    try {
      expect(await (await other.req("GET", "/openapi.json")).text()).toBe(again);
    } finally {
      await other.close();
    }
  });
});

describe("committed artifacts", () => {
  it("openapi/openapi.json and llms.txt equal what the code generates (run `npm run openapi` after changing routes or docs)", async () => {
    const files = await renderArtifacts(t.server.app);
    for (const rel of ARTIFACT_PATHS) {
      const committed = readFileSync(path.join(ROOT, rel), "utf8");
      expect(committed, `${rel} is stale: run \`npm run openapi\``).toBe(files[rel]);
    }
    expect(JSON.parse(files["openapi/openapi.json"])).toEqual(doc);
  });

  it("the pointer helper escapes like JSON Pointer", () => {
    expect(pointer(["paths", "/llm/room/{id}", "get"])).toBe("/paths/~1llm~1room~1%7Bid%7D/get");
  });
});
