import { describe, expect, it } from "vitest";
import { buildReview, buildStatusAdvice, oneLine, type IssueRecordInput, type ReviewInput, type StatusAdviceInput } from "../../src/factory/factory.report.js";

const issue = (id: string, title: string, status: string, over: Partial<IssueRecordInput> = {}): IssueRecordInput => ({
  id,
  stage_id: "st1",
  title,
  status,
  depends_on: [],
  acceptance_criteria: [],
  assigned_room_id: null,
  summary: null,
  notes: [],
  ...over,
});

function input(over: Partial<StatusAdviceInput> & { status?: string } = {}): StatusAdviceInput {
  const { status, ...rest } = over;
  return {
    run: { id: "run_1", status: status ?? "running", workflow_kind: null, title: "Notes", source_brief: "notes", current_stage: "st1", active_room_ids: [], cancel_reason: null },
    stages: [{ id: "st1", stage_name: "Draft", status: "running", depends_on: [], summary: null }],
    issues: [issue("is_1", "Write intro", "passed"), issue("is_2", "Write outro", "running", { assigned_room_id: "room_9" })],
    verification: { status: null, artifact_id: null },
    gates: [],
    ...rest,
  };
}

/** Every request a next action names: METHOD path [json body]; the body must parse. */
function requestsIn(actions: string[]): { method: string; path: string; body: unknown }[] {
  return actions.flatMap((a) => {
    const m = /\b(GET|POST|PATCH) (\/\S+)(?: (\{.*\}))?$/.exec(a);
    if (!m) return [];
    return [{ method: m[1]!, path: m[2]!, body: m[3] === undefined ? undefined : JSON.parse(m[3]) }];
  });
}

