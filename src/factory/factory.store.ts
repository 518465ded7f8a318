/**
 * Factory rows: synchronous drizzle queries on a tenant-bound handle. The
 * factory is a cold path (a run takes seconds to hours, a step a handful of
 * rows), so plain drizzle, no prepared-statement cache. Nothing here knows
 * HTTP or the supervisor's rules; callers run these inside their own
 * transactions.
 */
import { and, asc, desc, eq, gt, inArray, lt, notInArray, or, sql } from "drizzle-orm";
import { factoryArtifacts, factoryCheckpoints, factoryGateVerdicts, factoryIssues, factoryRuns, factoryStages } from "../storage/schema.js";
import type { TenantDb } from "../storage/tenant-db.js";

export type RunRow = typeof factoryRuns.$inferSelect;
export type NewRunRow = typeof factoryRuns.$inferInsert;
export type StageRow = typeof factoryStages.$inferSelect;
export type NewStageRow = typeof factoryStages.$inferInsert;
export type IssueRow = typeof factoryIssues.$inferSelect;
export type NewIssueRow = typeof factoryIssues.$inferInsert;
export type ArtifactRow = typeof factoryArtifacts.$inferSelect;
export type NewArtifactRow = typeof factoryArtifacts.$inferInsert;
export type CheckpointRow = typeof factoryCheckpoints.$inferSelect;
export type NewCheckpointRow = typeof factoryCheckpoints.$inferInsert;
export type GateRow = typeof factoryGateVerdicts.$inferSelect;
export type NewGateRow = typeof factoryGateVerdicts.$inferInsert;

// ---- runs ---------------------------------------------------------------------------------------

export function insertRun(t: TenantDb, row: NewRunRow): RunRow {
  return t.db.insert(factoryRuns).values(row).returning().get();
}

export function findRun(t: TenantDb, id: string): RunRow | undefined {
  return t.db.select().from(factoryRuns).where(eq(factoryRuns.id, id)).get();
}

/** Writes the changes and bumps nothing by itself; returns the new row. */
export function updateRun(t: TenantDb, id: string, changes: Partial<NewRunRow>): RunRow {
  const row = t.db.update(factoryRuns).set(changes).where(eq(factoryRuns.id, id)).returning().get();
  if (!row) throw new Error(`run ${id} vanished inside its transaction`);
  return row;
}

export interface RunListFilter {
  statuses: readonly string[] | null;
  limit: number;
  before: { createdAt: string; id: string } | null;
}

/** Newest first, keyset-paged on (created_at, id). */
export function listRuns(t: TenantDb, f: RunListFilter): RunRow[] {
  const conds = [
    f.statuses ? inArray(factoryRuns.status, [...f.statuses]) : undefined,
    f.before ? or(lt(factoryRuns.createdAt, f.before.createdAt), and(eq(factoryRuns.createdAt, f.before.createdAt), lt(factoryRuns.id, f.before.id))) : undefined,
  ];
  return t.db
    .select()
    .from(factoryRuns)
    .where(and(...conds))
    .orderBy(desc(factoryRuns.createdAt), desc(factoryRuns.id))
    .limit(f.limit)
    .all();
}

export function countUnfinishedRuns(t: TenantDb): number {
  return (
    t.db
      .select({ n: sql<number>`count(*)` })
      .from(factoryRuns)
      .where(notInArray(factoryRuns.status, ["completed", "failed", "cancelled"]))
      .get()?.n ?? 0
  );
}

/** Runs a supervisor must pick up after a restart: started, and planning or running. */
export function runsToResume(t: TenantDb): RunRow[] {
  return t.db
    .select()
    .from(factoryRuns)
    .where(and(eq(factoryRuns.started, true), inArray(factoryRuns.status, ["planning", "running"])))
    .orderBy(asc(factoryRuns.createdAt))
    .all();
}

/** Hands out the run's next `ord` (orders and pages its child rows). */
export function nextOrd(t: TenantDb, runId: string): number {
  const row = t.db
    .update(factoryRuns)
    .set({ lastOrd: sql`${factoryRuns.lastOrd} + 1` })
    .where(eq(factoryRuns.id, runId))
    .returning({ ord: factoryRuns.lastOrd })
    .get();
  if (!row) throw new Error(`run ${runId} vanished inside its transaction`);
  return row.ord;
}

// ---- stages -------------------------------------------------------------------------------------

export function insertStage(t: TenantDb, row: NewStageRow): StageRow {
  return t.db.insert(factoryStages).values(row).returning().get();
}

export function findStage(t: TenantDb, runId: string, id: string): StageRow | undefined {
  return t.db.select().from(factoryStages).where(and(eq(factoryStages.runId, runId), eq(factoryStages.id, id))).get();
}

export function updateStage(t: TenantDb, id: string, changes: Partial<NewStageRow>): StageRow {
  const row = t.db.update(factoryStages).set(changes).where(eq(factoryStages.id, id)).returning().get();
  if (!row) throw new Error(`stage ${id} vanished inside its transaction`);
  return row;
}

