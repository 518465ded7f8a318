/**
 * HTTP for /llm/factory/runs (FACTORY.md): schemas, status codes, headers.
 * Every handler reads the validated input, calls one FactoryService verb
 * with the request's tenant-bound handle and principal, and wraps the result
 * in the envelope. Reads need `read`, writes `edit`, create/start/cancel
 * `full`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { userActor } from "../auth/actor.js";
import { AppError, type ErrorCode } from "../errors.js";
import type { AppEnv } from "../http/context.js";
import { envelopeSchema, listEnvelopeSchema, ok, okList } from "../http/envelope.js";
import { requireAccess } from "../http/middleware/auth.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import { setSuccessStatus } from "../idempotency/idempotency.context.js";
import type { SseFollowers } from "../sse/sse.followers.js";
import { replyWithEvents } from "../sse/sse.stream.js";
import type { MetricsRecorder } from "../metrics/metrics.recorder.js";
import { RUN_EVENT_TYPES } from "./factory.events.js";
import {
  AdvanceResult,
  Artifact,
  ARTIFACT_EXAMPLE,
  CancelBody,
  CancelResult,
  Checkpoint,
  CHECKPOINT_EXAMPLE,
  CreateArtifactBody,
  CreateCheckpointBody,
  CreateIssueBody,
  CreateRunBody,
  CreateStageBody,
  DispatchBody,
  EmptyBody,
  GateCheckResult,
  Issue,
  ISSUE_EXAMPLE,
  IssueParams,
  ListChildQuery,
  ListRunsQuery,
  PatchIssueBody,
  PatchStageBody,
  RecordGateBody,
  Review,
  Run,
  RUN_EXAMPLE,
  RunEventRecord,
  RunIdParams,
  RunStatusReport,
  Stage,
  STAGE_EXAMPLE,
  StageParams,
  StartResult,
  STATUS_EXAMPLE,
  REVIEW_EXAMPLE,
  GATE_CHECK_EXAMPLE,
  VerifyResult,
} from "./factory.schemas.js";
import { parseIfMatch } from "../room/room.service.js";
import type { FactoryCtx, FactoryService } from "./factory.service.js";

const tags = ["factory"];
const BASE = "/llm/factory/runs";
const json = <T extends z.ZodType>(schema: T, description: string, example?: unknown) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});
const body = <T extends z.ZodType>(schema: T, required = true) => ({ required, content: { "application/json": { schema } } });
const RUN_WITH_ACTORS = { ...RUN_EXAMPLE, actors: [{ agent_id: "assistant", role: "assistant", adapter: "pi", provider: "local", model: "echo", skills: [], system_prompt: null, muted: false, options: {} }] };

const WriteHeaders = z.object({
  "idempotency-key": z
    .string()
    .max(255)
    .optional()
    .openapi({ description: "`Idempotency-Key`: 1–255 visible ASCII characters; a retry with the same key and request replays the first answer (`Idempotent-Replayed: true`).", example: "run-create-1" }),
});
const PatchHeaders = WriteHeaders.extend({
  "if-match": z.string().max(40).optional().openapi({ description: "`If-Match`: the record's expected `version`; a stale one is 409 VERSION_CONFLICT.", example: "2" }),
});

const writeErrors = (extra: Partial<Record<number, ErrorCode[]>> = {}, statuses: number[] = []) =>
  errorResponses([400, 403, 404, 409, 413, 415, 422, 503, ...statuses], {
    404: ["RUN_NOT_FOUND"],
    409: ["RUN_FINISHED", "IDEMPOTENCY_IN_PROGRESS"],
    503: ["STORAGE_BUSY"],
    ...extra,
  });
const readErrors = (codes: ErrorCode[] = ["RUN_NOT_FOUND"]) => errorResponses([400, 404, 503], { 404: codes, 503: ["STORAGE_BUSY"] });

function ctxOf(c: Context<AppEnv>): FactoryCtx {
  return { tdb: c.get("tenantDb"), actor: userActor(c.get("principal")) };
}

export function factoryRoutes(factory: FactoryService, sse: { heartbeatMs: number; followers?: SseFollowers | undefined }, metrics: Pick<MetricsRecorder, "streamClosed">) {
  const app = createRouter();

  // ---- runs -------------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: BASE,
      operationId: "listFactoryRuns",
      tags,
      summary: "List your factory runs",
      description: "Newest first, every status unless `?status=` picks some. Page with `limit` and `cursor` (`meta.next_cursor`).",
      security: bearerSecurity,
      request: { query: ListRunsQuery },
      responses: { 200: json(listEnvelopeSchema(Run), "A page of runs.", okList([RUN_WITH_ACTORS], { next_cursor: null })), ...errorResponses([400, 503], { 503: ["STORAGE_BUSY"] }) },
    }),
    (c) => {
      const res = factory.list(ctxOf(c), c.req.valid("query"));
      return c.json(okList(res.items, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: BASE,
      operationId: "createFactoryRun",
      tags,
      summary: "Create a factory run",
      description:
        "Stores the run in status `pending` (`run:created`). Nothing runs until `POST /start` (or `/advance`). `agents` are the actor settings of every room the run rents; with the default `local/echo` the run plans and verifies offline by deterministic rules. Needs access `full`.",
      security: bearerSecurity,
      middleware: [requireAccess("full")] as const,
      request: { headers: WriteHeaders, body: body(CreateRunBody) },
      responses: {
        201: json(envelopeSchema(Run), "The new run.", ok({ ...RUN_WITH_ACTORS, status: "pending", current_stage: null, active_room_ids: [], plan_summary: null, version: 1 })),
        ...writeErrors({ 400: ["VALIDATION_FAILED", "UNKNOWN_MODEL"], 409: ["IDEMPOTENCY_IN_PROGRESS"], 413: ["PAYLOAD_TOO_LARGE", "SOURCE_TOO_LARGE"], 429: ["RATE_LIMITED", "ACTIVE_RUN_LIMIT"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      const run = factory.create(ctxOf(c), c.req.valid("json"));
      c.header("Location", `${BASE}/${run.id}`);
      c.header("ETag", `"${run.version}"`);
      return c.json(ok(run), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}`,
      operationId: "getFactoryRun",
      tags,
      summary: "Read a factory run",
      description: "The run record: `status`, `current_stage`, `active_room_ids` (rooms it holds now), summed `usage`, `plan_summary`, `diagnostics` and the settings it was created with.",
      security: bearerSecurity,
      request: { params: RunIdParams },
      responses: { 200: json(envelopeSchema(Run), "The run.", ok(RUN_WITH_ACTORS)), ...readErrors() },
    }),
    (c) => {
      const run = factory.get(ctxOf(c), c.req.valid("param").id);
      c.header("ETag", `"${run.version}"`);
      return c.json(ok(run), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/start`,
      operationId: "startFactoryRun",
      tags,
      summary: "Start (or wake) the run's supervisor",
      description:
        "Marks the run started and answers at once; the supervisor plans the source (`pending` → `planning` → `running`), dispatches ready issues to rooms, checks their output, verifies and evaluates gates in the background, ending `completed`, `gated` or `failed`. Starting a started run wakes its supervisor (harmless). A restarted server resumes every started `planning`/`running` run. Needs access `full`.",
      security: bearerSecurity,
      middleware: [requireAccess("full")] as const,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(EmptyBody, false) },
      responses: {
        200: json(envelopeSchema(StartResult), "What the supervisor will do.", ok({ run_id: RUN_EXAMPLE.id, status: "planning", completed: false, failed: false, actions: [`supervisor started: the run is planning and works in the background; follow GET ${BASE}/${RUN_EXAMPLE.id}/events or poll GET ${BASE}/${RUN_EXAMPLE.id}/status`] })),
        ...writeErrors(),
      },
    }),
    (c) => c.json(ok(factory.start(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/cancel`,
      operationId: "cancelFactoryRun",
      tags,
      summary: "Cancel a run",
      description:
        "Ends the run `cancelled` with the reason (durable first), stops its supervisor, then interrupts and releases every room the run holds, and answers once they are released. Issues that had not ended become `blocked`. Cancelling a cancelled run answers 200 again; a `completed` or `failed` run is 409 RUN_FINISHED. Needs access `full`.",
      security: bearerSecurity,
      middleware: [requireAccess("full")] as const,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(CancelBody, false) },
      responses: { 200: json(envelopeSchema(CancelResult), "The cancelled run.", ok({ run_id: RUN_EXAMPLE.id, id: RUN_EXAMPLE.id, status: "cancelled", reason: "changed my mind" })), ...writeErrors() },
    }),
    async (c) => c.json(ok(await factory.cancel(ctxOf(c), c.req.valid("param").id, c.req.valid("json")?.reason)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/status`,
      operationId: "getFactoryRunStatus",
      tags,
      summary: "Aggregate status of a run",
      description: "Counts of stages and issues per status, the latest checkpoint, verification and gate verdicts, and `blockers`, `diagnostics` and `next_actions` in plain words. `factory watch` stops on a final status, `gated`, any blocker or a `blocked` count.",
      security: bearerSecurity,
      request: { params: RunIdParams },
      responses: { 200: json(envelopeSchema(RunStatusReport), "The run's status.", ok(STATUS_EXAMPLE)), ...readErrors() },
    }),
    (c) => c.json(ok(factory.status(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/review`,
      operationId: "getFactoryRunReview",
      tags,
      summary: "The review bundle of a run",
      description: "One-line summaries of the plan, artifacts, checkpoints, issues, stages, gates and evidence (per-criterion verdicts), with blockers, diagnostics, next actions and open risks.",
      security: bearerSecurity,
      request: { params: RunIdParams },
      responses: { 200: json(envelopeSchema(Review), "The review.", ok(REVIEW_EXAMPLE)), ...readErrors() },
    }),
    (c) => c.json(ok(factory.review(ctxOf(c), c.req.valid("param").id)), 200),
  );

  // ---- stages -----------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/stages`,
      operationId: "listFactoryStages",
      tags,
      summary: "List a run's stages",
      description: "In plan order; page with `limit` and `cursor`.",
      security: bearerSecurity,
      request: { params: RunIdParams, query: ListChildQuery },
      responses: { 200: json(listEnvelopeSchema(Stage), "A page of stages.", okList([STAGE_EXAMPLE], { next_cursor: null })), ...readErrors() },
    }),
    (c) => {
      const res = factory.listStages(ctxOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(okList(res.items, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/stages`,
      operationId: "createFactoryStage",
      tags,
      summary: "Create a stage record",
      description: "Adds a stage to the run (`stage:created`); add issues to it with `POST /issues`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(CreateStageBody) },
      responses: { 201: json(envelopeSchema(Stage), "The new stage.", ok({ ...STAGE_EXAMPLE, status: "pending", version: 1 })), ...writeErrors() },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.createStage(ctxOf(c), c.req.valid("param").id, c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: `${BASE}/{id}/stages/{stage_id}`,
      operationId: "updateFactoryStage",
      tags,
      summary: "Update a stage",
      description: "Any of `status`, `summary`, `verification_summary`, `notes` (replaced). `version` goes up by one; send `If-Match: <version>` to refuse a stale write with 409 VERSION_CONFLICT. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: StageParams, headers: PatchHeaders, body: body(PatchStageBody) },
      responses: { 200: json(envelopeSchema(Stage), "The changed stage.", ok({ ...STAGE_EXAMPLE, summary: "drafted", version: 3 })), ...writeErrors({ 404: ["RUN_NOT_FOUND", "STAGE_NOT_FOUND"], 409: ["RUN_FINISHED", "VERSION_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"] }) },
    }),
    (c) => {
      const p = c.req.valid("param");
      const stage = factory.patchStage(ctxOf(c), p.id, p.stage_id, c.req.valid("json"), parseIfMatch(c.req.header("if-match")));
      c.header("ETag", `"${stage.version}"`);
      return c.json(ok(stage), 200);
    },
  );

  // ---- issues -----------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/issues`,
      operationId: "listFactoryIssues",
      tags,
      summary: "List a run's issues",
      description: "In plan order; page with `limit` and `cursor`.",
      security: bearerSecurity,
      request: { params: RunIdParams, query: ListChildQuery },
      responses: { 200: json(listEnvelopeSchema(Issue), "A page of issues.", okList([ISSUE_EXAMPLE], { next_cursor: null })), ...readErrors() },
    }),
    (c) => {
      const res = factory.listIssues(ctxOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(okList(res.items, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/issues`,
      operationId: "createFactoryIssue",
      tags,
      summary: "Create an issue record",
      description: "Adds an issue to a stage of the run (`issue:created`); a started run's supervisor dispatches it when its dependencies pass. 409 ISSUE_LIMIT_REACHED past FACTORY_MAX_ISSUES_PER_RUN. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(CreateIssueBody) },
      responses: {
        201: json(envelopeSchema(Issue), "The new issue.", ok({ ...ISSUE_EXAMPLE, status: "ready", assigned_room_id: null, attempts: 0, version: 2 })),
        ...writeErrors({ 409: ["RUN_FINISHED", "ISSUE_LIMIT_REACHED", "IDEMPOTENCY_IN_PROGRESS"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.createIssue(ctxOf(c), c.req.valid("param").id, c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: `${BASE}/{id}/issues/{issue_id}`,
      operationId: "updateFactoryIssue",
      tags,
      summary: "Update an issue",
      description:
        "Any of `status`, `summary`, `notes` (replaced), `acceptance_criteria`, `verification_requirements`, `title`, `body`. A running issue's status cannot be changed (409 ISSUE_BUSY); `running` is reached only by dispatch. Changing an issue of a `gated` run puts it back to `running` so its gates are evaluated again. `If-Match: <version>` refuses a stale write. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: IssueParams, headers: PatchHeaders, body: body(PatchIssueBody) },
      responses: {
        200: json(envelopeSchema(Issue), "The changed issue.", ok({ ...ISSUE_EXAMPLE, status: "ready", version: 4 })),
        ...writeErrors({ 404: ["RUN_NOT_FOUND", "ISSUE_NOT_FOUND"], 409: ["RUN_FINISHED", "VERSION_CONFLICT", "ISSUE_BUSY", "IDEMPOTENCY_IN_PROGRESS"] }),
      },
    }),
    (c) => {
      const p = c.req.valid("param");
      const issue = factory.patchIssue(ctxOf(c), p.id, p.issue_id, c.req.valid("json"), parseIfMatch(c.req.header("if-match")));
      c.header("ETag", `"${issue.version}"`);
      return c.json(ok(issue), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/issues/{issue_id}/dispatch`,
      operationId: "dispatchFactoryIssue",
      tags,
      summary: "Run one issue in a room now",
      description:
        "Rents a room for the issue (metadata `run_id`, `issue_id`; purpose = the issue title; the run's actors), stores the task (`content`, default built from the issue) and marks the issue `running`, in one transaction; the supervisor collects the output. The run must be planned; the issue's dependencies must have passed (409 DEPENDENCIES_NOT_PASSED, `details.waiting_on`), and it must not be running (409 ISSUE_BUSY). Needs access `edit`.",
      security: bearerSecurity,
      request: { params: IssueParams, headers: WriteHeaders, body: body(DispatchBody, false) },
      responses: {
        202: json(envelopeSchema(Issue), "The issue, now `running` in its room.", ok(ISSUE_EXAMPLE)),
        ...writeErrors({
          400: ["VALIDATION_FAILED"],
          404: ["RUN_NOT_FOUND", "ISSUE_NOT_FOUND"],
          409: ["RUN_FINISHED", "RUN_STATE_CONFLICT", "DEPENDENCIES_NOT_PASSED", "ISSUE_BUSY", "IDEMPOTENCY_IN_PROGRESS"],
          429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
          503: ["GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY"],
        }),
      },
    }),
    (c) => {
      setSuccessStatus(202);
      const p = c.req.valid("param");
      return c.json(ok(factory.dispatch(ctxOf(c), p.id, p.issue_id, c.req.valid("json") ?? {})), 202);
    },
  );

  // ---- artifacts and checkpoints ----------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/artifacts`,
      operationId: "listFactoryArtifacts",
      tags,
      summary: "List a run's artifacts",
      description: "Oldest first: the `plan`, each issue's `issue_output`, `verification_report`s and any recorded by callers. Page with `limit` and `cursor`.",
      security: bearerSecurity,
      request: { params: RunIdParams, query: ListChildQuery },
      responses: { 200: json(listEnvelopeSchema(Artifact), "A page of artifacts.", okList([ARTIFACT_EXAMPLE], { next_cursor: null })), ...readErrors() },
    }),
    (c) => {
      const res = factory.listArtifacts(ctxOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(okList(res.items, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/artifacts`,
      operationId: "createFactoryArtifact",
      tags,
      summary: "Record an artifact",
      description: "`version` counts up per `artifact_type` within the run. 413 ARTIFACT_TOO_LARGE past FACTORY_MAX_ARTIFACT_BYTES of JSON. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(CreateArtifactBody) },
      responses: {
        201: json(envelopeSchema(Artifact), "The stored artifact.", ok({ ...ARTIFACT_EXAMPLE, artifact_type: "design_note", producer_issue_id: null, producer_stage_id: null, payload: { text: "use short lines" } })),
        ...writeErrors({ 413: ["PAYLOAD_TOO_LARGE", "ARTIFACT_TOO_LARGE"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.createArtifact(ctxOf(c), c.req.valid("param").id, c.req.valid("json"))), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/checkpoints`,
      operationId: "listFactoryCheckpoints",
      tags,
      summary: "List a run's checkpoints",
      description: "Oldest first. The supervisor writes one when a stage's issues all pass (git fields are empty strings for work that is not code). Page with `limit` and `cursor`.",
      security: bearerSecurity,
      request: { params: RunIdParams, query: ListChildQuery },
      responses: { 200: json(listEnvelopeSchema(Checkpoint), "A page of checkpoints.", okList([CHECKPOINT_EXAMPLE], { next_cursor: null })), ...readErrors() },
    }),
    (c) => {
      const res = factory.listCheckpoints(ctxOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(okList(res.items, { next_cursor: res.nextCursor }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/checkpoints`,
      operationId: "createFactoryCheckpoint",
      tags,
      summary: "Record a checkpoint",
      description: "Stores a checkpoint the caller made (for example a git branch that merged some issues); git fields default to empty strings. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(CreateCheckpointBody) },
      responses: {
        201: json(envelopeSchema(Checkpoint), "The stored checkpoint.", ok({ ...CHECKPOINT_EXAMPLE, status: "merged", branch_name: "factory/tea", head_sha: "3e1f0c2a" })),
        ...writeErrors(),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.createCheckpoint(ctxOf(c), c.req.valid("param").id, c.req.valid("json"))), 201);
    },
  );

  // ---- the state machine by hand ----------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/advance`,
      operationId: "advanceFactoryRun",
      tags,
      summary: "Take the state machine one step",
      description:
        "Takes exactly one step in the request and says what it did (`kind`, `action`): `pending` → `planning`; plan; dispatch one ready issue; collect one issue whose room turn ended; release a room; verify; evaluate gates. `waiting` means issues are running in rooms: call again after they end. Works whether or not the run was started (a started run's own supervisor takes turns with you). Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(EmptyBody, false) },
      responses: {
        200: json(envelopeSchema(AdvanceResult), "What the step did.", ok({ run_id: RUN_EXAMPLE.id, status: "running", action: `dispatched issue "Write a haiku about tea" to room 0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11`, kind: "dispatched", done: false })),
        ...writeErrors(),
      },
    }),
    async (c) => c.json(ok(await factory.advance(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/verify`,
      operationId: "verifyFactoryRun",
      tags,
      summary: "Verify the run now",
      description:
        "Summarises every issue's per-criterion verdicts into a `verification_report` artifact (`verification:completed`): `failed` if an issue did not pass or a criterion failed, `skipped` if no issue has a criterion, else `passed`, with the criteria no rule could decide in `needs_review`. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(EmptyBody, false) },
      responses: {
        201: json(envelopeSchema(VerifyResult), "The verification and its artifact.", ok({ run_id: RUN_EXAMPLE.id, status: "passed", success: true, needs_review: [], artifact: { ...ARTIFACT_EXAMPLE, artifact_type: "verification_report", producer_issue_id: null, producer_stage_id: null, payload: { status: "passed" } } })),
        ...writeErrors({ 409: ["RUN_FINISHED", "RUN_STATE_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"] }),
      },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.verify(ctxOf(c), c.req.valid("param").id)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/gate-check`,
      operationId: "checkFactoryRunGates",
      tags,
      summary: "Evaluate the gates now",
      description:
        "Evaluates `all_issues_passed`, `verification_passed`, `token_budget` and (when the run asks for it, or its `workflow_kind` is `software.delivery`) `human_review`, and stores the verdicts (`gate:verdict`). When every issue has ended the run moves on: `completed` on pass, `failed` on fail, `gated` when a gate needs a person. Needs access `edit`.",
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(EmptyBody, false) },
      responses: { 200: json(envelopeSchema(GateCheckResult), "The verdicts and the run's status.", ok(GATE_CHECK_EXAMPLE)), ...writeErrors({ 409: ["RUN_FINISHED", "RUN_STATE_CONFLICT", "IDEMPOTENCY_IN_PROGRESS"] }) },
    }),
    (c) => c.json(ok(factory.gateCheck(ctxOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: `${BASE}/{id}/gates`,
      operationId: "recordFactoryGate",
      tags,
      summary: "Record a gate verdict",
      description:
        'A verdict from a person or another system; it wins over the evaluated verdict of that gate. On a `gated` run the gates are evaluated again at once: `{"gate_name":"human_review","verdict":"pass"}` completes it when nothing else is open, `fail` fails it. Needs access `edit`.',
      security: bearerSecurity,
      request: { params: RunIdParams, headers: WriteHeaders, body: body(RecordGateBody) },
      responses: { 201: json(envelopeSchema(GateCheckResult), "The recorded verdict (first) and the run's status.", ok({ ...GATE_CHECK_EXAMPLE, gates: [{ ...GATE_CHECK_EXAMPLE.gates[0]!, gate_name: "human_review", source: "recorded", reasons: ["read it, ship it"] }] })), ...writeErrors() },
    }),
    (c) => {
      setSuccessStatus(201);
      return c.json(ok(factory.recordGate(ctxOf(c), c.req.valid("param").id, c.req.valid("json"))), 201);
    },
  );

  // ---- events -----------------------------------------------------------------------------------

  app.openapi(
    createRoute({
      method: "get",
      path: `${BASE}/{id}/events`,
      operationId: "factoryRunEvents",
      tags,
      summary: "Stream a run's events (SSE)",
      description: [
        "Server-sent events with the same framing and resume rules as room events: first the durable events after `Last-Event-ID` (or `?after=`; the header wins), then, with `follow=true`, live events with no gap and no duplicate at the seam. `id` is the run's gap-free `seq`. The stream ends after `run:finished`, the run's last event.",
        "",
        `Event types: ${RUN_EVENT_TYPES.map((t) => `\`${t}\``).join(", ")}. /docs/llm/factory has the catalogue with payloads.`,
      ].join("\n"),
      security: bearerSecurity,
      request: {
        params: RunIdParams,
        query: z.object({
          follow: z.enum(["true", "false", "1", "0"]).optional().openapi({ description: "Keep the stream open and tail live events (default false).", example: "true" }),
          after: z.string().max(20).optional().openapi({ description: "Replay events with seq greater than this.", example: "3" }),
        }),
        headers: z.object({ "last-event-id": z.string().max(40).optional().openapi({ description: "`Last-Event-ID`: resume after this event: its seq (the frame's `id`) or the record's own `id`, `<run_id>:<seq>`. Wins over `?after=`.", example: "3" }) }),
      },
      responses: {
        200: { description: "`text/event-stream` of FactoryRunEvent frames (`id`, `event`, `data`), `: ping` heartbeats between them.", content: { "text/event-stream": { schema: RunEventRecord } } },
        ...errorResponses([400, 404, 503], { 404: ["RUN_NOT_FOUND"], 429: ["RATE_LIMITED", "QUOTA_EXCEEDED"], 503: ["STORAGE_BUSY"] }),
      },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const q = c.req.valid("query");
      return replyWithEvents(
        c,
        {
          streamId: id,
          follow: q.follow,
          after: q.after,
          heartbeatMs: sse.heartbeatMs,
          followers: sse.followers,
          onClose: (reason) => metrics.streamClosed(reason),
          logFields: { run_id: id },
        },
        factory.openEventStream.bind(factory, ctxOf(c), id),
      ) as never;
    },
  );

  return app;
}