describe("buildStatusAdvice", () => {
  it("tells a pending run how to start, with no blockers", () => {
    const advice = buildStatusAdvice(input({ status: "pending", issues: [], stages: [] }));
    expect(advice.blockers).toEqual([]);
    expect(advice.next_actions).toEqual(["To plan and run it: POST /llm/factory/runs/run_1/start", "To take one step at a time instead: POST /llm/factory/runs/run_1/advance"]);
  });

  it("has no blockers while a run runs normally, and says which room works on what", () => {
    const advice = buildStatusAdvice(input({ run: { ...input().run, active_room_ids: ["room_9"], usage: { totalTokens: 50 }, token_budget: 1000 } }));
    expect(advice.blockers).toEqual([]);
    expect(advice.diagnostics).toEqual(["issues: 1 passed, 1 running of 2", 'issue "Write outro" (is_2) is running in room room_9', "tokens used: 50 of a budget of 1000", "active rooms: room_9"]);
    expect(advice.next_actions).toEqual(["To follow progress: GET /llm/factory/runs/run_1/events (server-sent events)", 'To stop the run: POST /llm/factory/runs/run_1/cancel {"reason":"<why>"}']);
  });

  it("names a failed run's cause and the failed and blocked issues as blockers", () => {
    const advice = buildStatusAdvice(
      input({
        status: "failed",
        run: { ...input().run, status: "failed", failure: "issue is_2 failed after 3 attempts" },
        issues: [
          issue("is_1", "Write intro", "passed"),
          issue("is_2", "Write outro", "failed", { attempts: 3, max_attempts: 3, last_error: "PROVIDER_ERROR: the echo model failed after 2 tokens" }),
          issue("is_3", "Publish", "blocked", { depends_on: ["is_2"] }),
        ],
      }),
    );
    expect(advice.blockers).toEqual([
      "the run failed: issue is_2 failed after 3 attempts",
      'issue "Write outro" (is_2) failed after 3 attempts of 3: PROVIDER_ERROR: the echo model failed after 2 tokens',
      'issue "Publish" (is_3) is blocked: it depends on "Write outro" (failed)',
    ]);
    expect(advice.next_actions[0]).toBe("To see what failed and the evidence: GET /llm/factory/runs/run_1/review");
    expect(requestsIn(advice.next_actions).at(-1)).toEqual({ method: "POST", path: "/llm/factory/runs", body: { source: { kind: "prompt", format: "markdown", content: "<the corrected brief>" } } });
  });

  it("makes a gated run's waiting gate a blocker and gives the exact requests that approve or reject it", () => {
    const advice = buildStatusAdvice(
      input({
        status: "gated",
        issues: [issue("is_1", "Write intro", "passed")],
        verification: {
          status: "passed",
          artifact_id: "art_7",
          issues: [{ issue_id: "is_1", title: "Write intro", verdicts: [{ criterion: "The tone is friendly", verdict: "needs_review", reason: "no rule applies" }] }],
        },
        gates: [
          { gate_name: "all_issues_passed", verdict: "pass", reasons: [] },
          { gate_name: "verification_passed", verdict: "needs_review", reasons: ['1 criterion left for a person to review: "The tone is friendly"'] },
        ],
      }),
    );
    expect(advice.blockers).toEqual(['gate verification_passed is needs_review: 1 criterion left for a person to review: "The tone is friendly"']);
    expect(advice.diagnostics).toContain('1 criterion need a person: "The tone is friendly" of issue "Write intro"');
    expect(advice.next_actions).toContain('To approve gate verification_passed: POST /llm/factory/runs/run_1/gates {"gate_name":"verification_passed","verdict":"pass"}');
    const bodies = requestsIn(advice.next_actions).filter((r) => r.path.endsWith("/gates"));
    expect(bodies.map((b) => b.body)).toEqual([
      { gate_name: "verification_passed", verdict: "pass" },
      { gate_name: "verification_passed", verdict: "fail", reasons: ["<why>"] },
    ]);
  });

  it("offers to re-run a failed issue while the run goes on, with a body the route accepts", () => {
    const advice = buildStatusAdvice(input({ issues: [issue("is_1", "A", "failed", { last_error: "TURN_TIMEOUT" }), issue("is_2", "B", "running")] }));
    expect(advice.blockers).toEqual(['issue "A" (is_1) failed: TURN_TIMEOUT']);
    expect(requestsIn(advice.next_actions)).toContainEqual({ method: "POST", path: "/llm/factory/runs/run_1/issues/is_1/dispatch", body: {} });
  });

  it("gives a completed run no blockers and points at the review", () => {
    const advice = buildStatusAdvice(input({ status: "completed", issues: [issue("is_1", "A", "passed")], gates: [{ gate_name: "human_review", verdict: "pass", reasons: [] }] }));
    expect(advice.blockers).toEqual([]);
    expect(advice.next_actions[0]).toBe("To read what was produced and why it passed: GET /llm/factory/runs/run_1/review");
  });

  it("reports a cancelled run's reason as a diagnostic, not a blocker, even with failed issues", () => {
    const advice = buildStatusAdvice(input({ status: "cancelled", run: { ...input().run, status: "cancelled", cancel_reason: "wrong brief" }, issues: [issue("is_1", "A", "failed")] }));
    expect(advice.blockers).toEqual([]);
    expect(advice.diagnostics[0]).toBe("the run was cancelled: wrong brief");
  });

  it("keeps every line on one line, however long the error", () => {
    const advice = buildStatusAdvice(input({ status: "failed", run: { ...input().run, status: "failed", failure: `line one\nline two ${"x".repeat(1000)}` } }));
    for (const line of [...advice.blockers, ...advice.diagnostics, ...advice.next_actions]) {
      expect(line).not.toMatch(/\n/);
      expect(line.length).toBeLessThanOrEqual(600);
    }
    expect(advice.blockers[0]!.startsWith("the run failed: line one line two")).toBe(true);
  });

  it("uses the base path it is given", () => {
    expect(buildStatusAdvice({ ...input({ status: "pending" }), basePath: "/v2/runs" }).next_actions[0]).toBe("To plan and run it: POST /v2/runs/run_1/start");
  });
});

