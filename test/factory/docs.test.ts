import { describe, expect, it } from "vitest";
import { FACTORY_DOC_SECTIONS, PLANNER_SYNTAX_EXAMPLE, STATUSES_DOC } from "../../src/factory/factory.docs.js";
import { compilePlan, checkPlan } from "../../src/factory/factory.plan.js";

describe("factory docs sections", () => {
  it("has the four sections, each a markdown section under its own heading", () => {
    expect(FACTORY_DOC_SECTIONS.map((s) => s.id)).toEqual(["statuses", "planner-syntax", "verification-rules", "gates"]);
    for (const s of FACTORY_DOC_SECTIONS) expect(s.markdown.startsWith(`## ${s.title}`)).toBe(true);
  });

  it("names every run, stage and issue status of the contract", () => {
    for (const status of ["pending", "planning", "running", "gated", "completed", "failed", "cancelled", "ready", "passed", "blocked"]) {
      expect(STATUSES_DOC).toContain(`\`${status}\``);
    }
  });

  it("shows an example that compiles to a valid plan", () => {
    const section = FACTORY_DOC_SECTIONS.find((s) => s.id === "planner-syntax")!.markdown;
    const fenced = /```markdown\n([\s\S]*?)```/.exec(section)![1]!;
    expect(fenced).toBe(PLANNER_SYNTAX_EXAMPLE);
    expect(checkPlan(compilePlan({ format: "markdown", content: fenced })).ok).toBe(true);
  });
});
