/**
 * The built-in gates of a factory run and how their verdicts combine. Pure:
 * the supervisor (or `POST /gate-check`) passes what it knows, stores the
 * results, and moves the run to `completed`, `gated` or `failed` by
 * `overallVerdict`.
 */
import type { GateInput, GateResult, GateVerdict } from "./factory.brains.types.js";

export type { GateInput, GateResult, GateVerdict } from "./factory.brains.types.js";

export const BUILT_IN_GATES = ["all_issues_passed", "verification_passed", "token_budget", "human_review"] as const;

export const GATES_DOC = `## Gates

\`POST /llm/factory/runs/{id}/gate-check\` (and the supervisor, once every
issue has finished) evaluates these gates and stores a verdict for each:

| Gate | pass | fail | needs_review | needs_further_review |
| --- | --- | --- | --- | --- |
| \`all_issues_passed\` | every issue \`passed\` | an issue \`failed\` or \`blocked\`, or the run has no issues | | an issue is still \`pending\`, \`ready\` or \`running\` |
| \`verification_passed\` | the latest verification \`passed\` (or was \`skipped\`: no criteria to check) | it \`failed\` | it left criteria \`needs_review\` | verification has not run yet |
| \`token_budget\` | the run's tokens are within its budget, or it has none | the run used more tokens than its budget | | |
| \`human_review\` | recorded \`pass\` | recorded \`fail\` | until a person records a verdict | |

\`human_review\` is evaluated only when the run asks for a human review or its
\`workflow_kind\` is \`software.delivery\`.

A verdict recorded with \`POST /llm/factory/runs/{id}/gates\`
(\`{"gate_name": "human_review", "verdict": "pass"}\`) wins over the evaluated
one for that gate; a recorded gate name that is not built in is a gate of its
own.

The run's overall verdict is \`fail\` if any gate fails, else \`needs_review\` if
any needs review, else \`needs_further_review\` if any needs it, else \`pass\`.
A \`needs_review\` or \`needs_further_review\` verdict leaves the run \`gated\`
until verdicts are recorded: \`pass\` completes it, \`fail\` fails it.
`;

const RANK: Record<GateVerdict, number> = { pass: 0, needs_further_review: 1, needs_review: 2, fail: 3 };

/** "1 issue", "2 issues". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function listTitles(issues: { id: string; title: string }[], max = 5): string {
  const shown = issues.slice(0, max).map((i) => `"${i.title}" (${i.id})`);
  return issues.length > max ? `${shown.join(", ")} and ${issues.length - max} more` : shown.join(", ");
}

function allIssuesPassed(issues: GateInput["issues"]): GateResult {
  const gate_name = "all_issues_passed";
  if (issues.length === 0) return { gate_name, verdict: "fail", reasons: ["the run has no issues"] };
  const failed = issues.filter((i) => i.status === "failed" || i.status === "blocked");
  const open = issues.filter((i) => i.status !== "passed" && i.status !== "failed" && i.status !== "blocked");
  if (failed.length > 0) {
    const reasons = [`${failed.length} of ${plural(issues.length, "issue")} did not pass: ${listTitles(failed)}`];
    if (open.length > 0) reasons.push(`${plural(open.length, "issue")} not finished: ${listTitles(open)}`);
    return { gate_name, verdict: "fail", reasons };
  }
  if (open.length > 0) return { gate_name, verdict: "needs_further_review", reasons: [`${open.length} of ${plural(issues.length, "issue")} not finished: ${listTitles(open)}`] };
  return { gate_name, verdict: "pass", reasons: [issues.length === 1 ? "the run's 1 issue passed" : `all ${issues.length} issues passed`] };
}

function verificationPassed(v: GateInput["verification"]): GateResult {
  const gate_name = "verification_passed";
  if (v.status === "failed") return { gate_name, verdict: "fail", reasons: ["the latest verification failed"] };
  if (v.needs_review.length > 0) {
    const shown = v.needs_review.slice(0, 5).map((c) => JSON.stringify(c));
    const more = v.needs_review.length > 5 ? ` and ${v.needs_review.length - 5} more` : "";
    return { gate_name, verdict: "needs_review", reasons: [`${plural(v.needs_review.length, "criterion", "criteria")} left for a person to review: ${shown.join(", ")}${more}`] };
  }
  if (v.status === null) return { gate_name, verdict: "needs_further_review", reasons: ["verification has not run yet"] };
  if (v.status === "skipped") return { gate_name, verdict: "pass", reasons: ["verification was skipped: no issue has acceptance criteria"] };
  return { gate_name, verdict: "pass", reasons: ["the latest verification passed"] };
}

function tokenBudget(used: number, budget: number | null): GateResult {
  const gate_name = "token_budget";
  if (budget === null) return { gate_name, verdict: "pass", reasons: [`no token budget is set; ${used} tokens used`] };
  if (used > budget) return { gate_name, verdict: "fail", reasons: [`${used} tokens used, over the budget of ${budget}`] };
  return { gate_name, verdict: "pass", reasons: [`${used} of ${budget} budgeted tokens used`] };
}

/**
 * The built-in gates in a fixed order, then any other recorded gate by name.
 * A recorded verdict replaces the evaluated one for its gate; its reasons
 * come from `recordedReasons` when given.
 */
export function evaluateGates(input: GateInput & { recordedReasons?: Record<string, string[]> }): GateResult[] {
  const evaluated: GateResult[] = [allIssuesPassed(input.issues), verificationPassed(input.verification), tokenBudget(input.usage.totalTokens, input.tokenBudget)];
  if (input.humanReview) evaluated.push({ gate_name: "human_review", verdict: "needs_review", reasons: ["the run asks for a person's review before it completes"] });
  const recordedReason = (name: string, verdict: GateVerdict) => {
    const given = input.recordedReasons?.[name];
    return given && given.length > 0 ? given : [`recorded ${verdict} by POST /gates`];
  };
  const results = evaluated.map((r): GateResult => {
    const recorded = input.recorded[r.gate_name];
    return recorded ? { gate_name: r.gate_name, verdict: recorded, reasons: recordedReason(r.gate_name, recorded) } : r;
  });
  const known = new Set(results.map((r) => r.gate_name));
  for (const name of Object.keys(input.recorded).sort()) {
    if (known.has(name)) continue;
    const verdict = input.recorded[name]!;
    results.push({ gate_name: name, verdict, reasons: recordedReason(name, verdict) });
  }
  return results;
}

/** The worst verdict (fail > needs_review > needs_further_review > pass); nothing evaluated is not a pass. */
export function overallVerdict(results: GateResult[]): GateVerdict {
  if (results.length === 0) return "needs_further_review";
  let worst: GateVerdict = "pass";
  for (const r of results) if (RANK[r.verdict] > RANK[worst]) worst = r.verdict;
  return worst;
}

/** The run status a verdict leads to: pass completes, fail fails, anything else waits at `gated`. */
export function runStatusFor(verdict: GateVerdict): "completed" | "failed" | "gated" {
  return verdict === "pass" ? "completed" : verdict === "fail" ? "failed" : "gated";
}

/** Whether the run asks for the human_review gate: asked explicitly, or a software delivery. */
export function wantsHumanReview(run: { workflow_kind: string | null; human_review?: boolean | null }): boolean {
  return run.human_review === true || run.workflow_kind === "software.delivery";
}
