/**
 * Renders the markdown pages and llms.txt. Endpoint prose is read from the
 * OpenAPI document (the route definitions are its one source); everything
 * else comes from docs.content / docs.events / docs.errors. `base` is the
 * absolute origin links should point at.
 */
import { ROOM_EVENT_TYPES } from "../events/event.types.js";
import {
  authSection,
  curlSession,
  FACTORY_INTRO,
  FACTORY_LIMITS,
  factoryCurlSession,
  idempotencySection,
  limitsSection,
  LIFECYCLE_TABLE,
  REFERENCE_CHECK,
  ROOM_INTRO,
  TOOLS_DOC,
  SERVICE_SUMMARY,
  sseSection,
} from "./docs.content.js";
import { errorTableMarkdown } from "./docs.errors.js";
import { usageSection } from "./docs.usage.js";
import { EVENT_CATALOGUE, exampleEvent } from "./docs.events.js";
import { RUN_EVENT_CATALOGUE } from "./docs.factory.js";
import { RUN_EVENT_TYPES } from "../factory/factory.events.js";
import { FACTORY_DOC_SECTIONS } from "../factory/factory.docs.js";
import { ERROR_REMEDIES } from "./docs.errors.js";
import { STATUS_BY_CODE } from "../http/errors.js";
import { isApiPath, operationsOf, type OpenApiDocument, type Operation } from "./docs.openapi.js";

type Json = Record<string, unknown>;

