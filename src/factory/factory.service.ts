/**
 * The factory verbs behind /llm/factory/runs. Each verb checks the rule it
 * needs, writes in one RunLog transaction (durable, then published), and
 * only after commit touches the supervisor or rooms. Services never import
 * hono: they take a tenant-bound handle and the caller's principal, and
 * throw AppError.
 */
import { randomUUID } from "node:crypto";
import { actorId, authorize, type Actor as Caller } from "../auth/actor.js";
import { AppError } from "../errors.js";
import { resolveActors, type ModelCatalog } from "../room/room.service.js";
import type { SseSource } from "../sse/sse.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { buildReview, buildStatusAdvice } from "./factory.report.js";
import type { GateVerdictRecordInput } from "./factory.brains.types.js";
import { artifactDto, checkpointDto, gateDto, issueDto, runDto, settingsOf, stageDto, ZERO_USAGE, type RunSettings } from "./factory.dto.js";
import type { RunEvent } from "./factory.events.js";
import type { RunLog } from "./factory.log.js";
import {
  checkGates,
  concludeRun,
  isFinal,
  latestGates,
  mustRun,
  recordGate,
  setIssueStatus,
  setRunStatus,
  settle,
  storeArtifact,
  touchRun,
  verificationIsCurrent,
  VERIFICATION_REPORT,
  writeVerification,
  type VerificationSummary,
} from "./factory.machine.js";
import type {
  AdvanceRecord,
  Artifact,
  Checkpoint,
  CreateArtifactBody,
  CreateCheckpointBody,
  CreateIssueBody,
  CreateRunBody,
  CreateStageBody,
  DispatchBody,
  GateRecord,
  Issue,
  PatchIssueBody,
  PatchStageBody,
  RecordGateBody,
  Run,
  RunStatus,
  Stage,
  WorkStatus,
} from "./factory.schemas.js";
import {
  artifactsOf,
  checkpointsOf,
  countIssues,
  countUnfinishedRuns,
  findIssue,
  findRun,
  findStage,
  insertCheckpoint,
  insertIssue,
  insertRun,
  insertStage,
  issuesOf,
  latestArtifact,
  listRuns,
  nextOrd,
  stagesOf,
  updateIssue,
  updateStage,
  type RunRow,
} from "./factory.store.js";
import type { Supervisor } from "./factory.supervisor.js";

export interface FactoryLimits {
  maxIssuesPerRun: number;
  maxArtifactBytes: number;
  maxActiveRunsPerTenant: number;
  maxSourceChars: number;
  maxInFlight: number;
  maxAttempts: number;
  maxFollowersPerRun: number;
}

export interface FactoryServiceDeps {
  log: RunLog;
  supervisor: Supervisor;
  catalog: ModelCatalog;
  holdTenant: (tenant: string) => () => void;
  limits: FactoryLimits;
}

/** A verb's context: the tenant's file and who acts (a token's user, or the system). */
export interface FactoryCtx {
  tdb: TenantDb;
  actor: Caller;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const BASE = "/llm/factory/runs";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function badCursor(): AppError {
  return new AppError("VALIDATION_FAILED", "cursor is not valid; pass meta.next_cursor from the previous page unchanged", { details: [{ path: "cursor", message: "invalid cursor" }] });
}

function encode(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

function decodeOrd(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  } catch {
    // fall through
  }
  throw badCursor();
}

function decodeRunCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return { createdAt: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw badCursor();
}

function pageByOrd<R extends { ord: number }, T>(rows: R[], limit: number, map: (r: R) => T): Page<T> {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(map), nextCursor: rows.length > limit && last ? encode(last.ord) : null };
}

