/**
 * The run's state machine as transaction steps, like room.lifecycle.ts for
 * rooms: each function runs inside a `RunLog` transaction, changes rows and
 * emits the events of one transition, so a transition is wholly durable or
 * not at all. No awaits, no timers, no model calls here; the supervisor and
 * the service call these and do their effects (rooms, models) outside.
 */
import { randomUUID } from "node:crypto";
import { addUsage } from "../room/room.lifecycle.js";
import type { Usage } from "../room/room.schemas.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { ZERO_USAGE, settingsOf } from "./factory.dto.js";
import { evaluateGates, overallVerdict } from "./factory.gates.js";
import type { CriterionVerdict, GateVerdict, Plan } from "./factory.brains.types.js";
import type { RunTx } from "./factory.log.js";
import type { RunStatus, WorkStatus } from "./factory.schemas.js";
import { FINAL_RUN_STATUSES } from "./factory.schemas.js";
import {
  artifactsOf,
  findRun,
  gatesOf,
  insertArtifact,
  insertCheckpoint,
  insertGate,
  insertIssue,
  insertStage,
  issuesOf,
  latestArtifact,
  nextOrd,
  stageHasCheckpoint,
  stagesOf,
  updateIssue,
  updateRun,
  updateStage,
  type ArtifactRow,
  type IssueRow,
  type RunRow,
  type StageRow,
} from "./factory.store.js";

export const VERIFICATION_REPORT = "verification_report";
export const ISSUE_OUTPUT = "issue_output";
export const PLAN_ARTIFACT = "plan";

export function isFinal(status: string): boolean {
  return (FINAL_RUN_STATUSES as readonly string[]).includes(status);
}

export function mustRun(t: TenantDb, id: string): RunRow {
  const run = findRun(t, id);
  if (!run) throw new Error(`run ${id} vanished inside its transaction`);
  return run;
}

/** Changes the run's status with its `run:status` event (and `run:finished` when final). */
export function setRunStatus(t: TenantDb, tx: RunTx, run: RunRow, status: RunStatus, reason?: string, extra: Partial<RunRow> = {}): RunRow {
  if (run.status === status && Object.keys(extra).length === 0) return run;
  const final = isFinal(status);
  const updated = updateRun(t, run.id, {
    ...extra,
    status,
    ...(final ? { started: false } : {}),
    version: run.version + 1,
    updatedAt: tx.nowIso,
  });
  if (run.status !== status) {
    tx.emit(run.id, { event_type: "run:status", payload: { status, from: run.status, ...(reason ? { reason } : {}) } });
    if (final) tx.emit(run.id, { event_type: "run:finished", payload: { status, reason: reason ?? null } });
  }
  return updated;
}

export function touchRun(t: TenantDb, tx: RunTx, run: RunRow, changes: Partial<RunRow> = {}): RunRow {
  return updateRun(t, run.id, { ...changes, version: run.version + 1, updatedAt: tx.nowIso });
}

export function addRunUsage(t: TenantDb, tx: RunTx, runId: string, usage: Usage): RunRow {
  const run = mustRun(t, runId);
  return touchRun(t, tx, run, { usage: addUsage((run.usage as Usage) ?? ZERO_USAGE, usage) });
}

export function setIssueStatus(t: TenantDb, tx: RunTx, issue: IssueRow, status: WorkStatus, reason?: string, extra: Partial<IssueRow> = {}): IssueRow {
  const updated = updateIssue(t, issue.id, { ...extra, status, version: issue.version + 1, updatedAt: tx.nowIso });
  if (issue.status !== status) {
    tx.emit(issue.runId, { event_type: "issue:status", payload: { issue_id: issue.id, title: issue.title, status, from: issue.status, ...(reason ? { reason } : {}) } });
  }
  return updated;
}

export function storeArtifact(
  t: TenantDb,
  tx: RunTx,
  runId: string,
  a: { artifactType: string; payload: unknown; producerStageId?: string | null; producerIssueId?: string | null },
): ArtifactRow {
  const row = insertArtifact(t, {
    id: randomUUID(),
    runId,
    ord: nextOrd(t, runId),
    artifactType: a.artifactType,
    producerStageId: a.producerStageId ?? null,
    producerIssueId: a.producerIssueId ?? null,
    payload: a.payload,
    createdAt: tx.nowIso,
  });
  tx.emit(runId, {
    event_type: "artifact:created",
    payload: { artifact_id: row.id, artifact_type: row.artifactType, version: row.version, producer_stage_id: row.producerStageId, producer_issue_id: row.producerIssueId },
  });
  return row;
}