function resolve(doc: OpenApiDocument, node: unknown): Json | undefined {
  let n = node as Json | undefined;
  for (let i = 0; i < 8 && n && typeof n["$ref"] === "string"; i++) {
    const parts = (n["$ref"] as string).replace(/^#\//, "").split("/");
    n = parts.reduce<unknown>((acc, p) => (acc as Json | undefined)?.[p.replace(/~1/g, "/").replace(/~0/g, "~")], doc) as Json | undefined;
  }
  return n;
}

/** The example of a media type: its own, or its schema's. */
function mediaExample(doc: OpenApiDocument, media: Json | undefined): unknown {
  if (!media) return undefined;
  if (media["example"] !== undefined) return media["example"];
  return resolve(doc, media["schema"])?.["example"];
}

function schemaName(schema: unknown): string | null {
  const ref = (schema as Json | undefined)?.["$ref"];
  return typeof ref === "string" ? ref.split("/").pop()! : null;
}

const link = (base: string, path: string) => `${base}${path}`;
/** Each endpoint section of the room guide carries an HTML anchor named after its operationId. */
const isFactory = (op: Operation) => op.path.startsWith("/llm/factory/");
const guideAnchor = (base: string, op: Operation) => `${base}/docs/llm/${isFactory(op) ? "factory" : "room"}#${encodeURIComponent(op.operationId)}`;
const accessText = (op: Operation) => (op.secured ? `bearer token, access \`${op.access ?? "?"}\`` : "none (public)");

function endpointTable(ops: Operation[]): string {
  const rows = ops.map((op) => `| ${op.method} | \`${op.path}\` | ${op.summary} | ${op.secured ? `\`${op.access ?? "?"}\`` : "public"} | \`${op.operationId}\` |`);
  return ["| method | path | what | access | operationId |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

function endpointSection(doc: OpenApiDocument, op: Operation): string {
  const out: string[] = [`<a id="${op.operationId}"></a>`, "", `### ${op.method} \`${op.path}\`: ${op.summary}`, "", `operationId \`${op.operationId}\`; auth: ${accessText(op)}.`, "", op.description];
  const params = (op.raw["parameters"] as Json[] | undefined) ?? [];
  if (params.length > 0) {
    out.push("", "Parameters:", "");
    for (const p of params) {
      const example = p["example"] ?? (p["schema"] as Json | undefined)?.["example"];
      const desc = String(p["description"] ?? (p["schema"] as Json | undefined)?.["description"] ?? (example !== undefined ? `for example \`${String(example)}\`` : ""));
      out.push(`- \`${String(p["name"])}\` (${String(p["in"])}${p["required"] ? ", required" : ""})${desc ? `: ${desc}` : ""}`);
    }
  }
  const body = (op.raw["requestBody"] as Json | undefined)?.["content"] as Json | undefined;
  const bodyJson = body?.["application/json"] as Json | undefined;
  if (bodyJson) {
    const name = schemaName(bodyJson["schema"]);
    const example = mediaExample(doc, bodyJson);
    out.push("", `Body: \`application/json\`${name ? ` (\`${name}\`)` : ""}${(op.raw["requestBody"] as Json)["required"] ? "" : ", optional"}.`);
    if (example !== undefined) out.push("", "```json", JSON.stringify(example), "```");
  }
  out.push("", "Responses:", "");
  for (const [status, r] of Object.entries((op.raw["responses"] as Json | undefined) ?? {})) {
    const resp = r as Json;
    const types = Object.keys((resp["content"] as Json | undefined) ?? {});
    out.push(`- **${status}**${types.length ? ` (\`${types.join("`, `")}\`)` : ""}: ${String(resp["description"] ?? "")}`);
  }
  return out.join("\n");
}

function eventCatalogue(): string {
  const rows = ROOM_EVENT_TYPES.map((t) => `| \`${t}\` | ${EVENT_CATALOGUE[t].when} | \`${JSON.stringify(EVENT_CATALOGUE[t].example).replace(/\|/g, "\\|")}\` |`);
  return ["| event_type | written when | example payload |", "| --- | --- | --- |", ...rows].join("\n");
}

/** GET /docs: what the service is and where to go. */
export function renderDocsIndex(doc: OpenApiDocument, base: string): string {
  const ops = operationsOf(doc);
  return `# ${doc.info.title} ${doc.info.version}

> ${SERVICE_SUMMARY}

## Where to read

- [Rooms guide](${link(base, "/docs/llm/room")}): what a room is, auth and access levels, every endpoint, the lifecycle, the event catalogue, errors and what to do about each, limits, idempotency, and a complete curl session.
- [Factory guide](${link(base, "/docs/llm/factory")}): durable runs that plan a brief, dispatch its issues to rooms, verify, gate and review: statuses, every endpoint, the event catalogue, the planner syntax, the verification rules, the gates, and an offline curl session.
- [OpenAPI 3.1 document](${link(base, "/openapi.json")}): every route with its schemas, examples and error responses, generated from the same zod schemas that validate requests.
- [API reference](${link(base, "/reference")}): the same document, browsable (Swagger UI, served locally).
- [llms.txt](${link(base, "/llms.txt")}): this index for agents.

## Endpoints

${endpointTable(ops)}

## Auth and access levels

${authSection()}

## A first session

${curlSession(base)}
`;
}

/** GET /docs/llm/room: the complete guide to rooms. */
export function renderRoomPage(doc: OpenApiDocument, base: string): string {
  const ops = operationsOf(doc);
  const roomOps = ops.filter((o) => isApiPath(o.path) && !isFactory(o));
  const room = (resolve(doc, { $ref: "#/components/schemas/Room" }) ?? {})["example"];
  const message = (resolve(doc, { $ref: "#/components/schemas/Message" }) ?? {})["example"];
  return `# Rooms

> ${SERVICE_SUMMARY}

This page is generated from the server's own definitions: the endpoint sections from the [OpenAPI document](${link(base, "/openapi.json")}) (browsable at [${link(base, "/reference")}](${link(base, "/reference")})), the error table from the server's error codes.

## What a room is

${ROOM_INTRO}

## Auth, tokens and access levels

${authSection()}

## Envelope

Every JSON answer is \`{"success": true, "data": ...}\` (lists add \`"meta": {"next_cursor": ...}\`) or \`{"success": false, "error": "<message>", "code": "<CODE>", "message": "<message>", "details": ...}\`. Every response carries \`X-Request-Id\` (yours, if you sent one). Error messages say what to do next; they never contain stack traces or SQL.

## Endpoints

${endpointTable(roomOps)}

${roomOps.map((o) => endpointSection(doc, o)).join("\n\n")}

## The room record

${room ? `\`\`\`json\n${JSON.stringify(room, null, 2)}\n\`\`\`` : ""}

\`last_error\`, \`queued_message_id\` and \`active_turn\` are \`null\` when absent. \`version\` goes up by one on every PATCH.

## The message record

${message ? `\`\`\`json\n${JSON.stringify(message, null, 2)}\n\`\`\`` : ""}

\`seq\` is per room, strictly increasing and gap-free. \`kind\` is \`message\`, \`task\` or \`note\` for what callers send, \`output\` for an answer, \`partial\` for the text of a turn that did not complete, and \`system\` for what the service writes.

A turn's answer is a message with \`author_kind: "agent"\`, \`kind: "output"\`, a \`seq\` greater than its trigger's, the trigger's \`turn_id\`, and \`content\` holding the full text; only a \`completed\` turn has one. When a turn is interrupted, fails or is cancelled after it streamed some text, that text is kept as \`kind: "partial"\` with \`metadata: {"partial": true, "turn_status": "interrupted" | "failed" | "cancelled"}\`, so a client that takes the newest \`output\` after its message never shows a cut reply as an answer.

To wait for the answer to a message without polling, \`GET /llm/room/{id}/messages/{message_id}?wait=30\` (at most 60): it returns as soon as the message's turn has ended, with \`done\`, the \`output\` (or \`partial\`) and a \`reason\` when there is no output, or after \`wait\` seconds with \`done: false\`; ask again until \`done\`.

## Lifecycle

${LIFECYCLE_TABLE}

## Events

${sseSection()}

Each \`data\` is an event record:

\`\`\`json
${JSON.stringify(exampleEvent("agent:output", 9), null, 2)}
\`\`\`

\`seq\` is per room, strictly increasing and gap-free, assigned at the durable write. Payloads may gain fields: ignore the ones you do not know. The OpenAPI document has one schema per event type (\`RoomEventUnion\`, discriminated by \`event_type\`).

### Event catalogue

${eventCatalogue()}

A message on a fresh room produces, in order: \`message:created\`, \`room:active\`, \`agent:turn_start\`, then one or more model steps, each \`pi:message_start\`, \`pi:message_update\` (one or more), \`pi:message_end\`, any \`pi:tool_execution_start\`/\`pi:tool_execution_end\` pairs, \`pi:turn_end\`; then \`pi:agent_end\`, \`message:created\` (the output message), \`agent:output\`, \`agent:turn_end\` and \`room:idle\`. "Calculate 42 * 19" with the calculator allowed takes two steps: the first asks for the tool, the second answers.

## Idempotency and If-Match

${idempotencySection()}

## Errors

Each error has a stable \`code\`; the status follows from it. \`Retry-After\` comes with every 409 \`ROOM_QUEUE_FULL\`/\`IDEMPOTENCY_IN_PROGRESS\`, 429 and 503.

${errorTableMarkdown()}

## Limits

${limitsSection()}

## The built-in model

Provider \`local\`, model \`echo\`: no network, no key; the default actor when a room names none. It streams a deterministic answer derived from the prompt, token by token, reports usage, and runs through the same agent loop, events and storage as a real provider. Actor \`options\` for it: \`token_delay_ms\` (pace of the stream), \`reply\` (fixed answer text), \`fail_after_tokens\` (raise a provider error after N tokens), \`tool_call\` (\`{name, args}\`: call that tool once before answering), \`stamp_tokens\` (\`true\`: each text token is the time it was due, ms since the epoch in base 36 followed by a space, on a fixed schedule of one token per \`token_delay_ms\` from the answer's start, so a reader can measure how late each token reached it). Real providers (OpenAI-compatible endpoints, Anthropic) are configured by the operator and listed by \`GET /llm/providers\`.

## Tools

${TOOLS_DOC}

## Usage, budgets and summaries

${usageSection(base)}

## A complete session with curl

${curlSession(base)}

## Checking the browsable reference

${REFERENCE_CHECK}
`;
}

function runEventCatalogue(): string {
  const rows = RUN_EVENT_TYPES.map((t) => `| \`${t}\` | ${RUN_EVENT_CATALOGUE[t].when} | \`${JSON.stringify(RUN_EVENT_CATALOGUE[t].example).replace(/\|/g, "\\|")}\` |`);
  return ["| event_type | written when | example payload |", "| --- | --- | --- |", ...rows].join("\n");
}

const FACTORY_ERRORS = ["RUN_NOT_FOUND", "STAGE_NOT_FOUND", "ISSUE_NOT_FOUND", "RUN_FINISHED", "RUN_STATE_CONFLICT", "DEPENDENCIES_NOT_PASSED", "ISSUE_BUSY", "ISSUE_LIMIT_REACHED", "SOURCE_TOO_LARGE", "ARTIFACT_TOO_LARGE", "ACTIVE_RUN_LIMIT"] as const;

/** GET /docs/llm/factory: the guide to factory runs. */
export function renderFactoryPage(doc: OpenApiDocument, base: string): string {
  const ops = operationsOf(doc).filter(isFactory);
  const limits = FACTORY_LIMITS.map((l) => `| \`${l.env}\` | ${l.defaultValue} | ${l.meaning} |`);
  const errors = FACTORY_ERRORS.map((code) => `| ${STATUS_BY_CODE[code]} | \`${code}\` | ${ERROR_REMEDIES[code].when} | ${ERROR_REMEDIES[code].remedy} |`);
  return `# Factory

> Durable runs over rooms: a brief becomes stages and issues, each issue runs in a room the run rents, its output is checked, and the run is verified, gated and reviewed. Runs survive restarts.

## What a run is

${FACTORY_INTRO}

## An offline run with curl

${factoryCurlSession(base)}

${FACTORY_DOC_SECTIONS.map((sec) => sec.markdown.trim()).join("\n\n")}

## Events

\`GET /llm/factory/runs/{id}/events\` is server-sent events with the same framing and resume rules as a room's stream: \`id: <seq>\` (per run, gap-free), \`event: <event_type>\`, \`data: <event record>\`; replay after \`Last-Event-ID\` (or \`?after=\`), then with \`follow=true\` live events with no gap or duplicate at the seam, a \`: ping\` heartbeat, and a slow follower cut off (it resumes with \`Last-Event-ID\`). The stream ends after \`run:finished\`. Each \`data\` is \`{id, seq, run_id, event_type, payload, created_at}\`; payloads may gain fields.

### Run event catalogue

${runEventCatalogue()}

## Endpoints

Reads need access \`read\`; writes \`edit\`; creating, starting and cancelling a run \`full\`. POST and PATCH take \`Idempotency-Key\`; PATCH takes \`If-Match: <version>\`. Lists page like rooms: \`limit\` and \`cursor\` (\`meta.next_cursor\`).

${endpointTable(ops)}

${ops.map((o) => endpointSection(doc, o)).join("\n\n")}

## Errors

The factory's own codes (every other code is as for rooms, see [the error table](${link(base, "/docs/llm/room")}#errors)):

| status | code | when | what to do |
| --- | --- | --- | --- |
${errors.join("\n")}

## Limits

| variable | default | meaning |
| --- | --- | --- |
${limits.join("\n")}
`;
}

/** GET /llms.txt, in the llmstxt.org format: title, summary, then sections of links. */
export function renderLlmsTxt(doc: OpenApiDocument, base: string): string {
  const ops = operationsOf(doc);
  const api = ops
    .filter((o) => isApiPath(o.path))
    .map((o) => `- [${o.summary}](${guideAnchor(base, o)}): \`${o.method} ${o.path}\`, access \`${o.access ?? "?"}\`. ${lead(o.description)}`);
  return `# ${doc.info.title}

> ${SERVICE_SUMMARY}

Authenticate every \`/llm/*\`, \`/v1/*\` and \`/api/*\` call with \`Authorization: Bearer <JWT>\` (locally, with the server's DATA_DIR: \`npm run -s token -- --tenant acme\`). Access levels: \`read\` (also a token without \`access\`) may only GET; \`edit\` may also patch, send messages, wake and interrupt, and write factory records (stages, issues, artifacts, checkpoints, dispatch, advance, verify, gates); \`full\` may also rent and release rooms and create, start and cancel factory runs; \`root\` is the same as \`full\`. \`/llm/operator/stop\` needs the operator's token (\`npm run -s token -- --operator\`), never a tenant's. Retry POST/PATCH safely with \`Idempotency-Key\`. Send a message, then wait for its answer with \`GET /llm/room/{id}/messages/{message_id}?wait=30\` (no polling); or follow a room with \`GET /llm/room/{id}/events?follow=true\` (SSE) and a factory run with \`GET /llm/factory/runs/{id}/events?follow=true\`; resume either with \`Last-Event-ID\`. An interrupted or failed turn's text is \`kind: "partial"\`, never \`kind: "output"\`.

## Docs

- [Rooms guide](${link(base, "/docs/llm/room")}): what a room is, lifecycle, event catalogue with payloads, error codes and what to do about each, limits, auth and access levels, idempotency, and a complete curl session
- [Overview](${link(base, "/docs")}): index of the service and its endpoints
- [Factory guide](${link(base, "/docs/llm/factory")}): durable runs over rooms: statuses, endpoints, run event catalogue, planner syntax, verification rules, gates, limits, and an offline curl session

## API

- [OpenAPI 3.1 document](${link(base, "/openapi.json")}): every route, schema, example and error response; generated from the validating zod schemas
- [API reference](${link(base, "/reference")}): the OpenAPI document, browsable
${api.join("\n")}

## Optional

- [Health](${link(base, "/health")}): liveness, no auth
- [JWKS](${link(base, "/.well-known/jwks.json")}): the public key of this server's tokens
`;
}

/** The opening of a description: its first sentences up to about 80 characters, without the access note (listed separately). */
function lead(text: string): string {
  // A sentence ends at . ! or ? followed by a space; dots inside `code` (meta.has_more, ...) are not followed by one.
  const sentences = (text.split("\n")[0] ?? "").split(/(?<=[.!?])\s+/);
  const out: string[] = [];
  for (const raw of sentences) {
    const s = raw.trim();
    if (!s || /^Needs (access|an operator token)/.test(s)) continue;
    out.push(s);
    if (out.join(" ").length >= 80) break;
  }
  return out.join(" ");
}
