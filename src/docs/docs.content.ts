/**
 * The prose of the public docs, kept in one place: /docs, /docs/llm/room,
 * /docs/llm/factory, llms.txt and the OpenAPI `info.description` are all
 * rendered from these constants (and from the OpenAPI document itself, whose
 * route descriptions are the per-endpoint prose). Markdown throughout.
 */
import type { Access } from "../auth/principal.js";
import type { Config } from "../config.js";
import { IDEMPOTENCY_RETENTION_MS } from "../idempotency/idempotency.context.js";
import { MAX_FREEFORM_JSON_BYTES, MAX_JSON_DEPTH } from "../json-limits.js";

/** The address the committed llms.txt and the examples use; served pages use the request's origin instead. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:8787";

/** One paragraph: the llms.txt blockquote and the start of the OpenAPI description. */
export const SERVICE_SUMMARY =
  "roomservice rents tenant-scoped, bounded, live LLM rooms over HTTP: rent a room, send it messages, and each message runs one bounded model turn " +
  "whose every step is a durable event you can replay or follow live over server-sent events (SSE). All API routes live under `/llm/*` and need a bearer JWT; " +
  "every JSON answer is the envelope `{success, data}` or `{success: false, error, code, message, details?}`.";

export const ROOM_INTRO = `A **room** is a rented, tenant-scoped execution context for LLM work. It holds:

- **actors**: the agents in the room (\`agent_id\`, \`provider\`, \`model\`, \`system_prompt\`, \`options\`). With none given, one actor \`assistant\` on the built-in \`local/echo\` model, which needs no network and no key and answers deterministically.
- **policies**: \`tool_policy\` (which built-in tools a turn may call, and how often), \`wake_policy\` (\`on_message\` or \`manual\`, idle and auto-release timers), \`done_policy\` (wall time, output tokens and steps of one turn).
- **messages** and **events**, each numbered by a per-room \`seq\` that is strictly increasing and gap-free.

A message of kind \`message\` or \`task\` runs **one bounded turn**: the chosen actor's model answers (maybe calling allowed tools), the answer is stored as a message with \`author_kind: "agent"\`, \`kind: "output"\`, and every step of the turn is written as an event before anyone sees it. A \`note\` is stored without a turn. One turn runs per room at a time and at most one message waits behind it. Everything is durable: a room that sleeps, or a server that restarts, loses nothing that was acknowledged.`;

export const LIFECYCLE_TABLE = `| from | verb or cause | to |
| --- | --- | --- |
| (none) | rent | \`rented\` |
| \`rented\`, \`idle\`, \`sleeping\` | message (\`message\`/\`task\`), wake policy \`on_message\` | \`active\`: the turn starts now |
| \`active\` | message, no queued message yet | stays \`active\`; message \`queued\`, runs after the current turn |
| \`active\` | message while one is already queued | 409 \`ROOM_QUEUE_FULL\`, \`Retry-After\`; nothing stored |
| \`active\` | turn ends, queued message waiting | stays \`active\`, next turn starts |
| \`active\` | turn ends, nothing queued | \`idle\` |
| \`idle\` | \`idle_timeout_s\` passes | \`sleeping\` (worker freed; all state durable) |
| \`rented\`, \`idle\`, \`sleeping\` | wake | \`active\` if a message waits, else \`idle\` |
| \`active\` | interrupt | turn aborted at the model call, turn ends \`interrupted\`; queued message runs next unless \`drop_queued\` |
| \`active\` | turn fails (provider error, timeout, tool crash) | \`failed\`; \`last_error\` set; durable \`error\` event |
| \`failed\` | message | 409 \`ROOM_FAILED\` |
| \`failed\` | wake | retries the failed trigger message: \`active\` |
| any but \`released\` | release, or \`release_after_s\` without activity | \`releasing\` then \`released\`; in-flight turn aborted, queued message \`cancelled\` |
| \`released\` | message, wake, PATCH, interrupt | 409 \`ROOM_RELEASED\` |
| server restart | a turn was in flight | that turn ends \`failed\` with code \`SERVER_RESTARTED\`; room \`failed\`; nothing acknowledged is lost |
| \`active\` | storage fails while the turn ends, past the retries | once storage answers (the next lifecycle sweep, or an interrupt or wake), the turn ends \`failed\` with code \`TURN_NOT_RECORDED\`; room \`failed\`; until then interrupt and wake answer an error, not 200 |
| \`released\` | anything, a restart included | stays \`released\`: \`room:released\` is the last event of its log |

With wake policy \`manual\`, messages are stored \`queued\` and wait for a wake. A turn is bounded by \`done_policy\` (\`max_turn_s\`, \`max_output_tokens\`, \`max_steps\`) and \`tool_policy\` (\`allowed_tools\`, \`max_tool_calls\`).`;

