/**
 * Wire schemas of /llm/factory/runs (FACTORY.md): they validate requests and
 * generate the OpenAPI document. Request objects are strict (unknown fields
 * are 400); records carry every field the contract names, plus a few more.
 */
import { z } from "@hono/zod-openapi";
import { MAX_FREEFORM_JSON_BYTES, MAX_JSON_DEPTH, jsonDepthExceeds } from "../json-limits.js";
import { ActorInput, Actor, Usage } from "../room/room.schemas.js";

export const RUN_STATUSES = ["pending", "planning", "running", "gated", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** A run in one of these takes no more work. */
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];
export const WORK_STATUSES = ["pending", "ready", "running", "passed", "failed", "blocked"] as const;
export type WorkStatus = (typeof WORK_STATUSES)[number];
export const GATE_VERDICTS = ["pass", "fail", "needs_review", "needs_further_review"] as const;

const RUN = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const STAGE = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
const ISSUE = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const ROOM = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
const AT = "2026-01-05T10:00:00.000Z";

const MARKDOWN_EXAMPLE = [
  "# Draft",
  "- Write a haiku about tea",
  "  - Acceptance: mentions \"tea\"",
  "",
  "# Review",
  "- Summarise the haiku (depends on: Write a haiku about tea)",
].join("\n");

export const RUN_EXAMPLE = {
  id: RUN,
  run_id: RUN,
  status: "running",
  workflow_kind: "generic",
  title: "Tea poems",
  source_brief: "Draft: Write a haiku about tea …",
  source: { kind: "prompt", format: "markdown", content: MARKDOWN_EXAMPLE },
  subject_type: null,
  subject_id: null,
  current_stage: "Draft",
  active_room_ids: [ROOM],
  created_at: AT,
  updated_at: "2026-01-05T10:00:03.000Z",
  cancel_reason: null,
  plan_summary: "2 stages, 2 issues: Draft (1), Review (1)",
  human_review: false,
  token_budget: null,
  max_in_flight: 2,
  usage: { input: 40, output: 22, totalTokens: 62, cost: { total: 0 } },
  diagnostics: [],
  version: 4,
};

export const STAGE_EXAMPLE = {
  id: STAGE,
  run_id: RUN,
  key: "s1",
  stage_name: "Draft",
  status: "running",
  depends_on: [],
  assigned_room_id: null,
  summary: null,
  verification_summary: null,
  notes: [],
  version: 2,
  created_at: AT,
  updated_at: AT,
};

export const ISSUE_EXAMPLE = {
  id: ISSUE,
  run_id: RUN,
  stage_id: STAGE,
  key: "s1.i1",
  title: "Write a haiku about tea",
  kind: "task",
  body: "Write a haiku about tea",
  status: "running",
  depends_on: [],
  acceptance_criteria: ['mentions "tea"'],
  verification_requirements: [],
  assigned_room_id: ROOM,
  attempts: 1,
  summary: null,
  notes: [],
  verdicts: [],
  version: 3,
  created_at: AT,
  updated_at: AT,
};

export const ARTIFACT_EXAMPLE = {
  id: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e",
  run_id: RUN,
  artifact_type: "issue_output",
  version: 1,
  producer_stage_id: STAGE,
  producer_issue_id: ISSUE,
  payload: { room_id: ROOM, message_id: "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7", text: "Steam curls from the cup / tea leaves settle into calm / …" },
  created_at: AT,
};

export const CHECKPOINT_EXAMPLE = {
  id: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
  run_id: RUN,
  stage_id: STAGE,
  status: "passed",
  branch_name: "",
  worktree_path: "",
  base_ref: "",
  head_sha: "",
  included_issue_ids: [ISSUE],
  merged_issue_ids: [ISSUE],
  conflict_issue_ids: [],
  notes: ["stage Draft: all 1 issue(s) passed"],
  created_at: AT,
};

const freeform = (what: string, maxBytes = MAX_FREEFORM_JSON_BYTES) =>
  z.unknown().superRefine((value, ctx) => {
    if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) ctx.addIssue({ code: "custom", message: `${what} is nested deeper than ${MAX_JSON_DEPTH} levels` });
    else if (value !== undefined && JSON.stringify(value).length > maxBytes) ctx.addIssue({ code: "custom", message: `${what} is larger than ${maxBytes} bytes of JSON` });
  });

