/**
 * What the status and review routes tell a person: `blockers` (something
 * stops the run until a person acts; the TUI's `factory watch` stops on any),
 * `diagnostics` (facts that explain the state), `next_actions` (what to do
 * next, with copy-paste-correct requests) and the review bundle's one-line
 * summaries. Pure: built from plain records the store already read.
 */
import type {
  ArtifactRecordInput,
  CheckpointRecordInput,
  GateVerdictRecordInput,
  IssueRecordInput,
  ReviewBundle,
  ReviewInput,
  StageRecordInput,
  StatusAdvice,
  StatusAdviceInput,
} from "./factory.brains.types.js";
import { plural } from "./factory.gates.js";

export type {
  ArtifactRecordInput,
  CheckpointRecordInput,
  GateVerdictRecordInput,
  IssueRecordInput,
  ReviewBundle,
  ReviewInput,
  RunRecordInput,
  StageRecordInput,
  StatusAdvice,
  StatusAdviceInput,
  VerificationInput,
} from "./factory.brains.types.js";

const DEFAULT_BASE = "/llm/factory/runs";
const LINE_CHARS = 300;
const FINAL = new Set(["completed", "failed", "cancelled"]);

/** One line: whitespace collapsed, cut at LINE_CHARS. */
export function oneLine(text: string, max = LINE_CHARS): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const q = (s: string) => JSON.stringify(oneLine(s, 120));
const issueName = (i: IssueRecordInput) => `issue ${q(i.title)} (${i.id})`;

function issueFailure(i: IssueRecordInput): string {
  const attempts = i.attempts !== undefined ? ` after ${plural(i.attempts, "attempt")}${i.max_attempts !== undefined ? ` of ${i.max_attempts}` : ""}` : "";
  return oneLine(`${issueName(i)} failed${attempts}${i.last_error ? `: ${i.last_error}` : ""}`);
}

function blockedBy(i: IssueRecordInput, byId: Map<string, IssueRecordInput>): string {
  const bad = i.depends_on.map((id) => byId.get(id)).filter((d): d is IssueRecordInput => d !== undefined && (d.status === "failed" || d.status === "blocked"));
  const why = bad.length > 0 ? `: it depends on ${bad.map((d) => `${q(d.title)} (${d.status})`).join(", ")}` : i.last_error ? `: ${i.last_error}` : "";
  return oneLine(`${issueName(i)} is blocked${why}`);
}

/**
 * The status route's advice. Blockers appear only when the run cannot go on
 * without a person (a failed run, a failed or blocked issue, a gate waiting
 * for or refusing a verdict); a pending, running or completed run has none.
 */