describe("buildReview", () => {
  const review: ReviewInput = {
    ...input({
      status: "completed",
      issues: [issue("is_1", "Write intro", "passed", { attempts: 1, assigned_room_id: "room_1", summary: "Wrote 3 paragraphs." })],
      stages: [{ id: "st1", stage_name: "Draft", status: "passed", depends_on: [], summary: null }],
      verification: {
        status: "passed",
        artifact_id: "art_2",
        issues: [{ issue_id: "is_1", title: "Write intro", verdicts: [{ criterion: 'mentions "v2"', verdict: "pass", reason: 'the output contains "v2"' }] }],
      },
      gates: [
        { gate_name: "all_issues_passed", verdict: "pass", reasons: ["all 1 issues passed"], source: "gate-check" },
        { gate_name: "human_review", verdict: "pass", reasons: ["looks good"], source: "external" },
      ],
    }),
    run: { ...input().run, status: "completed", usage: { totalTokens: 900, cost: { total: 0.0012 } }, token_budget: 1000 },
    plan_summary: "Notes: 1 stage, 1 issue",
    artifacts: [
      { id: "art_1", artifact_type: "issue_output", version: 1, producer_stage_id: "st1", producer_issue_id: "is_1", payload: { text: "hello v2" }, created_at: "2025-01-01T00:00:00.000Z" },
      { id: "art_2", artifact_type: "verification_report", version: 1, producer_stage_id: null, producer_issue_id: null, payload: { status: "passed" }, created_at: "2025-01-01T00:00:01.000Z" },
    ],
    checkpoints: [{ id: "cp_1", status: "passed", branch_name: "", head_sha: "", included_issue_ids: ["is_1"], merged_issue_ids: ["is_1"], conflict_issue_ids: [], notes: [] }],
  };

  it("summarises every part of the run in one-line strings", () => {
    const bundle = buildReview(review);
    expect(bundle).toEqual({
      plan_summary: "Notes: 1 stage, 1 issue",
      artifact_summary: [
        'issue_output v1 (art_1) from issue "Write intro" (is_1), 19 characters, 2025-01-01T00:00:00.000Z',
        "verification_report v1 (art_2), status passed, 19 characters, 2025-01-01T00:00:01.000Z",
      ],
      checkpoint_summary: ["checkpoint cp_1 passed: 1 issue included, 1 merged, 0 conflicts"],
      issue_summary: ["[passed] Write intro (is_1), 1 attempt, room room_1 — Wrote 3 paragraphs."],
      stage_summary: ["[passed] Draft (st1): 1 of 1 issue passed"],
      gate_summary: ["all_issues_passed: pass — all 1 issues passed", "human_review: pass (recorded) — looks good"],
      evidence_summary: [
        "verification passed (report art_2)",
        'issue "Write intro" (is_1): 1 passed, 0 failed, 0 need review of 1 criterion',
        'pass: "mentions \\"v2\\"" — the output contains "v2"',
        "tokens used: 900, cost 0.001200 USD",
      ],
      blockers: [],
      diagnostics: expect.any(Array),
      next_actions: ["To read what was produced and why it passed: GET /llm/factory/runs/run_1/review", "To read the outputs: GET /llm/factory/runs/run_1/artifacts"],
      open_risks: ["passed by a recorded verdict rather than by evaluation: human_review", "the run used 900 of its 1000 budgeted tokens (over 80%)"],
    });
  });

  it("lists what still stands between an unfinished run and completion as open risks", () => {
    const bundle = buildReview({
      ...review,
      run: { ...review.run, status: "gated", usage: { totalTokens: 10 } },
      issues: [issue("is_1", "Write intro", "passed"), issue("is_2", "Write outro", "failed")],
      verification: { status: "failed", artifact_id: "art_3", issues: [{ issue_id: "is_2", title: "Write outro", verdicts: [{ criterion: "is short", verdict: "needs_review", reason: "no rule applies" }] }] },
      gates: [{ gate_name: "verification_passed", verdict: "fail", reasons: ["the latest verification failed"] }],
    });
    expect(bundle.open_risks).toEqual([
      "the run is gated, not finished",
      '1 issue did not pass: "Write outro" (failed)',
      'criterion "is short" of issue "Write outro" is needs_review',
      "gate verification_passed is fail",
    ]);
    expect(bundle.blockers).toContain("gate verification_passed failed: the latest verification failed");
  });
});

describe("oneLine", () => {
  it("collapses whitespace and cuts long text with an ellipsis", () => {
    expect(oneLine(" a\n\tb  c ")).toBe("a b c");
    expect(oneLine("x".repeat(400))).toHaveLength(300);
    expect(oneLine("x".repeat(400)).endsWith("…")).toBe(true);
  });
});