export const ACCESS_LEVELS_DOC: Record<Access | "operator", string> = {
  read: "Only GET (and HEAD): list and read rooms, history, events, providers, factory runs and their records, your own principal. Also what a token without an `access` claim gets.",
  edit: "Also `PATCH` a room, send messages (`POST /v1/responses` into an existing room), wake, interrupt; write factory records (stages, issues, artifacts, checkpoints, dispatch, advance, verify, gates).",
  full: "Also rent (`POST /llm/room`, `POST /v1/responses` without `room_id`) and release rooms; create, start and cancel factory runs. The default of `npm run token`.",
  root: "The same as `full` (kept for older tokens). It does **not** reach the operator routes.",
  operator: "Not a level but a separate credential: the claim `operator: true`, which only this server's own key makes count (`npm run -s token -- --operator`), or the external issuer for exactly the subject `AUTH_OPERATOR_SUBJECT`. Needed by the operator routes (`/llm/operator/stop`, the global stop of every tenant); no tenant token carries it.",
};

export function authSection(): string {
  const levels = (Object.entries(ACCESS_LEVELS_DOC) as [Access | "operator", string][]).map(([a, s]) => `| \`${a}\` | ${s} |`).join("\n");
  return `Every \`/llm/*\` route needs \`Authorization: Bearer <JWT>\`. The public routes (\`/\`, \`/health\`, \`/docs\`, \`/docs/llm/*\`, \`/llms.txt\`, \`/openapi.json\`, \`/reference\`, \`/.well-known/jwks.json\`) need none.

The token's claims: \`sub\` (the caller), \`tenant\` (a slug matching \`^[a-z][a-z0-9_]{0,62}$\`), \`exp\` (required, at most \`AUTH_MAX_TOKEN_TTL_S\` away: 30 days by default), optional \`access\`, and for the operator only \`operator: true\`. The tenant comes only from the verified token, never from the URL or body: every room you can reach belongs to your tenant, and another tenant's room id is 404, never 403. Algorithms are pinned; \`alg: none\` and algorithm confusion are refused.

Get a token signed by the server's own key. The key lives in \`DATA_DIR\`, so this works with or without the server running, but only with the server's \`DATA_DIR\`: minted with another one, the command makes a second key (it says so on stderr) and the server answers 401 "signed by a key this server does not know".

\`\`\`sh
TOKEN=$(npm run -s token -- --tenant acme)                     # access full, 1 hour; DATA_DIR=./data as the server's default
TOKEN=$(DATA_DIR=/srv/rooms npm run -s token -- --tenant acme)  # a server started with DATA_DIR=/srv/rooms
npm run -s token -- --tenant acme --sub alice --access read --ttl 600
OPERATOR=$(npm run -s token -- --operator)                     # the operator credential, for /llm/operator/*
\`\`\`

Use \`npm run -s\` (silent): without \`-s\`, npm prints its own banner, which \`$(...)\` would capture into the token.

An operator may also trust an external issuer through its JWKS (\`AUTH_JWKS_URL\`, \`AUTH_ISSUER\`, \`AUTH_AUDIENCE\`). The server's public key is at \`GET /.well-known/jwks.json\`.

Access levels, each including the ones above it (\`read\` < \`edit\` < \`full\` < \`root\`), and the operator credential:

| access | may |
| --- | --- |
${levels}

A token without \`access\` has access \`read\` (least privilege; for the external issuer the operator may choose another default with \`AUTH_EXTERNAL_DEFAULT_ACCESS\`); an unknown level is 401 \`AUTH_INVALID\`. A verb the level does not allow is 403 \`FORBIDDEN\` naming the level the route needs (with \`WWW-Authenticate: Bearer error="insufficient_scope"\`); a missing, expired, too long-lived or wrongly signed token is 401 (\`AUTH_REQUIRED\`, \`AUTH_INVALID\`) with what to do in the message.`;
}