/** Stores a plan's stages and issues (keys resolved to ids) and the `plan` artifact; the run goes `running`. */
export function storePlan(t: TenantDb, tx: RunTx, run: RunRow, plan: Plan, meta: { planner: "rules" | "model"; attempts: number }): RunRow {
  const stageIds = new Map<string, string>();
  const issueIds = new Map<string, string>();
  for (const s of plan.stages) {
    stageIds.set(s.key, randomUUID());
    for (const i of s.issues) issueIds.set(i.key, randomUUID());
  }
  let issues = 0;
  for (const s of plan.stages) {
    const stage = insertStage(t, {
      id: stageIds.get(s.key)!,
      runId: run.id,
      ord: nextOrd(t, run.id),
      key: s.key,
      stageName: s.stage_name,
      status: "pending",
      dependsOn: s.depends_on.map((k) => stageIds.get(k)!).filter(Boolean),
      assignedRoomId: null,
      summary: null,
      verificationSummary: null,
      notes: [],
      version: 1,
      createdAt: tx.nowIso,
      updatedAt: tx.nowIso,
    });
    tx.emit(run.id, { event_type: "stage:created", payload: { stage_id: stage.id, stage_name: stage.stageName, depends_on: stage.dependsOn } });
    for (const i of s.issues) {
      const issue = insertIssue(t, {
        id: issueIds.get(i.key)!,
        runId: run.id,
        stageId: stage.id,
        ord: nextOrd(t, run.id),
        key: i.key,
        title: i.title,
        kind: i.kind,
        body: i.body,
        status: "pending",
        dependsOn: i.depends_on.map((k) => issueIds.get(k)!).filter(Boolean),
        acceptanceCriteria: i.acceptance_criteria,
        verificationRequirements: i.verification_requirements,
        assignedRoomId: null,
        dispatchMessageId: null,
        attempts: 0,
        summary: null,
        notes: [],
        verdicts: [],
        version: 1,
        createdAt: tx.nowIso,
        updatedAt: tx.nowIso,
      });
      issues++;
      tx.emit(run.id, { event_type: "issue:created", payload: { issue_id: issue.id, stage_id: stage.id, title: issue.title, depends_on: issue.dependsOn } });
    }
  }
  storeArtifact(t, tx, run.id, { artifactType: PLAN_ARTIFACT, payload: { planner: meta.planner, attempts: meta.attempts, plan } });
  tx.emit(run.id, { event_type: "run:planned", payload: { planner: meta.planner, attempts: meta.attempts, stages: plan.stages.length, issues, plan_summary: plan.summary } });
  const updated = setRunStatus(t, tx, mustRun(t, run.id), "running", undefined, { planSummary: plan.summary });
  settle(t, tx, run.id);
  return mustRun(t, updated.id);
}

function stageStatusFrom(issues: IssueRow[], current: string): WorkStatus {
  if (issues.length === 0) return current as WorkStatus;
  const has = (s: string) => issues.some((i) => i.status === s);
  if (issues.every((i) => i.status === "passed")) return "passed";
  if (has("failed")) return "failed";
  if (has("running")) return "running";
  if (has("blocked") && !has("ready") && !has("pending")) return "blocked";
  if (has("ready")) return "ready";
  if (has("blocked")) return "blocked";
  return current === "running" ? "ready" : "pending";
}

/**
 * Derived state, recomputed in every transaction that changes an issue:
 * pending issues whose dependencies (their own and their stage's) all passed
 * become `ready`, those with a failed or blocked dependency `blocked`;
 * stages follow their issues; a stage whose issues all passed gets its
 * checkpoint; `current_stage` is the first stage not passed.
 */