export function buildStatusAdvice(input: StatusAdviceInput): StatusAdvice {
  const { run } = input;
  const base = `${input.basePath ?? DEFAULT_BASE}/${run.id}`;
  const blockers: string[] = [];
  const diagnostics: string[] = [];
  const next: string[] = [];
  const byId = new Map(input.issues.map((i) => [i.id, i]));
  const failedIssues = input.issues.filter((i) => i.status === "failed");
  const blockedIssues = input.issues.filter((i) => i.status === "blocked");
  const gatesWaiting = input.gates.filter((g) => g.verdict === "needs_review" || g.verdict === "needs_further_review");
  const gatesFailed = input.gates.filter((g) => g.verdict === "fail");
  const status = String(run.status);

  // Blockers.
  if (status === "failed") blockers.push(oneLine(`the run failed${run.failure ? `: ${run.failure}` : ""}`));
  if (status !== "cancelled" && status !== "completed") {
    for (const i of failedIssues) blockers.push(issueFailure(i));
    for (const i of blockedIssues) blockers.push(blockedBy(i, byId));
    for (const g of gatesFailed) blockers.push(oneLine(`gate ${g.gate_name} failed: ${g.reasons.join("; ") || "no reason given"}`));
    if (status === "gated") for (const g of gatesWaiting) blockers.push(oneLine(`gate ${g.gate_name} is ${g.verdict}: ${g.reasons.join("; ") || "a person must record a verdict"}`));
  }

  // Diagnostics.
  if (status === "cancelled") diagnostics.push(oneLine(`the run was cancelled${run.cancel_reason ? `: ${run.cancel_reason}` : ""}`));
  if (run.failure && status !== "failed") diagnostics.push(oneLine(`last failure: ${run.failure}`));
  const counts = new Map<string, number>();
  for (const i of input.issues) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  if (input.issues.length > 0) diagnostics.push(`issues: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")} of ${input.issues.length}`);
  else if (status !== "pending" && status !== "planning") diagnostics.push("the run has no issues");
  for (const i of input.issues) {
    if (i.status === "running" && i.assigned_room_id) diagnostics.push(oneLine(`${issueName(i)} is running in room ${i.assigned_room_id}`));
    if (i.status !== "failed" && i.last_error) diagnostics.push(oneLine(`${issueName(i)}: last error: ${i.last_error}`));
  }
  const v = input.verification;
  if (v.status !== null) diagnostics.push(`latest verification: ${v.status}${v.artifact_id ? ` (artifact ${v.artifact_id})` : ""}`);
  const reviewCriteria: string[] = [];
  for (const iv of v.issues ?? []) {
    for (const c of iv.verdicts) {
      if (c.verdict === "fail") diagnostics.push(oneLine(`issue ${q(iv.title)} (${iv.issue_id}): criterion ${q(c.criterion)} failed: ${c.reason}`));
      if (c.verdict === "needs_review") reviewCriteria.push(`${q(c.criterion)} of issue ${q(iv.title)}`);
    }
  }
  if (reviewCriteria.length > 0) diagnostics.push(oneLine(`${plural(reviewCriteria.length, "criterion", "criteria")} need a person: ${reviewCriteria.join(", ")}`, 600));
  if (run.usage) {
    const budget = run.token_budget ?? null;
    diagnostics.push(`tokens used: ${run.usage.totalTokens}${budget !== null ? ` of a budget of ${budget}` : ""}`);
  }
  if (run.active_room_ids.length > 0) diagnostics.push(oneLine(`active rooms: ${run.active_room_ids.join(", ")}`));

  // Next actions: each names its request, copy-paste correct.
  const newRun = `To try again with a corrected brief, create a new run: POST ${input.basePath ?? DEFAULT_BASE} {"source":{"kind":"prompt","format":"markdown","content":"<the corrected brief>"}}`;
  switch (status) {
    case "pending":
      next.push(`To plan and run it: POST ${base}/start`);
      next.push(`To take one step at a time instead: POST ${base}/advance`);
      break;
    case "planning":
    case "running":
      next.push(`To follow progress: GET ${base}/events (server-sent events)`);
      for (const i of failedIssues) next.push(`To run ${issueName(i)} again (add "content" to give it your own prompt): POST ${base}/issues/${i.id}/dispatch {}`);
      next.push(`To stop the run: POST ${base}/cancel {"reason":"<why>"}`);
      break;
    case "gated": {
      for (const g of gatesWaiting) {
        next.push(`To approve gate ${g.gate_name}: POST ${base}/gates {"gate_name":"${g.gate_name}","verdict":"pass"}`);
        next.push(`To reject gate ${g.gate_name}: POST ${base}/gates {"gate_name":"${g.gate_name}","verdict":"fail","reasons":["<why>"]}`);
      }
      if (reviewCriteria.length > 0 || gatesWaiting.length > 0) next.push(`To read the evidence first: GET ${base}/review and GET ${base}/artifacts`);
      if (gatesWaiting.length === 0) next.push(`To evaluate the gates again: POST ${base}/gate-check`);
      next.push(`To stop the run: POST ${base}/cancel {"reason":"<why>"}`);
      break;
    }
    case "completed":
      next.push(`To read what was produced and why it passed: GET ${base}/review`);
      next.push(`To read the outputs: GET ${base}/artifacts`);
      break;
    case "failed":
      next.push(`To see what failed and the evidence: GET ${base}/review`);
      next.push(newRun);
      break;
    case "cancelled":
      next.push(newRun);
      break;
    default:
      next.push(`To see the run: GET ${base}`);
  }
  return { blockers, diagnostics, next_actions: next };
}

function payloadSize(payload: unknown): number {
  if (typeof payload === "string") return payload.length;
  try {
    return JSON.stringify(payload)?.length ?? 0;
  } catch {
    return 0;
  }
}

function artifactLine(a: ArtifactRecordInput, issues: Map<string, IssueRecordInput>, stages: Map<string, StageRecordInput>): string {
  const from = a.producer_issue_id
    ? ` from issue ${issues.has(a.producer_issue_id) ? `${q(issues.get(a.producer_issue_id)!.title)} ` : ""}(${a.producer_issue_id})`
    : a.producer_stage_id
      ? ` from stage ${stages.has(a.producer_stage_id) ? `${q(stages.get(a.producer_stage_id)!.stage_name)} ` : ""}(${a.producer_stage_id})`
      : "";
  const status = a.payload && typeof a.payload === "object" && typeof (a.payload as { status?: unknown }).status === "string" ? `, status ${(a.payload as { status: string }).status}` : "";
  return oneLine(`${a.artifact_type} v${a.version} (${a.id})${from}${status}, ${payloadSize(a.payload)} characters, ${a.created_at}`);
}

function checkpointLine(c: CheckpointRecordInput): string {
  const git = c.branch_name ? ` on ${c.branch_name}${c.head_sha ? ` at ${c.head_sha.slice(0, 12)}` : ""}` : "";
  return oneLine(
    `checkpoint ${c.id} ${c.status}${git}: ${plural(c.included_issue_ids.length, "issue")} included, ${c.merged_issue_ids.length} merged, ${plural(c.conflict_issue_ids.length, "conflict")}${c.notes.length ? `; ${c.notes.join("; ")}` : ""}`,
  );
}