/** A short one-line digest of the source: its first heading or line, then the first item. */
export function sourceBrief(content: string): string {
  const lines = content
    .split("\n")
    .map((l) => l.replace(/^\s*(?:#+|[-*+]|\d+[.)])\s*/, "").trim())
    .filter(Boolean);
  const brief = lines.slice(0, 2).join(": ");
  return brief.length > 120 ? `${brief.slice(0, 119)}…` : brief;
}

function titleOf(content: string): string {
  const heading = /^\s*#+\s*(.+)$/m.exec(content)?.[1]?.trim();
  const first = heading ?? content.split("\n").map((l) => l.trim()).find(Boolean) ?? "factory run";
  return first.length > 120 ? `${first.slice(0, 119)}…` : first;
}

function countsOf(items: { status: string }[]): Record<WorkStatus, number> {
  const c: Record<WorkStatus, number> = { pending: 0, ready: 0, running: 0, passed: 0, failed: 0, blocked: 0 };
  for (const i of items) if (i.status in c) c[i.status as WorkStatus]++;
  return c;
}

export class FactoryService {
  readonly #d: FactoryServiceDeps;
  readonly #followers = new Map<string, number>();

  constructor(deps: FactoryServiceDeps) {
    this.#d = deps;
  }

  #runOr404(t: TenantDb, id: string): RunRow {
    const run = UUID_RE.test(id) ? findRun(t, id) : undefined;
    if (!run) throw new AppError("RUN_NOT_FOUND", "no such factory run for this tenant (ids are never shared across tenants); list yours with GET /llm/factory/runs");
    return run;
  }

  #openRun(t: TenantDb, id: string): RunRow {
    const run = this.#runOr404(t, id);
    if (isFinal(run.status)) throw new AppError("RUN_FINISHED", `the run is ${run.status}; it takes no more work (create a new run with POST ${BASE})`);
    return run;
  }

  // ---- runs -------------------------------------------------------------------------------------

  /** POST /: a new run in `pending`, with `run:created` as its first event. */
  create(ctx: FactoryCtx, body: CreateRunBody): Run {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    const { tdb } = ctx;
    const limits = this.#d.limits;
    if (body.source.content.length > limits.maxSourceChars) {
      throw new AppError("SOURCE_TOO_LARGE", `source.content is ${body.source.content.length} characters; a run's source may have at most ${limits.maxSourceChars} (FACTORY_MAX_SOURCE_CHARS): split the brief into several runs`, {
        details: [{ path: "source.content", message: "too long" }],
      });
    }
    const actors = resolveActors(this.#d.catalog, body.agents);
    const workflowKind = body.workflow_kind ?? "generic";
    const settings: RunSettings = {
      actors,
      human_review: body.human_review ?? workflowKind === "software.delivery",
      token_budget: body.token_budget ?? null,
      max_in_flight: body.max_in_flight ?? limits.maxInFlight,
    };
    return this.#d.log.transaction(tdb, (tx) => {
      if (countUnfinishedRuns(tdb) >= limits.maxActiveRunsPerTenant) {
        throw new AppError("ACTIVE_RUN_LIMIT", `this tenant already has ${limits.maxActiveRunsPerTenant} factory runs that are not finished (FACTORY_MAX_ACTIVE_RUNS_PER_TENANT); wait for one or cancel one with POST ${BASE}/{id}/cancel`, {
          retryAfterS: 60,
        });
      }
      const id = randomUUID();
      const title = body.title ?? titleOf(body.source.content);
      const row = insertRun(tdb, {
        id,
        status: "pending",
        workflowKind,
        title,
        sourceBrief: sourceBrief(body.source.content),
        source: { kind: body.source.kind, format: body.source.format, content: body.source.content },
        subjectType: body.subject_type ?? null,
        subjectId: body.subject_id ?? null,
        currentStage: null,
        activeRoomIds: [],
        settings: settings as unknown as Record<string, unknown>,
        planSummary: null,
        diagnostics: [],
        usage: ZERO_USAGE,
        cancelReason: null,
        started: false,
        version: 1,
        createdBy: actorId(ctx.actor),
        createdAt: tx.nowIso,
        updatedAt: tx.nowIso,
      });
      tx.emit(id, { event_type: "run:created", payload: { status: "pending", title, workflow_kind: workflowKind } });
      return runDto(row);
    });
  }

  get(ctx: FactoryCtx, id: string): Run {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    return runDto(this.#runOr404(ctx.tdb, id));
  }

  list(ctx: FactoryCtx, q: { status?: RunStatus[] | undefined; limit: number; cursor?: string | undefined }): Page<Run> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const rows = listRuns(ctx.tdb, { statuses: q.status && q.status.length > 0 ? q.status : null, limit: q.limit + 1, before: q.cursor ? decodeRunCursor(q.cursor) : null });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map(runDto), nextCursor: rows.length > q.limit && last ? encode([last.createdAt, last.id]) : null };
  }

  /** POST /start: marks the run started (pending → planning) and wakes its supervisor, which works in the background. */
  start(ctx: FactoryCtx, id: string): { run_id: string; status: RunStatus; completed: boolean; failed: boolean; actions: string[] } {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    const { tdb } = ctx;
    const actions: string[] = [];
    const run = this.#d.log.transaction(tdb, (tx) => {
      const run = this.#openRun(tdb, id);
      let next = run;
      if (!run.started) {
        next = touchRun(tdb, tx, run, { started: true });
        tx.emit(id, { event_type: "run:started", payload: { by: actorId(ctx.actor) } });
      }
      if (next.status === "pending") next = setRunStatus(tdb, tx, next, "planning");
      return next;
    });
    const result = { run_id: id, status: run.status as RunStatus, completed: run.status === "completed", failed: run.status === "failed", actions };
    if (run.status === "gated") {
      actions.push(`the run waits for a gate verdict: POST ${BASE}/${id}/gates {"gate_name":"human_review","verdict":"pass"} (or the gate named in GET ${BASE}/${id}/status)`);
      return result;
    }
    this.#d.supervisor.kick(tdb.tenant, id);
    actions.push(`supervisor started: the run is ${run.status} and works in the background; follow GET ${BASE}/${id}/events or poll GET ${BASE}/${id}/status`);
    return result;
  }

  /** POST /cancel: durable `cancelled` first, then the loop stops and every room of the run is interrupted and released. Idempotent. */
  async cancel(ctx: FactoryCtx, id: string, reason: string | undefined): Promise<{ run_id: string; id: string; status: "cancelled"; reason: string }> {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    const { tdb } = ctx;
    const existing = this.#runOr404(tdb, id);
    if (existing.status === "cancelled") {
      await this.#d.supervisor.releaseAll(tdb, id, existing.cancelReason ?? "run cancelled");
      return { run_id: id, id, status: "cancelled", reason: existing.cancelReason ?? "" };
    }
    const why = reason ?? "cancelled by caller";
    this.#d.log.transaction(tdb, (tx) => {
      const run = this.#openRun(tdb, id);
      for (const issue of issuesOf(tdb, id)) {
        if (issue.status === "running" || issue.status === "ready" || issue.status === "pending") {
          setIssueStatus(tdb, tx, issue, "blocked", `the run was cancelled: ${why}`, { notes: [...issue.notes, `run cancelled: ${why}`] });
        }
      }
      settle(tdb, tx, id);
      setRunStatus(tdb, tx, mustRun(tdb, run.id), "cancelled", why, { cancelReason: why });
    });
    await this.#d.supervisor.releaseAll(tdb, id, `factory run cancelled: ${why}`);
    return { run_id: id, id, status: "cancelled", reason: why };
  }

  /** POST /advance: exactly one step of the state machine, in the request. */
  async advance(ctx: FactoryCtx, id: string): Promise<AdvanceRecord> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const run = this.#runOr404(ctx.tdb, id);
    if (run.status === "cancelled") throw new AppError("RUN_FINISHED", `the run is cancelled; it takes no more work (create a new run with POST ${BASE})`);
    const { retryAfterMs: _retry, ...result } = await this.#d.supervisor.step(ctx.tdb, id);
    return result;
  }

  // ---- status and review ------------------------------------------------------------------------

  #adviceInput(t: TenantDb, run: RunRow) {
    const stages = stagesOf(t, run.id);
    const issues = issuesOf(t, run.id);
    const verification = latestArtifact(t, run.id, VERIFICATION_REPORT);
    const report = verification ? (verification.payload as unknown as VerificationSummary) : null;
    const { latest } = latestGates(t, run.id);
    const gates: GateVerdictRecordInput[] = [...latest].map(([gate_name, g]) => ({ gate_name, verdict: g.verdict, reasons: g.reasons, source: g.source === "recorded" ? "external" : "gate-check", created_at: g.created_at }));
    const settings = settingsOf(run);
    const lastNote = (notes: string[]) => notes[notes.length - 1] ?? null;
    return {
      stages,
      issues,
      verification,
      report,
      latest,
      input: {
        run: {
          id: run.id,
          status: run.status,
          workflow_kind: run.workflowKind,
          title: run.title,
          source_brief: run.sourceBrief,
          current_stage: run.currentStage,
          active_room_ids: run.activeRoomIds,
          cancel_reason: run.cancelReason,
          failure: run.diagnostics[run.diagnostics.length - 1] ?? null,
          usage: run.usage as { totalTokens: number; cost?: { total: number } },
          token_budget: settings.token_budget,
        },
        stages: stages.map((s) => ({ id: s.id, stage_name: s.stageName, status: s.status, depends_on: s.dependsOn, summary: s.summary, verification_summary: s.verificationSummary })),
        issues: issues.map((i) => ({
          id: i.id,
          stage_id: i.stageId,
          title: i.title,
          status: i.status,
          depends_on: i.dependsOn,
          acceptance_criteria: i.acceptanceCriteria,
          assigned_room_id: i.assignedRoomId,
          summary: i.summary,
          notes: i.notes,
          attempts: i.attempts,
          max_attempts: this.#d.limits.maxAttempts,
          last_error: i.status === "failed" || i.status === "blocked" ? lastNote(i.notes) : null,
        })),
        verification: {
          status: report?.status ?? null,
          artifact_id: verification?.id ?? null,
          ...(report ? { issues: report.issues.map((x) => ({ issue_id: x.issue_id, title: x.title, verdicts: x.verdicts })) } : {}),
        },
        gates,
        basePath: BASE,
      },
    };
  }

  status(ctx: FactoryCtx, id: string) {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const run = this.#runOr404(ctx.tdb, id);
    const a = this.#adviceInput(ctx.tdb, run);
    const advice = buildStatusAdvice(a.input);
    const checkpoints = checkpointsOf(ctx.tdb, id);
    const latestCheckpoint = checkpoints[checkpoints.length - 1];
    return {
      run_id: id,
      status: run.status as RunStatus,
      current_stage: run.currentStage,
      stage_counts: countsOf(a.stages),
      issue_counts: countsOf(a.issues),
      latest_checkpoint_status: latestCheckpoint?.status ?? null,
      latest_checkpoint_id: latestCheckpoint?.id ?? null,
      latest_verification: a.report?.status ?? null,
      latest_verification_success: a.report ? a.report.success : null,
      latest_verification_artifact_id: a.verification?.id ?? null,
      latest_gate_verdicts: Object.fromEntries([...a.latest].map(([name, g]) => [name, g.verdict])),
      blockers: advice.blockers,
      // What the supervisor recorded on the run (e.g. a planner's validation error) comes first.
      diagnostics: [...new Set([...run.diagnostics, ...advice.diagnostics])],
      next_actions: advice.next_actions,
      active_room_ids: run.activeRoomIds,
      usage: runDto(run).usage,
    };
  }

  review(ctx: FactoryCtx, id: string) {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const run = this.#runOr404(ctx.tdb, id);
    const a = this.#adviceInput(ctx.tdb, run);
    const bundle = buildReview({
      ...a.input,
      plan_summary: run.planSummary ?? "not planned yet",
      artifacts: artifactsOf(ctx.tdb, id).map((x) => ({ id: x.id, artifact_type: x.artifactType, version: x.version, producer_stage_id: x.producerStageId, producer_issue_id: x.producerIssueId, payload: x.payload, created_at: x.createdAt })),
      checkpoints: checkpointsOf(ctx.tdb, id).map((c) => ({ id: c.id, status: c.status, branch_name: c.branchName, head_sha: c.headSha, included_issue_ids: c.includedIssueIds, merged_issue_ids: c.mergedIssueIds, conflict_issue_ids: c.conflictIssueIds, notes: c.notes })),
    });
    return { id: `review-${id}`, run_id: id, status: run.status as RunStatus, ...bundle, diagnostics: [...new Set([...run.diagnostics, ...bundle.diagnostics])] };
  }

  // ---- stages -----------------------------------------------------------------------------------

  listStages(ctx: FactoryCtx, id: string, q: { limit: number; cursor?: string | undefined }): Page<Stage> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    this.#runOr404(ctx.tdb, id);
    return pageByOrd(stagesOf(ctx.tdb, id, decodeOrd(q.cursor), q.limit + 1), q.limit, stageDto);
  }

  createStage(ctx: FactoryCtx, id: string, body: CreateStageBody): Stage {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      const deps = body.depends_on ?? [];
      deps.forEach((sid, i) => {
        if (!findStage(tdb, id, sid)) throw new AppError("VALIDATION_FAILED", `depends_on names stage ${sid}, which is not in this run`, { details: [{ path: `depends_on.${i}`, message: "unknown stage" }] });
      });
      const ord = nextOrd(tdb, id);
      const row = insertStage(tdb, {
        id: randomUUID(),
        runId: id,
        ord,
        key: `x${ord}`,
        stageName: body.stage_name,
        status: "pending",
        dependsOn: deps,
        assignedRoomId: null,
        summary: body.summary ?? null,
        verificationSummary: null,
        notes: body.notes ?? [],
        version: 1,
        createdAt: tx.nowIso,
        updatedAt: tx.nowIso,
      });
      tx.emit(id, { event_type: "stage:created", payload: { stage_id: row.id, stage_name: row.stageName, depends_on: deps } });
      settle(tdb, tx, id);
      return stageDto(findStage(tdb, id, row.id)!);
    });
  }

  patchStage(ctx: FactoryCtx, id: string, stageId: string, body: PatchStageBody, ifMatch: number | undefined): Stage {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const stage = this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      const stage = findStage(tdb, id, stageId);
      if (!stage) throw new AppError("STAGE_NOT_FOUND", `no stage ${stageId} in this run; list them with GET ${BASE}/${id}/stages`);
      if (ifMatch !== undefined && ifMatch !== stage.version) {
        throw new AppError("VERSION_CONFLICT", `stage is at version ${stage.version}, not ${ifMatch}; GET it, reapply your change, and send If-Match: ${stage.version}`, { details: { current_version: stage.version } });
      }
      const changes: string[] = [];
      const set: Parameters<typeof updateStage>[2] = {};
      if (body.status !== undefined && body.status !== stage.status) {
        set.status = body.status;
        changes.push("status");
      }
      if (body.summary !== undefined) {
        set.summary = body.summary;
        changes.push("summary");
      }
      if (body.verification_summary !== undefined) {
        set.verificationSummary = body.verification_summary;
        changes.push("verification_summary");
      }
      if (body.notes !== undefined) {
        set.notes = body.notes;
        changes.push("notes");
      }
      const version = stage.version + 1;
      const updated = updateStage(tdb, stageId, { ...set, version, updatedAt: tx.nowIso });
      if (set.status) tx.emit(id, { event_type: "stage:status", payload: { stage_id: stageId, stage_name: stage.stageName, status: set.status, from: stage.status, reason: `set by ${actorId(ctx.actor)}` } });
      tx.emit(id, { event_type: "stage:updated", payload: { stage_id: stageId, changes, version } });
      return stageDto(updated);
    });
    this.#wake(tdb, id);
    return stage;
  }

  // ---- issues -----------------------------------------------------------------------------------

  listIssues(ctx: FactoryCtx, id: string, q: { limit: number; cursor?: string | undefined }): Page<Issue> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    this.#runOr404(ctx.tdb, id);
    return pageByOrd(issuesOf(ctx.tdb, id, decodeOrd(q.cursor), q.limit + 1), q.limit, issueDto);
  }

  createIssue(ctx: FactoryCtx, id: string, body: CreateIssueBody): Issue {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const issue = this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      if (countIssues(tdb, id) >= this.#d.limits.maxIssuesPerRun) {
        throw new AppError("ISSUE_LIMIT_REACHED", `this run already has ${this.#d.limits.maxIssuesPerRun} issues (FACTORY_MAX_ISSUES_PER_RUN); put further work in a new run`);
      }
      if (!findStage(tdb, id, body.stage_id)) {
        throw new AppError("VALIDATION_FAILED", `stage_id ${body.stage_id} is not a stage of this run; list them with GET ${BASE}/${id}/stages`, { details: [{ path: "stage_id", message: "unknown stage" }] });
      }
      const deps = body.depends_on ?? [];
      deps.forEach((iid, i) => {
        if (!findIssue(tdb, id, iid)) throw new AppError("VALIDATION_FAILED", `depends_on names issue ${iid}, which is not in this run`, { details: [{ path: `depends_on.${i}`, message: "unknown issue" }] });
      });
      const ord = nextOrd(tdb, id);
      const row = insertIssue(tdb, {
        id: randomUUID(),
        runId: id,
        stageId: body.stage_id,
        ord,
        key: `x${ord}`,
        title: body.title,
        kind: body.kind ?? "task",
        body: body.body ?? body.title,
        status: "pending",
        dependsOn: deps,
        acceptanceCriteria: body.acceptance_criteria ?? [],
        verificationRequirements: body.verification_requirements ?? [],
        assignedRoomId: null,
        dispatchMessageId: null,
        attempts: 0,
        summary: body.summary ?? null,
        notes: body.notes ?? [],
        verdicts: [],
        version: 1,
        createdAt: tx.nowIso,
        updatedAt: tx.nowIso,
      });
      tx.emit(id, { event_type: "issue:created", payload: { issue_id: row.id, stage_id: row.stageId, title: row.title, depends_on: deps } });
      settle(tdb, tx, id);
      return issueDto(findIssue(tdb, id, row.id)!);
    });
    this.#wake(tdb, id);
    return issue;
  }

  patchIssue(ctx: FactoryCtx, id: string, issueId: string, body: PatchIssueBody, ifMatch: number | undefined): Issue {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const issue = this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      const issue = findIssue(tdb, id, issueId);
      if (!issue) throw new AppError("ISSUE_NOT_FOUND", `no issue ${issueId} in this run; list them with GET ${BASE}/${id}/issues`);
      if (ifMatch !== undefined && ifMatch !== issue.version) {
        throw new AppError("VERSION_CONFLICT", `issue is at version ${issue.version}, not ${ifMatch}; GET it, reapply your change, and send If-Match: ${issue.version}`, { details: { current_version: issue.version } });
      }
      if (body.status !== undefined && issue.status === "running" && body.status !== "running") {
        throw new AppError("ISSUE_BUSY", `issue "${issue.title}" is running in room ${issue.assignedRoomId}; wait for it to end (or cancel the run) before changing its status`);
      }
      if (body.status === "running" && issue.status !== "running") {
        throw new AppError("VALIDATION_FAILED", `an issue becomes running only by dispatch: POST ${BASE}/${id}/issues/${issueId}/dispatch`, { details: [{ path: "status", message: "use dispatch" }] });
      }
      const changes: string[] = [];
      const set: Parameters<typeof updateIssue>[2] = {};
      if (body.summary !== undefined) (set.summary = body.summary), changes.push("summary");
      if (body.notes !== undefined) (set.notes = body.notes), changes.push("notes");
      if (body.acceptance_criteria !== undefined) (set.acceptanceCriteria = body.acceptance_criteria), changes.push("acceptance_criteria");
      if (body.verification_requirements !== undefined) (set.verificationRequirements = body.verification_requirements), changes.push("verification_requirements");
      if (body.title !== undefined) (set.title = body.title), changes.push("title");
      if (body.body !== undefined) (set.body = body.body), changes.push("body");
      let updated = updateIssue(tdb, issueId, { ...set, version: issue.version + 1, updatedAt: tx.nowIso });
      if (body.status !== undefined && body.status !== issue.status) {
        changes.push("status");
        updated = setIssueStatus(tdb, tx, updated, body.status, `set by ${actorId(ctx.actor)}`);
      }
      tx.emit(id, { event_type: "issue:updated", payload: { issue_id: issueId, changes, version: updated.version } });
      settle(tdb, tx, id);
      // A person settled an issue of a gated run: the run goes back to work so gates are evaluated again.
      const run = mustRun(tdb, id);
      if (run.status === "gated" && changes.includes("status")) setRunStatus(tdb, tx, run, "running", "an issue changed while the run was gated");
      return issueDto(findIssue(tdb, id, issueId)!);
    });
    this.#wake(tdb, id);
    return issue;
  }

  /** POST /issues/{issue_id}/dispatch: runs one issue in a room now (its dependencies must have passed). */
  dispatch(ctx: FactoryCtx, id: string, issueId: string, body: DispatchBody): Issue {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const run = this.#openRun(tdb, id);
    if (run.status !== "running" && run.status !== "gated") {
      throw new AppError("RUN_STATE_CONFLICT", `the run is ${run.status}; issues are dispatched once it is planned (POST ${BASE}/${id}/start, or /advance)`);
    }
    const issue = findIssue(tdb, id, issueId);
    if (!issue) throw new AppError("ISSUE_NOT_FOUND", `no issue ${issueId} in this run; list them with GET ${BASE}/${id}/issues`);
    if (issue.status === "running") throw new AppError("ISSUE_BUSY", `issue "${issue.title}" is already running in room ${issue.assignedRoomId}; wait for its issue:status event`);
    const stages = stagesOf(tdb, id);
    const issues = issuesOf(tdb, id);
    const stage = stages.find((s) => s.id === issue.stageId);
    const deps = [...issue.dependsOn.map((d) => issues.find((i) => i.id === d)), ...(stage?.dependsOn ?? []).flatMap((sid) => issues.filter((i) => i.stageId === sid))].filter(
      (x): x is NonNullable<typeof x> => x !== undefined,
    );
    const waiting = deps.filter((d) => d.status !== "passed");
    if (waiting.length > 0) {
      throw new AppError("DEPENDENCIES_NOT_PASSED", `issue "${issue.title}" waits for ${waiting.map((w) => `"${w.title}" (${w.status})`).join(", ")}; dispatch those first`, {
        details: { waiting_on: waiting.map((w) => ({ id: w.id, title: w.title, status: w.status })) },
      });
    }
    const agents = settingsOf(run).actors.map((a) => a.agent_id);
    if (body.agent !== undefined && !agents.includes(body.agent)) {
      throw new AppError("VALIDATION_FAILED", `no actor "${body.agent}" in this run; its actors are ${agents.join(", ")}`, { details: [{ path: "agent", message: "unknown actor" }] });
    }
    this.#d.supervisor.dispatch(tdb, id, issueId, { by: "caller", content: body.content, agent: body.agent });
    if (run.started) this.#d.supervisor.kick(tdb.tenant, id);
    return issueDto(findIssue(tdb, id, issueId)!);
  }

  // ---- artifacts and checkpoints ----------------------------------------------------------------

  listArtifacts(ctx: FactoryCtx, id: string, q: { limit: number; cursor?: string | undefined }): Page<Artifact> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    this.#runOr404(ctx.tdb, id);
    return pageByOrd(artifactsOf(ctx.tdb, id, decodeOrd(q.cursor), q.limit + 1), q.limit, artifactDto);
  }

  createArtifact(ctx: FactoryCtx, id: string, body: CreateArtifactBody): Artifact {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const size = JSON.stringify(body.payload ?? null).length;
    if (size > this.#d.limits.maxArtifactBytes) {
      throw new AppError("ARTIFACT_TOO_LARGE", `payload is ${size} bytes of JSON; an artifact may have at most ${this.#d.limits.maxArtifactBytes} (FACTORY_MAX_ARTIFACT_BYTES)`, { details: [{ path: "payload", message: "too large" }] });
    }
    return this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      if (body.producer_stage_id && !findStage(tdb, id, body.producer_stage_id)) {
        throw new AppError("VALIDATION_FAILED", `producer_stage_id ${body.producer_stage_id} is not a stage of this run`, { details: [{ path: "producer_stage_id", message: "unknown stage" }] });
      }
      if (body.producer_issue_id && !findIssue(tdb, id, body.producer_issue_id)) {
        throw new AppError("VALIDATION_FAILED", `producer_issue_id ${body.producer_issue_id} is not an issue of this run`, { details: [{ path: "producer_issue_id", message: "unknown issue" }] });
      }
      const row = storeArtifact(tdb, tx, id, { artifactType: body.artifact_type, payload: body.payload ?? null, producerStageId: body.producer_stage_id ?? null, producerIssueId: body.producer_issue_id ?? null });
      return artifactDto(row);
    });
  }

  listCheckpoints(ctx: FactoryCtx, id: string, q: { limit: number; cursor?: string | undefined }): Page<Checkpoint> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    this.#runOr404(ctx.tdb, id);
    return pageByOrd(checkpointsOf(ctx.tdb, id, decodeOrd(q.cursor), q.limit + 1), q.limit, checkpointDto);
  }

  createCheckpoint(ctx: FactoryCtx, id: string, body: CreateCheckpointBody): Checkpoint {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.#d.log.transaction(tdb, (tx) => {
      this.#openRun(tdb, id);
      if (body.stage_id && !findStage(tdb, id, body.stage_id)) {
        throw new AppError("VALIDATION_FAILED", `stage_id ${body.stage_id} is not a stage of this run`, { details: [{ path: "stage_id", message: "unknown stage" }] });
      }
      const row = insertCheckpoint(tdb, {
        id: randomUUID(),
        runId: id,
        ord: nextOrd(tdb, id),
        stageId: body.stage_id ?? null,
        status: body.status,
        branchName: body.branch_name ?? "",
        worktreePath: body.worktree_path ?? "",
        baseRef: body.base_ref ?? "",
        headSha: body.head_sha ?? "",
        includedIssueIds: body.included_issue_ids ?? [],
        mergedIssueIds: body.merged_issue_ids ?? [],
        conflictIssueIds: body.conflict_issue_ids ?? [],
        notes: body.notes ?? [],
        createdAt: tx.nowIso,
      });
      tx.emit(id, { event_type: "checkpoint:created", payload: { checkpoint_id: row.id, stage_id: row.stageId, status: row.status } });
      return checkpointDto(row);
    });
  }

  // ---- verification and gates -------------------------------------------------------------------

  /** POST /verify: a `verification_report` artifact from the issues' stored verdicts, now. */
  verify(ctx: FactoryCtx, id: string) {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.#d.log.transaction(tdb, (tx) => {
      const run = this.#openRun(tdb, id);
      if (run.status === "pending" || run.status === "planning") {
        throw new AppError("RUN_STATE_CONFLICT", `the run is ${run.status}; there is nothing to verify before it is planned`);
      }
      const { artifact, summary } = writeVerification(tdb, tx, id);
      return { run_id: id, status: summary.status, success: summary.success, artifact: artifactDto(artifact), needs_review: summary.needs_review };
    });
  }

  /**
   * POST /gate-check: evaluates the built-in gates now and stores the
   * verdicts. A run whose issues have all ended moves on: completed, failed
   * or gated (verifying first if no current verification exists).
   */
  gateCheck(ctx: FactoryCtx, id: string): { run_id: string; status: RunStatus; overall: GateRecord["verdict"]; gates: GateRecord[] } {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.#d.log.transaction(tdb, (tx) => {
      const run = this.#openRun(tdb, id);
      if (run.status === "pending" || run.status === "planning") {
        throw new AppError("RUN_STATE_CONFLICT", `the run is ${run.status}; gates are checked once it is planned`);
      }
      const issues = issuesOf(tdb, id);
      const allEnded = issues.every((i) => i.status === "passed" || i.status === "failed" || i.status === "blocked");
      if (allEnded && !verificationIsCurrent(tdb, id)) writeVerification(tdb, tx, id);
      const { overall, rows } = checkGates(tdb, tx, id, actorId(ctx.actor));
      const after = allEnded ? concludeRun(tdb, tx, id, overall) : mustRun(tdb, id);
      return { run_id: id, status: after.status as RunStatus, overall, gates: rows.map(gateDto) };
    });
  }

  /** POST /gates: stores a verdict from a person or another system; a gated run then completes, fails, or stays gated. */
  recordGate(ctx: FactoryCtx, id: string, body: RecordGateBody): { run_id: string; status: RunStatus; overall: GateRecord["verdict"]; gates: GateRecord[] } {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.#d.log.transaction(tdb, (tx) => {
      const run = this.#openRun(tdb, id);
      const recorded = recordGate(tdb, tx, id, { gate_name: body.gate_name, verdict: body.verdict, reasons: body.reasons ?? [], source: "recorded", by: actorId(ctx.actor) });
      if (run.status !== "gated") {
        return { run_id: id, status: run.status as RunStatus, overall: body.verdict, gates: [gateDto(recorded)] };
      }
      const { overall, rows } = checkGates(tdb, tx, id, actorId(ctx.actor));
      const after = concludeRun(tdb, tx, id, overall);
      return { run_id: id, status: after.status as RunStatus, overall, gates: [gateDto(recorded), ...rows.map(gateDto)] };
    });
  }

  // ---- events -----------------------------------------------------------------------------------

  /** GET /events: the run's durable log and live feed for the SSE helper; `close` must be called once when the stream ends. */
  openEventStream(ctx: FactoryCtx, id: string): { source: SseSource<RunEvent>; close: () => void } {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const { tdb } = ctx;
    this.#runOr404(tdb, id);
    const key = `${tdb.tenant}/${id}`;
    if ((this.#followers.get(key) ?? 0) >= this.#d.limits.maxFollowersPerRun) {
      throw new AppError("QUOTA_EXCEEDED", `this run already has ${this.#d.limits.maxFollowersPerRun} event followers; close one and retry`, { retryAfterS: 5 });
    }
    this.#followers.set(key, (this.#followers.get(key) ?? 0) + 1);
    const release = this.#d.holdTenant(tdb.tenant);
    let closed = false;
    return {
      source: this.#d.log.source(tdb, id),
      close: () => {
        if (closed) return;
        closed = true;
        const n = (this.#followers.get(key) ?? 1) - 1;
        if (n <= 0) this.#followers.delete(key);
        else this.#followers.set(key, n);
        release();
      },
    };
  }

  #wake(tdb: TenantDb, id: string): void {
    const run = findRun(tdb, id);
    if (run && run.started && (run.status === "running" || run.status === "planning")) this.#d.supervisor.kick(tdb.tenant, id);
  }
}