const line = (max = 2000) => z.string().min(1).max(max);
const lines = (maxItems = 64, max = 2000) => z.array(z.string().max(max)).max(maxItems);
const ids = (maxItems = 256) => z.array(z.string().min(1).max(64)).max(maxItems);

// ---- records ------------------------------------------------------------------------------------

export const RunSource = z
  .object({ kind: z.literal("prompt"), format: z.enum(["text", "markdown"]), content: z.string() })
  .openapi("FactoryRunSource", { example: RUN_EXAMPLE.source });

export const Run = z
  .object({
    id: z.string(),
    run_id: z.string().openapi({ description: "Same as `id`." }),
    status: z.enum(RUN_STATUSES),
    workflow_kind: z.string(),
    title: z.string(),
    source_brief: z.string().openapi({ description: "A short one-line digest of the source." }),
    source: RunSource,
    subject_type: z.string().nullable(),
    subject_id: z.string().nullable(),
    current_stage: z.string().nullable().openapi({ description: "Name of the first stage that has not passed; null before planning and once every stage passed." }),
    active_room_ids: z.array(z.string()).openapi({ description: "Rooms the run holds right now (one per issue in flight)." }),
    created_at: z.string(),
    updated_at: z.string(),
    cancel_reason: z.string().nullable(),
    plan_summary: z.string().nullable(),
    human_review: z.boolean().openapi({ description: "Whether the `human_review` gate applies (asked for, or `workflow_kind` is `software.delivery`)." }),
    token_budget: z.number().int().nullable(),
    max_in_flight: z.number().int(),
    actors: z.array(Actor).openapi({ description: "The actor settings of every room the run rents; the first actor's model also plans and judges." }),
    usage: Usage.openapi({ description: "Tokens and cost of every room of the run plus the planner and judge, summed." }),
    diagnostics: z.array(z.string()),
    version: z.number().int(),
  })
  .openapi("FactoryRun", { example: { ...RUN_EXAMPLE, actors: [] } });
export type Run = z.infer<typeof Run>;