export function settle(t: TenantDb, tx: RunTx, runId: string): void {
  let stages = stagesOf(t, runId);
  let issues = issuesOf(t, runId);
  for (let changed = true; changed; ) {
    changed = false;
    const issueById = new Map(issues.map((i) => [i.id, i]));
    const stageById = new Map(stages.map((s) => [s.id, s]));
    for (const issue of issues) {
      if (issue.status !== "pending" && issue.status !== "ready") continue;
      const stage = stageById.get(issue.stageId);
      const depIssues = issue.dependsOn.map((id) => issueById.get(id)).filter((x): x is IssueRow => x !== undefined);
      const depStageIssues = (stage?.dependsOn ?? []).flatMap((sid) => issues.filter((i) => i.stageId === sid));
      const deps = [...depIssues, ...depStageIssues];
      const broken = deps.find((d) => d.status === "failed" || d.status === "blocked");
      let next: WorkStatus | null = null;
      let reason: string | undefined;
      if (broken) {
        next = "blocked";
        reason = `depends on "${broken.title}", which is ${broken.status}`;
      } else if (issue.status === "pending" && deps.every((d) => d.status === "passed")) next = "ready";
      if (next && next !== issue.status) {
        const updated = setIssueStatus(t, tx, issue, next, reason);
        issues = issues.map((i) => (i.id === updated.id ? updated : i));
        changed = true;
      }
    }
  }
  for (const stage of stages) {
    const own = issues.filter((i) => i.stageId === stage.id);
    const status = stageStatusFrom(own, stage.status);
    if (status !== stage.status) {
      const updated = updateStage(t, stage.id, { status, version: stage.version + 1, updatedAt: tx.nowIso });
      tx.emit(runId, { event_type: "stage:status", payload: { stage_id: stage.id, stage_name: stage.stageName, status, from: stage.status } });
      stages = stages.map((s) => (s.id === updated.id ? updated : s));
      if (status === "passed" && !stageHasCheckpoint(t, runId, stage.id)) writeStageCheckpoint(t, tx, runId, updated, own);
    }
  }
  const run = mustRun(t, runId);
  const current = stages.find((s) => s.status !== "passed")?.stageName ?? null;
  if (current !== run.currentStage) touchRun(t, tx, run, { currentStage: current });
}

function writeStageCheckpoint(t: TenantDb, tx: RunTx, runId: string, stage: StageRow, issues: IssueRow[]): void {
  const ids = issues.map((i) => i.id);
  const row = insertCheckpoint(t, {
    id: randomUUID(),
    runId,
    ord: nextOrd(t, runId),
    stageId: stage.id,
    status: "passed",
    branchName: "",
    worktreePath: "",
    baseRef: "",
    headSha: "",
    includedIssueIds: ids,
    mergedIssueIds: ids,
    conflictIssueIds: [],
    notes: [`stage ${stage.stageName}: all ${ids.length} issue(s) passed`],
    createdAt: tx.nowIso,
  });
  tx.emit(runId, { event_type: "checkpoint:created", payload: { checkpoint_id: row.id, stage_id: stage.id, status: row.status } });
}

/** A fingerprint of the issues' state: a verification is current while it matches. */
export function issueBasis(issues: IssueRow[]): string {
  return issues.map((i) => `${i.id}:${i.version}`).join(",");
}

export interface VerificationSummary {
  status: "passed" | "failed" | "skipped";
  success: boolean;
  needs_review: string[];
  issues: { issue_id: string; title: string; status: string; verdicts: CriterionVerdict[] }[];
}

/**
 * The run's verification from its issues' stored per-criterion verdicts:
 * `failed` when an issue did not pass or a criterion failed, `skipped` when
 * no issue has a criterion, else `passed` (with the criteria that need a
 * person listed in `needs_review`, which the verification gate turns into
 * `needs_review`).
 */
export function summariseVerification(issues: IssueRow[]): VerificationSummary {
  const perIssue = issues.map((i) => ({ issue_id: i.id, title: i.title, status: i.status, verdicts: i.verdicts as unknown as CriterionVerdict[] }));
  const all = perIssue.flatMap((i) => i.verdicts.map((v) => ({ ...v, title: i.title })));
  const needsReview = all.filter((v) => v.verdict === "needs_review").map((v) => `${v.title}: ${v.criterion}`);
  const failed = issues.some((i) => i.status !== "passed") || all.some((v) => v.verdict === "fail");
  const status = failed ? "failed" : all.length === 0 ? "skipped" : "passed";
  return { status, success: status !== "failed" && needsReview.length === 0, needs_review: needsReview, issues: perIssue };
}

/** Writes the `verification_report` artifact and `verification:completed`. */
export function writeVerification(t: TenantDb, tx: RunTx, runId: string): { artifact: ArtifactRow; summary: VerificationSummary } {
  const issues = issuesOf(t, runId);
  const summary = summariseVerification(issues);
  const artifact = storeArtifact(t, tx, runId, { artifactType: VERIFICATION_REPORT, payload: { ...summary, basis: issueBasis(issues) } });
  const stages = stagesOf(t, runId);
  for (const stage of stages) {
    const own = summary.issues.filter((i) => issues.find((x) => x.id === i.issue_id)?.stageId === stage.id);
    const verdicts = own.flatMap((i) => i.verdicts);
    const line = `${verdicts.filter((v) => v.verdict === "pass").length} pass, ${verdicts.filter((v) => v.verdict === "fail").length} fail, ${verdicts.filter((v) => v.verdict === "needs_review").length} need review`;
    if (stage.verificationSummary !== line) updateStage(t, stage.id, { verificationSummary: line, version: stage.version + 1, updatedAt: tx.nowIso });
  }
  tx.emit(runId, { event_type: "verification:completed", payload: { artifact_id: artifact.id, status: summary.status, success: summary.success, needs_review: summary.needs_review } });
  return { artifact, summary };
}

