/**
 * The run event catalogue: for every event type a factory run writes, when,
 * the shape of its payload (zod, so the OpenAPI document and the docs page
 * share one definition) and an example. Payloads are open objects: the
 * server may add fields, clients ignore what they do not know.
 */
import { z } from "@hono/zod-openapi";
import type { RunEventType } from "../factory/factory.events.js";

const RUN = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const STAGE = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
const ISSUE = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const ROOM = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
const MESSAGE = "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7";
const ARTIFACT = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e";

const statusChange = (what: string) =>
  z.looseObject({
    status: z.string().openapi({ description: `The ${what}'s new status.` }),
    from: z.string().nullable().openapi({ description: "The status before." }),
    reason: z.string().optional().openapi({ description: "Why, in plain words." }),
  });

interface RunEventDoc {
  when: string;
  payload: z.ZodType;
  example: Record<string, unknown>;
}

export const RUN_EVENT_CATALOGUE: Record<RunEventType, RunEventDoc> = {
  "run:created": {
    when: "The run was created (always seq 1), status `pending`.",
    payload: z.looseObject({ status: z.string(), title: z.string(), workflow_kind: z.string() }),
    example: { status: "pending", title: "Tea poems", workflow_kind: "generic" },
  },
  "run:started": {
    when: "`POST /start` asked the supervisor to work the run (again, after a gate or a manual change).",
    payload: z.looseObject({ by: z.string().openapi({ description: "`sub` of the caller." }) }),
    example: { by: "alice" },
  },
  "run:status": {
    when: "The run's status changed (`planning`, `running`, `gated`, `completed`, `failed`, `cancelled`).",
    payload: statusChange("run"),
    example: { status: "running", from: "planning" },
  },
  "run:planned": {
    when: "The source became a plan: its stages and issues are stored in the same transaction, and a `plan` artifact.",
    payload: z.looseObject({
      planner: z.enum(["rules", "model"]).openapi({ description: "`rules`: the deterministic markdown planner (`local/echo`); `model`: the run's model, through a validated tool call." }),
      attempts: z.number().int(),
      stages: z.number().int(),
      issues: z.number().int(),
      plan_summary: z.string(),
    }),
    example: { planner: "rules", attempts: 1, stages: 2, issues: 2, plan_summary: "2 stages, 2 issues: Draft (1), Review (1)" },
  },
  "stage:created": {
    when: "A stage was stored (by the planner or `POST /stages`).",
    payload: z.looseObject({ stage_id: z.string(), stage_name: z.string(), depends_on: z.array(z.string()) }),
    example: { stage_id: STAGE, stage_name: "Draft", depends_on: [] },
  },
  "stage:status": {
    when: "A stage's status changed: `running` when one of its issues is dispatched, `passed` when all its issues passed, `failed` or `blocked` when one of them did.",
    payload: statusChange("stage").extend({ stage_id: z.string(), stage_name: z.string() }),
    example: { stage_id: STAGE, stage_name: "Draft", status: "passed", from: "running" },
  },
  "stage:updated": {
    when: "`PATCH /stages/{stage_id}` changed the stage.",
    payload: z.looseObject({ stage_id: z.string(), changes: z.array(z.string()), version: z.number().int() }),
    example: { stage_id: STAGE, changes: ["summary"], version: 3 },
  },
  "issue:created": {
    when: "An issue was stored (by the planner or `POST /issues`).",
    payload: z.looseObject({ issue_id: z.string(), stage_id: z.string(), title: z.string(), depends_on: z.array(z.string()) }),
    example: { issue_id: ISSUE, stage_id: STAGE, title: "Write a haiku about tea", depends_on: [] },
  },
  "issue:status": {
    when: "An issue's status changed: `ready` when its dependencies passed, `running` when dispatched, `passed`/`failed` after its output was checked, `blocked` when a dependency failed, back to `ready` before a retry.",
    payload: statusChange("issue").extend({ issue_id: z.string(), title: z.string() }),
    example: { issue_id: ISSUE, title: "Write a haiku about tea", status: "passed", from: "running" },
  },
  "issue:updated": {
    when: "`PATCH /issues/{issue_id}` changed the issue.",
    payload: z.looseObject({ issue_id: z.string(), changes: z.array(z.string()), version: z.number().int() }),
    example: { issue_id: ISSUE, changes: ["acceptance_criteria"], version: 4 },
  },
  "issue:dispatched": {
    when: "The issue was sent to a room: the room was rented, its task message stored and the issue marked `running`, all in one transaction.",
    payload: z.looseObject({
      issue_id: z.string(),
      room_id: z.string(),
      message_id: z.string().openapi({ description: "The task message in the room." }),
      attempt: z.number().int().openapi({ description: "1 for the first dispatch, counting up on retries." }),
      by: z.enum(["supervisor", "caller"]),
    }),
    example: { issue_id: ISSUE, room_id: ROOM, message_id: MESSAGE, attempt: 1, by: "supervisor" },
  },
  "issue:checked": {
    when: "The issue's room turn ended and its output was checked against the acceptance criteria.",
    payload: z.looseObject({
      issue_id: z.string(),
      turn_status: z.string().openapi({ description: "How the room turn ended: completed | failed | interrupted | cancelled." }),
      verdicts: z.array(z.looseObject({ criterion: z.string(), verdict: z.string(), reason: z.string() })),
      usage: z.looseObject({ totalTokens: z.number() }),
    }),
    example: { issue_id: ISSUE, turn_status: "completed", verdicts: [{ criterion: 'mentions "tea"', verdict: "pass", reason: 'the output contains "tea"' }], usage: { input: 20, output: 11, totalTokens: 31, cost: { total: 0 } } },
  },
  "artifact:created": {
    when: "An artifact was stored: `plan`, `issue_output`, `verification_report`, or one a caller recorded.",
    payload: z.looseObject({ artifact_id: z.string(), artifact_type: z.string(), version: z.number().int(), producer_stage_id: z.string().nullable(), producer_issue_id: z.string().nullable() }),
    example: { artifact_id: ARTIFACT, artifact_type: "issue_output", version: 1, producer_stage_id: STAGE, producer_issue_id: ISSUE },
  },
  "checkpoint:created": {
    when: "A checkpoint was stored: by the supervisor when a stage's issues all passed, or by a caller.",
    payload: z.looseObject({ checkpoint_id: z.string(), stage_id: z.string().nullable(), status: z.string() }),
    example: { checkpoint_id: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", stage_id: STAGE, status: "passed" },
  },
  "verification:completed": {
    when: "The run was verified (by the supervisor once every issue ended, or by `POST /verify`); a `verification_report` artifact holds the details.",
    payload: z.looseObject({ artifact_id: z.string(), status: z.enum(["passed", "failed", "skipped"]), success: z.boolean(), needs_review: z.array(z.string()) }),
    example: { artifact_id: ARTIFACT, status: "passed", success: true, needs_review: [] },
  },
  "gate:verdict": {
    when: "A gate verdict was stored: evaluated by gate-check, or recorded by `POST /gates`.",
    payload: z.looseObject({ gate_name: z.string(), verdict: z.string(), reasons: z.array(z.string()), source: z.enum(["evaluated", "recorded"]) }),
    example: { gate_name: "all_issues_passed", verdict: "pass", reasons: ["2 of 2 issues passed"], source: "evaluated" },
  },
  "run:finished": {
    when: "The run reached a final status (`completed`, `failed` or `cancelled`); the last event of its stream.",
    payload: z.looseObject({ status: z.string(), reason: z.string().nullable() }),
    example: { status: "completed", reason: null },
  },
};