function gateLine(g: GateVerdictRecordInput): string {
  return oneLine(`${g.gate_name}: ${g.verdict}${g.source === "external" ? " (recorded)" : ""}${g.reasons.length ? ` — ${g.reasons.join("; ")}` : ""}`);
}

/**
 * The review bundle: what was planned, produced, checked and decided, each
 * list of one-line strings, plus the status advice and the open risks (what
 * still stands between the run and a clean completion).
 */
export function buildReview(input: ReviewInput): ReviewBundle {
  const advice = buildStatusAdvice(input);
  const issues = new Map(input.issues.map((i) => [i.id, i]));
  const stages = new Map(input.stages.map((s) => [s.id, s]));

  const stage_summary = input.stages.map((s) => {
    const mine = input.issues.filter((i) => i.stage_id === s.id);
    const passed = mine.filter((i) => i.status === "passed").length;
    return oneLine(`[${s.status}] ${s.stage_name} (${s.id}): ${passed} of ${plural(mine.length, "issue")} passed${s.summary ? ` — ${s.summary}` : ""}${s.verification_summary ? `; ${s.verification_summary}` : ""}`);
  });
  const issue_summary = input.issues.map((i) =>
    oneLine(
      `[${i.status}] ${i.title} (${i.id})${i.attempts !== undefined ? `, ${plural(i.attempts, "attempt")}` : ""}${i.assigned_room_id ? `, room ${i.assigned_room_id}` : ""}${i.summary ? ` — ${i.summary}` : i.last_error ? ` — ${i.last_error}` : ""}`,
    ),
  );
  const evidence_summary: string[] = [];
  if (input.verification.status !== null) {
    evidence_summary.push(`verification ${input.verification.status}${input.verification.artifact_id ? ` (report ${input.verification.artifact_id})` : ""}`);
  }
  for (const iv of input.verification.issues ?? []) {
    const n = (k: string) => iv.verdicts.filter((c) => c.verdict === k).length;
    evidence_summary.push(oneLine(`issue ${q(iv.title)} (${iv.issue_id}): ${n("pass")} passed, ${n("fail")} failed, ${n("needs_review")} need review of ${plural(iv.verdicts.length, "criterion", "criteria")}`));
    for (const c of iv.verdicts) evidence_summary.push(oneLine(`  ${c.verdict}: ${q(c.criterion)} — ${c.reason}`));
  }
  if (input.run.usage) evidence_summary.push(`tokens used: ${input.run.usage.totalTokens}${input.run.usage.cost ? `, cost ${input.run.usage.cost.total.toFixed(6)} USD` : ""}`);

  const open_risks: string[] = [];
  const status = String(input.run.status);
  if (!FINAL.has(status)) open_risks.push(`the run is ${status}, not finished`);
  const unfinished = input.issues.filter((i) => i.status !== "passed");
  if (unfinished.length > 0) open_risks.push(oneLine(`${plural(unfinished.length, "issue")} did not pass: ${unfinished.map((i) => `${q(i.title)} (${i.status})`).join(", ")}`, 600));
  for (const iv of input.verification.issues ?? []) {
    for (const c of iv.verdicts) if (c.verdict !== "pass") open_risks.push(oneLine(`criterion ${q(c.criterion)} of issue ${q(iv.title)} is ${c.verdict}`));
  }
  if (input.verification.status === null && input.issues.length > 0) open_risks.push("the outputs have not been verified");
  for (const g of input.gates) if (g.verdict !== "pass") open_risks.push(oneLine(`gate ${g.gate_name} is ${g.verdict}`));
  if (input.gates.some((g) => g.source === "external" && g.verdict === "pass")) {
    open_risks.push(oneLine(`passed by a recorded verdict rather than by evaluation: ${input.gates.filter((g) => g.source === "external" && g.verdict === "pass").map((g) => g.gate_name).join(", ")}`));
  }
  const budget = input.run.token_budget ?? null;
  if (budget !== null && input.run.usage && input.run.usage.totalTokens > budget * 0.8 && input.run.usage.totalTokens <= budget) {
    open_risks.push(`the run used ${input.run.usage.totalTokens} of its ${budget} budgeted tokens (over 80%)`);
  }

  return {
    plan_summary: oneLine(input.plan_summary, 2000),
    artifact_summary: input.artifacts.map((a) => artifactLine(a, issues, stages)),
    checkpoint_summary: input.checkpoints.map(checkpointLine),
    issue_summary,
    stage_summary,
    gate_summary: input.gates.map(gateLine),
    evidence_summary,
    blockers: advice.blockers,
    diagnostics: advice.diagnostics,
    next_actions: advice.next_actions,
    open_risks,
  };
}