export function idempotencySection(): string {
  const hours = Math.round(IDEMPOTENCY_RETENTION_MS / 3_600_000);
  return `Every POST and PATCH under \`/llm/*\` honours \`Idempotency-Key: <1–255 visible ASCII characters>\` (a UUID is a good key). The key is scoped to your tenant, caller (\`sub\`), method and path, and kept for ${hours} hours.

| you send | you get |
| --- | --- |
| a key for the first time | the request runs; its answer is stored with the key, in the same transaction as its effect |
| the same key and the same request (same body, same \`If-Match\`) | the first answer again, with \`Idempotent-Replayed: true\`; nothing runs twice, even across a crash |
| the same key and a different request | 422 \`IDEMPOTENCY_KEY_REUSED\` |
| the same key while the first request is still running | 409 \`IDEMPOTENCY_IN_PROGRESS\` with \`Retry-After\` |

The key is checked before \`If-Match\`, so the retry of a write that already succeeded replays its 2xx instead of failing the version check.

**Optimistic concurrency.** Every room has a \`version\` (also sent as \`ETag\`). Send \`If-Match: <version>\` on PATCH, messages, wake, interrupt or release to refuse the write with 409 \`VERSION_CONFLICT\` when the room has changed since you read it.`;
}

export function sseSection(): string {
  return `\`GET /llm/room/{id}/events\` is a \`text/event-stream\`. Each frame is

\`\`\`
id: <seq>
event: <event_type>
data: <the event record as one line of JSON>

\`\`\`

- It first **replays** the durable events after \`Last-Event-ID\` (or \`?after=<seq>\`; the header wins), then with \`?follow=true\` **tails** live events with no gap and no duplicate at the seam. Without \`follow\` it ends after the replay.
- While following, a \`: ping\` comment arrives at least every 15 s (\`SSE_HEARTBEAT_MS\`). The stream stays open across turns and sleeps and is closed after \`room:released\`.
- To resume, reconnect with the last \`id\` you saw as \`Last-Event-ID\`: you get exactly the events after it. The event record's own \`id\` (\`<room_id>:<seq>\`) is accepted too. A browser \`EventSource\` does this by itself. A follower that falls too far behind is closed and resumes the same way.
- Replay and live delivery carry the same events with the same ids. \`GET /llm/room/{id}/history\` returns the same event records as JSON.
- **Long outputs: add \`?partial_text=false\`** (on \`/events\` and \`/history\`). Each \`pi:message_update\` otherwise repeats the whole text so far in \`payload.partial.text\`, so a 70,000-character reply's events hold about 18 million characters; with it they carry only their \`delta\` (append the deltas since \`pi:message_start\`; \`pi:message_end\` still has the whole text).
- \`/history\` pages are bounded in rows and in bytes (each list about 512 KB at most). Messages and events are numbered separately and page separately: pass \`meta.events.next_before_seq\` back as \`events_before_seq\` (and \`meta.messages.next_before_seq\` as \`messages_before_seq\`) while that list's \`has_more\` is true. \`meta.has_more\` is true when either has more; \`meta.last_seq\` is the newest event's seq, to follow on from with \`Last-Event-ID\`.
- When the server stops (SIGTERM) a follower first receives every event already stored, then its stream ends; reconnect with \`Last-Event-ID\`.
- An error inside an open stream becomes one \`event: error\` frame, then the stream closes.`;
}

export interface LimitDoc {
  env: string;
  meaning: string;
  /** The value the server runs with when the variable is unset; a test checks it against loadConfig. */
  defaultValue: number;
  fromConfig: (c: Config) => number;
}

