/**
 * What a caller should do about each error code. The codes come from
 * src/errors.ts and their statuses from the one table in src/http/errors.ts,
 * so the published table cannot list a code the server does not have or give
 * it the wrong status; the Record type makes a new code fail to compile until
 * it is explained here.
 */
import { ERROR_CODES, type ErrorCode } from "../errors.js";
import { STATUS_BY_CODE } from "../http/errors.js";

export const ERROR_REMEDIES: Record<ErrorCode, { when: string; remedy: string }> = {
  VALIDATION_FAILED: {
    when: "The body, query, path or a header (If-Match, Idempotency-Key, Last-Event-ID) fails its schema, or the body is not valid JSON.",
    remedy: "Read `details`: one entry per issue, each with its `path`. Fix those fields and send again; retrying unchanged fails the same way.",
  },
  UNKNOWN_MODEL: {
    when: "An actor names a provider/model the operator has not enabled.",
    remedy: "Pick one from `GET /llm/providers/models` (the built-in `local/echo` always exists).",
  },
  UNKNOWN_TOOL: {
    when: "`tool_policy.allowed_tools` names a tool that does not exist.",
    remedy: "Use only the tool names the error message lists as available.",
  },
  AUTH_REQUIRED: {
    when: "No `Authorization` header on a `/llm/*` route.",
    remedy: "Send `Authorization: Bearer <token>`. Locally, in the repository and with the server's `DATA_DIR`: `TOKEN=$(npm run -s token -- --tenant acme)`.",
  },
  AUTH_INVALID: {
    when: "The token is malformed, expired, not yet valid, lives longer than `AUTH_MAX_TOKEN_TTL_S`, is signed by a key this server does not know (minted with another `DATA_DIR`), is for another issuer or audience, or uses a refused algorithm.",
    remedy: "The message (and `WWW-Authenticate`) says why. Get a new token: locally `npm run -s token -- --tenant acme` with the server's `DATA_DIR`. Retrying with the same token never helps.",
  },
  FORBIDDEN: {
    when: "The token is valid but its `access` level does not allow this verb, or an operator route was called without the operator credential.",
    remedy: "The message and `details.required_access` name what the route needs: a token with that `access` (see Auth and access levels), or for `/llm/operator/*` an operator token. Do not retry with the same token.",
  },
  NOT_FOUND: {
    when: "No such route (or not with this method).",
    remedy: "Check method and path against `GET /openapi.json`.",
  },
  ROOM_NOT_FOUND: {
    when: "No room with this id for your tenant (another tenant's room is also 404).",
    remedy: "List yours with `GET /llm/room` (add `?status=released` to see released ones).",
  },
  MESSAGE_NOT_FOUND: {
    when: "`GET /llm/room/{id}/messages/{message_id}` names a message that is not in that room.",
    remedy: "Use the `id` that posting the message returned (or `request_message_id` of `POST /v1/responses`); the room's messages are in `GET /llm/room/{id}/history`.",
  },
  ACTOR_NOT_FOUND: {
    when: "A roster route (`/llm/room/{id}/actors/{agent_id}`) names an agent_id the room does not have.",
    remedy: "`GET /llm/room/{id}` lists the room's `actors`; add one with `POST /llm/room/{id}/actors`.",
  },
  CONTEXT_NOT_FOUND: {
    when: "`DELETE /llm/room/{id}/context/{attachment_id}` names an attachment that is not attached to that room (or was detached already).",
    remedy: "`GET /llm/room/{id}/context` lists the attached texts and their ids.",
  },
  RUN_NOT_FOUND: {
    when: "No factory run with this id for your tenant (another tenant's run is also 404).",
    remedy: "List yours with `GET /llm/factory/runs`.",
  },
  STAGE_NOT_FOUND: {
    when: "No stage with this id in the run.",
    remedy: "List the run's stages with `GET /llm/factory/runs/{id}/stages`.",
  },
  ISSUE_NOT_FOUND: {
    when: "No issue with this id in the run.",
    remedy: "List the run's issues with `GET /llm/factory/runs/{id}/issues`.",
  },
  METHOD_NOT_ALLOWED: {
    when: "`DELETE /llm/room/{id}`: rooms are released, not deleted (the `Allow` header lists the methods the path has). Other methods a path does not have are 404 `NOT_FOUND`.",
    remedy: "Release the room with `POST /llm/room/{id}/release`; its history stays readable.",
  },
  ROOM_RELEASED: {
    when: "The room is released: messages, wake, PATCH and interrupt are refused.",
    remedy: "Rent a new room with `POST /llm/room`. Releasing a released room is not an error (200).",
  },
  ROOM_FAILED: {
    when: "The room's last turn failed; it takes no new messages.",
    remedy: "Read `last_error` on the room. `POST /llm/room/{id}/wake` retries the failed message; or release the room.",
  },
  ROOM_QUEUE_FULL: {
    when: "A turn is running and a message is already queued behind it; nothing was stored.",
    remedy: "Wait `Retry-After` seconds (or for `agent:turn_end` on the event stream) and send again.",
  },
  ROOM_BUDGET_EXCEEDED: {
    when: "The room's summed `usage` has reached its `budget` (`max_tokens` or `max_cost_usd`): a message or task, a wake that would run one, or a summary by a model is refused, and nothing is stored. `details` names the limit, its value and what was used.",
    remedy: "Raise or remove the limit with `PATCH /llm/room/{id}` (the message has a body that works, e.g. `{\"budget\":{\"max_tokens\":4000}}`; `null` removes a limit), then send again. A message queued when the budget ran out runs as soon as the PATCH raises it.",
  },
  SUMMARY_IN_PROGRESS: {
    when: "`POST /llm/room/{id}/summary` while a summary of the same room is still being written.",
    remedy: "Wait for `room:summary_updated` on the event stream (or `Retry-After` seconds) and read `summary_text` from the room; ask again only if you need a newer one.",
  },
  SUMMARY_FAILED: {
    when: "The summarizer's model could not write the summary (provider error, timeout, an empty answer) or it was stopped; `summary_text` is unchanged. Tokens it used are counted in the room's usage.",
    remedy: "The message names the summarizer, its model and the provider's error. Retry later, or give the room an actor with role `summarizer` on another model (`local/echo` writes a deterministic digest and cannot fail this way).",
  },
  NO_ACTIVE_TURN: {
    when: "Interrupt was asked but no turn is running.",
    remedy: "Nothing to do: the turn has already ended. Check the room's `status` and `active_turn`.",
  },
  VERSION_CONFLICT: {
    when: "`If-Match` names a version older than the room's.",
    remedy: "`GET` the room, reapply your change to it, and send again with `If-Match: <its version>`.",
  },
  ACTOR_EXISTS: {
    when: "`POST /llm/room/{id}/actors` with an agent_id the room already has: agent ids are unique in a room.",
    remedy: "Pick another `agent_id`, or change the existing actor with `PATCH /llm/room/{id}/actors/{agent_id}`.",
  },
  LAST_ACTOR: {
    when: "`DELETE /llm/room/{id}/actors/{agent_id}` would remove the room's only actor.",
    remedy: "Add another actor first (`POST /llm/room/{id}/actors`), or mute this one with `PATCH` and `{\"muted\": true}`.",
  },
  CONTEXT_FULL: {
    when: "`POST /llm/room/{id}/context` would pass the room's bounds: 8 attachments, 200000 characters in all.",
    remedy: "Detach one with `DELETE /llm/room/{id}/context/{attachment_id}`, or attach a shorter text.",
  },
  RUN_FINISHED: {
    when: "The factory run is `completed`, `failed` or `cancelled`: it takes no more work.",
    remedy: "Create a new run with `POST /llm/factory/runs`. Cancelling a cancelled run is not an error (200).",
  },
  RUN_STATE_CONFLICT: {
    when: "The run's status does not allow this verb now (for example `dispatch` before the run is planned, or `POST /gates` on a run that is not waiting for a gate).",
    remedy: "Read `GET /llm/factory/runs/{id}/status`: `next_actions` says what the run can do next.",
  },
  DEPENDENCIES_NOT_PASSED: {
    when: "`dispatch` was asked for an issue whose `depends_on` issues have not all `passed`.",
    remedy: "`details.waiting_on` lists the issues it waits for; dispatch those first, or let `POST /start` work the run.",
  },
  ISSUE_BUSY: {
    when: "`dispatch` was asked for an issue that is already `running` in a room.",
    remedy: "Wait for it: follow `GET /llm/factory/runs/{id}/events` until its `issue:status` event.",
  },
  ISSUE_LIMIT_REACHED: {
    when: "The run already has `FACTORY_MAX_ISSUES_PER_RUN` issues.",
    remedy: "Split the work across runs, or ask the operator to raise the limit.",
  },
  IDEMPOTENCY_IN_PROGRESS: {
    when: "A request with the same `Idempotency-Key` is still being handled.",
    remedy: "Retry the same request after `Retry-After`; you will get the first request's answer.",
  },
  REQUEST_TIMEOUT: {
    when: "The request body did not arrive within `BODY_TIMEOUT_MS` (default 30 s) of the request's start; the connection is closed.",
    remedy: "Send the whole body promptly (it is at most `BODY_LIMIT_BYTES`); retry on a new connection.",
  },
  PAYLOAD_TOO_LARGE: {
    when: "The body is larger than `BODY_LIMIT_BYTES` (default 1 MiB), or a free-form field is too large or too deep.",
    remedy: "Send less: split long content across messages.",
  },
  SOURCE_TOO_LARGE: {
    when: "A run's `source.content` is longer than `FACTORY_MAX_SOURCE_CHARS`.",
    remedy: "Shorten the brief, or split it into several runs.",
  },
  ARTIFACT_TOO_LARGE: {
    when: "An artifact's `payload` is larger than `FACTORY_MAX_ARTIFACT_BYTES` of JSON.",
    remedy: "Store less in the artifact (a summary, a link) and keep the bulk elsewhere.",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    when: "The body is not sent as JSON.",
    remedy: "Send `Content-Type: application/json` and a JSON object.",
  },
  IDEMPOTENCY_KEY_REUSED: {
    when: "The `Idempotency-Key` was already used for a different request (other body, path or If-Match).",
    remedy: "Use a new key for a new request; reuse a key only to retry exactly the same request.",
  },
  RATE_LIMITED: {
    when: "Your tenant sent more requests per second than `RATE_LIMIT_RPS` (with burst `RATE_LIMIT_BURST`).",
    remedy: "Wait `Retry-After` seconds, then slow down.",
  },
  QUOTA_EXCEEDED: {
    when: "A tenant or server quota is used up: rooms per tenant, running turns, event followers (open event streams and waiting long polls), or the daily token budget.",
    remedy: "The message names the quota. Release rooms or close streams you do not need, or wait `Retry-After` seconds.",
  },
  ACTIVE_RUN_LIMIT: {
    when: "The tenant already has `FACTORY_MAX_ACTIVE_RUNS_PER_TENANT` runs that are not finished.",
    remedy: "Wait for one to finish, or cancel one with `POST /llm/factory/runs/{id}/cancel`, then retry.",
  },
  INTERNAL: {
    when: "An unexpected server error; it is logged with the request id.",
    remedy: "Retry later; if it persists, report the `X-Request-Id` of the response.",
  },
  GLOBAL_STOP_ACTIVE: {
    when: "The operator switched on the global stop: no new turn starts (reads and interrupts still work).",
    remedy: "Retry after `Retry-After`; your message was not stored.",
  },
  SHUTTING_DOWN: {
    when: "The server is draining before a restart.",
    remedy: "Retry after `Retry-After` against the restarted server.",
  },
  STORAGE_BUSY: {
    when: "The tenant's database was busy for too long.",
    remedy: "Retry after `Retry-After`.",
  },
  STORAGE_FULL: {
    when: "The server's disk is full: nothing of this request was stored (what was acknowledged before is kept). Reads still work.",
    remedy: "Retry after `Retry-After`; the operator has to free disk space (see the README's Operations section).",
  },
  TENANT_DATA_DAMAGED: {
    when: "Your tenant's data file is missing, empty or corrupt, so the server refuses to serve it rather than start an empty one. Other tenants are not affected.",
    remedy: "Nothing on your side: the operator restores the file from a backup (see the README's Operations section). Retry after `Retry-After`.",
  },
  METRICS_DISABLED: {
    when: "`GET /metrics` on a server started with `METRICS_ENABLED=false`: it records no metrics, so there is nothing to scrape.",
    remedy: "Restart the server with `METRICS_ENABLED=true` (the default; or leave it unset). Retrying against this process never helps.",
  },
};

export interface ErrorRow {
  code: ErrorCode;
  status: number;
  when: string;
  remedy: string;
}

/** Every error code with its status, ordered by status then code. */
export function errorRows(): ErrorRow[] {
  return ERROR_CODES.map((code) => ({ code, status: STATUS_BY_CODE[code], ...ERROR_REMEDIES[code] })).sort((a, b) => a.status - b.status);
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function errorTableMarkdown(): string {
  const lines = ["| status | code | when | what to do |", "| --- | --- | --- | --- |"];
  for (const r of errorRows()) lines.push(`| ${r.status} | \`${r.code}\` | ${cell(r.when)} | ${cell(r.remedy)} |`);
  return lines.join("\n");
}
