/** Factory rows to the contract's records. The only place that knows both shapes. */
import type { Actor, Usage } from "../room/room.schemas.js";
import type { Artifact, Checkpoint, GateRecord, Issue, Run, Stage } from "./factory.schemas.js";
import type { ArtifactRow, CheckpointRow, GateRow, IssueRow, RunRow, StageRow } from "./factory.store.js";

export const ZERO_USAGE: Usage = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

/** What a run's `settings` column holds. */
export interface RunSettings {
  actors: Actor[];
  human_review: boolean;
  token_budget: number | null;
  max_in_flight: number;
}

export function settingsOf(r: RunRow): RunSettings {
  return r.settings as unknown as RunSettings;
}

export function runDto(r: RunRow): Run {
  const s = settingsOf(r);
  return {
    id: r.id,
    run_id: r.id,
    status: r.status as Run["status"],
    workflow_kind: r.workflowKind,
    title: r.title,
    source_brief: r.sourceBrief,
    source: r.source as Run["source"],
    subject_type: r.subjectType,
    subject_id: r.subjectId,
    current_stage: r.currentStage,
    active_room_ids: r.activeRoomIds,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    cancel_reason: r.cancelReason,
    plan_summary: r.planSummary,
    human_review: s.human_review,
    token_budget: s.token_budget,
    max_in_flight: s.max_in_flight,
    actors: s.actors,
    usage: (r.usage as Usage) ?? ZERO_USAGE,
    diagnostics: r.diagnostics,
    version: r.version,
  };
}

export function stageDto(s: StageRow): Stage {
  return {
    id: s.id,
    run_id: s.runId,
    key: s.key,
    stage_name: s.stageName,
    status: s.status as Stage["status"],
    depends_on: s.dependsOn,
    assigned_room_id: s.assignedRoomId,
    summary: s.summary,
    verification_summary: s.verificationSummary,
    notes: s.notes,
    version: s.version,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

export function issueDto(i: IssueRow): Issue {
  return {
    id: i.id,
    run_id: i.runId,
    stage_id: i.stageId,
    key: i.key,
    title: i.title,
    kind: i.kind,
    body: i.body,
    status: i.status as Issue["status"],
    depends_on: i.dependsOn,
    acceptance_criteria: i.acceptanceCriteria,
    verification_requirements: i.verificationRequirements,
    assigned_room_id: i.assignedRoomId,
    attempts: i.attempts,
    summary: i.summary,
    notes: i.notes,
    verdicts: i.verdicts as Issue["verdicts"],
    version: i.version,
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  };
}

export function artifactDto(a: ArtifactRow): Artifact {
  return {
    id: a.id,
    run_id: a.runId,
    artifact_type: a.artifactType,
    version: a.version,
    producer_stage_id: a.producerStageId,
    producer_issue_id: a.producerIssueId,
    payload: a.payload,
    created_at: a.createdAt,
  };
}

export function checkpointDto(c: CheckpointRow): Checkpoint {
  return {
    id: c.id,
    run_id: c.runId,
    stage_id: c.stageId,
    status: c.status,
    branch_name: c.branchName,
    worktree_path: c.worktreePath,
    base_ref: c.baseRef,
    head_sha: c.headSha,
    included_issue_ids: c.includedIssueIds,
    merged_issue_ids: c.mergedIssueIds,
    conflict_issue_ids: c.conflictIssueIds,
    notes: c.notes,
    created_at: c.createdAt,
  };
}

export function gateDto(g: GateRow): GateRecord {
  return {
    id: g.id,
    run_id: g.runId,
    gate_name: g.gateName,
    verdict: g.verdict as GateRecord["verdict"],
    reasons: g.reasons,
    source: g.source as GateRecord["source"],
    created_at: g.createdAt,
  };
}
