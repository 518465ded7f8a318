/**
 * The shapes shared by the factory's pure decision modules (plan, model,
 * verify, gates, report) and the durable machinery that calls them (store,
 * service, supervisor). Plain data only: no HTTP, no SQLite, no hono.
 *
 * The modules re-export what they own (`factory.plan.ts` re-exports `Plan`,
 * `factory.verify.ts` re-exports `CriterionVerdict`, ...), so callers may
 * import either from here or from the module.
 */

// ---------------------------------------------------------------- planning

/** One unit of work a room will be asked to do. */
export interface PlannedIssue {
  /** Stable within the plan, e.g. "s1.i2". */
  key: string;
  title: string;
  /** e.g. "task". */
  kind: string;
  /** The text the room will be asked to do. */
  body: string;
  /** Keys of other issues in the plan. */
  depends_on: string[];
  acceptance_criteria: string[];
  verification_requirements: string[];
}

export interface PlannedStage {
  /** Stable within the plan, e.g. "s1". */
  key: string;
  stage_name: string;
  /** Keys of other stages in the plan. */
  depends_on: string[];
  issues: PlannedIssue[];
}

export interface Plan {
  summary: string;
  stages: PlannedStage[];
}

/** The source of a run, as FACTORY.md's `source` carries it (its `kind` is always "prompt"). */
export interface PlanSource {
  format: "text" | "markdown";
  content: string;
}

// ---------------------------------------------------------------- verification

export type CriterionVerdictValue = "pass" | "fail" | "needs_review";

/** The verdict on one acceptance criterion, with a one-line reason a person can act on. */
export interface CriterionVerdict {
  criterion: string;
  verdict: CriterionVerdictValue;
  reason: string;
}

// ---------------------------------------------------------------- gates

export type GateVerdict = "pass" | "fail" | "needs_review" | "needs_further_review";

export interface GateResult {
  gate_name: string;
  verdict: GateVerdict;
  reasons: string[];
}

export interface GateInput {
  issues: { id: string; title: string; status: string }[];
  verification: { status: "passed" | "failed" | "skipped" | null; needs_review: string[] };
  usage: { totalTokens: number };
  tokenBudget: number | null;
  /** The run asks for a human review, or its workflow_kind is "software.delivery". */
  humanReview: boolean;
  /** Verdicts recorded by POST /gates; they win for that gate. */
  recorded: Record<string, GateVerdict>;
}

// ---------------------------------------------------------------- status and review inputs (mirroring FACTORY.md's records)

export type RunStatus = "pending" | "planning" | "running" | "gated" | "completed" | "failed" | "cancelled";
export type WorkStatus = "pending" | "ready" | "running" | "passed" | "failed" | "blocked";

export interface RunRecordInput {
  id: string;
  status: RunStatus | string;
  workflow_kind: string | null;
  title: string | null;
  source_brief: string;
  current_stage: string | null;
  active_room_ids: string[];
  cancel_reason: string | null;
  /** The last failure the supervisor recorded on the run (e.g. a planner diagnostic), if any. */
  failure?: string | null;
  /** Tokens used by every room of the run, and the run's budget (null: none). */
  usage?: { totalTokens: number; cost?: { total: number } };
  token_budget?: number | null;
}

export interface StageRecordInput {
  id: string;
  stage_name: string;
  status: WorkStatus | string;
  depends_on: string[];
  summary: string | null;
  verification_summary?: string | null;
}

export interface IssueRecordInput {
  id: string;
  stage_id: string;
  title: string;
  status: WorkStatus | string;
  depends_on: string[];
  acceptance_criteria: string[];
  assigned_room_id: string | null;
  summary: string | null;
  notes: string[];
  /** Attempts made so far and the configured maximum, when the supervisor tracks them. */
  attempts?: number;
  max_attempts?: number;
  /** The last failure of the issue (turn error code and message, verification failure), if any. */
  last_error?: string | null;
}

export interface ArtifactRecordInput {
  id: string;
  artifact_type: string;
  version: number;
  producer_stage_id: string | null;
  producer_issue_id: string | null;
  payload: unknown;
  created_at: string;
}

export interface CheckpointRecordInput {
  id: string;
  status: string;
  branch_name: string;
  head_sha: string;
  included_issue_ids: string[];
  merged_issue_ids: string[];
  conflict_issue_ids: string[];
  notes: string[];
}

export interface GateVerdictRecordInput {
  gate_name: string;
  verdict: GateVerdict;
  reasons: string[];
  /** "gate-check" for an evaluated verdict, "external" for one recorded by POST /gates. */
  source?: string;
  created_at?: string;
}

/** The latest verification of the run, as the status reports it. */
export interface VerificationInput {
  status: "passed" | "failed" | "skipped" | null;
  artifact_id: string | null;
  /** Per-issue verdicts of the latest report, when there is one. */
  issues?: { issue_id: string; title: string; verdicts: CriterionVerdict[] }[];
}

export interface StatusAdviceInput {
  run: RunRecordInput;
  stages: StageRecordInput[];
  issues: IssueRecordInput[];
  verification: VerificationInput;
  /** Latest verdict per gate. */
  gates: GateVerdictRecordInput[];
  /** Path prefix of the run routes; default "/llm/factory/runs". */
  basePath?: string;
}

export interface StatusAdvice {
  blockers: string[];
  diagnostics: string[];
  next_actions: string[];
}

export interface ReviewInput extends StatusAdviceInput {
  plan_summary: string;
  artifacts: ArtifactRecordInput[];
  checkpoints: CheckpointRecordInput[];
}

/** The review bundle's lists (the caller adds `id` and `run_id`). */
export interface ReviewBundle {
  plan_summary: string;
  artifact_summary: string[];
  checkpoint_summary: string[];
  issue_summary: string[];
  stage_summary: string[];
  gate_summary: string[];
  evidence_summary: string[];
  blockers: string[];
  diagnostics: string[];
  next_actions: string[];
  open_risks: string[];
}