export const CONFIGURABLE_LIMITS: LimitDoc[] = [
  { env: "BODY_LIMIT_BYTES", meaning: "Largest request body in bytes; larger is 413 `PAYLOAD_TOO_LARGE`.", defaultValue: 1_048_576, fromConfig: (c) => c.bodyLimitBytes },
  { env: "BODY_TIMEOUT_MS", meaning: "A request body must arrive whole within this many ms; later is 408 `REQUEST_TIMEOUT` and the connection is closed.", defaultValue: 30_000, fromConfig: (c) => c.bodyTimeoutMs },
  { env: "RATE_LIMIT_RPS", meaning: "Requests per second per tenant (token bucket; 0 turns it off); over it is 429 `RATE_LIMITED`.", defaultValue: 50, fromConfig: (c) => c.limits.rateLimitRps },
  { env: "RATE_LIMIT_BURST", meaning: "Burst size of that bucket.", defaultValue: 200, fromConfig: (c) => c.limits.rateLimitBurst },
  { env: "MAX_ROOMS_PER_TENANT", meaning: "Rooms a tenant may hold that are not released; renting past it is 429 `QUOTA_EXCEEDED`.", defaultValue: 10_000, fromConfig: (c) => c.limits.maxRoomsPerTenant },
  { env: "MAX_MESSAGE_CHARS", meaning: "Longest message `content`, in characters (never more than 100000); longer is 400 `VALIDATION_FAILED`.", defaultValue: 100_000, fromConfig: (c) => c.limits.maxMessageChars },
  { env: "MAX_ACTIVE_TURNS_PER_TENANT", meaning: "Turns one tenant may run at once; a turn past it is 429 `QUOTA_EXCEEDED`.", defaultValue: 32, fromConfig: (c) => c.limits.maxActiveTurnsPerTenant },
  { env: "MAX_ACTIVE_TURNS", meaning: "Turns the whole server runs at once; past it is 429 `QUOTA_EXCEEDED`.", defaultValue: 512, fromConfig: (c) => c.limits.maxActiveTurnsPerServer },
  { env: "MAX_FOLLOWERS_PER_ROOM", meaning: "Open event streams on one room; past it is 429 `QUOTA_EXCEEDED`.", defaultValue: 2000, fromConfig: (c) => c.limits.maxFollowersPerRoom },
  { env: "MAX_FOLLOWERS_PER_TENANT", meaning: "Open event streams of one tenant; past it is 429 `QUOTA_EXCEEDED`.", defaultValue: 5000, fromConfig: (c) => c.limits.maxFollowersPerTenant },
  { env: "TENANT_DAILY_TOKEN_BUDGET", meaning: "Tokens (input + output) a tenant may use per UTC day, 0 for no budget; a turn past it is 429 `QUOTA_EXCEEDED` until 00:00 UTC.", defaultValue: 0, fromConfig: (c) => c.limits.dailyTokenBudget },
  { env: "FACTORY_MAX_ISSUES_PER_RUN", meaning: "Issues a factory run may hold; past it is 409 `ISSUE_LIMIT_REACHED` (see /docs/llm/factory).", defaultValue: 200, fromConfig: (c) => c.factory.maxIssuesPerRun },
  { env: "FACTORY_MAX_ARTIFACT_BYTES", meaning: "Largest factory artifact payload in bytes of JSON; larger is 413 `ARTIFACT_TOO_LARGE`.", defaultValue: 262_144, fromConfig: (c) => c.factory.maxArtifactBytes },
  { env: "FACTORY_MAX_ACTIVE_RUNS_PER_TENANT", meaning: "Factory runs a tenant may have that are not finished; past it is 429 `ACTIVE_RUN_LIMIT`.", defaultValue: 16, fromConfig: (c) => c.factory.maxActiveRunsPerTenant },
  { env: "FACTORY_MAX_SOURCE_CHARS", meaning: "Longest factory run source, in characters; longer is 413 `SOURCE_TOO_LARGE`.", defaultValue: 200_000, fromConfig: (c) => c.factory.maxSourceChars },
  { env: "SSE_HEARTBEAT_MS", meaning: "Interval of the `: ping` comment on event streams.", defaultValue: 15_000, fromConfig: (c) => c.events.heartbeatMs },
  { env: "EVENT_COALESCE_MS", meaning: "Streamed text deltas are merged into one `pi:message_update` per window (0 keeps every delta).", defaultValue: 50, fromConfig: (c) => c.events.coalesceMs },
  {
    env: "EVENT_COMMIT_PACE_MS",
    meaning: "When the event loop is busy (over half its time), group commits of streamed events wait up to this long after the previous one, so each carries more events: a few ms of delay for less work per token, only under load. The full wait applies from 90% busy; 0 commits every tick.",
    defaultValue: 10,
    fromConfig: (c) => c.events.commitPaceMs,
  },
  { env: "SHUTDOWN_GRACE_MS", meaning: "On SIGTERM, running turns get this long before they are interrupted.", defaultValue: 10_000, fromConfig: (c) => c.lifecycle.shutdownGraceMs },
];