export const Stage = z
  .object({
    id: z.string(),
    run_id: z.string(),
    key: z.string(),
    stage_name: z.string(),
    status: z.enum(WORK_STATUSES),
    depends_on: z.array(z.string()).openapi({ description: "Stage ids." }),
    assigned_room_id: z.string().nullable(),
    summary: z.string().nullable(),
    verification_summary: z.string().nullable(),
    notes: z.array(z.string()),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("FactoryStage", { example: STAGE_EXAMPLE });
export type Stage = z.infer<typeof Stage>;

export const CriterionVerdictSchema = z
  .object({ criterion: z.string(), verdict: z.enum(["pass", "fail", "needs_review"]), reason: z.string() })
  .openapi("FactoryCriterionVerdict", { example: { criterion: 'mentions "tea"', verdict: "pass", reason: 'the output contains "tea"' } });

export const Issue = z
  .object({
    id: z.string(),
    run_id: z.string(),
    stage_id: z.string(),
    key: z.string(),
    title: z.string(),
    kind: z.string(),
    body: z.string().openapi({ description: "What the room is asked to do." }),
    status: z.enum(WORK_STATUSES),
    depends_on: z.array(z.string()).openapi({ description: "Issue ids." }),
    acceptance_criteria: z.array(z.string()),
    verification_requirements: z.array(z.string()),
    assigned_room_id: z.string().nullable(),
    attempts: z.number().int().openapi({ description: "Rooms this issue has been dispatched to so far." }),
    summary: z.string().nullable(),
    notes: z.array(z.string()),
    verdicts: z.array(CriterionVerdictSchema).openapi({ description: "Per-criterion verdicts of the last check of the issue's output." }),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("FactoryIssue", { example: ISSUE_EXAMPLE });
export type Issue = z.infer<typeof Issue>;

export const Artifact = z
  .object({
    id: z.string(),
    run_id: z.string(),
    artifact_type: z.string(),
    version: z.number().int().openapi({ description: "Counts up per `artifact_type` within the run, from 1." }),
    producer_stage_id: z.string().nullable(),
    producer_issue_id: z.string().nullable(),
    payload: z.unknown(),
    created_at: z.string(),
  })
  .openapi("FactoryArtifact", { example: ARTIFACT_EXAMPLE });
export type Artifact = z.infer<typeof Artifact>;

export const Checkpoint = z
  .object({
    id: z.string(),
    run_id: z.string(),
    stage_id: z.string().nullable(),
    status: z.string(),
    branch_name: z.string(),
    worktree_path: z.string(),
    base_ref: z.string(),
    head_sha: z.string(),
    included_issue_ids: z.array(z.string()),
    merged_issue_ids: z.array(z.string()),
    conflict_issue_ids: z.array(z.string()),
    notes: z.array(z.string()),
    created_at: z.string(),
  })
  .openapi("FactoryCheckpoint", { example: CHECKPOINT_EXAMPLE });
export type Checkpoint = z.infer<typeof Checkpoint>;

export const GateRecord = z
  .object({
    id: z.string(),
    run_id: z.string(),
    gate_name: z.string(),
    verdict: z.enum(GATE_VERDICTS),
    reasons: z.array(z.string()),
    source: z.enum(["evaluated", "recorded"]),
    created_at: z.string(),
  })
  .openapi("FactoryGateVerdict", {
    example: { id: "4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a", run_id: RUN, gate_name: "all_issues_passed", verdict: "pass", reasons: ["2 of 2 issues passed"], source: "evaluated", created_at: AT },
  });
export type GateRecord = z.infer<typeof GateRecord>;

const counts = z.object({ pending: z.number().int(), ready: z.number().int(), running: z.number().int(), passed: z.number().int(), failed: z.number().int(), blocked: z.number().int() });

export const STATUS_EXAMPLE = {
      run_id: RUN,
      status: "gated",
      current_stage: null,
      stage_counts: { pending: 0, ready: 0, running: 0, passed: 2, failed: 0, blocked: 0 },
      issue_counts: { pending: 0, ready: 0, running: 0, passed: 2, failed: 0, blocked: 0 },
      latest_checkpoint_status: "passed",
      latest_checkpoint_id: CHECKPOINT_EXAMPLE.id,
      latest_verification: "passed",
      latest_verification_success: true,
      latest_verification_artifact_id: ARTIFACT_EXAMPLE.id,
      latest_gate_verdicts: { all_issues_passed: "pass", verification_passed: "pass", token_budget: "pass", human_review: "needs_review" },
      blockers: ["gate human_review needs a person's verdict"],
      diagnostics: [],
      next_actions: [`POST /llm/factory/runs/${RUN}/gates {"gate_name":"human_review","verdict":"pass"} to approve`],
      active_room_ids: [],
      usage: RUN_EXAMPLE.usage,
    };

export const RunStatusReport = z
  .object({
    run_id: z.string(),
    status: z.enum(RUN_STATUSES),
    current_stage: z.string().nullable(),
    stage_counts: counts,
    issue_counts: counts,
    latest_checkpoint_status: z.string().nullable(),
    latest_checkpoint_id: z.string().nullable(),
    latest_verification: z.enum(["passed", "failed", "skipped"]).nullable(),
    latest_verification_success: z.boolean().nullable(),
    latest_verification_artifact_id: z.string().nullable(),
    latest_gate_verdicts: z.record(z.string(), z.enum(GATE_VERDICTS)),
    blockers: z.array(z.string()),
    diagnostics: z.array(z.string()),
    next_actions: z.array(z.string()),
    active_room_ids: z.array(z.string()),
    usage: Usage,
  })
  .openapi("FactoryRunStatus", { example: STATUS_EXAMPLE });

const oneLines = z.array(z.string());
export const REVIEW_EXAMPLE = {
      id: `review-${RUN}`,
      run_id: RUN,
      status: "completed",
      plan_summary: "2 stages, 2 issues: Draft (1), Review (1)",
      artifact_summary: ["plan v1", "issue_output v1 (Write a haiku about tea)", "issue_output v2 (Summarise the haiku)", "verification_report v1: passed"],
      checkpoint_summary: ["Draft: passed (1 issue)", "Review: passed (1 issue)"],
      issue_summary: ["Write a haiku about tea: passed", "Summarise the haiku: passed"],
      stage_summary: ["Draft: passed", "Review: passed"],
      gate_summary: ["all_issues_passed: pass", "verification_passed: pass", "token_budget: pass"],
      evidence_summary: ['Write a haiku about tea: mentions "tea" → pass (the output contains "tea")'],
      blockers: [],
      diagnostics: [],
      next_actions: [],
      open_risks: [],
    };

export const Review = z
  .object({
    id: z.string(),
    run_id: z.string(),
    status: z.enum(RUN_STATUSES),
    plan_summary: z.string(),
    artifact_summary: oneLines,
    checkpoint_summary: oneLines,
    issue_summary: oneLines,
    stage_summary: oneLines,
    gate_summary: oneLines,
    evidence_summary: oneLines,
    blockers: oneLines,
    diagnostics: oneLines,
    next_actions: oneLines,
    open_risks: oneLines,
  })
  .openapi("FactoryReview", { example: REVIEW_EXAMPLE });

export const StartResult = z
  .object({ run_id: z.string(), status: z.enum(RUN_STATUSES), completed: z.boolean(), failed: z.boolean(), actions: z.array(z.string()) })
  .openapi("FactoryStartResult", { example: { run_id: RUN, status: "planning", completed: false, failed: false, actions: ["supervisor started; it works the run in the background (follow GET /llm/factory/runs/{id}/events)"] } });

export const CancelResult = z
  .object({ run_id: z.string(), id: z.string(), status: z.literal("cancelled"), reason: z.string() })
  .openapi("FactoryCancelResult", { example: { run_id: RUN, id: RUN, status: "cancelled", reason: "changed my mind" } });

export const AdvanceResult = z
  .object({
    run_id: z.string(),
    status: z.enum(RUN_STATUSES),
    action: z.string().openapi({ description: "What this step did, in one line." }),
    kind: z.enum(["planned", "dispatched", "collected", "stage", "verified", "gated", "finished", "waiting", "idle", "failed"]),
    done: z.boolean().openapi({ description: "True when the run is in a final status (or `gated`): stepping changes nothing until a person acts." }),
  })
  .openapi("FactoryAdvanceResult", { example: { run_id: RUN, status: "running", action: "dispatched issue Write a haiku about tea to room 0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11", kind: "dispatched", done: false } });

export type AdvanceRecord = z.infer<typeof AdvanceResult>;

export const VerifyResult = z
  .object({
    run_id: z.string(),
    status: z.enum(["passed", "failed", "skipped"]),
    success: z.boolean(),
    artifact: Artifact,
    needs_review: z.array(z.string()),
  })
  .openapi("FactoryVerifyResult", {
    example: {
      run_id: RUN,
      status: "passed",
      success: true,
      needs_review: [],
      artifact: { ...ARTIFACT_EXAMPLE, artifact_type: "verification_report", producer_issue_id: null, producer_stage_id: null, payload: { status: "passed", success: true, needs_review: [] } },
    },
  });

export const GATE_CHECK_EXAMPLE = {
      run_id: RUN,
      status: "completed",
      overall: "pass",
      gates: [
        { id: "4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a", run_id: RUN, gate_name: "all_issues_passed", verdict: "pass", reasons: ["2 of 2 issues passed"], source: "evaluated", created_at: AT },
        { id: "5e6f7a8b-9c0d-4e1f-9a2b-3c4d5e6f7a8b", run_id: RUN, gate_name: "verification_passed", verdict: "pass", reasons: ["verification passed"], source: "evaluated", created_at: AT },
      ],
    };

export const GateCheckResult = z
  .object({ run_id: z.string(), status: z.enum(RUN_STATUSES), overall: z.enum(GATE_VERDICTS), gates: z.array(GateRecord) })
  .openapi("FactoryGateCheckResult", { example: GATE_CHECK_EXAMPLE });

export const RunEventRecord = z
  .object({
    id: z.string().openapi({ description: "`<run_id>:<seq>`" }),
    seq: z.number().int().openapi({ description: "Per run, strictly increasing, gap-free; the SSE `id`." }),
    run_id: z.string(),
    event_type: z.string(),
    payload: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .openapi("FactoryRunEvent", { example: { id: `${RUN}:1`, seq: 1, run_id: RUN, event_type: "run:created", payload: { status: "pending", title: "Tea poems" }, created_at: AT } });

// ---- requests -----------------------------------------------------------------------------------

export const CreateRunBody = z
  .strictObject({
    source: z.strictObject({
      kind: z.literal("prompt"),
      format: z.enum(["text", "markdown"]),
      content: z.string().min(1).openapi({ description: "The brief. Markdown: headings become stages, list items issues (see /docs/llm/factory for the syntax)." }),
    }),
    workflow_kind: z.string().min(1).max(100).optional().openapi({ description: "Free text (default `generic`); `software.delivery` turns on the human review gate." }),
    title: z.string().min(1).max(300).optional().openapi({ description: "Default: the first heading or line of the source." }),
    subject_type: z.string().min(1).max(100).optional(),
    subject_id: z.string().min(1).max(300).optional(),
    agents: z.array(ActorInput).min(1).max(8).optional().openapi({ description: "Actors of every room the run rents (default: one `local/echo` actor). The first actor's model plans and judges; `local/echo` plans and verifies by deterministic rules." }),
    human_review: z.boolean().optional().openapi({ description: "Ask for the `human_review` gate (default false)." }),
    token_budget: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().optional().openapi({ description: "The `token_budget` gate fails when the run used more tokens than this." }),
    max_in_flight: z.number().int().min(1).max(64).optional().openapi({ description: "Issues in rooms at once (default FACTORY_MAX_IN_FLIGHT, 2)." }),
  })
  .openapi("CreateFactoryRunBody", { example: { source: { kind: "prompt", format: "markdown", content: MARKDOWN_EXAMPLE }, title: "Tea poems" } });
export type CreateRunBody = z.infer<typeof CreateRunBody>;

export const CancelBody = z.strictObject({ reason: z.string().max(2000).optional() }).openapi("CancelFactoryRunBody", { example: { reason: "changed my mind" } });
export const EmptyBody = z.strictObject({}).openapi("FactoryEmptyBody", { example: {} });

export const CreateStageBody = z
  .strictObject({
    stage_name: line(300),
    depends_on: ids(64).optional().openapi({ description: "Ids of stages of this run." }),
    summary: z.string().max(20_000).optional(),
    notes: lines().optional(),
  })
  .openapi("CreateFactoryStageBody", { example: { stage_name: "Polish", depends_on: [STAGE] } });
export type CreateStageBody = z.infer<typeof CreateStageBody>;

export const PatchStageBody = z
  .strictObject({
    status: z.enum(WORK_STATUSES).optional(),
    summary: z.string().max(20_000).nullable().optional(),
    verification_summary: z.string().max(20_000).nullable().optional(),
    notes: lines().optional().openapi({ description: "Replaces the stage's notes." }),
  })
  .openapi("PatchFactoryStageBody", { example: { summary: "drafted", notes: ["looks fine"] } });
export type PatchStageBody = z.infer<typeof PatchStageBody>;

export const CreateIssueBody = z
  .strictObject({
    stage_id: z.string().min(1).max(64),
    title: line(300),
    kind: z.string().min(1).max(64).optional().openapi({ description: "Default `task`." }),
    body: z.string().min(1).max(100_000).optional().openapi({ description: "What the room is asked to do; default: the title." }),
    depends_on: ids().optional().openapi({ description: "Ids of issues of this run." }),
    acceptance_criteria: lines().optional(),
    verification_requirements: lines().optional(),
    summary: z.string().max(20_000).optional(),
    notes: lines().optional(),
  })
  .openapi("CreateFactoryIssueBody", { example: { stage_id: STAGE, title: "Add a second verse", acceptance_criteria: ['mentions "leaves"'] } });
export type CreateIssueBody = z.infer<typeof CreateIssueBody>;

export const PatchIssueBody = z
  .strictObject({
    status: z.enum(WORK_STATUSES).optional(),
    summary: z.string().max(20_000).nullable().optional(),
    notes: lines().optional().openapi({ description: "Replaces the issue's notes." }),
    acceptance_criteria: lines().optional(),
    verification_requirements: lines().optional(),
    title: line(300).optional(),
    body: z.string().min(1).max(100_000).optional(),
  })
  .openapi("PatchFactoryIssueBody", { example: { status: "ready", acceptance_criteria: ['mentions "tea"', "at least 3 lines"] } });
export type PatchIssueBody = z.infer<typeof PatchIssueBody>;

export const DispatchBody = z
  .strictObject({
    content: z.string().min(1).max(100_000).optional().openapi({ description: "The prompt for the room; default: built from the issue (title, body, acceptance criteria)." }),
    agent: z.string().min(1).max(64).optional().openapi({ description: "agent_id of one of the run's actors to answer (default: the first)." }),
  })
  .openapi("DispatchFactoryIssueBody", { example: { content: "Write a haiku about green tea." } });
export type DispatchBody = z.infer<typeof DispatchBody>;

export const CreateArtifactBody = z
  .strictObject({
    artifact_type: z.string().min(1).max(100).regex(/^[a-z][a-z0-9_.-]*$/, "lower-case letters, digits, '_', '.', '-'; starting with a letter"),
    payload: freeform("payload", 16 * 1024 * 1024),
    producer_stage_id: z.string().min(1).max(64).optional(),
    producer_issue_id: z.string().min(1).max(64).optional(),
  })
  .openapi("CreateFactoryArtifactBody", { example: { artifact_type: "design_note", payload: { text: "use short lines" } } });
export type CreateArtifactBody = z.infer<typeof CreateArtifactBody>;

export const CreateCheckpointBody = z
  .strictObject({
    status: z.string().min(1).max(64),
    stage_id: z.string().min(1).max(64).optional(),
    branch_name: z.string().max(500).optional(),
    worktree_path: z.string().max(2000).optional(),
    base_ref: z.string().max(500).optional(),
    head_sha: z.string().max(100).optional(),
    included_issue_ids: ids().optional(),
    merged_issue_ids: ids().optional(),
    conflict_issue_ids: ids().optional(),
    notes: lines().optional(),
  })
  .openapi("CreateFactoryCheckpointBody", { example: { status: "merged", branch_name: "factory/tea", head_sha: "3e1f0c2a", included_issue_ids: [ISSUE] } });
export type CreateCheckpointBody = z.infer<typeof CreateCheckpointBody>;

export const RecordGateBody = z
  .strictObject({
    gate_name: z.string().min(1).max(100).regex(/^[a-z][a-z0-9_.-]*$/, "lower-case letters, digits, '_', '.', '-'; starting with a letter"),
    verdict: z.enum(GATE_VERDICTS),
    reasons: lines(32).optional(),
  })
  .openapi("RecordFactoryGateBody", { example: { gate_name: "human_review", verdict: "pass", reasons: ["read it, ship it"] } });
export type RecordGateBody = z.infer<typeof RecordGateBody>;

// ---- params and queries -------------------------------------------------------------------------

export const RunIdParams = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: RUN }) });
export const StageParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: RUN }),
  stage_id: z.string().openapi({ param: { name: "stage_id", in: "path" }, example: STAGE }),
});
export const IssueParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: RUN }),
  issue_id: z.string().openapi({ param: { name: "issue_id", in: "path" }, example: ISSUE }),
});

const runStatusList = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const parts = s.split(",").map((p) => p.trim()).filter(Boolean);
    for (const p of parts) {
      if (!(RUN_STATUSES as readonly string[]).includes(p)) {
        ctx.addIssue({ code: "custom", message: `unknown status "${p}"; use any of ${RUN_STATUSES.join(", ")}` });
        return z.NEVER;
      }
    }
    return parts as RunStatus[];
  });

const limit = z.coerce.number().int().min(1).max(200).default(50).openapi({ type: "integer", description: "Page size, 1..200 (default 50).", example: 50 });
const cursor = z.string().max(500).optional().openapi({ description: "`meta.next_cursor` of the previous page.", example: "Mw" });

export const ListRunsQuery = z.object({
  status: runStatusList.optional().openapi({ type: "string", description: "Comma-separated statuses (default: all).", example: "running,gated" }),
  limit,
  cursor,
});
export const ListChildQuery = z.object({ limit, cursor });