export function stagesOf(t: TenantDb, runId: string, afterOrd = 0, limit = -1): StageRow[] {
  return t.db
    .select()
    .from(factoryStages)
    .where(and(eq(factoryStages.runId, runId), gt(factoryStages.ord, afterOrd)))
    .orderBy(asc(factoryStages.ord))
    .limit(limit)
    .all();
}

// ---- issues -------------------------------------------------------------------------------------

export function insertIssue(t: TenantDb, row: NewIssueRow): IssueRow {
  return t.db.insert(factoryIssues).values(row).returning().get();
}

export function findIssue(t: TenantDb, runId: string, id: string): IssueRow | undefined {
  return t.db.select().from(factoryIssues).where(and(eq(factoryIssues.runId, runId), eq(factoryIssues.id, id))).get();
}

export function updateIssue(t: TenantDb, id: string, changes: Partial<NewIssueRow>): IssueRow {
  const row = t.db.update(factoryIssues).set(changes).where(eq(factoryIssues.id, id)).returning().get();
  if (!row) throw new Error(`issue ${id} vanished inside its transaction`);
  return row;
}

export function issuesOf(t: TenantDb, runId: string, afterOrd = 0, limit = -1): IssueRow[] {
  return t.db
    .select()
    .from(factoryIssues)
    .where(and(eq(factoryIssues.runId, runId), gt(factoryIssues.ord, afterOrd)))
    .orderBy(asc(factoryIssues.ord))
    .limit(limit)
    .all();
}

export function countIssues(t: TenantDb, runId: string): number {
  return t.db.select({ n: sql<number>`count(*)` }).from(factoryIssues).where(eq(factoryIssues.runId, runId)).get()?.n ?? 0;
}

// ---- artifacts ----------------------------------------------------------------------------------

/** Stores an artifact with the next `version` of its type in the run. */
export function insertArtifact(t: TenantDb, row: Omit<NewArtifactRow, "version">): ArtifactRow {
  const last = t.db
    .select({ v: sql<number>`coalesce(max(${factoryArtifacts.version}), 0)` })
    .from(factoryArtifacts)
    .where(and(eq(factoryArtifacts.runId, row.runId), eq(factoryArtifacts.artifactType, row.artifactType)))
    .get();
  return t.db
    .insert(factoryArtifacts)
    .values({ ...row, version: (last?.v ?? 0) + 1 })
    .returning()
    .get();
}

export function artifactsOf(t: TenantDb, runId: string, afterOrd = 0, limit = -1): ArtifactRow[] {
  return t.db
    .select()
    .from(factoryArtifacts)
    .where(and(eq(factoryArtifacts.runId, runId), gt(factoryArtifacts.ord, afterOrd)))
    .orderBy(asc(factoryArtifacts.ord))
    .limit(limit)
    .all();
}

export function latestArtifact(t: TenantDb, runId: string, type: string): ArtifactRow | undefined {
  return t.db
    .select()
    .from(factoryArtifacts)
    .where(and(eq(factoryArtifacts.runId, runId), eq(factoryArtifacts.artifactType, type)))
    .orderBy(desc(factoryArtifacts.version))
    .limit(1)
    .get();
}

/** The newest artifact of `type` produced by the issue. */
export function latestIssueArtifact(t: TenantDb, runId: string, issueId: string, type: string): ArtifactRow | undefined {
  return t.db
    .select()
    .from(factoryArtifacts)
    .where(and(eq(factoryArtifacts.runId, runId), eq(factoryArtifacts.producerIssueId, issueId), eq(factoryArtifacts.artifactType, type)))
    .orderBy(desc(factoryArtifacts.ord))
    .limit(1)
    .get();
}

// ---- checkpoints --------------------------------------------------------------------------------

export function insertCheckpoint(t: TenantDb, row: NewCheckpointRow): CheckpointRow {
  return t.db.insert(factoryCheckpoints).values(row).returning().get();
}

export function checkpointsOf(t: TenantDb, runId: string, afterOrd = 0, limit = -1): CheckpointRow[] {
  return t.db
    .select()
    .from(factoryCheckpoints)
    .where(and(eq(factoryCheckpoints.runId, runId), gt(factoryCheckpoints.ord, afterOrd)))
    .orderBy(asc(factoryCheckpoints.ord))
    .limit(limit)
    .all();
}

export function stageHasCheckpoint(t: TenantDb, runId: string, stageId: string): boolean {
  return (
    t.db
      .select({ id: factoryCheckpoints.id })
      .from(factoryCheckpoints)
      .where(and(eq(factoryCheckpoints.runId, runId), eq(factoryCheckpoints.stageId, stageId)))
      .limit(1)
      .get() !== undefined
  );
}

// ---- gate verdicts ------------------------------------------------------------------------------

export function insertGate(t: TenantDb, row: NewGateRow): GateRow {
  return t.db.insert(factoryGateVerdicts).values(row).returning().get();
}

export function gatesOf(t: TenantDb, runId: string): GateRow[] {
  return t.db.select().from(factoryGateVerdicts).where(eq(factoryGateVerdicts.runId, runId)).orderBy(asc(factoryGateVerdicts.ord)).all();
}