/** Whether the newest verification report still describes the issues as they are. */
export function verificationIsCurrent(t: TenantDb, runId: string): ArtifactRow | null {
  const latest = latestArtifact(t, runId, VERIFICATION_REPORT);
  if (!latest) return null;
  const basis = (latest.payload as { basis?: string } | null)?.basis;
  return basis === issueBasis(issuesOf(t, runId)) ? latest : null;
}

/** The newest verdict per gate, recorded ones separately (they win for their gate). */
export function latestGates(t: TenantDb, runId: string): { latest: Map<string, { verdict: GateVerdict; reasons: string[]; source: string; created_at: string; ord: number }>; recorded: Record<string, GateVerdict> } {
  const latest = new Map<string, { verdict: GateVerdict; reasons: string[]; source: string; created_at: string; ord: number }>();
  const recorded: Record<string, GateVerdict> = {};
  for (const g of gatesOf(t, runId)) {
    latest.set(g.gateName, { verdict: g.verdict as GateVerdict, reasons: g.reasons, source: g.source, created_at: g.createdAt, ord: g.ord });
    if (g.source === "recorded") recorded[g.gateName] = g.verdict as GateVerdict;
  }
  return { latest, recorded };
}

export function recordGate(t: TenantDb, tx: RunTx, runId: string, g: { gate_name: string; verdict: GateVerdict; reasons: string[]; source: "evaluated" | "recorded"; by: string }) {
  const row = insertGate(t, {
    id: randomUUID(),
    runId,
    ord: nextOrd(t, runId),
    gateName: g.gate_name,
    verdict: g.verdict,
    reasons: g.reasons,
    source: g.source,
    createdBy: g.by,
    createdAt: tx.nowIso,
  });
  tx.emit(runId, { event_type: "gate:verdict", payload: { gate_name: g.gate_name, verdict: g.verdict, reasons: g.reasons, source: g.source } });
  return row;
}

/**
 * Evaluates the built-in gates from the stored state, stores each verdict,
 * and returns the overall verdict. Needs a verification; the caller writes
 * one first when none is current.
 */
export function checkGates(t: TenantDb, tx: RunTx, runId: string, by: string) {
  const run = mustRun(t, runId);
  const s = settingsOf(run);
  const issues = issuesOf(t, runId);
  const current = verificationIsCurrent(t, runId);
  const summary = current ? (current.payload as unknown as VerificationSummary) : null;
  const { recorded } = latestGates(t, runId);
  const results = evaluateGates({
    issues: issues.map((i) => ({ id: i.id, title: i.title, status: i.status })),
    verification: { status: summary?.status ?? null, needs_review: summary?.needs_review ?? [] },
    usage: { totalTokens: ((run.usage as Usage) ?? ZERO_USAGE).totalTokens },
    tokenBudget: s.token_budget,
    humanReview: s.human_review,
    recorded,
  });
  const rows = results.map((r) => recordGate(t, tx, runId, { gate_name: r.gate_name, verdict: r.verdict, reasons: r.reasons, source: "evaluated", by }));
  return { overall: overallVerdict(results), rows };
}

/** Moves a run that was just gate-checked to where its overall verdict says: completed, failed or gated. */
export function concludeRun(t: TenantDb, tx: RunTx, runId: string, overall: GateVerdict): RunRow {
  const run = mustRun(t, runId);
  if (isFinal(run.status)) return run;
  if (overall === "pass") return setRunStatus(t, tx, run, "completed", "every gate passed");
  if (overall === "fail") return setRunStatus(t, tx, run, "failed", "a gate failed; see the run's status for blockers");
  return setRunStatus(t, tx, run, "gated", "a gate needs a person's verdict");
}

export function artifactsByIssue(t: TenantDb, runId: string): Map<string, ArtifactRow[]> {
  const map = new Map<string, ArtifactRow[]>();
  for (const a of artifactsOf(t, runId)) {
    if (!a.producerIssueId) continue;
    let list = map.get(a.producerIssueId);
    if (!list) map.set(a.producerIssueId, (list = []));
    list.push(a);
  }
  return map;
}
