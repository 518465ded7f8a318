import { describe, expect, it } from "vitest";
import { evaluateGates, GATES_DOC, overallVerdict, runStatusFor, wantsHumanReview, type GateInput } from "../../src/factory/factory.gates.js";

const base = (over: Partial<GateInput> = {}): GateInput => ({
  issues: [
    { id: "i1", title: "Write intro", status: "passed" },
    { id: "i2", title: "Write outro", status: "passed" },
  ],
  verification: { status: "passed", needs_review: [] },
  usage: { totalTokens: 120 },
  tokenBudget: 1000,
  humanReview: false,
  recorded: {},
  ...over,
});
const gate = (input: GateInput, name: string) => evaluateGates(input).find((g) => g.gate_name === name);

describe("evaluateGates", () => {
  it("passes every built-in gate of a finished, verified run within budget, and leaves out human_review when not asked", () => {
    const results = evaluateGates(base());
    expect(results).toEqual([
      { gate_name: "all_issues_passed", verdict: "pass", reasons: ["all 2 issues passed"] },
      { gate_name: "verification_passed", verdict: "pass", reasons: ["the latest verification passed"] },
      { gate_name: "token_budget", verdict: "pass", reasons: ["120 of 1000 budgeted tokens used"] },
    ]);
    expect(overallVerdict(results)).toBe("pass");
  });

  it("fails all_issues_passed naming failed and blocked issues, and waits while issues are open", () => {
    const failed = gate(base({ issues: [{ id: "i1", title: "A", status: "failed" }, { id: "i2", title: "B", status: "blocked" }, { id: "i3", title: "C", status: "running" }] }), "all_issues_passed");
    expect(failed).toEqual({ gate_name: "all_issues_passed", verdict: "fail", reasons: ['2 of 3 issues did not pass: "A" (i1), "B" (i2)', '1 issue not finished: "C" (i3)'] });
    expect(gate(base({ issues: [{ id: "i1", title: "A", status: "passed" }, { id: "i2", title: "B", status: "pending" }] }), "all_issues_passed")!.verdict).toBe("needs_further_review");
    expect(gate(base({ issues: [] }), "all_issues_passed")).toMatchObject({ verdict: "fail", reasons: ["the run has no issues"] });
  });

  it("makes verification_passed need review when a criterion does, fail when verification failed, wait when it has not run", () => {
    expect(gate(base({ verification: { status: "passed", needs_review: ["The tone is friendly"] } }), "verification_passed")).toEqual({
      gate_name: "verification_passed",
      verdict: "needs_review",
      reasons: ['1 criterion left for a person to review: "The tone is friendly"'],
    });
    expect(gate(base({ verification: { status: "failed", needs_review: ["x"] } }), "verification_passed")!.verdict).toBe("fail");
    expect(gate(base({ verification: { status: null, needs_review: [] } }), "verification_passed")!.verdict).toBe("needs_further_review");
    expect(gate(base({ verification: { status: "skipped", needs_review: [] } }), "verification_passed")).toMatchObject({ verdict: "pass", reasons: [expect.stringContaining("skipped")] });
  });

  it("fails token_budget only when the run used more than its budget", () => {
    expect(gate(base({ usage: { totalTokens: 1000 } }), "token_budget")!.verdict).toBe("pass");
    expect(gate(base({ usage: { totalTokens: 1001 } }), "token_budget")).toMatchObject({ verdict: "fail", reasons: ["1001 tokens used, over the budget of 1000"] });
    expect(gate(base({ tokenBudget: null, usage: { totalTokens: 10 ** 9 } }), "token_budget")!.verdict).toBe("pass");
  });

  it("holds a run that asks for human review at needs_review until a verdict is recorded", () => {
    const asked = evaluateGates(base({ humanReview: true }));
    expect(asked.at(-1)).toEqual({ gate_name: "human_review", verdict: "needs_review", reasons: ["the run asks for a person's review before it completes"] });
    expect(overallVerdict(asked)).toBe("needs_review");
    const approved = evaluateGates(base({ humanReview: true, recorded: { human_review: "pass" } }));
    expect(approved.at(-1)).toEqual({ gate_name: "human_review", verdict: "pass", reasons: ["recorded pass by POST /gates"] });
    expect(overallVerdict(approved)).toBe("pass");
    expect(overallVerdict(evaluateGates(base({ humanReview: true, recorded: { human_review: "fail" } })))).toBe("fail");
  });

  it("lets a recorded verdict win over an evaluated one, with its reasons, and keeps custom recorded gates", () => {
    const input = { ...base({ verification: { status: "passed", needs_review: ["tone"] }, recorded: { verification_passed: "pass", zeta: "pass", alpha: "needs_further_review" } }), recordedReasons: { verification_passed: ["read by Ana: tone is fine"] } };
    const results = evaluateGates(input);
    expect(results.map((r) => [r.gate_name, r.verdict])).toEqual([
      ["all_issues_passed", "pass"],
      ["verification_passed", "pass"],
      ["token_budget", "pass"],
      ["alpha", "needs_further_review"],
      ["zeta", "pass"],
    ]);
    expect(results[1]!.reasons).toEqual(["read by Ana: tone is fine"]);
    expect(overallVerdict(results)).toBe("needs_further_review");
  });
});

describe("overallVerdict and the run status it leads to", () => {
  const r = (verdict: "pass" | "fail" | "needs_review" | "needs_further_review") => ({ gate_name: verdict, verdict, reasons: [] });
  it("takes the worst verdict: fail > needs_review > needs_further_review > pass", () => {
    expect(overallVerdict([r("pass"), r("needs_further_review"), r("needs_review")])).toBe("needs_review");
    expect(overallVerdict([r("needs_review"), r("fail"), r("pass")])).toBe("fail");
    expect(overallVerdict([r("pass"), r("needs_further_review")])).toBe("needs_further_review");
    expect(overallVerdict([r("pass")])).toBe("pass");
  });
  it("never treats no gates at all as a pass", () => {
    expect(overallVerdict([])).toBe("needs_further_review");
  });
  it("completes on pass, fails on fail, gates otherwise", () => {
    expect([runStatusFor("pass"), runStatusFor("fail"), runStatusFor("needs_review"), runStatusFor("needs_further_review")]).toEqual(["completed", "failed", "gated", "gated"]);
  });
});

describe("wantsHumanReview", () => {
  it("is asked explicitly or implied by software.delivery", () => {
    expect(wantsHumanReview({ workflow_kind: "software.delivery" })).toBe(true);
    expect(wantsHumanReview({ workflow_kind: "docs", human_review: true })).toBe(true);
    expect(wantsHumanReview({ workflow_kind: "docs" })).toBe(false);
    expect(wantsHumanReview({ workflow_kind: null, human_review: false })).toBe(false);
  });
});

describe("GATES_DOC", () => {
  it("names every built-in gate and the copy-paste body that approves", () => {
    for (const name of ["all_issues_passed", "verification_passed", "token_budget", "human_review", "software.delivery"]) expect(GATES_DOC).toContain(name);
    expect(GATES_DOC).toContain('{"gate_name": "human_review", "verdict": "pass"}');
  });
});