export function limitsSection(): string {
  const rows = CONFIGURABLE_LIMITS.map((l) => `| \`${l.env}\` | ${l.defaultValue} | ${l.meaning} |`).join("\n");
  return `The operator sets these with environment variables (a bad value stops the server at start with a message naming the variable):

| variable | default | limit |
| --- | --- | --- |
${rows}

Fixed by the API's schemas (a request outside them is 400 \`VALIDATION_FAILED\`):

| what | limit |
| --- | --- |
| message \`content\` | 1 to 100000 characters |
| \`purpose\`, \`reason\` | 2000 characters |
| actors per room | 1 to 16; \`agent_id\` 1 to 64 of letters, digits, \`_\`, \`.\`, \`-\` |
| \`metadata\`, actor \`options\` | at most ${MAX_FREEFORM_JSON_BYTES} bytes of JSON, nested at most ${MAX_JSON_DEPTH} levels |
| \`tool_policy\` | up to 64 \`allowed_tools\`; \`max_tool_calls\` 0 to 256 (default 8) |
| \`done_policy\` | \`max_turn_s\` 1 to 3600 (default 120), \`max_output_tokens\` 1 to 1000000 (default 4096), \`max_steps\` 1 to 256 (default 8) |
| \`wake_policy\` | \`idle_timeout_s\` 1 s to 30 days (default 300), \`release_after_s\` 1 s to 365 days (default 86400) |
| queued messages | one per room behind the running turn; another is 409 \`ROOM_QUEUE_FULL\` |
| \`GET /llm/room\` | \`limit\` 1 to 200 (default 50), paged with \`cursor\` |
| \`GET /history\` | \`limit\` 1 to 1000 (default 500) messages and as many events; each list also stops at about 512 KB of JSON (at least one item) |
| \`GET /llm/room/{id}/messages/{message_id}\` | \`wait\` 0 to 60 seconds (default 0); a wait counts as an event follower |`;
}

/** A complete session from the shell; `base` is where the server answers. */
export function curlSession(base: string): string {
  return `Start the server (\`npm ci && npm start\`, it listens on ${DEFAULT_BASE_URL} by default), then in a second terminal:

\`\`\`sh
BASE=${base}
TOKEN=$(npm run -s token -- --tenant acme --sub alice)   # in the repo, with the server's DATA_DIR (default ./data); prints only the JWT
H="Authorization: Bearer $TOKEN"
J='Content-Type: application/json'

# 1. Rent a room that may use the calculator tool (201, status "rented").
ROOM=$(curl -s -X POST $BASE/llm/room -H "$H" -H "$J" -H "Idempotency-Key: rent-$(date +%s)" \\
  -d '{"purpose":"math scratch","metadata":{"name":"math"},"tool_policy":{"allowed_tools":["calculator"]}}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')
echo "room $ROOM"

# 2. Follow its events live: run this in a third terminal and leave it open.
curl -N "$BASE/llm/room/$ROOM/events?follow=true" -H "$H"

# 3. Send a message (202): the turn starts at once and streams into the follower.
MSG=$(curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"Calculate 42 * 19"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')

# 4. Wait for the answer: this returns as soon as the turn has ended (at most 30 s here, no polling).
curl -s "$BASE/llm/room/$ROOM/messages/$MSG?wait=30" -H "$H" \\
  | node -pe 'const d = JSON.parse(require("fs").readFileSync(0)).data; d.output ? d.output.content : d.reason'

# 4b. The whole conversation (an interrupted turn's text shows as kind "partial", never "output").
curl -s "$BASE/llm/room/$ROOM/history" -H "$H" \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.messages.map(m => m.author_kind + " [" + m.kind + "]: " + m.content).join("\\n")'

# 5. A slow turn, interrupted: the model call is aborted and the turn ends "interrupted".
curl -s -X PATCH $BASE/llm/room/$ROOM -H "$H" -H "$J" \\
  -d '{"agents":[{"agent_id":"assistant","options":{"token_delay_ms":300}}]}'
curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"tell me a long story"}'
curl -s -X POST $BASE/llm/room/$ROOM/interrupt -H "$H" -H "$J" -d '{"reason":"enough"}'

# 6. Resume the event stream after the last id you saw (here 5): exactly the later events, no duplicates.
curl -N "$BASE/llm/room/$ROOM/events" -H "$H" -H 'Last-Event-ID: 5'

# 7. Release it (200, status "released"); the follower in step 2 ends after room:released.
curl -s -X POST $BASE/llm/room/$ROOM/release -H "$H" -H "$J" -d '{"reason":"done"}'
\`\`\``;
}

/** The built-in tools and when the built-in model calls one; the room guide's "Tools" section. */
export const TOOLS_DOC = `A room's \`tool_policy.allowed_tools\` names the built-in tools a turn may call (none by default); \`max_tool_calls\` bounds the calls per turn (default 8). Renting or patching with a name that is not built in is 400 \`UNKNOWN_TOOL\`.

| tool | arguments | returns |
| --- | --- | --- |
| \`calculator\` | \`{expression}\`: numbers, \`+ - * / % ^\`, parentheses, \`sqrt abs round floor ceil min max\`, \`pi\`, \`e\` (never \`eval\`) | the number, e.g. \`798\`; a bad expression or division by zero is an error result the model sees |
| \`clock\` | \`{timezone?}\`: an IANA zone such as \`Europe/Paris\` (default \`UTC\`) | \`{iso, unix_ms, timezone, local}\` |

A model is offered only the allowed tools. If it asks for a built-in tool the policy leaves out, the tool does not run and the model gets the error result \`Tool <name> was not run: this room's tool_policy does not allow it (allowed_tools: ...)\` (also in the \`pi:tool_execution_end\` event); a name that is not built in at all is \`Tool <name> not found\`.

The built-in \`local/echo\` model calls a tool in exactly two cases: its actor's \`options.tool_call\` is set (\`{name, args}\`: it asks for that tool once, allowed or not, then answers with the result), or \`calculator\` is allowed, no \`reply\` is set and the prompt holds arithmetic ("Calculate 42 * 19": it asks \`calculator\`, then answers \`42 * 19 = 798\`). Otherwise it answers \`reply\`, or \`Echo: <prompt>\`.`;

/** How to check the browsable reference renders, for people and CI. */
export const REFERENCE_CHECK = `\`GET /reference\` is Swagger UI, served from the \`swagger-ui-dist\` package in \`node_modules\` (no CDN, works offline), pointed at \`/openapi.json\`. To check that it renders, with the server running:

\`\`\`sh
chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=$(mktemp -d) \\
  --virtual-time-budget=10000 --dump-dom ${DEFAULT_BASE_URL}/reference | grep -o 'opblock-summary-path[^>]*>' | head
\`\`\`

\`test/docs/reference-render.test.ts\` does the same when \`/usr/bin/chromium\` exists (Debian: \`apt-get install chromium\`) and is skipped otherwise.`;

/** What a factory run is, for the top of /docs/llm/factory. */
export const FACTORY_INTRO = `Rooms are bounded live turns. The factory is their durable sibling: a **run** takes a brief (text or markdown), plans it into **stages** and **issues** with dependencies and acceptance criteria, dispatches each ready issue to a room it rents, records each room's output as an **artifact**, checks it against the issue's criteria, writes a **checkpoint** when a stage's issues all pass, verifies the run, evaluates **gates**, and ends \`completed\`, \`gated\` (a person must decide) or \`failed\`. It uses the same envelope, auth, error codes, \`Idempotency-Key\` and tenancy rules as rooms: a run, its rooms and its records live in the tenant's own database file.

Every step of the supervisor is a durable write before its effect: a restarted server resumes every started \`planning\`/\`running\` run where its rows say it stood (a room turn cut off by the restart is retried in a new room, up to \`FACTORY_MAX_ATTEMPTS\`). Dispatching an issue (renting its room, storing the task message, marking the issue \`running\`) is one transaction, so a crash can neither dispatch an issue twice nor lose a dispatch.

With the built-in \`local/echo\` model (the default actor) the whole run works offline: the planner compiles the markdown by fixed rules and the verifier applies fixed rules, so the same brief gives the same plan and verdicts every time. With a real model as the run's first actor, the planner and the judge ask that model through a tool call whose parameters are the zod schema's JSON schema, validate the answer with zod and retry a bounded number of times (\`FACTORY_MODEL_ATTEMPTS\`); a plan that never validates fails the run with the validation error in \`diagnostics\`.

Rooms a run rents carry \`metadata.run_id\` and \`metadata.issue_id\`, the issue title as \`purpose\`, the run's actors, and are released when their issue ends. Their tokens and cost are summed on the run's \`usage\` (with the planner's and judge's).`;

/** The factory limits, with their defaults (also listed on the room page). */
export const FACTORY_LIMITS: LimitDoc[] = [
  { env: "FACTORY_MAX_ISSUES_PER_RUN", meaning: "Issues a run may hold; `POST /issues` past it is 409 `ISSUE_LIMIT_REACHED`, a bigger plan fails the run.", defaultValue: 200, fromConfig: (c) => c.factory.maxIssuesPerRun },
  { env: "FACTORY_MAX_ARTIFACT_BYTES", meaning: "Largest artifact `payload`, in bytes of JSON; larger is 413 `ARTIFACT_TOO_LARGE`.", defaultValue: 262_144, fromConfig: (c) => c.factory.maxArtifactBytes },
  { env: "FACTORY_MAX_ACTIVE_RUNS_PER_TENANT", meaning: "Runs a tenant may have that are not finished; creating past it is 429 `ACTIVE_RUN_LIMIT`.", defaultValue: 16, fromConfig: (c) => c.factory.maxActiveRunsPerTenant },
  { env: "FACTORY_MAX_SOURCE_CHARS", meaning: "Longest run `source.content`, in characters; longer is 413 `SOURCE_TOO_LARGE`.", defaultValue: 200_000, fromConfig: (c) => c.factory.maxSourceChars },
  { env: "FACTORY_MAX_IN_FLIGHT", meaning: "Default `max_in_flight` of a run: issues in rooms at once.", defaultValue: 2, fromConfig: (c) => c.factory.maxInFlight },
  { env: "FACTORY_MAX_ATTEMPTS", meaning: "Rooms an issue gets when its room turn fails (a restart included) before the issue fails.", defaultValue: 3, fromConfig: (c) => c.factory.maxAttempts },
  { env: "FACTORY_MODEL_ATTEMPTS", meaning: "Answers a real-model planner or judge gets to produce output that validates.", defaultValue: 3, fromConfig: (c) => c.factory.modelAttempts },
];

/** The offline walkthrough of the factory: create, start, follow, read the review. The README carries the same session. */
export function factoryCurlSession(base: string): string {
  return `Start the server (\`npm ci && npm start\`), then in a second terminal, inside the repo:

\`\`\`sh
BASE=${base}
TOKEN=$(npm run -s token -- --tenant acme --sub alice)   # prints only the JWT
H="Authorization: Bearer $TOKEN"
J='Content-Type: application/json'

# 1. A markdown brief: headings are stages, list items issues, sub-items acceptance criteria.
cat > brief.md <<'BRIEF'
# Poems

## Draft

- Write a haiku about tea
  - mentions "tea"

## Review

- Compare it with a haiku about rain (depends on: Write a haiku about tea)
  Acceptance: mentions "rain"
BRIEF

# 2. Create the run (201, status "pending").
RUN=$(node -e 'process.stdout.write(JSON.stringify({title: "Poems", source: {kind: "prompt", format: "markdown", content: require("fs").readFileSync("brief.md", "utf8")}}))' \
  | curl -s -X POST $BASE/llm/factory/runs -H "$H" -H "$J" -H "Idempotency-Key: run-$(date +%s)" --data-binary @- \
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')
echo "run $RUN"

# 3. Start it: the supervisor works in the background and the call answers at once.
curl -s -X POST $BASE/llm/factory/runs/$RUN/start -H "$H" -H "$J" -d '{}'

# 4. Follow its events; the stream ends after run:finished.
curl -sN "$BASE/llm/factory/runs/$RUN/events?follow=true" -H "$H" | grep '^event:'

# 5. The status, the issues and the review.
curl -s $BASE/llm/factory/runs/$RUN/status -H "$H"
curl -s $BASE/llm/factory/runs/$RUN/issues -H "$H" \
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.map(i => i.title + ": " + i.status + " (room " + i.assigned_room_id + ")").join("\\n")'
curl -s $BASE/llm/factory/runs/$RUN/review -H "$H"
\`\`\`

The run ends \`completed\`: with \`local/echo\` each room answers "Echo: <task>", and the task repeats the issue's criteria, so the quoted phrases are found. To drive a run by hand instead of \`start\`, call \`POST /llm/factory/runs/$RUN/advance\` repeatedly: each call takes one step and says what it did (\`kind\`, \`action\`); \`waiting\` means issues are running in rooms. \`POST /llm/factory/runs/$RUN/cancel\` stops a run and releases its rooms.`;
}
